"""A spec change wakes the HA loop: a pollingInterval of 300 s is not waited out."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any

import structlog

from zenith_operator.controller.ha_loop import HaLoop


class Stopped:
    """kopf's DaemonStopped, as far as HaLoop uses it."""

    def __init__(self) -> None:
        self.flag = asyncio.Event()

    def __bool__(self) -> bool:
        return self.flag.is_set()

    async def wait(self, timeout: float | None = None) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flag.wait(), timeout)
        return self.flag.is_set()


class CountingLoop(HaLoop):
    def __init__(self) -> None:
        super().__init__(None, "ns", "c", structlog.get_logger())  # type: ignore[arg-type]
        self.cycles = asyncio.Queue[int]()
        self.count = 0

    async def cycle(self, client: Any, executor: Any) -> float:
        self.count += 1
        await self.cycles.put(self.count)
        return 300.0  # a long pollingInterval


async def test_poke_from_another_thread_starts_the_next_cycle_at_once() -> None:
    loop, stopped = CountingLoop(), Stopped()
    task = asyncio.create_task(loop.run(stopped))
    assert await asyncio.wait_for(loop.cycles.get(), 5) == 1
    poker = threading.Thread(target=loop.poke)  # kopf runs sync handlers in threads
    poker.start()
    poker.join()
    assert await asyncio.wait_for(loop.cycles.get(), 5) == 2
    stopped.flag.set()
    await asyncio.wait_for(task, 5)
