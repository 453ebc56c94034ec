"""The agent's HTTP API (docs/agent-protocol.md): parsing, auth and error mapping only."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from zenith_operator.agent.auth import TokenFile
from zenith_operator.agent.commands import Busy
from zenith_operator.agent.core import Agent, Conflict
from zenith_operator.agent.engine import EngineError
from zenith_operator.wire import (
    API_PREFIX,
    CommandResult,
    ErrorBody,
    FollowRequest,
    LeaseRequest,
    PromoteRequest,
    RebuildRequest,
    ReplicationModeRequest,
)

log = structlog.get_logger("zenith.agent.http")

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

AGENT_KEY = web.AppKey("agent", Agent)
TOKEN_KEY = web.AppKey("token", TokenFile)


class ApiError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def json_response(model: BaseModel, status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=model.model_dump_json(), content_type="application/json"
    )


def error_response(status: int, reason: str, message: str) -> web.Response:
    return json_response(ErrorBody(reason=reason, message=message), status)


async def parse(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise ApiError(400, "MalformedJSON", f"request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "MalformedJSON", "request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(body)"
        raise ApiError(400, "Invalid", f"field {field}: {err['msg']}") from None


@web.middleware
async def errors_and_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != "/health":
        token = request.app[TOKEN_KEY]
        if not token.check(request.headers.get("Authorization")):
            return error_response(401, "Unauthorized", "missing or wrong bearer token")
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.reason, exc.message)
    except Busy as exc:
        return error_response(503, "Busy", str(exc))
    except Conflict as exc:
        return error_response(409, "Conflict", str(exc))
    except EngineError as exc:
        return error_response(500, "EngineError", str(exc))
    except web.HTTPMethodNotAllowed as exc:
        allowed = ", ".join(sorted(exc.allowed_methods))
        return error_response(
            405, "MethodNotAllowed", f"{request.method} not allowed; use {allowed}"
        )
    except web.HTTPNotFound:
        return error_response(404, "NotFound", f"no route {request.path}")
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("handler failed", path=request.path)
        return error_response(500, "InternalError", f"{type(exc).__name__}: {exc}")


def agent_of(request: web.Request) -> Agent:
    return request.app[AGENT_KEY]


async def health(request: web.Request) -> web.Response:
    """Liveness by default; `?ready=1` makes the status code follow readiness."""
    body = agent_of(request).health()
    want_ready = request.query.get("ready", "") not in ("", "0", "false")
    ok = body.alive and (body.ready or not want_ready)
    return json_response(body, 200 if ok else 503)


async def status(request: web.Request) -> web.Response:
    return json_response(await agent_of(request).status())


async def lease(request: web.Request) -> web.Response:
    req = await parse(request, LeaseRequest)
    return json_response(agent_of(request).lease_request(req))


def _result(result: CommandResult) -> web.Response:
    return json_response(result)


async def promote(request: web.Request) -> web.Response:
    req = await parse(request, PromoteRequest)
    return _result(await agent_of(request).promote(req))


async def follow(request: web.Request) -> web.Response:
    req = await parse(request, FollowRequest)
    return _result(await agent_of(request).follow(req))


async def rebuild(request: web.Request) -> web.Response:
    req = await parse(request, RebuildRequest)
    return _result(await agent_of(request).rebuild(req))


async def stop(request: web.Request) -> web.Response:
    return _result(await agent_of(request).stop())


async def start(request: web.Request) -> web.Response:
    return _result(await agent_of(request).start())


async def reload(request: web.Request) -> web.Response:
    return _result(await agent_of(request).reload())


async def replication(request: web.Request) -> web.Response:
    req = await parse(request, ReplicationModeRequest)
    if req.mode == "sync" and not req.standby_name:
        raise ApiError(400, "Invalid", "field standby_name: required when mode is sync")
    return _result(await agent_of(request).replication(req))


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/health", health),
    ("GET", f"{API_PREFIX}/status", status),
    ("POST", f"{API_PREFIX}/lease", lease),
    ("POST", f"{API_PREFIX}/promote", promote),
    ("POST", f"{API_PREFIX}/follow", follow),
    ("POST", f"{API_PREFIX}/rebuild", rebuild),
    ("POST", f"{API_PREFIX}/stop", stop),
    ("POST", f"{API_PREFIX}/start", start),
    ("POST", f"{API_PREFIX}/reload", reload),
    ("POST", f"{API_PREFIX}/replication", replication),
]


def make_app(agent: Agent, token: TokenFile) -> web.Application:
    app = web.Application(middlewares=[errors_and_auth], client_max_size=64 * 1024)
    app[AGENT_KEY] = agent
    app[TOKEN_KEY] = token
    for method, path, handler in ROUTES:
        app.router.add_route(method, path, handler)
    return app


def ssl_context(crt: str, key: str) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(crt, key)
    return ctx


async def reload_tls(ctx: ssl.SSLContext, crt: str, key: str, every: float = 2.0) -> None:
    """Reload a rotated certificate into the live context (new handshakes use it)."""

    def stamp() -> tuple[float, float] | None:
        try:
            return (os.stat(crt).st_mtime, os.stat(key).st_mtime)
        except OSError:
            return None

    seen = stamp()
    while True:
        await asyncio.sleep(every)
        now = stamp()
        if now is None or now == seen:
            continue
        try:
            ctx.load_cert_chain(crt, key)
            seen = now
            log.info("TLS certificate reloaded", crt=crt)
        except (OSError, ssl.SSLError) as exc:  # half-written pair: try again next time
            log.warning("TLS reload failed", error=str(exc))
