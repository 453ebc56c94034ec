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


@given(unreachable=st.integers(4, 3600), renewal=st.floats(0, 1e9))
def test_promotion_waits_for_the_whole_lease_plus_a_margin(
    unreachable: int, renewal: float
) -> None:
    earliest = timing.promotion_not_before(renewal, unreachable)
    assert earliest >= renewal + timing.lease_ttl(unreachable) + timing.LEASE_MARGIN_SECONDS
    assert timing.lease_ttl(unreachable) >= unreachable


def test_default_timers_match_the_documented_example() -> None:
    probe = timing.liveness_timing(10, 30)
    assert (probe.period_seconds, probe.timeout_seconds, probe.failure_threshold) == (6, 1, 2)
    assert probe.worst_case_kill_seconds == 14
