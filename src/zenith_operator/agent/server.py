"""The agent's HTTP API (docs/agent-protocol.md): parsing, auth and error mapping only."""

from __future__ import annotations

import asyncio
import json
import math
import os
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any, TypeVar

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from pydantic import BaseModel, ValidationError

from zenith_operator.agent.auth import Token
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
TOKEN_KEY = web.AppKey("token", Token)


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


MAX_DEPTH = 32  # JSON nesting; deeper bodies are refused before parsing


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(raw: bytes) -> bool:
    """Nesting deeper than MAX_DEPTH, counted outside strings (cheap, no recursion)."""
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def load_json(raw: bytes) -> Any:
    """Strict JSON: no NaN/Infinity, no number that overflows a float, bounded nesting."""
    if _too_deep(raw):
        raise ApiError(400, "MalformedJSON", f"request body nests deeper than {MAX_DEPTH}")
    try:
        return json.loads(raw or b"{}", parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ApiError(400, "MalformedJSON", f"request body is not JSON: {exc}") from None


async def parse(request: web.Request, model: type[M]) -> M:
    raw = await request.read()
    data = load_json(raw)
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
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _reason(exc.status), exc.text or exc.reason)
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


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


class _JsonErrorHandler(RequestHandler):
    """Errors found before routing (oversized headers, bad request line) as error JSON."""

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if already sent
        text = message or HTTPStatus(status).phrase
        if status == 400 and exc is not None:
            text = " ".join(str(exc).split())[:200] or text
        resp = error_response(status, _reason(status), text)
        resp.force_close()
        return resp


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class AgentRunner(web.AppRunner):
    """An AppRunner whose protocol-level errors answer the documented error JSON."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


MAX_BODY = 64 * 1024


def make_app(agent: Agent, token: Token) -> web.Application:
    app = web.Application(middlewares=[errors_and_auth], client_max_size=MAX_BODY)
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
