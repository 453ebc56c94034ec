"""Processes of the local pods: spawn, reap, find, signal.

Each container runs in its own session (`start_new_session`), so its process group and
session id equal the main pid. A container's processes are its session members plus
every descendant of its main process (which also catches a child that started its own
session), remembered between scans by (pid, start time) so an orphan reparented to the
runtime (a child subreaper) is still known as the container's.

One reaper owns `waitpid(-1)` for the whole runtime: never mix it with
`subprocess.Popen.wait` or asyncio subprocesses in the same process.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
SETPRIV = shutil.which("setpriv")  # util-linux: sets PR_SET_PDEATHSIG, then execs


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    ppid: int
    pgid: int
    sid: int
    comm: str
    state: str
    start: int  # clock ticks since boot: with pid, identifies a process across scans


def read_proc(pid: int) -> ProcInfo | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    head, _, tail = raw.rpartition(")")
    comm = head.partition("(")[2]
    f = tail.split()
    # tail fields start at "state" (field 3 of stat(5))
    return ProcInfo(
        pid=pid,
        ppid=int(f[1]),
        pgid=int(f[2]),
        sid=int(f[3]),
        comm=comm,
        state=f[0],
        start=int(f[19]),
    )


def scan() -> dict[int, ProcInfo]:
    table: dict[int, ProcInfo] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            info = read_proc(int(entry))
            if info is not None:
                table[info.pid] = info
    return table


def descendants(table: dict[int, ProcInfo], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    out: set[int] = set()
    stack = [root]
    while stack:
        for c in children.get(stack.pop(), []):
            if c not in out:
                out.add(c)
                stack.append(c)
    return out


@dataclass
class Group:
    """The processes of one container (one run of it)."""

    main_pid: int
    main_start: int
    known: dict[int, int] = field(default_factory=dict)  # pid -> start ticks
    shm: set[str] = field(default_factory=set)  # /dev/shm files its processes mapped

    def members(self, table: dict[int, ProcInfo] | None = None) -> dict[int, ProcInfo]:
        """Refresh and return the live processes of this container."""
        table = scan() if table is None else table
        found: dict[int, ProcInfo] = {}
        main = table.get(self.main_pid)
        if main is not None and main.start == self.main_start:
            found[main.pid] = main
            for pid in descendants(table, main.pid):
                found[pid] = table[pid]
        # Linux never reuses a pid still in use as a session id: session members are
        # ours even after the main process died (orphans reparented to the subreaper).
        for p in table.values():
            if p.sid == self.main_pid and p.pid not in found:
                found[p.pid] = p
        for pid, start in list(self.known.items()):
            q = table.get(pid)
            if q is None or q.start != start:
                del self.known[pid]
            else:
                found[pid] = q
        found = {pid: p for pid, p in found.items() if p.state != "Z"}
        for pid, p in found.items():
            self.known[pid] = p.start
        return found

    def note_shm(self, members: dict[int, ProcInfo]) -> None:
        for pid in members:
            self.shm |= mapped_shm(pid)

    def signal(self, sig: int, only_main: bool = False) -> int:
        members = self.members()
        self.note_shm(members)
        targets = [self.main_pid] if only_main and self.main_pid in members else list(members)
        sent = 0
        for pid in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
                sent += 1
        return sent

    def alive(self) -> bool:
        return bool(self.members())

    def cleanup_shm(self) -> None:
        """Remove POSIX shared memory files only processes of this group mapped."""
        if self.alive():
            return
        for path in self.shm:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.shm.clear()


def mapped_shm(pid: int) -> set[str]:
    out: set[str] = set()
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                idx = line.find("/dev/shm/")
                if idx >= 0:
                    out.add(line[idx:].strip().removesuffix(" (deleted)"))
    except OSError:
        pass
    return out


def set_child_subreaper() -> bool:
    """Orphans of our containers get reparented to us (and reaped by the Reaper)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def spawn(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    log_path: Path | None,
    user: int | None = None,
    group: int | None = None,
    extra_groups: list[int] | None = None,
) -> tuple[int, int]:
    """Start a process in a new session; return (pid, start ticks)."""
    out: int | None = None
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    if SETPRIV:  # if the runtime dies, its containers die with it (no leaked postgres)
        argv = [SETPRIV, "--pdeathsig", "KILL", "--", *argv]
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            user=user,
            group=group,
            extra_groups=extra_groups,
        )
    finally:
        if out is not None:
            os.close(out)
    # The Reaper owns waitpid: make Popen forget the child so it never reaps it.
    proc.returncode = 0
    info = read_proc(proc.pid)
    return proc.pid, info.start if info else 0


