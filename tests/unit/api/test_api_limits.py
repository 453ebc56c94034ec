"""The pydantic models refuse what the CRD refuses (objects stored before a rule existed
reach the operator too), and the operator-only checks name their field."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from zenith_operator.api.cluster import from_body
from zenith_operator.api.spec import Engine, SpecError
from zenith_operator.controller.spec_errors import (
    agent_file_problem,
    check_static,
    local_roots,
    postgres_settings_problem,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scenarios"))
from bad_manifests import REJECTED, Rejected, local

# JSON types the CRD checks strictly and pydantic coerces ("10" -> 10, "yes" -> True):
# the API server never stores them, so the model need not refuse them.
COERCED = {"poll-string", "ssl-string", "stopped-string"}


def _body(spec: dict[str, Any], name: str = "ok") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns"}, "spec": spec}


@pytest.mark.parametrize("case", REJECTED, ids=[c.id for c in REJECTED])
def test_the_model_refuses_what_the_crd_refuses(case: Rejected) -> None:
    if case.id in COERCED:
        pytest.skip("type coercion only")
    with pytest.raises(SpecError):
        from_body(_body(case.body, case.name or "ok"))


def test_local_roots_default_and_setting() -> None:
    assert local_roots({}) == ("/mnt", "/srv", "/data", "/var/lib/zenith-local")
    assert local_roots({"ZENITH_LOCAL_STORAGE_ROOTS": "/disks/:/fast::"}) == ("/disks", "/fast")
    cluster = from_body(_body(local(("n1", "/disks/a"))))
    check_static(cluster, ("/disks",))
    with pytest.raises(SpecError) as caught:
        check_static(cluster, ("/mnt",))
    assert caught.value.path == "spec.zenithSpec.localStorage.nodes[0].path"
    with pytest.raises(SpecError):  # the root itself is not an instance's directory
        check_static(cluster, ("/disks/a",))


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("shared_buffers = 128MB\n# comment\n\nwork_mem 4MB\n", False),
        ("include_if_exists = 'x.conf'", False),
        ("128MB", True),
        ("on", True),
        ("= 3", True),
    ],
)
def test_postgres_settings_form(text: str, bad: bool) -> None:
    assert bool(postgres_settings_problem(text)) is bad


def test_agent_file_problems() -> None:
    assert agent_file_problem("log_level: debug\n") is None
    assert "commands" in (agent_file_problem("log_level: debug\n", Engine.COMMAND) or "")
    assert "yaml" in (agent_file_problem("a: [") or "")
    assert "log_levle" in (agent_file_problem("log_levle: debug") or "")
    assert "mapping" in (agent_file_problem("- a") or "")
