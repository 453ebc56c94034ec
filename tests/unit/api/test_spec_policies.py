"""docs/spec.md gives every spec field one policy on change, and the live ones are read
live (issue 16 item 6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from zenith_operator.api.spec import AgentSpec, ZenithClusterSpec, ZenithSpec, parse_spec
from zenith_operator.controller.observe import settings_of
from zenith_operator.ha.states import FailoverPolicy

DOC = Path(__file__).resolve().parents[3] / "docs" / "spec.md"
POLICIES = ("immutable", "live", "rollout", "next pod start")


def _policy_rows() -> dict[str, str]:
    text = DOC.read_text()
    section = text.split("## Changing a running cluster: one policy per field", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            for name in re.findall(r"`([^`]+)`", cells[0]):
                for part in name.split("."):
                    rows.setdefault(part, cells[1])
    return rows


def _fields(model: Any) -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items()]


@pytest.mark.parametrize(
    "field",
    [
        *_fields(ZenithSpec),
        *_fields(AgentSpec),
        "template",
        "volumeClaimTemplates",
        "retentionPolicy",
        "listen",
        "replication",
        "agent",
    ],
)
def test_every_field_has_one_policy(field: str) -> None:
    rows = _policy_rows()
    assert field in rows, f"docs/spec.md gives no policy for {field}"
    assert rows[field].startswith(POLICIES), rows[field]


def _body(**zenith: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "c", "namespace": "ns", "generation": 2},
        "spec": {"zenithSpec": zenith},
        "status": {"activeInstance": "c-1"},
    }


@pytest.mark.parametrize(
    ("change", "attribute", "value"),
    [
        ({"pollingInterval": 3}, "polling_interval", 3.0),
        ({"pollingInterval": 1, "unreachableTimeout": 9}, "unreachable_timeout", 9),
        ({"failoverPolicy": "Availability"}, "failover_policy", FailoverPolicy.AVAILABILITY),
        ({"stopped": True}, "stopped", True),
        ({"replicas": 1}, "desired_replicas", 1),
        ({"replicas": 1}, "replicas", 2),  # held: c-1 is the active
    ],
)
def test_live_fields_reach_the_ha_loop(change: dict[str, Any], attribute: str, value: Any) -> None:
    body = _body(**change)
    spec: ZenithClusterSpec = parse_spec(body["spec"])
    assert getattr(settings_of(body, spec), attribute) == value
