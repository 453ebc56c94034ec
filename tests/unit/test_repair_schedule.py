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


def test_growing_volumes_are_followed_one_follow_up_at_a_time_for_a_while() -> None:
    s = RepairSchedule(resync=3600, follow_for=300)
    assert s.growing(KEY, 0.0), "the first reconcile that sees growth schedules one"
    assert not s.growing(KEY, 1.0), "one follow-up at a time"
    s.followed(KEY)
    assert s.growing(KEY, 5.0)
    s.followed(KEY)
    assert not s.growing(KEY, 301.0), "a resize stuck for long: the repair tick follows it"
    s.grown(KEY)
    assert s.growing(KEY, 400.0), "the next growth is followed again"
