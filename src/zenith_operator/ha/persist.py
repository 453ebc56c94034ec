"""What is worth writing: conditions from the state, and the "changed?" test that keeps
the operator silent at steady state (churning fields are ignored)."""

from __future__ import annotations

from typing import Any

from zenith_operator.api.status import Condition, ZenithClusterStatus
from zenith_operator.ha.states import SERVING_STATES, State

# Refreshed in the status whenever it is written, never a reason to write it.
CHURN_INSTANCE_FIELDS = frozenset({"last_seen", "position", "lag_bytes"})
CHURN_FIELDS = frozenset({"last_lease_renewal"})


def _cond(type_: str, ok: bool, reason: str, message: str) -> Condition:
    return Condition(type=type_, status="True" if ok else "False", reason=reason, message=message)


def conditions(
    old: ZenithClusterStatus, new: ZenithClusterStatus, state: State, pair: bool, now: str
) -> list[Condition]:
    message = new.message
    wanted = [
        _cond("Ready", state == State.NORMAL, state.value, message),
        _cond("Available", state in SERVING_STATES, state.value, message),
    ]
    if pair:
        healthy = state == State.NORMAL and not new.replication_degraded
        reason = "InSync" if healthy else ("Degraded" if new.replication_degraded else state.value)
        mode = new.replication_mode or "unknown"
        wanted.append(_cond("ReplicationHealthy", healthy, reason, f"replication mode {mode}"))
    else:
        wanted.append(_cond("ReplicationHealthy", True, "SingleInstance", "no standby"))
    wanted.append(
        _cond(
            "ManualIntervention",
            state == State.MANUAL_INTERVENTION,
            state.value,
            message if state == State.MANUAL_INTERVENTION else "",
        )
    )
    previous = {c.type: c for c in old.conditions}
    for c in wanted:
        before = previous.get(c.type)
        same = before is not None and before.status == c.status
        c.last_transition_time = before.last_transition_time if same and before else now
        c.observed_generation = new.observed_generation
    return wanted


def significant(status: ZenithClusterStatus) -> dict[str, Any]:
    data = status.model_dump(exclude=set(CHURN_FIELDS))
    for inst in data.get("instances", []):
        for key in CHURN_INSTANCE_FIELDS:
            inst.pop(key, None)
    return data


def changed(old: ZenithClusterStatus, new: ZenithClusterStatus) -> bool:
    """True when new differs from old in something worth an API write."""
    return significant(old) != significant(new)


def attempt_stamps(status: ZenithClusterStatus | None) -> set[str]:
    """The attempt times a status records (pending action, rollout step)."""
    if status is None:
        return set()
    p, r = status.pending_action, status.rollout
    return {t for t in (p and p.last_attempt, r and r.last_attempt) if t}
