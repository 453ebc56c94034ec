"""Timer arithmetic that keeps an old active from writing after a failover.

The fencing inequality (docs/states.md, "Fencing"), with the values IN FORCE, never the
newly edited spec:

    promote at  >=  max(last grant + largest lease TTL any live lease may hold,
                        first silent poll + the old pod's own liveness kill time)
                    + margin

An agent that runs fences itself when its lease ends (on its own monotonic clock); an
agent that hangs cannot, so the kubelet's liveness probe must have killed its container
first. Both bounds are taken from what is actually deployed: the lease TTL granted
before a timer edit stays in force until every lease granted with it has ended, and the
liveness probe is read from the running pod (pods keep the probe they were created with).
"""

from __future__ import annotations

from dataclasses import dataclass

# Clock-rate drift between the operator's and the agent's monotonic clocks over one
# lease (well under 1 ms for a 30 s lease) plus scheduling slack.
LEASE_MARGIN_SECONDS = 0.5
# The lease ends this long before unreachableTimeout: the instant the operator may count
# a silent active down is also the instant its lease has certainly ended.
LEASE_SHORTER_BY_SECONDS = 1.0
# A lease request reaches the agent at most this long after it was sent (its timeout),
# so a lease granted before a TTL change has ended by change + old TTL + this.
GRANT_DELAY_SECONDS = 5.0


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


def lease_ttl(unreachable_timeout: int, polling_interval: float = 1.0) -> float:
    """The lease the operator grants an active on each successful poll: over by the time
    a silent active is counted down (TTL + margin < unreachableTimeout), yet longer than
    the gap between two renewals (pollingInterval) by at least a second."""
    return max(unreachable_timeout - LEASE_SHORTER_BY_SECONDS, polling_interval + 1.0)


def promotion_not_before(last_renewal: float, ttl_in_force: float) -> float:
    """Earliest time (same clock as last_renewal) the lease of the old active has ended."""
    return last_renewal + ttl_in_force + LEASE_MARGIN_SECONDS


def killed_by(silent_since: float, kill_seconds: float) -> float:
    """Latest time a hung agent's container is dead: its probe started failing no later
    than the first poll it did not answer."""
    return silent_since + kill_seconds + LEASE_MARGIN_SECONDS


def probe_kill_seconds(probe: dict[str, object] | None) -> float | None:
    """Worst-case kill time of a pod's liveness probe as deployed (None: no probe)."""
    if not probe:
        return None

    def num(key: str, default: int) -> int:
        value = probe.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    # Kubernetes defaults: period 10, timeout 1, failureThreshold 3; the probe-level
    # grace falls back to the pod's (30 s) when unset.
    grace = num("terminationGracePeriodSeconds", 30)
    return float(
        num("periodSeconds", 10) * num("failureThreshold", 3) + num("timeoutSeconds", 1) + grace
    )
