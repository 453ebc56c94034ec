"""PostgreSQL engine: SQL status probes."""

from __future__ import annotations

from typing import Any

import psycopg

from zenith_operator.agent.engine import EngineStatus, RunMode, db_settings
from zenith_operator.agent.engines.postgres.base import _lsn
from zenith_operator.agent.engines.postgres.process import Supervisor
from zenith_operator.wire import DatabaseState, PeerReplication, ReplicationStatus


class Probes(Supervisor):
    """The status the agent reports, read from the running server."""

    async def status(self) -> EngineStatus:
        if self._rebuilding:
            return EngineStatus(DatabaseState.REBUILDING, engine_version=self._version)
        if not self.running():
            state = DatabaseState.CRASHED if self._crashed else DatabaseState.STOPPED
            error = (
                self._crashed
                or self._incompatible
                or self._failures.blocked(db_settings(self.config.config_dir)[1])
            )
            return EngineStatus(state, engine_version=self._version, error=error)
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
            " (replay_lsn - '0/0')::bigint, (pg_current_wal_lsn() - flush_lsn)::bigint"
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
