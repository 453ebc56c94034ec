"""Serialized command runner: one database command at a time, never blocking reads.

A command that finds another one running is refused at once with `Busy` (HTTP 503):
the operator retries on its next poll, which keeps every request's latency bounded.
`/status`, `/health` and `/lease` never take the lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    def __init__(self, running: str) -> None:
        super().__init__(f"busy with {running}")
        self.running = running


class CommandRunner:
    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self.busy: str | None = None

    async def run(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        if self._lock.locked():
            raise Busy(self.busy or "another command")
        async with self._lock:
            self.busy = name
            try:
                return await fn()
            finally:
                self.busy = None

    async def run_waiting(self, name: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Internal callers (the fencing watcher, shutdown) queue instead of failing."""
        async with self._lock:
            self.busy = name
            try:
                return await fn()
            finally:
                self.busy = None
