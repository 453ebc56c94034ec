"""PostgreSQL engine: process supervision of the postmaster."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import psycopg
import structlog

from zenith_operator.agent.engine import EngineError, RunMode
from zenith_operator.agent.engines.postgres.base import START_TIMEOUT, STRAY_WAIT, PostgresBase
from zenith_operator.agent.watchdog import processes_in

log = structlog.get_logger("zenith.agent.postgres")


class Supervisor(PostgresBase):
    """The postmaster as the agent's child: spawn, watch, terminate, kill, strays."""

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
        self._last_fatal = None
        self._proc = await asyncio.create_subprocess_exec(
            str(self.bindir / "postgres"),
            "-D",
            str(self.pgdata),
            "-c",
            f"config_file={self.conf / 'postgresql.conf'}",
            stdin=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            **self._subprocess_kwargs(),
        )
        assert self._proc.stderr is not None
        pump = asyncio.get_running_loop().create_task(self._pump(self._proc.stderr))
        asyncio.get_running_loop().create_task(self._watch(self._proc))
        deadline = time.monotonic() + START_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self._lease_ended():  # crash recovery outlived the lease: never open writes
                self.kill()
                raise EngineError("the lease ended while the database started: killed it")
            if self._proc.returncode is not None:
                with contextlib.suppress(TimeoutError):  # its last words, if it said any
                    await asyncio.wait_for(asyncio.shield(pump), 2.0)
                why = f": {self._last_fatal}" if self._last_fatal else ""
                raise EngineError(
                    f"postgres exited with code {self._proc.returncode} on start{why}"
                )
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

    async def _pump(self, stream: asyncio.StreamReader) -> None:
        """Copy the server's log to the agent's stderr, keeping its last FATAL/PANIC line
        (the cause reported when a start fails)."""
        out, rest = sys.stderr.buffer, b""
        while chunk := await stream.read(65536):
            with contextlib.suppress(OSError, ValueError):
                out.write(chunk)
                out.flush()
            *lines, rest = (rest + chunk).split(b"\n")
            rest = rest[-4096:]
            for line in lines:
                text = line.decode(errors="replace")
                at = max(text.find("FATAL:"), text.find("PANIC:"))
                if at >= 0:
                    self._last_fatal = text[at:].strip()

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
