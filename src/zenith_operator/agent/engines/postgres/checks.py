"""PostgreSQL engine: checks before a start (major version, hot-standby settings)."""

from __future__ import annotations

import asyncio
import time

import structlog

from zenith_operator.agent.engine import EngineError, RunMode
from zenith_operator.agent.engines.postgres.base import PostgresBase
from zenith_operator.agent.engines.postgres.recovery import (
    HOT_STANDBY_SETTINGS,
    incompatible,
    parse_controldata,
    server_major,
    standby_floor,
)

log = structlog.get_logger("zenith.agent.postgres")

FLOOR_CHECK_EVERY = 5.0  # seconds between looks at a raised standby's control file


class StartChecks(PostgresBase):
    """Read-only looks at the data directory and the configuration before a start."""

    async def _incompatibility(self) -> str | None:
        """Why the data directory must not be started by this server (another major
        version), or None. Reads PG_VERSION only: the data is never touched."""
        try:
            data_version = (self.pgdata / "PG_VERSION").read_text().strip()
        except OSError:
            return None
        if self._server_major is None:
            out = await self._run(str(self.bindir / "postgres"), "-V")
            self._server_major = server_major(out)
        if self._server_major is None:
            return None
        self._incompatible = incompatible(data_version, self._server_major)
        return self._incompatible

    async def _check_compatible(self) -> None:
        if why := await self._incompatibility():
            log.error("refusing the data directory", reason=why)
            raise EngineError(why)

    async def _hot_standby_floor(self) -> dict[str, int]:
        """The primary's hot-standby settings that exceed ours, read from our own control
        file; a start in recovery runs with them (PostgreSQL aborts recovery otherwise)."""
        try:
            text = await self._run(str(self.bindir / "pg_controldata"), "-D", str(self.pgdata))
        except EngineError as exc:
            log.warning(
                "pg_controldata failed; starting with the configured values", error=str(exc)
            )
            return {}
        primary = parse_controldata(text)
        names = [name for name in HOT_STANDBY_SETTINGS if name in primary]
        values = await asyncio.gather(*(self._configured(name) for name in names))
        configured = {n: v for n, v in zip(names, values, strict=True) if v is not None}
        self._hs_configured, self._floor_checked = configured, time.monotonic()
        return standby_floor(primary, configured)

    async def _floor_outdated(self) -> str | None:
        """Why a standby running with raised settings should restart: its control file
        now records lower values (it replayed the primary's parameter change), so the
        configured ones are allowed. Looks at most every FLOOR_CHECK_EVERY seconds."""
        if not self._floor or self._mode != RunMode.STANDBY:
            return None
        if time.monotonic() - self._floor_checked < FLOOR_CHECK_EVERY:
            return None
        self._floor_checked = time.monotonic()
        try:
            text = await self._run(str(self.bindir / "pg_controldata"), "-D", str(self.pgdata))
        except EngineError:
            return None
        wanted = standby_floor(parse_controldata(text), self._hs_configured)
        if wanted == self._floor:
            return None
        return (
            f"the primary's hot-standby settings dropped: restarting to run with "
            f"{wanted or 'the configured values'} instead of {self._floor}"
        )

    async def _configured(self, name: str) -> int | None:
        """A setting's value in our configuration files (`postgres -C`, no server needed)."""
        try:
            out = await self._run(
                str(self.bindir / "postgres"),
                "-D",
                str(self.pgdata),
                "-c",
                f"config_file={self.conf / 'postgresql.conf'}",
                "-C",
                name,
                timeout=30.0,
            )
        except EngineError:
            return None  # a configuration the server refuses: its start will say why
        value = out.strip().splitlines()[-1].strip() if out.strip() else ""
        return int(value) if value.isdigit() else None
