"""A client workload for the sandbox: a writer that records acknowledged writes and a
checker that samples every instance for writability.

Both follow the cluster the way a client behind the `NAME-rw` Service would: the writer
sends each insert to whichever pod carries `role=active`. An insert counts as
acknowledged only when its COMMIT returned; the proof of "no acknowledged write lost"
is that every acknowledged id is present on the active at the end.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg

from zenith_operator import naming

TABLE = "zenith_workload"
PINNED_TABLE = "zenith_pinned"  # its own ids: never in the way of the main writer

HostLookup = Callable[[], str | None]


@dataclass(frozen=True)
class DbCredentials:
    user: str
    password: str
    dbname: str
    port: int

    def conninfo(self, host: str, timeout: float = 1.0) -> str:
        return psycopg.conninfo.make_conninfo(
            host=host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=self.dbname,
            connect_timeout=max(1, int(timeout)),
            application_name="zenith-workload",
        )


@dataclass(frozen=True)
class Ack:
    id: int
    host: str
    at: float  # time.monotonic()


def active_pod_ip(
    core_api: object, namespace: str, cluster: str, max_age: float = 0.25
) -> HostLookup:
    """A lookup of the pod labelled active, as the read-write Service selects it.

    Answers are refreshed in the background every `max_age` seconds, about as long as
    a Service's endpoints lag; when the API does not answer, the last answer stays, as
    kube-proxy keeps its rules while the API server is away. Only the very first call
    waits for the API.
    """
    from kubernetes import client

    api: client.CoreV1Api = core_api  # type: ignore[assignment]
    selector = f"{naming.CLUSTER_LABEL}={cluster},{naming.ROLE_LABEL}=active"
    state: dict[str, Any] = {"at": float("-inf"), "answer": None, "primed": False}
    worker: list[threading.Thread] = []
    guard = threading.Lock()

    def refresh() -> None:
        try:
            pods = api.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=2)
            ips = [p.status.pod_ip for p in pods.items if p.status and p.status.pod_ip]
            state["answer"] = ips[0] if len(ips) == 1 else None
        except Exception:
            pass  # the API is away: keep the last answer
        state["at"] = time.monotonic()

    def lookup() -> str | None:
        with guard:
            if not state["primed"]:
                refresh()  # the first answer
                state["primed"] = True
            elif time.monotonic() - state["at"] >= max_age and not (
                worker and worker[0].is_alive()
            ):
                worker[:] = [threading.Thread(target=refresh, daemon=True)]
                worker[0].start()
        answer: str | None = state["answer"]
        return answer

    return lookup


def pinned_writer(host: str, creds: DbCredentials) -> Writer:
    """A client that stays on one instance and does not wait for the standby
    (`synchronous_commit = local`): it sees every write that instance acknowledges,
    the fencing question in its plainest form."""
    return Writer(
        lambda: host, creds, session_sql="SET synchronous_commit TO local", table=PINNED_TABLE
    )


class Writer(threading.Thread):
    """Inserts increasing ids into the active, one autocommit transaction each.

    Like a client behind a router that closes sessions to a server marked down
    (HAProxy's `on-marked-down shutdown-sessions`, as Patroni recommends), a write
    blocked on an instance that is no longer the active (a frozen or dead node answers
    nothing) is abandoned once the lookup names another host: its connection is shut
    down and the write counts as failed (its outcome unknown)."""

    def __init__(
        self,
        lookup: HostLookup,
        creds: DbCredentials,
        pause: float = 0.01,
        session_sql: str | None = None,
        table: str = TABLE,
    ) -> None:
        super().__init__(name="zenith-writer", daemon=True)
        self.lookup = lookup
        self.creds = creds
        self.pause = pause
        self.session_sql = session_sql  # run once per connection (e.g. synchronous_commit)
        self.table = table
        self.acks: list[Ack] = []
        self.failures: list[float] = []  # time.monotonic() of each failed write
        self._stop_event = threading.Event()
        # Ids start at the current time in microseconds, so writers that follow each
        # other on one table (the benchmark's repeated runs) never reuse an id.
        self._next_id = time.time_ns() // 1000
        self._conn: tuple[str, psycopg.Connection[tuple[object, ...]]] | None = None
        self._guard = threading.Thread(target=self._abandon_moved, daemon=True)

    def start(self) -> None:
        super().start()
        self._guard.start()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def _abandon_moved(self) -> None:
        """Shut down the connection of a write stuck on a host that is no longer the
        active (checked every 0.1 s)."""
        while not self._stop_event.wait(0.1):
            held = self._conn
            if held is None:
                continue
            host, conn = held
            moved = self.lookup()
            if moved is None or moved == host:
                continue
            with (
                contextlib.suppress(OSError, psycopg.Error),
                socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock,
            ):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def acked_ids(self) -> set[int]:
        return {a.id for a in self.acks}

    def longest_gap(self, since: float, until: float | None = None) -> float:
        """Longest time without an acknowledged write in [since, until], counted from
        `since` to the first ack, between acks, and from the last ack to `until`."""
        end = until if until is not None else time.monotonic()
        times = [since, *(a.at for a in self.acks if since < a.at <= end)]
        if until is not None:
            times.append(until)
        return max((b - a for a, b in itertools.pairwise(times)), default=end - since)

    def first_failure_after(self, moment: float) -> float | None:
        return next((at for at in self.failures if at > moment), None)

    def first_ack_after(self, moment: float, host: str | None = None) -> Ack | None:
        for ack in self.acks:
            if ack.at > moment and (host is None or ack.host == host):
                return ack
        return None

    def run(self) -> None:
        conn: psycopg.Connection[tuple[object, ...]] | None = None
        conn_host: str | None = None
        while not self._stop_event.is_set():
            host = self.lookup()
            if host is None:
                self._stop_event.wait(0.05)
                continue
            try:
                if conn is None or conn_host != host or conn.closed:
                    if conn is not None:
                        conn.close()
                    conn = psycopg.connect(self.creds.conninfo(host), autocommit=True)
                    conn_host = host
                    conn.execute(f"CREATE TABLE IF NOT EXISTS {self.table} (id bigint PRIMARY KEY)")
                    if self.session_sql:
                        conn.execute(self.session_sql)
                ident = self._next_id
                self._conn = (host, conn)
                try:
                    conn.execute(f"INSERT INTO {self.table} (id) VALUES (%s)", (ident,))
                finally:
                    self._conn = None
                self.acks.append(Ack(ident, host, time.monotonic()))
                self._next_id += 1
                self._stop_event.wait(self.pause)
            except psycopg.Error:
                self.failures.append(time.monotonic())
                # The id may or may not have committed: it is never reused, and only
                # acknowledged ids are checked, so an unknown outcome cannot hide a loss.
                self._next_id += 1
                if conn is not None:
                    conn.close()
                conn = None
                self._stop_event.wait(0.05)
        if conn is not None:
            conn.close()


def is_writable(host: str, creds: DbCredentials) -> bool | None:
    """True/False when the instance answered, None when it could not be reached."""
    try:
        with psycopg.connect(creds.conninfo(host), autocommit=True) as conn:
            row = conn.execute(
                "SELECT NOT pg_is_in_recovery()"
                " AND current_setting('default_transaction_read_only') = 'off'"
            ).fetchone()
            return bool(row and row[0])
    except psycopg.Error:
        return None


@dataclass
class Sample:
    at: float
    writable: frozenset[str]


class WritabilityChecker(threading.Thread):
    """Samples every instance and keeps the samples in which more than one was writable."""

    def __init__(
        self, hosts: Callable[[], list[str]], creds: DbCredentials, interval: float = 0.1
    ) -> None:
        super().__init__(name="zenith-checker", daemon=True)
        self.hosts = hosts
        self.creds = creds
        self.interval = interval
        self.samples = 0
        self.violations: list[Sample] = []
        self.first_writable: dict[str, float] = {}  # host -> first sample it was writable
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=10)

    def run(self) -> None:
        while not self._stop_event.is_set():
            at = time.monotonic()
            writable = frozenset(h for h in self.hosts() if is_writable(h, self.creds))
            self.samples += 1
            for host in writable:
                self.first_writable.setdefault(host, at)
            if len(writable) > 1:
                self.violations.append(Sample(at, writable))
            self._stop_event.wait(self.interval)


def missing_acknowledged(host: str, creds: DbCredentials, acked: set[int]) -> set[int]:
    """Acknowledged ids absent from the instance at host."""
    with psycopg.connect(creds.conninfo(host, timeout=5), autocommit=True) as conn:
        present = {row[0] for row in conn.execute(f"SELECT id FROM {TABLE}")}
    return acked - present
