"""The controller side of the rollout: revisions from the cached pods and StatefulSet."""

from __future__ import annotations

from typing import Any

from zenith_operator import naming
from zenith_operator.controller.cache import (
    pod_entry,
    pods_of,
    revision_entry,
    update_revision_of,
)
from zenith_operator.controller.observe import PodInfo, update_revision, view_of


def _pod(name: str, revision: str | None) -> dict[str, Any]:
    labels = {naming.REVISION_LABEL: revision} if revision else {}
    return {"metadata": {"name": name, "uid": f"u-{name}", "labels": labels}}


def _sts(revision: str, generation: int = 2, observed: int | None = 2) -> dict[str, Any]:
    status: dict[str, Any] = {"updateRevision": revision, "currentRevision": "c-old"}
    if observed is not None:
        status["observedGeneration"] = observed
    return {"metadata": {"name": "c", "generation": generation}, "spec": {}, "status": status}


def test_pod_and_statefulset_revisions() -> None:
    assert PodInfo.of(_pod("c-0", "c-abc")).revision == "c-abc"
    assert PodInfo.of(_pod("c-0", None)).revision is None
    assert update_revision(_sts("c-def")) == "c-def"
    assert update_revision(None) is None
    assert update_revision({"metadata": {"generation": 1}, "spec": {}}) is None


def test_update_revision_unknown_until_the_controller_observed_the_generation() -> None:
    # right after a template edit updateRevision still names the previous template
    assert update_revision(_sts("c-old", generation=3, observed=2)) is None
    assert update_revision(_sts("c-new", generation=3, observed=3)) == "c-new"
    assert update_revision(_sts("c-new", generation=3, observed=None)) is None


def _labelled(obj: dict[str, Any], **labels: str) -> dict[str, Any]:
    obj["metadata"]["labels"] = {**obj["metadata"].get("labels", {}), **labels}
    return obj


def test_the_caches_index_pods_and_revisions_by_cluster() -> None:
    pod = _labelled(_pod("c-0", "c-old"), **naming.selector_labels("c"))
    assert pod_entry("ns", pod) == {("ns", "c"): PodInfo.of(pod)}
    assert pod_entry("ns", _labelled(_pod("x-0", None), **{"app": "other"})) == {}
    sts = _labelled(_sts("c-new"), **{naming.CLUSTER_LABEL: "c"})
    assert revision_entry("ns", sts) == {("ns", "c"): "c-new"}
    unobserved = _labelled(_sts("c-new", observed=1), **{naming.CLUSTER_LABEL: "c"})
    assert revision_entry("ns", unobserved) == {("ns", "c"): ""}
    sts["metadata"]["name"] = "not-c"
    assert revision_entry("ns", sts) == {}


def test_view_of_reads_only_cached_state() -> None:
    body = {
        "metadata": {"name": "c", "namespace": "ns"},
        "spec": {"zenithSpec": {"replicas": 2}},
    }
    pods = {("ns", "c"): [PodInfo.of(_pod("c-0", "c-old")), PodInfo.of(_pod("c-1", "c-new"))]}
    revisions = {("ns", "c"): ["c-new"]}
    view = view_of(body, pods_of(pods, ("ns", "c")), update_revision_of(revisions, ("ns", "c")))
    assert view.update_revision == "c-new"
    assert view.pods["c-0"].revision == "c-old"
    assert view.settings.replicas == 2


def test_no_statefulset_in_the_cache_only_hides_the_update_revision() -> None:
    body = {"metadata": {"name": "c", "namespace": "ns"}, "spec": {"zenithSpec": {}}}
    pods = {("ns", "c"): [PodInfo.of(_pod("c-0", "c-old"))]}
    view = view_of(body, pods_of(pods, ("ns", "c")), update_revision_of({}, ("ns", "c")))
    assert view.update_revision is None and view.pods["c-0"].revision == "c-old"
    assert update_revision_of({("ns", "c"): [""]}, ("ns", "c")) is None
