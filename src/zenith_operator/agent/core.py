"""The agent's brain: role, lease, fencing and the command semantics of docs/agent-protocol.md.

The HTTP layer (server.py) only parses and serializes; every decision is here. Each
command method returns a `CommandResult` with `changed=False` when it was already
satisfied, or raises `Conflict` / `EngineError`.

Length: every command reads and changes the same role, lease and fencing state under one
lock; kept together so each command's checks can be read against the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from zenith_operator import __version__
from zenith_operator.agent import metrics, watchdog
from zenith_operator.agent.commands import Busy, CommandRunner
from zenith_operator.agent.config import AgentConfig
from zenith_operator.agent.engine import Engine, EngineError, EngineStatus, RunMode
from zenith_operator.agent.lease import Lease
from zenith_operator.wire import (
    AgentStatus,
    CommandResult,
    DatabaseState,
    HealthStatus,
    LeaseRequest,
    LeaseResponse,
    PeerAddress,
    PromoteRequest,
    ReplicationModeRequest,
    Role,
)

log = structlog.get_logger("zenith.agent")

TICK = 0.05  # seconds between watcher passes: lease checks are this precise
WEDGED_AFTER = 10.0  # liveness fails when the watcher has not ticked for this long
REFRESH_EVERY = 1.0  # seconds between the agent's own engine status reads (for /health)
STALE_AFTER = 10.0  # /health reports not ready when its engine status is older than this
CRASH_RESTARTS = 3  # a crashed database is restarted by the agent itself this many times ...
CRASH_WINDOW = 60.0  # ... within this many seconds; after that the operator decides


class Conflict(Exception):
    """The command contradicts the instance's state (HTTP 409)."""


@dataclass
class PersistedState:
    """What survives an agent restart ($ZENITH_DATA_DIR/agent-state.json)."""

    role: Role = Role.NONE
    upstream: PeerAddress | None = None


