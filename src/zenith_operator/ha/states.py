"""Cluster states and instance health: the vocabulary of the HA state machine.

Every state is documented in docs/states.md (a unit test keeps both lists equal).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    INITIALIZING = "Initializing"
    NORMAL = "Normal"
    ACTIVE_DOWN = "ActiveDown"
    STANDBY_DOWN = "StandbyDown"
    STANDBY_PARTIALLY_DOWN = "StandbyPartiallyDown"
    STANDBY_PARTIALLY_STARTING = "StandbyPartiallyStarting"
    BOTH_DOWN = "BothDown"
    FAILOVER = "Failover"
    SWITCHOVER = "Switchover"
    MANUAL_INTERVENTION = "ManualIntervention"
    STOPPED = "Stopped"
    FAILED = "Failed"


PAIR_STATES: frozenset[State] = frozenset(State)
SINGLE_STATES: frozenset[State] = frozenset(
    {
        State.INITIALIZING,
        State.NORMAL,
        State.ACTIVE_DOWN,
        State.MANUAL_INTERVENTION,
        State.STOPPED,
        State.FAILED,
    }
)

# States in which an active instance serves writes.
SERVING_STATES: frozenset[State] = frozenset(
    {
        State.NORMAL,
        State.STANDBY_DOWN,
        State.STANDBY_PARTIALLY_DOWN,
        State.STANDBY_PARTIALLY_STARTING,
    }
)
WARNING_STATES: frozenset[State] = frozenset(
    {
        State.ACTIVE_DOWN,
        State.STANDBY_DOWN,
        State.STANDBY_PARTIALLY_DOWN,
        State.BOTH_DOWN,
        State.FAILOVER,
        State.MANUAL_INTERVENTION,
        State.FAILED,
    }
)


class FailoverPolicy(StrEnum):
    """Mirrors api.spec.FailoverPolicy (kept here so ha/ does not need the spec model)."""

    ZERO_DATA_LOSS = "ZeroDataLoss"
    AVAILABILITY = "Availability"


class Health(StrEnum):
    HEALTHY = "Healthy"  # agent answers, database running in its role
    STARTING = "Starting"  # database starting, rebuilding, or a command is running
    DEGRADED = "Degraded"  # agent answers, database stopped/crashed or not replicating
    UNREACHABLE = "Unreachable"  # agent does not answer (down once past unreachableTimeout)
    MISSING = "Missing"  # no pod
    UNKNOWN = "Unknown"


class PendingKind(StrEnum):
    INITIALIZE = "Initialize"
    FAILOVER = "Failover"
    SWITCHOVER = "Switchover"
    FOLLOW = "Follow"
    REBUILD = "Rebuild"
    RESTART = "Restart"


class RolloutStep(StrEnum):
    """Steps of a pod template rollout (status.rollout.step), see docs/states.md."""

    RESTART_STANDBY = "RestartStandby"
    SWITCHOVER = "Switchover"
    RESTART_FORMER_ACTIVE = "RestartFormerActive"
    RESTART_INSTANCE = "RestartInstance"  # single instance: restart in place (downtime)
    # Initializing: pods that never served are replaced with the new template at once
    REPLACE_UNINITIALIZED = "ReplaceUninitialized"
    PAUSED = "Paused"  # a pod on the new revision does not start: wait for a fix or revert
    STALLED = "Stalled"  # too many restarts without the pods taking the new revision
