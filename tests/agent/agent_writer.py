"""A concurrent writer that records every acknowledged insert."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import psycopg


class Writer(threading.Thread):
    """Autocommit inserts of increasing ids into table `acks` on whatever `target()` says.

    An id counts as acknowledged only once `execute` returned; failed ids are skipped
    (they may or may not have committed: that is allowed).
    """

    def __init__(self, target: Callable[[], str]) -> None:
        super().__init__(daemon=True)
        self.target = target
        self.acked: list[int] = []
        self.errors = 0
        self.stop_event = threading.Event()
        self._next = 0

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                with psycopg.connect(self.target(), autocommit=True) as conn:
                    while not self.stop_event.is_set():
                        self._next += 1
                        conn.execute("INSERT INTO acks VALUES (%s)", (self._next,))
                        self.acked.append(self._next)
            except psycopg.Error:
                self.errors += 1
                time.sleep(0.01)

    def wait_acked(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        start = len(self.acked)
        while len(self.acked) < start + count:
            assert time.monotonic() < deadline, f"writer stuck at {len(self.acked)} acks"
            time.sleep(0.01)

    def finish(self) -> list[int]:
        self.stop_event.set()
        self.join(10)
        return list(self.acked)
