"""Agents as real subprocesses, one loopback IP per "pod", with cleanup that leaves nothing.

Each pod gets its own directory under /tmp (mode 0755 so the unprivileged `postgres`
user can reach its data), a config dir laid out like the projected volume, a token and
free ports.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import requests

from zenith_operator.agent.engines.postgres import find_bindir
from zenith_sandbox import polling

T = TypeVar("T")

TOKEN = "s3cret-token"
ADMIN_PASSWORD = "admin-pw"
APP_PASSWORD = "app-pw"
DB_SETTINGS = "fsync = off\nshared_buffers = '16MB'\nmax_connections = 40\n"


def pg_bindir() -> Path | None:
    return find_bindir(os.environ)


def free_port(ip: str) -> int:
    with socket.socket() as s:
        s.bind((ip, 0))
        return int(s.getsockname()[1])


def wait_for(
    what: str, fn: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05
) -> T:
    """Poll fn until it returns something truthy (any exception: not yet)."""
    return polling.wait_for(what, fn, timeout, every=interval, ignore=(Exception,))


def shm_of(pids: list[int]) -> set[str]:
    """Shared memory mapped by pids: "/dev/shm/..." paths and "SYSV<key>" entries."""
    found: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
                parts = line.split(maxsplit=5)
                name = parts[5].removesuffix(" (deleted)") if len(parts) == 6 else ""
                if name.startswith("/dev/shm/PostgreSQL.") or name.startswith("/SYSV"):
                    found.add(name)
    return found


def release_shm(names: set[str]) -> None:
    """Remove segments that nobody is attached to any more (only ones we recorded)."""
    for name in names:
        if name.startswith("/dev/shm/"):
            with contextlib.suppress(OSError):
                os.unlink(name)
        elif name.startswith("/SYSV"):
            key = int(name[5:], 16)
            out = subprocess.run(["ipcs", "-m"], capture_output=True, text=True).stdout
            for row in out.splitlines():
                cols = row.split()
                ours = len(cols) >= 6 and cols[0].startswith("0x") and int(cols[0], 16) == key
                if ours and cols[5] == "0":
                    subprocess.run(["ipcrm", "-m", cols[1]], capture_output=True)


@dataclass
class Pod:
    name: str
    ip: str
    base: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    agent_port: int = 0
    listen_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    shm: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.agent_port = self.agent_port or free_port(self.ip)
        self.listen_port = self.listen_port or free_port(self.ip)
        self.config = self.base / "config"
        self.data = self.base / "data"
        for sub in ("secrets", "agent", "db"):
            (self.config / sub).mkdir(parents=True, exist_ok=True)
        secrets = {
            "admin-user": "zadmin",
            "admin-password": ADMIN_PASSWORD,
            "app-user": "app",
            "app-password": APP_PASSWORD,
        }
        for key, value in secrets.items():
            (self.config / "secrets" / key).write_text(value)
        (self.config / "agent" / "agent-token").write_text(TOKEN + "\n")
        (self.config / "db" / "zenith.conf").write_text(DB_SETTINGS)
        self.log = self.base / "agent.log"

    # ------------------------------------------------------------ process
    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ZENITH_", "PG"))}
        env.update(
            POD_NAME=self.name,
            POD_NAMESPACE="test",
            POD_IP=self.ip,
            ZENITH_CLUSTER="pair",
            ZENITH_CONFIG_DIR=str(self.config),
            ZENITH_DATA_DIR=str(self.data),
            ZENITH_AGENT_PORT=str(self.agent_port),
            ZENITH_LISTEN_PORT=str(self.listen_port),
            ZENITH_TOKEN_FILE=str(self.config / "agent" / "agent-token"),
        )
        env.update(self.extra_env)
        return env

    def start(self, wait: bool = True) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "zenith_operator", "agent"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: the "pod" we can kill as a whole
            )
        if wait:
            wait_for(f"{self.name} agent /health", self._alive, timeout=20)

    def _alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"agent {self.name} exited {self.proc.returncode}:\n{self.tail()}")
        try:
            return self.get("/health", auth=False).status_code == 200
        except requests.RequestException:
            return False

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def terminate(self, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        """The pod dies: SIGKILL to the agent's whole process group."""
        if self.proc is not None and self.proc.poll() is None:
            self.shm |= shm_of(self.pg_pids())
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def pg_pids(self) -> list[int]:
        """Live processes whose working directory is this pod's PGDATA."""
        pgdata = os.path.realpath(self.data / "pgdata")
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{entry}/cwd") == pgdata:
                        found.append(int(entry))
        return found

    def kill_postmaster(self) -> None:
        """kill -9 the postmaster only (the agent survives and sees a crash)."""
        self.shm |= shm_of(self.pg_pids())
        os.kill(self.postmaster_pid(), signal.SIGKILL)

    def postmaster_pid(self) -> int:
        return int((self.data / "pgdata" / "postmaster.pid").read_text().split()[0])

    def cleanup(self) -> None:
        """SIGTERM (the agent stops PostgreSQL cleanly), then kill whatever is left and
        remove the shared memory of every postgres process of ours that died by a kill."""
        self.terminate(timeout=20)
        self.kill()
        deadline = time.monotonic() + 10
        while (left := self.pg_pids()) and time.monotonic() < deadline:
            self.shm |= shm_of(left)
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        if self.shm:
            self.free_crashed_shm()
        release_shm(self.shm)
        shutil.rmtree(self.base, ignore_errors=True)

    def free_crashed_shm(self) -> None:
        """A postmaster killed by SIGKILL leaves dynamic shared memory segments that only a
        new postmaster can find (through postmaster.pid and the old SysV header): run a
        single-user backend on the data once, as the next start of the pod would."""
        pgdata, conf = self.data / "pgdata", self.data / "conf" / "postgresql.conf"
        bindir = pg_bindir()
        if bindir is None or not (pgdata / "postmaster.pid").exists() or not conf.exists():
            return
        with contextlib.suppress(OSError, ValueError, IndexError):
            old = int((pgdata / "postmaster.pid").read_text().split()[0])
            wait_for("killed postmaster reaped", lambda: not Path(f"/proc/{old}").exists(), 10)
        kwargs: dict[str, Any] = {}
        if os.geteuid() == 0:
            kwargs.update(user="postgres", group="postgres")
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            subprocess.run(
                [str(bindir / "postgres"), "--single", "-D", str(pgdata),
                 "-c", f"config_file={conf}", "postgres"],
                stdin=subprocess.DEVNULL, capture_output=True, timeout=30, **kwargs,
            )  # fmt: skip

    # ------------------------------------------------------------ HTTP
    @property
    def url(self) -> str:
        return f"http://{self.ip}:{self.agent_port}"

    def headers(self, auth: bool = True) -> dict[str, str]:
        return {"Authorization": f"Bearer {TOKEN}"} if auth else {}

    def get(self, path: str, auth: bool = True, **kw: Any) -> requests.Response:
        return requests.get(self.url + path, headers=self.headers(auth), timeout=30, **kw)

    def post(self, path: str, body: Any = None, auth: bool = True, **kw: Any) -> requests.Response:
        return requests.post(
            self.url + path, json=body or {}, headers=self.headers(auth), timeout=120, **kw
        )

    def call(self, path: str, body: Any = None) -> dict[str, Any]:
        """POST expecting success, retrying 503 Busy as the operator does; returns the
        CommandResult."""
        deadline = time.monotonic() + 30
        resp = self.post(path, body)
        while resp.status_code == 503 and time.monotonic() < deadline:
            time.sleep(0.05)
            resp = self.post(path, body)
        assert resp.status_code == 200, f"{self.name} {path}: {resp.status_code} {resp.text}"
        result: dict[str, Any] = resp.json()
        return result

    def status(self) -> dict[str, Any]:
        resp = self.get("/v1/status")
        assert resp.status_code == 200, resp.text
        result: dict[str, Any] = resp.json()
        return result

    def address(self) -> dict[str, Any]:
        return {"host": self.ip, "port": self.listen_port, "name": self.name}

    # ------------------------------------------------------------ SQL
    def dsn(
        self, user: str = "zadmin", password: str = ADMIN_PASSWORD, db: str = "postgres"
    ) -> str:
        return (
            f"host={self.ip} port={self.listen_port} user={user} password={password} "
            f"dbname={db} connect_timeout=3"
        )


def streaming_in_sync(active: Pod, standby_name: str) -> bool:
    peers = active.status()["replication"]["peers"]
    return any(p["name"] == standby_name and p["streaming"] and p["sync"] for p in peers)


@contextlib.contextmanager
def pods(*names_ips: tuple[str, str], **extra_env: str) -> Iterator[list[Pod]]:
    made: list[Pod] = []
    try:
        for name, ip in names_ips:
            base = Path(tempfile.mkdtemp(prefix=f"zenith-{name}-", dir="/tmp"))
            os.chmod(base, 0o755)
            made.append(Pod(name, ip, base, dict(extra_env)))
        yield made
    finally:
        for pod in made:
            pod.cleanup()
