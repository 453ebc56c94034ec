"""HTTP client of the in-pod agent: short timeouts, no retries, never raises.

A failed call is data (`Unknown(error)`), not an exception, so one silent pod never
breaks a poll of the others (as Patroni's `_MemberStatus.unknown`).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from pydantic import BaseModel, ValidationError

from zenith_operator.wire import (
    API_PREFIX,
    AgentStatus,
    CommandResult,
    ErrorBody,
    FollowRequest,
    LeaseRequest,
    LeaseResponse,
    PromoteRequest,
    RebuildRequest,
    ReplicationMode,
    ReplicationModeRequest,
)

M = TypeVar("M", bound=BaseModel)

STATUS_TIMEOUT = 2.0
COMMAND_TIMEOUT = 300.0  # promote / rebuild may copy a whole database


@dataclass(frozen=True)
class Unknown:
    error: str
    kind: str = "other"  # timeout, connection, unauthorized, http, invalid-answer, other


class AgentClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        token: str | None,
        status_timeout: float = STATUS_TIMEOUT,
        command_timeout: float = COMMAND_TIMEOUT,
        scheme: str = "http",
    ) -> None:
        self.session = session
        self.token = token
        self.status_timeout = status_timeout
        self.command_timeout = command_timeout
        self.scheme = scheme
        # called after each status poll: (seconds, error kind or None) — metrics.py
        self.on_status: Callable[[float, str | None], None] | None = None
        # pod IP -> (the name its certificate must carry, the context verifying it): the
        # agents that serve HTTPS (controller/agent_tls.py); the others are called on http
        self.tls: dict[str, tuple[str, ssl.SSLContext]] = {}

    def _tls(self, url: str) -> dict[str, Any]:
        found = self.tls.get(urlsplit(url).hostname or "")
        if found is None:
            return {}
        return {"ssl": found[1], "server_hostname": found[0]}

    def _url(self, host: str, port: int, path: str) -> str:
        scheme = "https" if host in self.tls else self.scheme
        return f"{scheme}://{host}:{port}{API_PREFIX}{path}"

    async def _call(
        self,
        method: str,
        url: str,
        model: type[M],
        body: BaseModel | None,
        timeout: float,
    ) -> M | Unknown:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload: Any = body.model_dump(mode="json") if body is not None else None
        try:
            async with self.session.request(
                method,
                url,
                json=payload,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout),
                **self._tls(url),
            ) as resp:
                data = await resp.json(content_type=None)
                if resp.status >= 400:
                    kind = "unauthorized" if resp.status == 401 else "http"
                    return Unknown(_error_text(resp.status, data), kind)
                return model.model_validate(data)
        except TimeoutError:
            return Unknown(f"timeout after {timeout:g}s", "timeout")
        except asyncio.CancelledError:
            raise
        except (aiohttp.ClientConnectionError, OSError) as exc:
            return Unknown(f"{type(exc).__name__}: {exc}", "connection")
        except (aiohttp.ClientError, ValidationError, ValueError) as exc:
            return Unknown(f"{type(exc).__name__}: {exc}", "invalid-answer")
        except Exception as exc:  # never raise: a poll must survive any agent
            return Unknown(f"{type(exc).__name__}: {exc}")

    async def status(self, host: str, port: int) -> AgentStatus | Unknown:
        started = time.monotonic()
        result = await self._call(
            "GET", self._url(host, port, "/status"), AgentStatus, None, self.status_timeout
        )
        if self.on_status is not None:
            kind = result.kind if isinstance(result, Unknown) else None
            self.on_status(time.monotonic() - started, kind)
        return result

    async def lease(self, host: str, port: int, ttl: float) -> LeaseResponse | Unknown:
        return await self._call(
            "POST",
            self._url(host, port, "/lease"),
            LeaseResponse,
            LeaseRequest(ttl=ttl),
            self.status_timeout,
        )

    async def promote(self, host: str, port: int, ttl: float) -> CommandResult | Unknown:
        body = PromoteRequest(lease_ttl=ttl)
        return await self._command(host, port, "/promote", body)

    async def follow(
        self, host: str, port: int, peer_host: str, peer_port: int, peer: str
    ) -> CommandResult | Unknown:
        body = FollowRequest(host=peer_host, port=peer_port, name=peer)
        return await self._command(host, port, "/follow", body)

    async def rebuild(
        self, host: str, port: int, peer_host: str, peer_port: int, peer: str
    ) -> CommandResult | Unknown:
        body = RebuildRequest(host=peer_host, port=peer_port, name=peer)
        return await self._command(host, port, "/rebuild", body)

    async def replication(
        self, host: str, port: int, mode: ReplicationMode, standby: str | None
    ) -> CommandResult | Unknown:
        body = ReplicationModeRequest(mode=mode, standby_name=standby)
        return await self._command(host, port, "/replication", body)

    async def stop(self, host: str, port: int) -> CommandResult | Unknown:
        return await self._command(host, port, "/stop", None)

    async def start(self, host: str, port: int) -> CommandResult | Unknown:
        return await self._command(host, port, "/start", None)

    async def _command(
        self, host: str, port: int, path: str, body: BaseModel | None
    ) -> CommandResult | Unknown:
        url = self._url(host, port, path)
        return await self._call("POST", url, CommandResult, body, self.command_timeout)


def _error_text(status: int, data: Any) -> str:
    try:
        err = ErrorBody.model_validate(data)
        return f"HTTP {status} {err.reason}: {err.message}"
    except ValidationError:
        return f"HTTP {status}: {str(data)[:200]}"
