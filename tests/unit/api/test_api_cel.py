"""The CRD's CEL rules evaluated with cel-python, as the API server would."""

from __future__ import annotations

from typing import Any

import celpy
import pytest

from zenith_operator.api import crd


def _rules(path: list[str]) -> list[dict[str, str]]:
    node: dict[str, Any] = crd.openapi_schema()
    for key in path:
        node = node["properties"][key]
    rules: list[dict[str, str]] = node["x-kubernetes-validations"]
    return rules


def _eval(rule: str, self_: Any, old: Any = None) -> bool:
    env = celpy.Environment()
    program = env.program(env.compile(rule))
    activation = {"self": celpy.json_to_cel(self_)}
    if old is not None:
        activation["oldSelf"] = celpy.json_to_cel(old)
    return bool(program.evaluate(activation))


def test_timing_rule() -> None:
    rule = _rules(["spec", "zenithSpec"])[0]["rule"]
    assert _eval(rule, {"pollingInterval": 10, "unreachableTimeout": 30})
    assert not _eval(rule, {"pollingInterval": 30, "unreachableTimeout": 30})


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        ({"storageClassName": "a"}, {"storageClassName": "a"}, True),
        ({"storageClassName": "a"}, {"storageClassName": "b"}, False),
        ({"storageClassName": "a"}, {}, False),
        ({}, {}, True),
    ],
)
def test_storage_class_is_immutable(old: dict[str, Any], new: dict[str, Any], ok: bool) -> None:
    rule = _rules(["spec", "zenithSpec"])[1]["rule"]
    assert _eval(rule, new, old) is ok


N1 = {"node": "n1", "path": "/d"}
N2 = {"node": "n2", "path": "/d"}


@pytest.mark.parametrize(
    ("old", "new", "ok"),
    [
        ([N1], [N1], True),
        ([N1], [N1, N2], True),
        ([N1, N2], [N1], False),
        ([N1], [N2], False),
        ([N1, N2], [N1, {"node": "n2", "path": "/other"}], False),
    ],
)
def test_local_nodes_only_append(
    old: list[dict[str, str]], new: list[dict[str, str]], ok: bool
) -> None:
    rule = _rules(["spec", "zenithSpec", "localStorage"])[0]["rule"]
    assert _eval(rule, {"nodes": new}, {"nodes": old}) is ok


def test_ports_must_differ() -> None:
    rule = _rules(["spec", "zenithSpec", "ports"])[0]["rule"]
    assert _eval(rule, {"listen": 1, "replication": 2, "agent": 3})
    assert not _eval(rule, {"listen": 1, "replication": 2, "agent": 1})


@pytest.mark.parametrize("port", ["listen", "replication", "agent"])
def test_ports_are_immutable(port: str) -> None:
    """Issue 16 item 6: a live port change took the cluster down; it is refused."""
    rules = _rules(["spec", "zenithSpec", "ports"])
    rule = next(r for r in rules if r["rule"] == "self == oldSelf")
    assert "ports are immutable" in rule["message"]
    old = {"listen": 1, "replication": 2, "agent": 3}
    assert _eval(rule["rule"], dict(old), old)
    assert not _eval(rule["rule"], {**old, port: 9}, old)


def test_engine_is_immutable() -> None:
    rule = _rules(["spec", "zenithSpec", "engine"])[0]
    assert _eval(rule["rule"], "postgres", "postgres")
    assert not _eval(rule["rule"], "command", "postgres")
