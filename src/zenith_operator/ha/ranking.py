"""Failover candidate ranking: one sort key, best first.

Errors last, then instances known in sync, then the newest timeline, then the most
advanced position, then the lowest ordinal (a stable tie-break).
"""

from __future__ import annotations

from dataclasses import dataclass

from zenith_operator.ha.model import InstanceObservation


@dataclass(frozen=True)
class Candidate:
    name: str
    ordinal: int
    error: str | None
    in_sync: bool
    timeline: int | None
    position: int | None


def candidate_key(c: Candidate) -> tuple[bool, bool, int, int, int]:
    return (
        c.error is not None,
        not c.in_sync,
        -(c.timeline if c.timeline is not None else -1),
        -(c.position if c.position is not None else -1),
        c.ordinal,
    )


def candidate(
    o: InstanceObservation,
    in_sync: bool,
    timeline: int | None = None,
    position: int | None = None,
) -> Candidate:
    """A candidate from a fresh observation, falling back to the persisted timeline/position."""
    a = o.agent
    error = None if a is not None else (o.error or "no answer")
    if a is not None and a.last_error:
        error = a.last_error
    return Candidate(
        name=o.name,
        ordinal=o.ordinal,
        error=error,
        in_sync=in_sync,
        timeline=a.timeline if a is not None and a.timeline is not None else timeline,
        position=a.position if a is not None and a.position is not None else position,
    )


def rank(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=candidate_key)


def ahead(a: Candidate, b: Candidate) -> bool | None:
    """True if a holds at least everything b holds, False if b is strictly ahead,
    None when it cannot be told (unknown values or diverged timelines)."""
    if None in (a.timeline, a.position, b.timeline, b.position):
        return None
    assert a.timeline is not None and b.timeline is not None
    assert a.position is not None and b.position is not None
    if a.timeline >= b.timeline and a.position >= b.position:
        return True
    if b.timeline >= a.timeline and b.position >= a.position:
        return False
    return None