class Agent:
    def __init__(self, config: AgentConfig, engine: Engine, lease: Lease | None = None) -> None:
        self.config = config
        self.engine = engine
        self.lease = lease or Lease()
        self.runner = CommandRunner()
        engine.writable_guard = self._may_write
        self.state_path = config.data_dir / "agent-state.json"
        self.state = self._load_state()
        self.fenced = False
        self._fence_applied = False  # the engine confirmed the fence (retried until it does)
        self._fence_retry_at = 0.0
        self.last_error: str | None = None
        self.last_tick = time.monotonic()
        self._watcher: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[object]] = set()
        self.watchdog_file = config.data_dir / "lease-watchdog.json"
        self._watchdog: asyncio.subprocess.Process | None = None
        self._armed: float | None = None
        # the latest engine status and when it was read; one read in flight at a time
        self._engine_status: EngineStatus | None = None
        self._engine_status_at = 0.0
        self._reading: asyncio.Task[EngineStatus] | None = None
        self._restarting: asyncio.Task[None] | None = None  # a restart the engine asked for
        # the database should be running (started by a command or at boot, not stopped
        # since): when it is not, it crashed and the agent restarts it on its own
        self._want_running = False
        self._crash_restarts: list[float] = []
        self._crash_restart: asyncio.Task[None] | None = None
        self.boot_id = uuid.uuid4().hex[:12]
        self.started_at = time.time()

    # ---------------------------------------------------------------- persistence
    def _load_state(self) -> PersistedState:
        try:
            data = json.loads(self.state_path.read_text())
            up = data.get("upstream")
            return PersistedState(
                role=Role(data.get("role", "none")),
                upstream=PeerAddress.model_validate(up) if up else None,
            )
        except (OSError, ValueError):
            return PersistedState()

    def _save_state(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        data = {
            "role": str(self.state.role),
            "upstream": self.state.upstream.model_dump() if self.state.upstream else None,
        }
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.state_path)

    def _set_role(self, role: Role, upstream: PeerAddress | None = None) -> None:
        self.state = PersistedState(role=role, upstream=upstream)
        self._save_state()

    # ---------------------------------------------------------------- lifecycle
    async def boot(self) -> None:
        """Start the database as the persisted role allows, then watch the lease.

        An active restarting has no lease (the monotonic clock does not survive a
        restart): it comes up fenced (read-only) until the operator promotes it.
        """
        if self.state.role == Role.ACTIVE:
            self.fenced = True
        await self._start_watchdog()
        self._watcher = asyncio.get_running_loop().create_task(self._watch())
        self._refresher = asyncio.get_running_loop().create_task(self._refresh())
        if not self.engine.has_data():
            log.info("no data yet: waiting for promote (initialise) or follow (clone)")
            return
        await self._guarded("boot", self._start_database)

    async def shutdown(self) -> None:
        self._want_running = False
        for task in (self._watcher, self._refresher, self._restarting, self._crash_restart):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self.runner.run_waiting("shutdown", self.engine.stop)
        if self._watchdog is not None and self._watchdog.returncode is None:
            self._watchdog.kill()
            await self._watchdog.wait()

    async def _start_watchdog(self) -> None:
        """The lease kept outside this process (agent/watchdog.py), disarmed at start."""
        directory = self.engine.process_dir()
        if directory is None:
            return
        self._sync_watchdog(force=True)
        self._watchdog = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "zenith_operator.agent.watchdog",
            str(self.watchdog_file),
            str(directory),
            stdin=asyncio.subprocess.DEVNULL,
        )

    def _sync_watchdog(self, force: bool = False) -> None:
        """Arm the watchdog with the lease's deadline while writes may be open, else
        disarm it. Called at every watcher tick and right after each grant."""
        deadline = self.lease.deadline if self._may_write() else None
        wanted = deadline + watchdog.SLACK if deadline is not None else None
        if force or wanted != self._armed:
            with contextlib.suppress(OSError):
                watchdog.arm(self.watchdog_file, wanted)
                self._armed = wanted

    async def _guarded(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        try:
            await self.runner.run_waiting(name, fn)
        except EngineError as exc:
            self.last_error = str(exc)
            log.error(f"{name} failed", error=str(exc))

    async def _watch(self) -> None:
        """The agent loop: heartbeat for liveness and the lease check for fencing."""
        while True:
            self.last_tick = time.monotonic()
            if self._watchdog is not None:
                self._sync_watchdog()
            try:
                if self._must_fence():
                    await self._fence()
            except Exception as exc:  # the loop never dies; it reports and retries
                self.last_error = f"fencing failed: {exc}"
                self._fence_retry_at = time.monotonic() + 1.0
                log.exception("fencing failed")
            if self._must_restart():
                self._crash_restart = asyncio.get_running_loop().create_task(self._restart())
            await asyncio.sleep(TICK)

    def _must_restart(self) -> bool:
        """The database died without being asked to stop, nothing else is being done to
        it, and the agent has not restarted it too often lately."""
        if self.runner.busy is not None or not self._crashed_now():
            return False
        if self._crash_restart is not None and not self._crash_restart.done():
            return False
        now = time.monotonic()
        self._crash_restarts = [t for t in self._crash_restarts if now - t < CRASH_WINDOW]
        return len(self._crash_restarts) < CRASH_RESTARTS

    def _crashed_now(self) -> bool:
        return (
            self._want_running
            and self.state.role in (Role.ACTIVE, Role.STANDBY)
            and not self.engine.running()
        )

    async def _restart(self) -> None:
        """Restart a crashed database at once, in the mode the role and lease allow now.

        An active with a live lease comes back writable after crash recovery without
        waiting for the operator's next poll; without one it comes back read-only. The
        command is named `start`, so the operator sees what may open writes."""

        async def body() -> None:
            if not self._crashed_now():  # decided again under the lock
                return
            self._crash_restarts.append(time.monotonic())
            log.warning(
                "database exited unexpectedly: restarting it",
                mode=str(self._run_mode()),
                attempt=len(self._crash_restarts),
            )
            await self._start_database()

        try:
            await self.runner.run_waiting("start", body)
        except EngineError as exc:
            self.last_error = f"restart after a crash: {exc}"
            log.error("restart after a crash failed", error=str(exc))

    def _must_fence(self) -> bool:
        if self.state.role != Role.ACTIVE or self._fence_applied:
            return False
        if time.monotonic() < self._fence_retry_at:
            return False
        return self.fenced or self.lease.expired()

    def _may_write(self) -> bool:
        """The one rule for opening writes, asked again at the moment they would open."""
        return (
            self.state.role == Role.ACTIVE
            and not self.fenced
            and self.lease.held
            and not self.lease.expired()
        )

    async def _fence(self) -> None:
        why = "lease expired" if self.lease.expired() else "no lease since boot"
        started = time.monotonic()
        busy = self.runner.busy
        if busy is not None and not self.fenced and self.engine.kill():
            # A command holds the lock (a start or promote in flight could open writes,
            # a writable database is still serving): the fence cannot wait for it.
            self.fenced = True  # true of the database now; only a promote lifts it
            log.warning("killed the database", reason=why, during=busy)

        async def body() -> None:
            # decided again under the lock: a promote that ran meanwhile has won
            if not self._must_fence():
                return
            log.warning("fencing", reason=why)
            await self.engine.fence()
            self.fenced, self._fence_applied = True, True  # reported once it is true
            log.warning("fenced", reason=why, seconds=round(time.monotonic() - started, 3))

        await self.runner.run_waiting("fence", body)

    def _run_mode(self) -> RunMode:
        if self.state.role == Role.STANDBY and self.state.upstream is not None:
            return RunMode.STANDBY
        if self._may_write():
            return RunMode.WRITABLE
        return RunMode.READ_ONLY

    async def _start_database(self) -> None:
        mode = self._run_mode()
        await self.engine.start(mode, self.state.upstream if mode == RunMode.STANDBY else None)
        self._want_running = True
        if mode == RunMode.READ_ONLY and self.fenced:
            self._fence_applied = True  # started read-only: nothing left for the watcher

    # ---------------------------------------------------------------- reads
    async def engine_status(self) -> EngineStatus:
        """The engine's status, read now; callers arriving during a read share it.

        At most one engine query runs at a time however many requests ask.
        """
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self._read_engine())
        return await asyncio.shield(self._reading)

    async def _read_engine(self) -> EngineStatus:
        es = await self.engine.status()
        self._engine_status, self._engine_status_at = es, time.monotonic()
        return es

    async def _refresh(self) -> None:
        """Keep the engine status fresh for /health (which never queries the engine)."""
        while True:
            try:
                es = await asyncio.wait_for(self.engine_status(), WEDGED_AFTER)
                self._restart_if_asked(es)
            except Exception as exc:  # reported by /health as not ready
                log.debug("engine status refresh failed", error=str(exc))
            await asyncio.sleep(REFRESH_EVERY)

    def _restart_if_asked(self, es: EngineStatus) -> None:
        """Restart a standby's database that asks for it (EngineStatus.restart), when no
        command runs; never an active's (that is the operator's switchover to decide)."""
        if es.restart is None or self.state.role != Role.STANDBY or self.runner.busy:
            return
        if self._restarting is not None and not self._restarting.done():
            return
        reason = es.restart

        async def body() -> None:
            log.info("restarting the database", reason=reason)
            await self.engine.stop()
            await self._start_database()

        async def attempt() -> None:
            try:
                await self.runner.run("restart", body)
            except Busy:
                return  # a command came first; the next refresh asks again
            except EngineError as exc:
                self.last_error = f"restart: {exc}"

        self._restarting = asyncio.get_running_loop().create_task(attempt())

    async def status(self) -> AgentStatus:
        return self._status_from(await self.engine_status())

    def _status_from(self, es: EngineStatus) -> AgentStatus:
        remaining = self.lease.remaining() if self.state.role == Role.ACTIVE else None
        return AgentStatus(
            pod=self.config.pod_name,
            role=self.state.role,
            database=es.database,
            fenced=self.fenced,
            timeline=es.timeline,
            position=es.position,
            replication=es.replication,
            config_hash=self.engine.config_hash(),
            lease_remaining=remaining,
            busy=self.runner.busy,
            last_error=self.last_error or es.error,
            agent_version=__version__,
            engine=self.engine.name,
            engine_version=es.engine_version,
            boot_id=self.boot_id,
            started_at=self.started_at,
        )

    def alive(self) -> tuple[bool, str]:
        stale = time.monotonic() - self.last_tick
        if self._watcher is not None and self._watcher.done():
            return False, "agent loop ended"
        if stale > WEDGED_AFTER:
            return False, f"agent loop wedged for {stale:.1f}s"
        return True, ""

    def engine_snapshot(self) -> tuple[EngineStatus | None, float]:
        """The last engine status read and when (monotonic), without querying (metrics)."""
        return self._engine_status, self._engine_status_at

    def health(self) -> HealthStatus:
        """Liveness and readiness from what the agent already knows: no I/O, no await.

        Anyone who can reach the pod may call it, as often as they like: it must stay
        cheap, and a busy agent (a long command, a slow engine) must not look dead.
        """
        alive, reason = self.alive()
        ready = False
        if alive:
            es, age = self._engine_status, time.monotonic() - self._engine_status_at
            if es is None:
                reason = "no engine status yet"
            elif age > STALE_AFTER:
                reason = f"engine status is {age:.0f}s old"
            else:
                ready, reason = self._ready(es)
        return HealthStatus(alive=alive, ready=ready, role=self.state.role, reason=reason)

    def _ready(self, es: EngineStatus) -> tuple[bool, str]:
        if es.database != DatabaseState.RUNNING:
            return False, f"database {es.database}"
        if self.state.role == Role.ACTIVE:
            if self.fenced or not es.writable:
                return False, "active is fenced"
            return True, ""
        if self.state.role == Role.STANDBY:
            return True, ""
        return False, "no role yet"

    # ---------------------------------------------------------------- commands
    def lease_request(self, req: LeaseRequest) -> LeaseResponse:
        self.lease.grant(req.ttl, req.holder)
        if self._watchdog is not None:
            self._sync_watchdog()
        return LeaseResponse(remaining=req.ttl, fenced=self.fenced)

    async def _command(
        self, name: str, fn: Callable[[], Awaitable[tuple[bool, str]]]
    ) -> CommandResult:
        async def body() -> tuple[bool, str]:
            try:
                result = await fn()
            except EngineError as exc:
                self.last_error = f"{name}: {exc}"
                raise
            self.last_error = None
            return result

        # shielded: a client that disconnects does not abort a half-done command
        task = asyncio.get_running_loop().create_task(self.runner.run(name, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        changed, message = await asyncio.shield(task)
        log.info(name, changed=changed, message=message)
        # a read of its own, started after the command: not one begun before it finished
        status = self._status_from(await self._read_engine())
        return CommandResult(changed=changed, message=message, status=status)

    def _writable_active(self) -> bool:
        return self.state.role == Role.ACTIVE and not self.fenced and self.engine.writable()

    async def promote(self, req: PromoteRequest) -> CommandResult:
        async def run() -> tuple[bool, str]:
            if self._writable_active():
                self.lease.grant(req.lease_ttl, "promote")
                if self._watchdog is not None:
                    self._sync_watchdog()
                return False, "already the active"
            # the lease first, so the watcher does not fence what we are about to open;
            # then the fence latch is lifted (the engine asks `_may_write` before opening)
            self.lease.grant(req.lease_ttl, "promote")
            self.fenced, self._fence_applied = False, False
            if self._watchdog is not None:
                self._sync_watchdog()  # armed before anything can open writes
            if not self.engine.has_data():
                await self.engine.init()
                message = "initialised a new database and started it as the active"
            else:
                message = "promoted to active"
            await self.engine.set_replication_mode("async", None)
            self._set_role(Role.ACTIVE)
            started = time.monotonic()
            await self.engine.promote()
            took = time.monotonic() - started
            self._want_running = True
            metrics.operation("promote", took)
            self.fenced, self._fence_applied = False, False
            # `unix` lets the benchmark match this line to a run; `seconds` is the
            # engine's own promote time, the floor the operator's failover is judged by.
            log.info("promoted", seconds=round(took, 4), unix=time.time())
            return True, f"{message} (engine promote {took:.3f}s)"

        return await self._command("promote", run)

    async def follow(self, peer: PeerAddress) -> CommandResult:
        async def run() -> tuple[bool, str]:
            if self._writable_active():
                raise Conflict("a writable active cannot follow: stop it or let its lease lapse")
            up = PeerAddress(host=peer.host, port=peer.port, name=peer.name)
            same = self.state.role == Role.STANDBY and self.state.upstream == up
            if same and self.engine.running():
                return False, f"already following {up.host}:{up.port}"
            self._set_role(Role.STANDBY, up)
            self.lease.clear()
            self.fenced, self._fence_applied = False, False
            cloning, started = not self.engine.has_data(), time.monotonic()
            await self.engine.follow(up)
            self._want_running = True
            if cloning:
                metrics.operation("clone", time.monotonic() - started)
            return True, f"following {up.host}:{up.port}"

        return await self._command("follow", run)

    async def rebuild(self, peer: PeerAddress) -> CommandResult:
        async def run() -> tuple[bool, str]:
            if self._writable_active():
                raise Conflict("a writable active cannot be rebuilt: stop it or let it fence")
            up = PeerAddress(host=peer.host, port=peer.port, name=peer.name)
            self._set_role(Role.STANDBY, up)
            self.lease.clear()
            self.fenced, self._fence_applied = False, False
            started = time.monotonic()
            how = await self.engine.rebuild(up)
            self._want_running = True
            took = time.monotonic() - started
            metrics.operation(how, took)
            return True, f"rebuilt by {how} from {up.host}:{up.port} in {took:.2f}s"

        return await self._command("rebuild", run)

    async def stop(self) -> CommandResult:
        async def run() -> tuple[bool, str]:
            self._want_running = False
            if not self.engine.running():
                return False, "already stopped"
            await self.engine.stop()
            return True, "stopped"

        return await self._command("stop", run)

    async def start(self) -> CommandResult:
        async def run() -> tuple[bool, str]:
            if not self.engine.has_data():
                raise Conflict("no data: promote to initialise or follow a peer to clone")
            if self.engine.running():
                return False, "already running"
            self.engine.retry()  # asked explicitly: try even a start that kept failing
            await self._start_database()
            return True, f"started {self._run_mode()}"

        return await self._command("start", run)

    async def reload(self) -> CommandResult:
        async def run() -> tuple[bool, str]:
            before = self.engine.config_hash()
            after, message = await self.engine.apply_config()
            return before != after, f"config {after}: {message}"

        return await self._command("reload", run)

    async def replication(self, req: ReplicationModeRequest) -> CommandResult:
        async def run() -> tuple[bool, str]:
            if self.state.role != Role.ACTIVE:
                raise Conflict("replication mode is set on the active")
            before = (await self.engine.status()).replication
            standby = req.standby_name if req.mode == "sync" else None
            if before.mode == req.mode and before.sync_standby == standby:
                return False, f"already {req.mode}"
            await self.engine.set_replication_mode(req.mode, standby)
            return True, f"replication {req.mode}" + (f" to {standby}" if standby else "")

        return await self._command("replication", run)
