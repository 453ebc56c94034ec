"""Command-template engine: every operation is a shell command from agent.yaml.

This is how a database without a Python engine (Zenith itself) plugs in; see
docs/command-engine.md. Placeholders such as `{host}` are replaced by shell-quoted
values, so a template never has to quote them itself (and must not).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from zenith_operator.agent.config import AgentConfig, CommandTemplates
from zenith_operator.agent.engine import EngineError, EngineStatus, RunMode, always, db_settings
from zenith_operator.wire import (
    DatabaseState,
    PeerAddress,
    ReplicationMode,
    ReplicationStatus,
)

log = structlog.get_logger("zenith.agent.command")

PLACEHOLDERS = frozenset(
    {
        "pod",
        "pod_ip",
        "listen_port",
        "replication_port",
        "data_dir",
        "config_dir",
        "mode",
        "host",
        "port",
        "peer_name",
        "standby",
    }
)
MARKER = ".zenith-initialised"
STATUS_TIMEOUT = 5.0


class StatusOutput(BaseModel):
    """What the `status` command prints (one JSON object; unknown keys ignored)."""

    model_config = ConfigDict(extra="ignore")

    database: DatabaseState = DatabaseState.UNKNOWN
    writable: bool = False
    timeline: int | None = None
    position: int | None = None
    replication: ReplicationStatus = ReplicationStatus()
    engine_version: str | None = None


def placeholders(template: str) -> set[str]:
    """Names used by template; raises ValueError on unbalanced braces."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def render(template: str, values: dict[str, str]) -> str:
    """Substitute placeholders with shell-quoted values (missing ones become '')."""
    quoted = {name: shlex.quote(values.get(name, "")) for name in PLACEHOLDERS}
    return template.format_map(quoted)