class Reaper:
    """The only waitpid(-1) caller: resolves futures with exit codes of our children."""

    def __init__(self) -> None:
        self._waiters: dict[int, asyncio.Future[int]] = {}
        self._early: dict[int, int] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def wait(self, pid: int) -> asyncio.Future[int]:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if pid in self._early:
            fut.set_result(self._early.pop(pid))
        else:
            self._waiters[pid] = fut
        return fut

    def reap_now(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            except OSError as e:
                if e.errno == errno.EINTR:
                    continue
                return
            if pid == 0:
                return
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code  # killed by signal N -> 128+N
            fut = self._waiters.pop(pid, None)
            if fut is not None:
                if not fut.done():
                    fut.set_result(code)
            else:
                self._early[pid] = code
                if len(self._early) > 1000:
                    self._early.pop(next(iter(self._early)))

    async def _loop(self) -> None:
        while True:
            self.reap_now()
            await asyncio.sleep(0.05)

    async def run(
        self,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        timeout: float,
        log_path: Path | None = None,
    ) -> int | None:
        """Run to completion; None on timeout (the process group is killed)."""
        pid, start = spawn(argv, env, cwd, log_path)
        fut = self.wait(pid)
        try:
            return await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            Group(pid, start).signal(signal.SIGKILL)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(fut, 2.0)
            return None


async def terminate(group: Group, grace: float, exited: asyncio.Future[int] | None) -> None:
    """SIGTERM the main process, wait up to `grace`, then SIGKILL every member.

    As a container runtime does: SIGTERM goes to the container's main process only
    (it must stop its children), SIGKILL to all of the container's processes.
    """
    group.signal(signal.SIGTERM, only_main=True)  # a frozen (SIGSTOP) one waits for SIGKILL
    deadline = time.monotonic() + max(grace, 0.0)
    while time.monotonic() < deadline:
        if exited is not None and exited.done() and not group.alive():
            break
        if exited is None and not group.alive():
            break
        await asyncio.sleep(0.05)
    for _ in range(50):
        if not group.signal(signal.SIGKILL):
            break
        await asyncio.sleep(0.05)
    if exited is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(exited), 2.0)
    group.cleanup_shm()


# -- leftovers of a runtime that died ---------------------------------------------------
def save_sessions(path: Path, groups: list[Group]) -> None:
    """Record the containers' sessions, members and shm files (atomically)."""
    records = [
        {"sid": g.main_pid, "start": g.main_start, "known": g.known, "shm": sorted(g.shm)}
        for g in groups
    ]
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(records))
    os.replace(tmp, path)


def reap_leftovers(path: Path) -> int:
    """SIGKILL processes recorded by a runtime that is gone; return how many.

    A session id is never reused while a process still uses it, so processes in a
    recorded session are ours unless the recorded leader pid now runs something else."""
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError):
        return 0
    table = scan()
    victims: set[int] = set()
    for r in records:
        leader = table.get(int(r["sid"]))
        if leader is None or leader.start == int(r["start"]):
            victims |= {p.pid for p in table.values() if p.sid == int(r["sid"])}
        for pid, start in (r.get("known") or {}).items():
            p = table.get(int(pid))
            if p is not None and p.start == int(start):
                victims.add(p.pid)
    victims.discard(os.getpid())
    for pid in victims:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and any(
        (p := read_proc(pid)) is not None and p.state != "Z" for pid in victims
    ):
        time.sleep(0.05)
    for r in records:
        for f in r.get("shm") or []:
            with contextlib.suppress(OSError):
                os.unlink(f)
    with contextlib.suppress(OSError):
        path.unlink()
    return len(victims)
