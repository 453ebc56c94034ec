"""PostgreSQL engine: what a start in recovery needs, as pure functions.

- Hot-standby settings: PostgreSQL refuses to run a standby whose max_connections,
  max_worker_processes, max_wal_senders, max_prepared_transactions or
  max_locks_per_transaction is below the primary's (`FATAL: recovery aborted because of
  insufficient parameter settings`). The primary's values are in the standby's own
  control file (pg_controldata), updated whenever it replays a parameter change.
- A bound on failing starts: the same configuration failing the same way is not retried
  forever.
- The data directory's major version against the server's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# setting -> its label in pg_controldata's output
HOT_STANDBY_SETTINGS = {
    "max_connections": "max_connections setting",
    "max_worker_processes": "max_worker_processes setting",
    "max_wal_senders": "max_wal_senders setting",
    "max_prepared_transactions": "max_prepared_xacts setting",
    "max_locks_per_transaction": "max_locks_per_xact setting",
}
MAX_FAILED_STARTS = 3


def parse_controldata(text: str) -> dict[str, int]:
    """The hot-standby settings recorded in pg_controldata's output (the primary's)."""
    values: dict[str, int] = {}
    labels = {label: name for name, label in HOT_STANDBY_SETTINGS.items()}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        name = labels.get(label.strip())
        if sep and name is not None and value.strip().isdigit():
            values[name] = int(value.strip())
    return values


def standby_floor(primary: Mapping[str, int], configured: Mapping[str, int]) -> dict[str, int]:
    """The settings a standby must raise above its configuration: the primary's values
    where they exceed the configured ones (PostgreSQL requires >= the primary's)."""
    return {
        name: value
        for name, value in sorted(primary.items())
        if name in configured and value > configured[name]
    }


def server_major(version_output: str) -> str | None:
    """Major version from `postgres -V` ("postgres (PostgreSQL) 15.10 (Debian ...)"): "15";
    before 10 it has two parts ("9.6"), as PG_VERSION does."""
    m = re.search(r"\(PostgreSQL\) (\d+)(?:\.(\d+))?", version_output)
    if m is None:
        return None
    major = int(m.group(1))
    return str(major) if major >= 10 or m.group(2) is None else f"{major}.{m.group(2)}"


def incompatible(data_version: str, server: str) -> str | None:
    """The refusal message when the data directory is of another major version."""
    if data_version == server:
        return None
    return (
        f"the data directory is PostgreSQL {data_version} but the server is PostgreSQL "
        f"{server}: not starting it and not touching it (a major version upgrade is not "
        f"supported; run an image of PostgreSQL {data_version})"
    )


@dataclass
class StartFailures:
    """Consecutive failed starts in recovery with one configuration (config hash)."""

    config_hash: str | None = None
    cause: str = ""
    count: int = 0

    def record(self, config_hash: str | None, cause: str) -> None:
        if config_hash != self.config_hash:
            self.config_hash, self.count = config_hash, 0
        self.cause, self.count = cause, self.count + 1

    def clear(self) -> None:
        self.config_hash, self.cause, self.count = None, "", 0

    def blocked(self, config_hash: str | None) -> str | None:
        """Why not to try again with this configuration, or None to go ahead."""
        if self.count < MAX_FAILED_STARTS or config_hash != self.config_hash:
            return None
        return (
            f"the database failed to start {self.count} times with this configuration "
            f"({self.cause}); not trying again until the configuration changes or a "
            "start is requested"
        )
