"""The active's lease, kept on the agent's own monotonic clock.

The operator grants `ttl` seconds on each successful poll. When the lease runs out the
agent fences the database (see `Agent.fence`); only a promote lifts the fence. A wall
clock step (NTP, suspend of the operator's node) cannot lengthen a lease: the deadline is
`time.monotonic()` at receipt plus ttl.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Lease:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline: float | None = None
        self.holder: str | None = None

    def grant(self, ttl: float, holder: str) -> float:
        """Extend (or shorten) the lease to ttl seconds from now; returns the remainder."""
        self._deadline = self._clock() + ttl
        self.holder = holder
        return ttl

    def clear(self) -> None:
        self._deadline = None
        self.holder = None

    @property
    def deadline(self) -> float | None:
        """When the lease ends, on the clock it was granted with (None: no lease)."""
        return self._deadline

    @property
    def held(self) -> bool:
        return self._deadline is not None

    def remaining(self) -> float | None:
        """Seconds left, 0.0 once lapsed, None when no lease was ever granted (or cleared)."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - self._clock())

    def expired(self) -> bool:
        remaining = self.remaining()
        return remaining is not None and remaining <= 0.0
