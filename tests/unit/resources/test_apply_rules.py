"""The comparison and patch rules used when applying built objects (controller side)."""

from __future__ import annotations

from zenith_operator.controller.reconcile_apply import _removals, contains
from zenith_operator.controller.reconcile_conditions import Wanted, merged


def test_contains_ignores_server_defaults_and_other_writers() -> None:
    current = {"spec": {"a": 1, "defaulted": "x", "list": [{"k": 1, "extra": 2}]}}
    assert contains(current, {"spec": {"a": 1, "list": [{"k": 1}]}})
    assert not contains(current, {"spec": {"a": 2}})
    assert not contains(current, {"spec": {"list": [{"k": 1}, {"k": 2}]}})


def test_quantities_compare_by_value_only_under_resources() -> None:
    current = {"resources": {"limits": {"cpu": "1"}}, "name": "1"}
    assert contains(current, {"resources": {"limits": {"cpu": "1000m"}}})
    assert not contains(current, {"name": "1000m"})


def test_removals_null_only_what_we_set_before() -> None:
    previous = {"spec": {"nodeSelector": {"a": "b"}, "keep": 1}, "metadata": {"labels": {"x": "1"}}}
    want = {"spec": {"keep": 1}, "metadata": {"labels": {}}}
    assert _removals(previous, want) == {
        "spec": {"nodeSelector": None},
        "metadata": {"labels": {"x": None}},
    }
    assert _removals(want, want) is None


def test_condition_merge_keeps_others_and_transition_time() -> None:
    ha = {"type": "Ready", "status": "True"}
    ours = {
        "type": "SpecValid",
        "status": "True",
        "reason": "Valid",
        "message": "ok",
        "lastTransitionTime": "t0",
        "observedGeneration": 1,
    }
    assert merged([ha, ours], Wanted("SpecValid", "True", "Valid", "ok"), 1, "t1") is None
    out = merged([ha, ours], Wanted("SpecValid", "True", "Valid", "ok"), 2, "t1")
    assert out is not None and out[0] == ha
    assert out[1]["lastTransitionTime"] == "t0" and out[1]["observedGeneration"] == 2
    out = merged([ha, ours], Wanted("SpecValid", "False", "InvalidSpec", "bad"), 2, "t2")
    assert out is not None and out[1]["lastTransitionTime"] == "t2"
    out = merged([ha], Wanted("ResourcesReady", "True", "Reconciled", "ok"), None, "t3")
    assert out is not None and out[1]["type"] == "ResourcesReady"
    assert "observedGeneration" not in out[1]
