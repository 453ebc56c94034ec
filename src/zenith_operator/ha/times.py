"""RFC 3339 <-> epoch seconds, for times kept in the status. Pure (no clock reads)."""

from __future__ import annotations

from datetime import UTC, datetime


def fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
