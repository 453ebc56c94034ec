"""How often the HA loops may poll faster than their pollingInterval, all together.

A lone cluster in a failover or switchover steps every STEP_POLL (0.1 s). When hundreds
step at once (an operator restarted in front of hundreds of initialising clusters, an
outage of a whole zone), each fast cycle (agent polls and a decision) costs the one
event loop that also renews every healthy cluster's leases; unbounded, they would starve
it. The loops that poll fast share FAST_CYCLES_PER_SECOND: each waits at least
(loops polling fast) / FAST_CYCLES_PER_SECOND between its fast cycles.
"""

from __future__ import annotations

from collections.abc import Hashable

FAST_CYCLES_PER_SECOND = 200.0


class FastSteps:
    """The loops currently polling faster than their interval (one per process)."""

    def __init__(self, rate: float = FAST_CYCLES_PER_SECOND) -> None:
        self.rate = rate
        self.fast: set[Hashable] = set()

    def mark(self, key: Hashable, fast: bool) -> None:
        if fast:
            self.fast.add(key)
        else:
            self.fast.discard(key)

    def floor(self) -> float:
        """The shortest fast wait each loop may take now."""
        return len(self.fast) / self.rate
