"""The sandbox StatefulSet controller's revisions, as kube-controller-manager keeps them:
what the operator's rollout reads (pure: statefulsets.plan)."""

from __future__ import annotations

import copy
from typing import Any

from zenith_sandbox.runtime.statefulsets import REVISION_LABEL, build_pod, plan, revision


def _sts(image: str, strategy: str = "OnDelete", status: dict[str, Any] | None = None) -> Any:
    return {
        "metadata": {"name": "c", "namespace": "ns", "uid": "u", "generation": 2},
        "spec": {
            "replicas": 2,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": strategy},
            "selector": {"matchLabels": {"app": "c"}},
            "template": {"metadata": {"labels": {"app": "c"}}, "spec": {"containers": [
                {"name": "db", "image": image}
            ]}},
        },
        "status": status or {},
    }  # fmt: skip


def _ready(pod: dict[str, Any]) -> dict[str, Any]:
    pod = copy.deepcopy(pod)
    pod["metadata"]["uid"] = pod["metadata"]["name"]
    pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    return pod


def test_on_delete_publishes_the_update_revision_and_keeps_pods_and_current() -> None:
    old = _sts("db:1")
    old_rev = revision(old)
    pods = [_ready(build_pod(old, i, old_rev)) for i in range(2)]
    new = _sts("db:2", status={"currentRevision": old_rev, "updateRevision": old_rev})
    p = plan(new, pods, [])
    assert not p.delete_pods and not p.create_pods  # OnDelete: no pod replaced
    assert p.status is not None
    assert p.status["updateRevision"] == revision(new) != old_rev
    assert p.status["observedGeneration"] == 2
    # only a deleted pod gets the new revision; even all updated, OnDelete keeps
    # currentRevision (kube-controller-manager's completeRollingUpdate is RollingUpdate-only)
    pods = [_ready(build_pod(new, i, revision(new))) for i in range(2)]
    assert all(pod["metadata"]["labels"][REVISION_LABEL] == revision(new) for pod in pods)
    p = plan(new, pods, [])
    assert p.status is not None and p.status["currentRevision"] == old_rev
    rolling = _sts("db:2", "RollingUpdate", {"currentRevision": old_rev})
    p = plan(rolling, [_ready(build_pod(rolling, i, revision(rolling))) for i in range(2)], [])
    assert p.status is not None and p.status["currentRevision"] == revision(rolling)


def test_a_reverted_template_gets_its_old_revision_back() -> None:
    assert revision(_sts("db:1")) == revision(_sts("db:1")) != revision(_sts("db:2"))
    assert revision(_sts("db:1")).startswith("c-")
