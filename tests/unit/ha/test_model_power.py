"""The model must be able to find real failures: fed the first round's agent, it must
report the two writable instances that were measured on a real cluster (issue 9.3).

The operator-side counterexamples of issue 9 (a timer lowered live, the async promote in
BothDown) are @examples in test_properties.py; they fail on the decide() of the first
round (see docs/states.md, "Fencing").
"""

from __future__ import annotations

import pytest
from sim import SafetyViolation
from test_properties import START_IN_FLIGHT, _run, _sim


def test_legacy_agent_start_in_flight_is_caught() -> None:
    """Start mode chosen when the command begins, `fenced` reported before it is true:
    the standby is promoted while the old active's crash recovery will open writes."""
    sim = _sim(0, legacy_agent=True)
    with pytest.raises(SafetyViolation, match="two writable"):
        _run(sim, START_IN_FLIGHT)


def test_agent_that_rechecks_its_lease_is_safe() -> None:
    sim = _sim(0)
    _run(sim, START_IN_FLIGHT)
    assert sim.status.active_instance is not None
    assert all(w in sim.active_data() for w in sim.acked)