class CommandEngine:
    name = "command"

    def __init__(self, config: AgentConfig) -> None:
        if config.file.commands is None:
            raise EngineError("the command engine needs 'commands' in agent.yaml")
        self.config = config
        self.commands: CommandTemplates = config.file.commands
        for op, template in self.commands.model_dump().items():
            if template is None:
                continue
            try:
                unknown = placeholders(template) - PLACEHOLDERS
            except ValueError as exc:
                raise EngineError(
                    f"agent.yaml commands.{op}: {exc} (write {{{{ for a brace)"
                ) from None
            if unknown:
                raise EngineError(
                    f"agent.yaml commands.{op}: unknown placeholder(s) "
                    f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(PLACEHOLDERS))})"
                )
        self.timeout = config.file.command_timeout
        self.writable_guard: Callable[[], bool] = always
        self._current: asyncio.subprocess.Process | None = None  # the command running now
        self._running = False
        self._mode: RunMode | None = None
        self._upstream: PeerAddress | None = None
        self._config_hash: str | None = None
        self._sync: tuple[ReplicationMode, str | None] = ("async", None)

    # ---------------------------------------------------------------- running commands
    def _values(self, **extra: str) -> dict[str, str]:
        c = self.config
        values = {
            "pod": c.pod_name,
            "pod_ip": c.pod_ip,
            "listen_port": str(c.listen_port),
            "replication_port": str(c.replication_port),
            "data_dir": str(c.data_dir),
            "config_dir": str(c.config_dir),
        }
        values.update(extra)
        return values

    async def _run(
        self, op: str, template: str | None, *, timeout: float | None = None, **extra: str
    ) -> str:
        if template is None:
            raise EngineError(f"no '{op}' command configured in agent.yaml")
        cmd = render(template, self._values(**extra))
        log.debug("running", op=op, command=cmd)
        proc = await asyncio.create_subprocess_shell(
            cmd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # so a timeout kills the whole pipeline
        )
        self._current = proc
        try:
            limit = timeout or self.timeout
            out, err = await asyncio.wait_for(proc.communicate(), limit)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise EngineError(f"{op} command timed out after {limit:.0f}s") from None
        finally:
            self._current = None
        if proc.returncode != 0:
            tail = " ".join(err.decode(errors="replace").strip().splitlines()[-3:])
            raise EngineError(f"{op} command exited {proc.returncode}: {tail}")
        return out.decode(errors="replace")

    def _mark_data(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        (self.config.data_dir / MARKER).touch()

    # ---------------------------------------------------------------- Engine
    def has_data(self) -> bool:
        return (self.config.data_dir / MARKER).exists()

    def running(self) -> bool:
        return self._running

    def writable(self) -> bool:
        return self._running and self._mode == RunMode.WRITABLE

    def process_dir(self) -> Path | None:
        return None  # the database is the commands' business

    def config_hash(self) -> str | None:
        if self._config_hash is None:
            self._config_hash = db_settings(self.config.config_dir)[1]
        return self._config_hash

    def retry(self) -> None:
        return None  # every start runs the start command

    async def init(self) -> None:
        if self.has_data():
            return
        if self.commands.init is not None:
            await self._run("init", self.commands.init)
        self._mark_data()

    async def start(self, mode: RunMode, upstream: PeerAddress | None = None) -> None:
        if mode == RunMode.STANDBY and upstream is None:
            raise EngineError("standby start needs an upstream")
        if self._running and self._mode == mode and self._upstream == upstream:
            return
        if mode == RunMode.WRITABLE and not self.writable_guard():
            raise EngineError("the lease ended: not starting the database writable")
        self._config_hash = db_settings(self.config.config_dir)[1]
        await self._run(
            "start",
            self.commands.start,
            mode=str(mode),
            host=upstream.host if upstream else "",
            port=str(upstream.port) if upstream else "",
            peer_name=(upstream.name or "") if upstream else "",
        )
        self._running, self._mode, self._upstream = True, mode, upstream
        if mode == RunMode.WRITABLE and not self.writable_guard():
            await self.fence()  # the start outlived the lease: take the writes back now
            raise EngineError("the lease ended while the database started: fenced it")

    async def stop(self) -> None:
        if not self._running:
            # still ask: the database may have been started before this agent
            with contextlib.suppress(EngineError):
                await self._run("stop", self.commands.stop)
            return
        await self._run("stop", self.commands.stop)
        self._running = False

    async def fence(self) -> None:
        """`fence` if configured, else stop: a database that cannot fence must not run."""
        if self.commands.fence is not None:
            await self._run("fence", self.commands.fence)
            self._mode = RunMode.READ_ONLY
        elif self._running:
            await self.stop()

    def kill(self) -> bool:
        """Kill the command in flight (a start or promote must not complete); whether the
        database itself still accepts writes only the `fence` command can settle."""
        proc = self._current
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        return not self._running

    async def promote(self) -> None:
        if not self._running:
            await self.start(RunMode.READ_ONLY)
        if not self.writable_guard():
            raise EngineError("the lease ended: not promoting")
        await self._run("promote", self.commands.promote)
        self._mode, self._upstream = RunMode.WRITABLE, None

    async def follow(self, upstream: PeerAddress) -> None:
        await self._run(
            "follow",
            self.commands.follow,
            host=upstream.host,
            port=str(upstream.port),
            peer_name=upstream.name or "",
        )
        self._mark_data()
        self._running, self._mode, self._upstream = True, RunMode.STANDBY, upstream

    async def rebuild(self, upstream: PeerAddress) -> str:
        if self.commands.rebuild is None:
            await self.follow(upstream)
            return "follow"
        await self._run(
            "rebuild",
            self.commands.rebuild,
            host=upstream.host,
            port=str(upstream.port),
            peer_name=upstream.name or "",
        )
        self._mark_data()
        self._running, self._mode, self._upstream = True, RunMode.STANDBY, upstream
        return "command"

    async def status(self) -> EngineStatus:
        try:
            # polls must stay fast: status gets at most STATUS_TIMEOUT seconds
            out = await self._run(
                "status", self.commands.status, timeout=min(self.timeout, STATUS_TIMEOUT)
            )
            data: Any = StatusOutput.model_validate_json(out.strip() or "{}")
        except EngineError as exc:
            return EngineStatus(DatabaseState.UNKNOWN, error=str(exc))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "(output)"
            return EngineStatus(
                DatabaseState.UNKNOWN, error=f"status command output: {field}: {err['msg']}"
            )
        self._running = data.database in (DatabaseState.RUNNING, DatabaseState.STARTING)
        repl = data.replication
        if data.writable and repl.mode is None:
            repl.mode, repl.sync_standby = self._sync
        return EngineStatus(
            database=data.database,
            writable=data.writable,
            timeline=data.timeline,
            position=data.position,
            replication=repl,
            engine_version=data.engine_version,
        )

    async def apply_config(self) -> tuple[str, str]:
        digest = db_settings(self.config.config_dir)[1]
        message = "recorded"
        if self.commands.apply_config is not None:
            out = await self._run("apply_config", self.commands.apply_config)
            message = (out.strip().splitlines() or ["applied"])[-1]
        self._config_hash = digest
        return digest, message

    async def set_replication_mode(self, mode: ReplicationMode, standby: str | None) -> None:
        if self.commands.set_replication is not None and self.has_data():
            await self._run(
                "set_replication", self.commands.set_replication, mode=mode, standby=standby or ""
            )
        self._sync = (mode, standby)
