"""PostgreSQL engine: which replication slots to create and drop (pure).

See slots.py for how they are used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SLOT_PREFIX = "zenith_"
SLOT_KEEP_SHARE = 4  # max_slot_wal_keep_size = the data volume's size / this
MIN_SLOT_KEEP_MB = 64


def slot_name(pod: str) -> str:
    """The slot of a pod: `zenith_` + its name with anything but [a-z0-9_] as `_`."""
    return (SLOT_PREFIX + re.sub(r"[^a-z0-9_]", "_", pod.lower()))[:63]


@dataclass(frozen=True)
class Slot:
    name: str
    active: bool
    lost: bool


def primary_slot_plan(
    own_pod: str, slots: Iterable[Slot], streaming_peers: Iterable[str]
) -> tuple[list[str], list[str]]:
    """(create, drop) for an active: a slot per streaming peer; inactive slots named for
    itself (left from when it was a standby's upstream's peer) or lost are dropped."""
    ours = {s.name: s for s in slots if s.name.startswith(SLOT_PREFIX)}
    own = slot_name(own_pod)
    drop = sorted(n for n, s in ours.items() if not s.active and (s.lost or n == own))
    kept = set(ours) - set(drop)
    create = sorted({slot_name(p) for p in streaming_peers if p != own_pod} - kept - {own})
    return create, drop


def standby_slot_drops(slots: Iterable[Slot]) -> list[str]:
    """A standby serves no one: its inactive zenith slots only hold WAL back."""
    return sorted(s.name for s in slots if s.name.startswith(SLOT_PREFIX) and not s.active)


def slot_keep_mb(volume_bytes: int) -> int:
    return max(MIN_SLOT_KEEP_MB, volume_bytes // SLOT_KEEP_SHARE // (1024 * 1024))
