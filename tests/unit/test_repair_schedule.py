"""The repair timer reconciles a changed cluster at the next tick, a clean one rarely."""

from __future__ import annotations

from zenith_operator.controller.repair_schedule import RepairSchedule

KEY = ("ns", "c")


def test_clean_clusters_wait_for_the_resync_changed_ones_do_not() -> None:
    s = RepairSchedule(resync=3600)
    assert s.due(KEY, 0.0), "never reconciled: due"
    s.started(KEY, 0.0)
    assert not s.due(KEY, 60.0) and not s.due(KEY, 3599.0)
    assert s.due(KEY, 3600.0)
    s.mark(KEY)  # a child's watch event
    assert s.due(KEY, 61.0)
    s.started(KEY, 61.0)
    assert not s.due(KEY, 122.0)


def test_a_change_during_a_reconcile_is_not_lost() -> None:
    s = RepairSchedule(resync=3600)
    s.started(KEY, 0.0)
    s.mark(KEY)  # our own patch's event, or someone else's, while reconciling
    assert s.due(KEY, 1.0)
    s.forget(KEY)
    assert s.due(KEY, 1.0), "a forgotten (deleted) cluster starts afresh"
