"""PostgreSQL engine: physical replication slots for the peer.

The active's agent creates a slot `zenith_<pod>` for every peer that streams from it (the
peer's application_name is its pod name) and drops its own-named and invalidated
(`wal_status = lost`) inactive ones; a standby's agent uses its slot (primary_slot_name,
reloadable) once its upstream has it and drops the inactive slots left in its own data
(from a time it was the active: no one streams from a standby). `max_slot_wal_keep_size`
bounds what a slot of a dead standby may keep on the active's disk.
"""

from __future__ import annotations

import time

import psycopg
import structlog

from zenith_operator.agent.engine import EngineError, RunMode
from zenith_operator.agent.engines.postgres.conf import ConfigFiles
from zenith_operator.agent.engines.postgres.slotplan import (
    Slot,
    primary_slot_plan,
    slot_name,
    standby_slot_drops,
)

log = structlog.get_logger("zenith.agent.postgres")

SLOT_CHECK_EVERY = 2.0  # seconds between two looks at the slots (from the status probe)


class Slots(ConfigFiles):
    """Creates, uses and drops the peer's replication slot (called from status reads)."""

    async def _slots(self) -> list[Slot]:
        rows = await self._query(
            "SELECT slot_name, active, coalesce(wal_status = 'lost', false)"
            " FROM pg_replication_slots WHERE slot_type = 'physical'"
        )
        return [Slot(str(r[0]), bool(r[1]), bool(r[2])) for r in rows or []]

    async def _maintain_slots(self, writable: bool, streaming_peers: list[str]) -> None:
        """At most every SLOT_CHECK_EVERY seconds; never fails a status read."""
        if time.monotonic() - self._slots_checked < SLOT_CHECK_EVERY:
            return
        self._slots_checked = time.monotonic()
        try:
            if writable:
                create, drop = primary_slot_plan(
                    self.config.pod_name, await self._slots(), streaming_peers
                )
            elif self._mode == RunMode.STANDBY:
                create, drop = [], standby_slot_drops(await self._slots())
                await self._use_upstream_slot()
            else:
                return
            for name in drop:
                await self._query(f"SELECT pg_drop_replication_slot('{name}')")
                log.info("dropped replication slot", slot=name)
            for name in create:
                await self._query(f"SELECT pg_create_physical_replication_slot('{name}', true)")
                log.info("created replication slot", slot=name)
        except (psycopg.Error, EngineError) as exc:
            log.warning("replication slot upkeep failed", error=str(exc))

    async def _upstream_slot_usable(self) -> bool:
        up = self._upstream
        if up is None:
            return False
        dsn = self._peer_dsn(up, self.admin_user)
        pw = self._admin_password()
        async with await psycopg.AsyncConnection.connect(
            dsn, password=pw, connect_timeout=1, autocommit=True
        ) as c:
            cur = await c.execute(
                "SELECT 1 FROM pg_replication_slots WHERE slot_name = %s"
                " AND coalesce(wal_status, '') <> 'lost'",
                (slot_name(self.config.pod_name),),
            )
            return await cur.fetchone() is not None

    async def _use_upstream_slot(self) -> None:
        """Stream through our slot once the upstream has it, without it when it is gone."""
        try:
            usable = await self._upstream_slot_usable()
        except psycopg.Error:
            return  # upstream unreachable: keep what we have
        if usable != self._use_slot:
            self._use_slot = usable
            self._write_instance_conf()
            await self._query("SELECT pg_reload_conf()")
            log.info("primary_slot_name", using=usable)
