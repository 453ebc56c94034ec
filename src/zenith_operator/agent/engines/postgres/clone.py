"""PostgreSQL engine: pg_rewind and pg_basebackup from the peer."""

from __future__ import annotations

import os
import shutil

import psycopg
import structlog

from zenith_operator.agent.engine import EngineError
from zenith_operator.agent.engines.postgres.conf import ConfigFiles
from zenith_operator.wire import PeerAddress

log = structlog.get_logger("zenith.agent.postgres")


class Replication(ConfigFiles):
    """Copying the peer's data: CHECKPOINT on the peer, pg_rewind, pg_basebackup."""

    async def _checkpoint_peer(self, upstream: PeerAddress) -> None:
        # The new primary must CHECKPOINT first, or pg_rewind sees the old timeline in its
        # control file and answers "no rewind required"; we hold the admin password anyway.
        try:
            await self._query(
                "CHECKPOINT",
                dsn=self._peer_dsn(upstream, self.admin_user),
                password=self._admin_password(),
            )
        except psycopg.Error as exc:
            raise EngineError(f"CHECKPOINT on {upstream.host}:{upstream.port}: {exc}") from None

    async def _rewind(self, upstream: PeerAddress) -> None:
        self._write_config()
        await self._run(
            str(self.bindir / "pg_rewind"),
            "-D",
            str(self.pgdata),
            f"--source-server={self._peer_dsn(upstream, self.admin_user)}",
            f"--config-file={self.conf / 'postgresql.conf'}",
        )

    async def _clone(self, upstream: PeerAddress) -> None:
        """pg_basebackup into a staging directory; the old data goes only once it succeeded
        (a failed clone keeps it: it may be the only copy after a double failure)."""
        self._mkdir(self.root, 0o755)
        self._write_pgpass(upstream)
        staging = self.root / "pgdata.clone"
        if staging.exists():
            shutil.rmtree(staging)
        self._mkdir(staging)
        await self._run(
            str(self.bindir / "pg_basebackup"),
            "-D",
            str(staging),
            "-h",
            upstream.host,
            "-p",
            str(upstream.port),
            "-U",
            self.repl_user,
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-password",
        )
        if self.pgdata.exists():
            old = self.root / "pgdata.old"
            if old.exists():
                shutil.rmtree(old)
            os.replace(self.pgdata, old)
            os.replace(staging, self.pgdata)
            shutil.rmtree(old)
        else:
            os.replace(staging, self.pgdata)
        log.info("cloned", upstream=upstream.host)
