"""The HA state machine: pure, no I/O, no clock reads (see docs/states.md)."""

from zenith_operator.ha.decide import decide
from zenith_operator.ha.model import Decision, InstanceObservation, Observations, Settings
from zenith_operator.ha.states import FailoverPolicy, Health, State

SWITCHOVER_ANNOTATION = "zenith.huawei.cloudb.com/switchover-to"

__all__ = [
    "SWITCHOVER_ANNOTATION",
    "Decision",
    "FailoverPolicy",
    "Health",
    "InstanceObservation",
    "Observations",
    "Settings",
    "State",
    "decide",
]
