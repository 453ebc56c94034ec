"""PostgreSQL engine: configuration files written on every start."""

from __future__ import annotations

import os

from zenith_operator.agent.engine import RunMode, db_settings
from zenith_operator.agent.engines.postgres.base import PostgresBase, _conninfo_value, _quote
from zenith_operator.agent.engines.postgres.slotplan import slot_keep_mb, slot_name
from zenith_operator.wire import PeerAddress


class ConfigFiles(PostgresBase):
    """The files under conf/ and the standby signal."""

    def _db_settings(self) -> tuple[str, str]:
        return db_settings(self.config.config_dir)

    def _write_config(self) -> None:
        self._mkdir(self.conf)
        self._mkdir(self.run_dir)
        db_text, self._config_hash = self._db_settings()
        self._write(self.conf / "db.conf", db_text)
        self._write(
            self.conf / "postgresql.conf",
            "# written by zenith-agent on every start; edits are lost\n"
            f"hba_file = {_quote(str(self.conf / 'pg_hba.conf'))}\n"
            "wal_level = replica\n"
            "wal_log_hints = on\n"
            "hot_standby = on\n"
            "hot_standby_feedback = on\n"
            "max_wal_senders = 10\n"
            "wal_keep_size = '512MB'\n"
            f"synchronous_commit = {self.config.file.synchronous_commit}\n"
            "recovery_target_timeline = 'latest'\n"
            # a standby whose upstream restarted (crash, switchover) reconnects within
            # half a second instead of PostgreSQL's 5 s: back in sync sooner
            "wal_retrieve_retry_interval = '500ms'\n"
            # crash recovery syncs the data directory with one syncfs() instead of an
            # fsync per file: a liveness-killed active is back seconds sooner
            "recovery_init_sync_method = syncfs\n"
            f"{self._replication_timeouts()}"
            f"{self._slot_keep_setting()}"
            "password_encryption = 'scram-sha-256'\n"
            f"include_if_exists = {_quote(str(self.conf / 'db.conf'))}\n"
            f"include = {_quote(str(self.conf / 'instance.conf'))}\n",
        )
        hba = ["# written by zenith-agent", "local all all trust"]
        for net in ("127.0.0.0/8", "0.0.0.0/0", "::/0"):
            hba += [
                f"host all all {net} scram-sha-256",
                f"host replication all {net} scram-sha-256",
            ]
        self._write(self.conf / "pg_hba.conf", "\n".join(hba) + "\n")
        self._write_instance_conf()

    def _replication_timeouts(self) -> str:
        """wal_sender/receiver_timeout = unreachableTimeout: a hung peer's connection is
        dropped about when the operator counts it down, not after PostgreSQL's 60 s."""
        t = self.config.unreachable_timeout
        if t is None:
            return ""
        return f"wal_sender_timeout = '{t}s'\nwal_receiver_timeout = '{t}s'\n"

    def _slot_keep_setting(self) -> str:
        """max_slot_wal_keep_size: a quarter of the data volume, so a dead standby's slot
        cannot fill the active's disk (a db/ setting overrides it)."""
        try:
            st = os.statvfs(self.root)
        except OSError:
            return ""
        return f"max_slot_wal_keep_size = '{slot_keep_mb(st.f_blocks * st.f_frsize)}MB'\n"

    def _write_instance_conf(self) -> None:
        lines = [
            "# written by zenith-agent: settings of this instance only",
            f"listen_addresses = {_quote(self.config.pod_ip)}",
            f"port = {self.config.listen_port}",
            f"unix_socket_directories = {_quote(str(self.run_dir))}",
            f"cluster_name = {_quote(self.config.pod_name)}",
            f"synchronous_standby_names = {_quote(self._sync_names)}",
        ]
        up = self._upstream if self._mode == RunMode.STANDBY else None
        if up is not None:
            conninfo = (
                f"host={_conninfo_value(up.host)} port={up.port} "
                f"user={_conninfo_value(self.repl_user)} "
                f"application_name={_conninfo_value(self.config.pod_name)} "
                f"passfile={_conninfo_value(str(self.conf / 'pgpass'))}"
            )
            lines.append(f"primary_conninfo = {_quote(conninfo)}")
        else:
            lines.append("primary_conninfo = ''")
        slot = slot_name(self.config.pod_name) if up is not None and self._use_slot else ""
        lines.append(f"primary_slot_name = {_quote(slot)}")
        for name, value in self._floor.items():
            lines.append(f"{name} = {value}  # the primary's: a standby needs at least it")
        self._write(self.conf / "instance.conf", "\n".join(lines) + "\n")

    def _write_pgpass(self, peer: PeerAddress | None) -> None:
        self._mkdir(self.conf)

        def esc(v: str) -> str:
            return v.replace("\\", "\\\\").replace(":", "\\:")

        lines = [f"*:*:*:{esc(self.repl_user)}:{esc(self._repl_password())}"]
        lines.append(f"*:*:*:{esc(self.admin_user)}:{esc(self._admin_password())}")
        del peer
        self._write(self.conf / "pgpass", "\n".join(lines) + "\n")

    def _set_signal(self, standby: bool) -> None:
        sig = self.pgdata / "standby.signal"
        if standby:
            self._write(sig, "")
        else:
            sig.unlink(missing_ok=True)
