"""Timer arithmetic that keeps a frozen active from writing after a failover.

The inequality (documented in docs/states.md):

    liveness period * failureThreshold + timeout + kill grace  <  unreachableTimeout
    unreachableTimeout  <=  lease TTL

(the CRD requires unreachableTimeout >= 4 and > pollingInterval)

so kubelet kills a hung agent's container before the operator could count the
instance down, and the operator promotes only after the old active's lease (TTL =
unreachableTimeout, renewed at each successful poll) must have run out on its own
clock, plus a margin for clock-rate drift.
"""

from __future__ import annotations

from dataclasses import dataclass

LEASE_MARGIN_SECONDS = 2.0


@dataclass(frozen=True)
class ProbeTiming:
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int
    kill_grace_seconds: int = 1  # probe-level terminationGracePeriodSeconds

    @property
    def worst_case_kill_seconds(self) -> int:
        """Longest time a hung container survives its liveness probe."""
        return (
            self.period_seconds * self.failure_threshold
            + self.timeout_seconds
            + self.kill_grace_seconds
        )


def liveness_timing(polling_interval: int, unreachable_timeout: int) -> ProbeTiming:
    """Liveness probe settings that kill a hung agent within half of unreachableTimeout."""
    budget = max(unreachable_timeout // 2, 3)
    timeout, grace = 1, 1
    threshold = 2 if budget >= 6 else 1
    period = max((budget - timeout - grace) // threshold, 1)
    return ProbeTiming(period_seconds=period, timeout_seconds=timeout, failure_threshold=threshold)


def lease_ttl(unreachable_timeout: int) -> float:
    """The lease the operator grants an active on each successful poll."""
    return float(unreachable_timeout)


def promotion_not_before(last_renewal: float, unreachable_timeout: int) -> float:
    """Earliest time (same clock as last_renewal) a standby may be promoted."""
    return last_renewal + lease_ttl(unreachable_timeout) + LEASE_MARGIN_SECONDS
