"""A start in flight when the lease ends (issue 9.3), on a real PostgreSQL.

The active's database crashes with a lot of WAL to replay; the operator's `start` runs
crash recovery (or the agent's own restart after the crash does) while the lease
lapses. The first round's agent chose "writable" when
the start began, reported `fenced` at once, and opened writes when recovery ended. Now
the database never accepts a write after its lease, and `fenced` is only reported once
it is true.
"""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from agent_harness import Pod

from zenith_operator.ha import timing

pytestmark = pytest.mark.integration

SLOW_RECOVERY = "max_wal_size = '8GB'\ncheckpoint_timeout = '1h'\nwal_compression = off\n"
ROWS = 2_500_000  # a few hundred MB of WAL: crash recovery takes seconds here
LEASE = 1.0


class Writer(threading.Thread):
    """Tries one INSERT on a new connection every 20 ms; records when one commits."""

    def __init__(self, pod: Pod) -> None:
        super().__init__(daemon=True)
        self.pod = pod
        self.committed: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.pod.dsn(), autocommit=True, connect_timeout=1) as c:
                    c.execute("SET synchronous_commit = local")
                    c.execute("INSERT INTO t VALUES (1)")
                self.committed.append(time.monotonic())
            except psycopg.Error:
                pass
            self.stop.wait(0.02)


def test_lease_ending_during_crash_recovery_never_opens_writes(solo: Pod) -> None:
    solo.terminate()
    (solo.config / "db" / "zz-slow-recovery.conf").write_text(SLOW_RECOVERY)
    solo.start()
    solo.call("/v1/promote", {"lease_ttl": 120})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("CREATE TABLE big (x int, pad text)")
        conn.execute(f"INSERT INTO big SELECT g, repeat('x', 40) FROM generate_series(1, {ROWS}) g")
    solo.kill_postmaster()  # the agent restarts it at once (crash recovery): a start

    writer = Writer(solo)
    writer.start()
    solo.post("/v1/lease", {"ttl": LEASE})
    ends = time.monotonic() + LEASE
    result: dict[str, object] = {}
    starter = threading.Thread(
        target=lambda: result.update(resp=solo.post("/v1/start")), daemon=True
    )
    starter.start()
    fenced_at: float | None = None
    seen_busy = False
    while starter.is_alive() or fenced_at is None:
        st = solo.status()
        seen_busy = seen_busy or st["busy"] == "start"
        if st["fenced"] and fenced_at is None:
            fenced_at = time.monotonic()
        if time.monotonic() > ends + 60:
            break
        time.sleep(0.02)
    starter.join(30)
    time.sleep(1.0)  # a fence that lags would let the writer in now
    writer.stop.set()
    writer.join(5)
    assert seen_busy, "the start must have been in flight while the lease ran out"
    assert fenced_at is not None, "the agent must fence once its lease has ended"
    # The watcher acts within a tick of the deadline (as the plain fence does, measured
    # 0.04-0.07 s); the operator's margin is what such a write must stay within.
    late = [t - ends for t in writer.committed if t > ends + timing.LEASE_MARGIN_SECONDS]
    assert not late, f"writes committed {late[:3]} s after the lease ended"
    after_fenced = [t - fenced_at for t in writer.committed if t >= fenced_at]
    assert not after_fenced, f"writes committed after `fenced` was reported: {after_fenced[:3]}"
    st = solo.status()
    assert (st["role"], st["fenced"]) == ("active", True)
    # a promote (with a new lease) opens writes again
    solo.call("/v1/promote", {"lease_ttl": 30})
    with psycopg.connect(solo.dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES (2)")
