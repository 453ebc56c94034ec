"""The controller's pure-ish pieces: the status patch and the never-raising agent client."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from ha_factories import T0, inst, pair_normal

from zenith_operator.api.status import Condition, ZenithClusterStatus
from zenith_operator.controller.agent_client import AgentClient, Unknown
from zenith_operator.controller.executor import status_patch
from zenith_operator.controller.ha_loop import STEP_POLL, next_interval
from zenith_operator.ha.decide import decide
from zenith_operator.ha.states import State
from zenith_operator.wire import AgentStatus, DatabaseState, Role


def _body(status: dict[str, Any] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": "c", "namespace": "n", "resourceVersion": "7"}}
    if status is not None:
        body["status"] = status
    return body


def test_status_patch_keeps_other_writers_conditions() -> None:
    theirs = {"type": "SpecValid", "status": "True", "reason": "Valid", "message": ""}
    live = {"conditions": [theirs], "state": "Normal"}
    new = ZenithClusterStatus(
        state="ActiveDown", conditions=[Condition(type="Ready", status="False")]
    )
    ops = status_patch(_body(live), new)
    assert ops[0] == {"op": "test", "path": "/status/conditions", "value": [theirs]}
    conds = next(o["value"] for o in ops if o["path"] == "/status/conditions" and o["op"] == "add")
    assert [c["type"] for c in conds] == ["SpecValid", "Ready"]
    assert {"op": "add", "path": "/status/state", "value": "ActiveDown"} in ops


def test_status_patch_without_status_guards_on_resource_version() -> None:
    ops = status_patch(_body(None), ZenithClusterStatus(state="Initializing"))
    assert ops[0] == {"op": "test", "path": "/metadata/resourceVersion", "value": "7"}
    assert ops[1]["op"] == "add" and ops[1]["path"] == "/status"
    assert ops[1]["value"]["state"] == "Initializing"


def test_status_patch_writes_no_nulls() -> None:
    """A stored null prints as `<no value>` in kubectl's columns (real kube-apiserver)."""
    ops = status_patch(_body(None), ZenithClusterStatus(state="Normal", active_instance="s-0"))
    value = ops[1]["value"]
    assert value["activeInstance"] == "s-0"
    assert "standbyInstance" not in value and None not in value.values()


def test_status_patch_removes_fields_that_became_unset() -> None:
    live = {"state": "Normal", "activeInstance": "p-0", "standbyInstance": None, "other": 1}
    ops = status_patch(_body(live), ZenithClusterStatus(state="Normal", active_instance="p-0"))
    assert {"op": "remove", "path": "/status/standbyInstance"} in ops
    assert not any(o["op"] == "remove" and o["path"] == "/status/other" for o in ops)
    assert not any(o.get("value", "") is None for o in ops)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _serve(handler: Any) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = _port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, port


async def test_agent_client_returns_status_and_sends_the_token() -> None:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization", ""))
        st = AgentStatus(pod="p", role=Role.ACTIVE, database=DatabaseState.RUNNING,
                         agent_version="t", engine="t")  # fmt: skip
        return web.json_response(st.model_dump(mode="json"))

    runner, port = await _serve(handler)
    try:
        async with aiohttp.ClientSession() as session:
            result = await AgentClient(session, "tok").status("127.0.0.1", port)
    finally:
        await runner.cleanup()
    assert isinstance(result, AgentStatus) and result.role == Role.ACTIVE
    assert seen == ["Bearer tok"]


@pytest.mark.parametrize("kind", ["refused", "timeout", "401", "garbage"])
async def test_agent_client_never_raises(kind: str) -> None:
    release = asyncio.Event()

    async def handler(request: web.Request) -> web.Response:
        if kind == "timeout":
            await release.wait()
        if kind == "401":
            body = {"reason": "Unauthorized", "message": "bad token"}
            return web.json_response(body, status=401)
        return web.Response(text="not json {")

    runner, port = await _serve(handler)
    if kind == "refused":
        await runner.cleanup()
    try:
        async with aiohttp.ClientSession() as session:
            client = AgentClient(session, "tok", status_timeout=0.3, command_timeout=0.3)
            result = await client.status("127.0.0.1", port)
            command = await client.promote("127.0.0.1", port, 5.0)
    finally:
        release.set()
        if kind != "refused":
            await runner.cleanup()
    assert isinstance(result, Unknown) and isinstance(command, Unknown)
    if kind == "401":
        assert result.error == "HTTP 401 Unauthorized: bad token"
    if kind == "timeout":
        assert "timeout" in result.error


def test_the_loop_polls_faster_while_something_is_wrong() -> None:
    """Issue 16 item 4: a restarted agent is noticed within a fraction of the interval."""
    old, obs = pair_normal()
    calm = decide(old, obs, T0)
    assert next_interval(1.0, calm, obs) == 1.0
    silent = replace(obs, instances=(obs.instances[0], inst("c-1", None, error="timeout")))
    assert next_interval(1.0, decide(old, silent, T0), silent) == 0.25
    assert next_interval(10.0, decide(old, silent, T0), silent) == 2.5


def test_steps_and_silence_deadlines_do_not_wait_for_the_interval() -> None:
    """Issue 17: a switchover's or failover's steps follow each other every STEP_POLL,
    and a silent agent is polled again when it would be counted down, at any interval."""
    old, obs = pair_normal()
    d = decide(old, obs, T0)
    switching = replace(d, state=State.SWITCHOVER)
    assert next_interval(10.0, switching, obs) == STEP_POLL
    deleting = replace(
        obs, instances=(replace(obs.instances[0], pod_deleting=True), obs.instances[1])
    )
    assert next_interval(10.0, d, deleting) == STEP_POLL
    silent = replace(
        obs,
        instances=(
            obs.instances[0],
            replace(inst("c-1", None, error="timeout"), last_ok=T0 - 29.5),
        ),
        settings=replace(obs.settings, unreachable_timeout=30),
    )
    d = decide(old, silent, T0)
    assert next_interval(10.0, d, silent, T0) == pytest.approx(0.51)
