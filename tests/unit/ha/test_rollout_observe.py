"""The controller side of the rollout: hashes read from the pods and the StatefulSet."""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.controller.observe import PodInfo, read_cluster, template_config_hash
from zenith_operator.controller.reconcile_kube import KubeError, Ref


def _pod(name: str, config_hash: str | None) -> dict[str, Any]:
    annotations = {naming.CONFIG_HASH_ANNOTATION: config_hash} if config_hash else {}
    return {"metadata": {"name": name, "uid": f"u-{name}", "annotations": annotations}}


def _sts(config_hash: str) -> dict[str, Any]:
    return {
        "spec": {
            "template": {"metadata": {"annotations": {naming.CONFIG_HASH_ANNOTATION: config_hash}}}
        }
    }


class FakeKube:
    def __init__(self, pods: list[dict[str, Any]], sts: dict[str, Any] | None) -> None:
        self.pods, self.sts = pods, sts
        self.got: list[Ref] = []

    def list(self, *_: Any, **__: Any) -> list[dict[str, Any]]:
        return self.pods

    def get(self, ref: Ref) -> dict[str, Any] | None:
        self.got.append(ref)
        if self.sts == {"fail": True}:
            raise KubeError(500, "InternalError", "boom")
        return self.sts


def test_pod_and_template_hashes() -> None:
    assert PodInfo.of(_pod("c-0", "abc")).config_hash == "abc"
    assert PodInfo.of(_pod("c-0", None)).config_hash is None
    assert template_config_hash(_sts("def")) == "def"
    assert template_config_hash(None) is None
    assert template_config_hash({"spec": {}}) is None


def test_read_cluster_reads_the_statefulset_template_hash() -> None:
    body = {
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {"zenithSpec": {"replicas": 2}},
    }
    kube = FakeKube([_pod("c-0", "old"), _pod("c-1", "new")], _sts("new"))
    view = read_cluster(kube, body)  # type: ignore[arg-type]
    assert view.desired_config_hash == "new"
    assert view.pods["c-0"].config_hash == "old"
    assert kube.got == [Ref("apps/v1", "StatefulSet", naming.statefulset_name("c"), "ns")]


def test_a_failed_statefulset_read_only_hides_the_template_hash() -> None:
    body = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"zenithSpec": {}}}
    view = read_cluster(FakeKube([_pod("c-0", "old")], {"fail": True}), body)  # type: ignore[arg-type]
    assert view.desired_config_hash is None and view.pods["c-0"].config_hash == "old"
