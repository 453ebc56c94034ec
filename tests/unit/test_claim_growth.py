"""storageSize growth, the pure parts: which PVC grows, the condition, and the claim
templates kept at their created size (immutable in a StatefulSet)."""

from __future__ import annotations

from typing import Any

from zenith_operator.controller.reconcile_apply import Applied, keep_claim_sizes
from zenith_operator.controller.reconcile_kube import Ref
from zenith_operator.controller.reconcile_storage import (
    GROWN,
    REFUSED,
    RESIZING,
    claim_growth,
    expansion_condition,
)


def _pvc(requested: str, capacity: str | None = None) -> dict[str, Any]:
    pvc: dict[str, Any] = {
        "metadata": {"name": "data-c-0"},
        "spec": {"resources": {"requests": {"storage": requested}}},
        "status": {"phase": "Bound"},
    }
    if capacity:
        pvc["status"]["capacity"] = {"storage": capacity}
    return pvc


def test_claim_growth() -> None:
    assert claim_growth(_pvc("1Gi", "1Gi"), "2Gi") == GROWN
    assert claim_growth(_pvc("2Gi", "1Gi"), "2Gi") == RESIZING
    assert claim_growth(_pvc("2048Mi", "2Gi"), "2Gi") is None  # equal in other units
    assert claim_growth(_pvc("3Gi", "3Gi"), "2Gi") is None  # never shrunk
    assert claim_growth(_pvc("1Gi"), "2Gi") == GROWN


def _sts(size: str) -> dict[str, Any]:
    tmpl = {"metadata": {"name": "data"}, "spec": {"resources": {"requests": {"storage": size}}}}
    return {"kind": "StatefulSet", "spec": {"volumeClaimTemplates": [tmpl]}}


def test_claim_templates_keep_their_created_size() -> None:
    desired = _sts("2Gi")
    keep_claim_sizes(_sts("1Gi"), desired)
    assert desired == _sts("1Gi")


def test_expansion_condition() -> None:
    ref = Ref("v1", "PersistentVolumeClaim", "data-c-0", "ns")
    assert expansion_condition([], had=False) is None
    done = expansion_condition([], had=True)
    assert done is not None and (done.status, done.reason) == ("True", "Expanded")
    moving = expansion_condition([Applied(ref, RESIZING, "data-c-0: 1Gi -> 2Gi")], had=False)
    assert moving is not None and (moving.status, moving.reason) == ("False", "Resizing")
    assert moving.message == "data-c-0: 1Gi -> 2Gi"
    refused = expansion_condition(
        [Applied(ref, GROWN, "x"), Applied(ref, REFUSED, "data-c-1 stays at 1Gi: no")],
        had=True,
    )
    assert refused is not None and refused.reason == "ExpansionNotAllowed"
    assert refused.message == "data-c-1 stays at 1Gi: no"
