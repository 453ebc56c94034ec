from hypothesis import given
from hypothesis import strategies as st

from zenith_operator.ha import timing


@given(polling=st.integers(1, 600), unreachable=st.integers(4, 3600))
def test_a_hung_agent_is_killed_before_it_can_be_declared_down(
    polling: int, unreachable: int
) -> None:
    probe = timing.liveness_timing(polling, unreachable)
    assert probe.worst_case_kill_seconds < unreachable
    assert probe.period_seconds >= 1 and probe.failure_threshold >= 1


@given(polling=st.integers(1, 600), extra=st.integers(1, 3000), renewal=st.floats(0, 1e9))
def test_the_lease_ends_before_a_silent_active_can_be_counted_down(
    polling: int, extra: int, renewal: float
) -> None:
    """unreachableTimeout > pollingInterval (CRD): the lease outlives the gap between two
    renewals, and (when the timeout leaves room for it) ends, margin included, before the
    operator may count the active down: a failover then waits for nothing else."""
    unreachable = max(4, polling + extra)
    ttl = timing.lease_ttl(unreachable, polling)
    assert ttl >= polling + 1.0
    earliest = timing.promotion_not_before(renewal, ttl)
    assert earliest == renewal + ttl + timing.LEASE_MARGIN_SECONDS
    if unreachable >= polling + 2:
        assert earliest < renewal + unreachable


def test_default_timers_match_the_documented_example() -> None:
    probe = timing.liveness_timing(10, 30)
    assert (probe.period_seconds, probe.timeout_seconds, probe.failure_threshold) == (6, 1, 2)
    assert probe.worst_case_kill_seconds == 14
