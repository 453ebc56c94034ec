"""PostgreSQL engine: the Engine operations (init, start, promote, follow, rebuild...)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time

import psycopg
import structlog
from psycopg import sql

from zenith_operator.agent.engine import EngineError, EngineStatus, RunMode
from zenith_operator.agent.engines.postgres.base import STOP_TIMEOUT, _quote, _read_secret
from zenith_operator.agent.engines.postgres.checks import StartChecks
from zenith_operator.agent.engines.postgres.clone import Replication
from zenith_operator.agent.engines.postgres.probes import Probes
from zenith_operator.agent.engines.postgres.slots import Slots
from zenith_operator.wire import DatabaseState, PeerAddress, ReplicationMode

log = structlog.get_logger("zenith.agent.postgres")


class PostgresEngine(Probes, Replication, StartChecks, Slots):
    name = "postgres"

    def has_data(self) -> bool:
        return (self.pgdata / "PG_VERSION").is_file() and (
            self.pgdata / "global" / "pg_control"
        ).is_file()

    def config_hash(self) -> str | None:
        if self._config_hash is None:
            self._config_hash = self._db_settings()[1]
        return self._config_hash

    async def init(self) -> None:
        if self.has_data():
            return
        self._mkdir(self.root, 0o755)
        # initdb into a staging directory, renamed into place when complete: a container
        # killed during initdb must not leave a half-made cluster that looks like data
        staging = self.root / "pgdata.initdb"
        for stale in (self.pgdata, staging):
            if stale.exists():
                shutil.rmtree(stale)
        self._mkdir(self.conf)
        pwfile = self.conf / "initdb.pw"
        self._write(pwfile, self._admin_password() + "\n")
        try:
            await self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(staging),
                "-U",
                self.admin_user,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        os.replace(staging, self.pgdata)
        log.info("initdb done", pgdata=str(self.pgdata))

    async def _ensure_roles(self) -> None:
        """Create or update the replication and app roles from the secrets (idempotent)."""
        repl, repl_pw = self.repl_user, self._repl_password()
        app = _read_secret(self.config.config_dir, "app-user")
        app_pw = _read_secret(self.config.config_dir, "app-password")
        stmts = [self._role_sql(repl, repl_pw, "REPLICATION")]
        if app and app_pw:
            stmts.append(self._role_sql(app, app_pw, ""))
        async with await psycopg.AsyncConnection.connect(self._local_dsn(), autocommit=True) as c:
            await c.execute("SET synchronous_commit = local")
            for stmt in stmts:
                await c.execute(stmt)
            if app and app_pw:
                cur = await c.execute("SELECT 1 FROM pg_database WHERE datname = 'app'")
                if await cur.fetchone() is None:
                    ident = sql.Identifier(app)
                    await c.execute(sql.SQL("CREATE DATABASE app OWNER {}").format(ident))

    @staticmethod
    def _role_sql(user: str, password: str, attrs: str) -> str:
        ident = '"' + user.replace('"', '""') + '"'
        lit = _quote(password)
        return (
            "DO $zen$ BEGIN "
            f"IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {_quote(user)}) THEN "
            f"CREATE ROLE {ident} LOGIN {attrs} PASSWORD {lit}; "
            f"ELSE ALTER ROLE {ident} LOGIN {attrs} PASSWORD {lit}; END IF; END $zen$"
        )

    async def start(self, mode: RunMode, upstream: PeerAddress | None = None) -> None:
        if mode == RunMode.STANDBY and upstream is None:
            raise EngineError("standby start needs an upstream")
        if not self.has_data():
            raise EngineError("no data to start: promote to initialise or follow a peer")
        self._check_reachable()
        if self.running():
            if self._mode == mode and (mode != RunMode.STANDBY or self._upstream == upstream):
                return
            await self._terminate(STOP_TIMEOUT)
        await self._check_compatible()
        if upstream != self._upstream or mode != RunMode.STANDBY:
            self._use_slot = False  # a slot is known per upstream
        self._mode, self._upstream = mode, upstream
        self._write_pgpass(upstream)
        if mode == RunMode.STANDBY and not self._use_slot:
            with contextlib.suppress(psycopg.Error, OSError):
                self._use_slot = await self._upstream_slot_usable()
        self._floor, self._restart_reason = {}, None
        self._write_config()
        if mode != RunMode.WRITABLE:
            if why := self._failures.blocked(self._config_hash):
                raise EngineError(why)
            self._floor = await self._hot_standby_floor()
            if self._floor:
                log.info("raising hot-standby settings to the primary's", settings=self._floor)
                self._write_instance_conf()
        self._set_signal(mode != RunMode.WRITABLE)
        try:
            await self._spawn()
        except EngineError as exc:
            if mode != RunMode.WRITABLE:
                self._failures.record(self._config_hash, str(exc))
            raise
        self._failures.clear()
        if mode == RunMode.WRITABLE:
            await self._ensure_roles()
        log.info("postgres started", mode=str(mode), upstream=upstream and upstream.host)

    async def status(self) -> EngineStatus:
        es = await super().status()
        if es.database == DatabaseState.RUNNING:
            self._start_upkeep(es)
            es.restart = self._restart_reason
        return es

    def _start_upkeep(self, es: EngineStatus) -> None:
        """Slots and the hot-standby check, in the background: a status read never waits
        for them (the standby's look at its upstream may hang on a dead peer)."""
        if self._upkeep is not None and not self._upkeep.done():
            return
        writable = es.writable and self._mode == RunMode.WRITABLE
        streaming = [p.name for p in es.replication.peers if p.streaming]
        self._upkeep = asyncio.get_running_loop().create_task(self._run_upkeep(writable, streaming))

    async def _run_upkeep(self, writable: bool, streaming: list[str]) -> None:
        try:
            if why := await self._floor_outdated():
                self._restart_reason = why
            await self._maintain_slots(writable, streaming)
        except Exception as exc:  # never kills anything; the next status read tries again
            log.warning("database upkeep failed", error=str(exc))

    def retry(self) -> None:
        self._failures.clear()

    async def stop(self) -> None:
        if self.writable():
            # a checkpoint while writes still flow leaves the shutdown checkpoint little
            # to write: a switchover's active refuses writes for less time
            with contextlib.suppress(psycopg.Error, OSError):
                await self._query("CHECKPOINT")
        await self._terminate(STOP_TIMEOUT)

    async def fence(self) -> None:
        """Fast-shutdown (immediate after fence_grace) and restart in recovery, no upstream.

        Recovery mode rejects every write absolutely (`default_transaction_read_only`
        could be overridden by a client) and still serves reads.
        """
        if not self.running():
            if self.has_data() and not await self._incompatibility():
                self._set_signal(True)
            self._mode = RunMode.READ_ONLY
            return
        if self._mode != RunMode.WRITABLE:
            return
        self._set_signal(True)
        await self._terminate(self.config.file.fence_grace)
        await self.start(RunMode.READ_ONLY)

    async def promote(self) -> None:
        if not self.running():
            if not (self.pgdata / "standby.signal").exists():
                await self.start(RunMode.WRITABLE)  # a cleanly stopped primary
                return
            # was in recovery: promote through recovery so the timeline forks cleanly
            await self.start(RunMode.READ_ONLY)
        rows = await self._query("SELECT pg_is_in_recovery()")
        if rows[0][0]:
            if not self.writable_guard():
                raise EngineError("the lease ended: not promoting")
            rows = await self._query("SELECT pg_promote(true, 60)")
            if not rows[0][0]:
                raise EngineError("pg_promote did not finish within 60s")
        self._mode, self._upstream = RunMode.WRITABLE, None
        if self._floor:
            # it ran with the old primary's larger hot-standby settings: restart with its
            # own now (a primary may lower them; its standby then follows the WAL record)
            log.info("restarting the promoted primary with its own settings", was=self._floor)
            await self._terminate(STOP_TIMEOUT)
            await self.start(RunMode.WRITABLE)
            return
        self._write_instance_conf()
        await self._query("SELECT pg_reload_conf()")
        await self._ensure_roles()

    async def follow(self, upstream: PeerAddress) -> None:
        if not self.has_data():
            await self._clone(upstream)
            await self.start(RunMode.STANDBY, upstream)
            return
        if self.running() and self._mode in (RunMode.STANDBY, RunMode.READ_ONLY):
            rows = await self._query("SELECT pg_is_in_recovery()")
            if rows[0][0]:
                # primary_conninfo is reloadable (PostgreSQL >= 13): no restart needed
                self._mode, self._upstream = RunMode.STANDBY, upstream
                self._use_slot = False  # until the new upstream has our slot
                self._write_pgpass(upstream)
                self._write_instance_conf()
                await self._query("SELECT pg_reload_conf()")
                return
        await self.start(RunMode.STANDBY, upstream)

    async def rebuild(self, upstream: PeerAddress) -> str:
        await self._check_compatible()  # a clone would replace data of another version
        if why := self._failures.blocked(self._db_settings()[1]):
            raise EngineError(why)  # rewind or clone cannot help a configuration
        self._rebuilding = True
        try:
            await self._terminate(STOP_TIMEOUT)
            self._write_pgpass(upstream)
            how = "rewind"
            if self.has_data():
                await self._checkpoint_peer(upstream)  # unreachable peer: keep our data
                try:
                    await self._rewind(upstream)
                except EngineError as exc:
                    log.warning("pg_rewind failed, cloning", error=str(exc))
                    how = "clone"
            else:
                how = "clone"
            if how == "clone":
                await self._clone(upstream)
        finally:
            self._rebuilding = False
        await self.start(RunMode.STANDBY, upstream)
        return how

    async def apply_config(self) -> tuple[str, str]:
        if not self.has_data():
            return self._db_settings()[1], "no database yet; settings apply at first start"
        self._write_config()
        assert self._config_hash is not None
        if not self.running():
            return self._config_hash, "database stopped; settings apply at next start"
        await self._query("SELECT pg_reload_conf()")
        rows = await self._query(
            "SELECT name, error FROM pg_file_settings WHERE error IS NOT NULL"
            " UNION ALL SELECT name, 'restart required' FROM pg_settings WHERE pending_restart"
        )
        problems = "; ".join(f"{n}: {e}" for n, e in rows or [])
        return self._config_hash, problems or "applied"

    async def set_replication_mode(self, mode: ReplicationMode, standby: str | None) -> None:
        names = '"' + standby.replace('"', '""') + '"' if mode == "sync" and standby else ""
        if names == self._sync_names and self.running():
            return
        self._sync_names = names
        if not self.has_data():
            return
        self._write_instance_conf()
        if self.running():
            await self._query("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline:
                rows = await self._query("SELECT current_setting('synchronous_standby_names')")
                if rows[0][0] == names:
                    return
                await asyncio.sleep(0.02)
            raise EngineError("synchronous_standby_names did not take effect within 5s")
