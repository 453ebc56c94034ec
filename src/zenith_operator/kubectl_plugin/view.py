"""What `kubectl zenith` prints: pure functions of the ZenithCluster and its Events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]
EVENTS_SHOWN = 5


def parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def ago(value: Any, now: datetime) -> str:
    """`3s`, `4m12s`, `2h5m`, `3d` (kubectl's style), or `-`."""
    when = parse_time(value)
    if when is None:
        return "-"
    s = max(0, int((now - when).total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60}m"
    return f"{s // 86400}d"


def table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def _num(value: Any) -> str:
    return "-" if value is None else str(value)


def instances(status: Obj, now: datetime) -> list[str]:
    rows = [["INSTANCE", "ROLE", "HEALTH", "TIMELINE", "POSITION", "LAG (B)", "IN SYNC", "SEEN"]]
    for i in status.get("instances") or []:
        role = i.get("role", "none")
        rows.append(
            [
                i.get("name", "?"),
                role,
                i.get("health", "Unknown"),
                _num(i.get("timeline")),
                _num(i.get("position")),
                _num(i.get("lagBytes")) if role != "active" else "-",
                ("yes" if i.get("inSync") else "no") if role != "active" else "-",
                ago(i.get("lastSeen"), now),
            ]
        )
    return table(rows) if len(rows) > 1 else ["no instance observed yet"]


def event_time(e: Obj) -> datetime:
    for key in ("lastTimestamp", "eventTime", "firstTimestamp"):
        when = parse_time(e.get(key))
        if when is not None:
            return when
    meta = e.get("metadata") or {}
    return parse_time(meta.get("creationTimestamp")) or datetime.min.replace(tzinfo=UTC)


def events(items: list[Obj], now: datetime, limit: int = EVENTS_SHOWN) -> list[str]:
    recent = sorted(items, key=event_time)[-limit:]
    if not recent:
        return ["  none"]
    rows = [
        [ago(event_time(e), now), e.get("type", ""), e.get("reason", ""), _one_line(e)]
        for e in recent
    ]
    return ["  " + line for line in table(rows)]


def _one_line(e: Obj) -> str:
    text = " ".join(str(e.get("message", "")).split())
    return text if len(text) <= 110 else text[:107] + "..."


def status_view(body: Obj, event_items: list[Obj], now: datetime) -> str:
    """The `kubectl zenith status NAME` text."""
    meta, spec = body.get("metadata") or {}, (body.get("spec") or {}).get("zenithSpec") or {}
    st: Obj = body.get("status") or {}
    state = st.get("state") or "Unknown"
    degraded = (
        "  (degraded: the active waits for no standby)" if st.get("replicationDegraded") else ""
    )
    lines = [
        f"Cluster    {meta.get('namespace')}/{meta.get('name')}",
        f"State      {state} for {ago(st.get('since'), now)}",
        f"Message    {st.get('message') or '-'}",
        f"Active     {st.get('activeInstance') or '-'}",
        f"Standby    {st.get('standbyInstance') or '-'}",
        f"Replicas   {spec.get('replicas', 2)}" + ("  (stopped)" if spec.get("stopped") else ""),
        f"Replication {st.get('replicationMode') or '-'}" + degraded,
        "Lease      "
        + (f"TTL {st['leaseTtl']:g}s, " if st.get("leaseTtl") else "")
        + f"renewed at every poll (last recorded {ago(st.get('lastLeaseRenewal'), now)} ago)",
        f"Timers     pollingInterval {spec.get('pollingInterval', 10)}s, "
        f"unreachableTimeout {spec.get('unreachableTimeout', 30)}s",
    ]
    pending = st.get("pendingAction")
    if pending:
        lines.append(
            f"Pending    {pending.get('kind')} of {pending.get('target') or '-'}"
            f" (from {pending.get('source') or '-'}, {ago(pending.get('since'), now)} ago,"
            f" {pending.get('attempts', 0)} attempt(s))"
        )
    if st.get("rollout"):
        lines.append("Rollout    " + rollout_line(st["rollout"], now))
    conditions = " ".join(f"{c.get('type')}={c.get('status')}" for c in st.get("conditions") or [])
    lines.append(f"Conditions {conditions or '-'}")
    lines += ["", *instances(st, now), "", "Events (latest last):", *events(event_items, now)]
    lines.append("(positions and lag as of the last status write; live values: /metrics)")
    return "\n".join(lines)


def rollout_line(r: Obj, now: datetime) -> str:
    return (
        f"step {r.get('step')} on {r.get('instance') or '-'}, to config hash "
        f"{str(r.get('targetHash', ''))[:12]}, {r.get('restarts', 0)} pod(s) restarted, "
        f"started {ago(r.get('since'), now)} ago"
    )


def rollout_view(
    body: Obj, pods: dict[str, str | None], template: str | None, now: datetime
) -> str:
    """`kubectl zenith rollout status`: the rollout step and every pod's config hash."""
    st: Obj = body.get("status") or {}
    r = st.get("rollout")
    head = ("Rollout    " + rollout_line(r, now)) if r else "No configuration rollout in progress"
    lines = [head, f"State      {st.get('state') or 'Unknown'}: {st.get('message') or '-'}"]
    rows = [["POD", "CONFIG HASH", ""]]
    for name, value in sorted(pods.items()):
        current = value is not None and value == template
        rows.append([name, (value or "-")[:12], "current" if current else "to restart"])
    lines += ["", f"Template config hash {(template or '-')[:12]}", *table(rows)]
    return "\n".join(lines)


def progress(elapsed: float, body: Obj) -> str:
    st: Obj = body.get("status") or {}
    return f"[{elapsed:6.1f}s] {st.get('state') or 'Unknown'}: {st.get('message') or ''}"
