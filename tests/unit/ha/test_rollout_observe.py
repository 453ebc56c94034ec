"""The controller side of the rollout: hashes from the cached pods and StatefulSet."""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.controller.cache import (
    pod_entry,
    pods_of,
    template_entry,
    template_hash_of,
)
from zenith_operator.controller.observe import PodInfo, template_config_hash, view_of


def _pod(name: str, config_hash: str | None) -> dict[str, Any]:
    annotations = {naming.CONFIG_HASH_ANNOTATION: config_hash} if config_hash else {}
    return {"metadata": {"name": name, "uid": f"u-{name}", "annotations": annotations}}


def _sts(config_hash: str) -> dict[str, Any]:
    return {
        "spec": {
            "template": {"metadata": {"annotations": {naming.CONFIG_HASH_ANNOTATION: config_hash}}}
        }
    }


def test_pod_and_template_hashes() -> None:
    assert PodInfo.of(_pod("c-0", "abc")).config_hash == "abc"
    assert PodInfo.of(_pod("c-0", None)).config_hash is None
    assert template_config_hash(_sts("def")) == "def"
    assert template_config_hash(None) is None
    assert template_config_hash({"spec": {}}) is None


def _labelled(obj: dict[str, Any], **labels: str) -> dict[str, Any]:
    obj["metadata"]["labels"] = labels
    return obj


def test_the_caches_index_pods_and_templates_by_cluster() -> None:
    pod = _labelled(_pod("c-0", "old"), **naming.selector_labels("c"))
    assert pod_entry("ns", pod) == {("ns", "c"): PodInfo.of(pod)}
    assert pod_entry("ns", _labelled(_pod("x-0", None), **{"app": "other"})) == {}
    sts = _sts("new")
    sts["metadata"] = {"name": "c", "labels": {naming.CLUSTER_LABEL: "c"}}
    assert template_entry("ns", sts) == {("ns", "c"): "new"}
    sts["metadata"]["name"] = "not-c"
    assert template_entry("ns", sts) == {}


def test_view_of_reads_only_cached_state() -> None:
    body = {
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {"zenithSpec": {"replicas": 2}},
    }
    pods = {("ns", "c"): [PodInfo.of(_pod("c-0", "old")), PodInfo.of(_pod("c-1", "new"))]}
    templates = {("ns", "c"): ["new"]}
    view = view_of(body, pods_of(pods, ("ns", "c")), template_hash_of(templates, ("ns", "c")))
    assert view.desired_config_hash == "new"
    assert view.pods["c-0"].config_hash == "old"
    assert view.settings.replicas == 2


def test_no_statefulset_in_the_cache_only_hides_the_template_hash() -> None:
    body = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"zenithSpec": {}}}
    pods = {("ns", "c"): [PodInfo.of(_pod("c-0", "old"))]}
    view = view_of(body, pods_of(pods, ("ns", "c")), template_hash_of({}, ("ns", "c")))
    assert view.desired_config_hash is None and view.pods["c-0"].config_hash == "old"
