"""The engine interface: what the agent needs from a database.

The agent owns roles, the lease and fencing; an engine only knows how to put its database
into one of three run modes and to report what it sees. Every method is idempotent and
may be called again after a failure.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from zenith_operator.wire import DatabaseState, PeerAddress, ReplicationMode, ReplicationStatus


class RunMode(StrEnum):
    WRITABLE = "writable"  # an active with a live lease
    READ_ONLY = "read-only"  # fenced active, or data of unknown role: reads only, no upstream
    STANDBY = "standby"  # follows an upstream


class EngineError(Exception):
    """An engine operation failed; the message says what and is shown as last_error."""


def db_settings(config_dir: Path) -> tuple[str, str]:
    """(contents, hash) of every file in $ZENITH_CONFIG_DIR/db, concatenated in name order.

    The hash is what /v1/status reports as config_hash once the settings are applied.
    """
    db_dir = config_dir / "db"
    parts: list[str] = []
    if db_dir.is_dir():
        for path in sorted(db_dir.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            parts.append(f"# --- {path.name}\n{path.read_text().rstrip()}\n")
    text = "".join(parts)
    return text, hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class EngineStatus:
    database: DatabaseState
    writable: bool = False
    timeline: int | None = None
    position: int | None = None
    replication: ReplicationStatus = field(default_factory=ReplicationStatus)
    engine_version: str | None = None
    error: str | None = None
    # why the database wants a restart in its current mode (the agent restarts a standby
    # when no command runs), e.g. postgres: its primary lowered a hot-standby setting
    restart: str | None = None


def always() -> bool:
    return True


@runtime_checkable
class Engine(Protocol):
    name: str
    # Asked right before the database would start accepting writes (and while a writable
    # start is under way): False means the lease has ended, so the engine must not open
    # writes and stops what it started. The agent sets it; engines default to `always`.
    writable_guard: Callable[[], bool]

    def has_data(self) -> bool:
        """True when the data directory holds a database (initialised or cloned)."""
        ...

    async def init(self) -> None:
        """Create a new, empty database (only on an empty data directory)."""
        ...

    async def start(self, mode: RunMode, upstream: PeerAddress | None = None) -> None:
        """Start (or restart into) mode; `upstream` is required for STANDBY."""
        ...

    async def stop(self) -> None:
        """Stop the database cleanly (fast shutdown), harder after a grace period."""
        ...

    async def fence(self) -> None:
        """Stop accepting writes now; reads may continue (the agent then reports fenced)."""
        ...

    def kill(self) -> bool:
        """Fencing of last resort, without waiting for the command in flight: SIGKILL the
        database now. True when it certainly accepts no writes afterwards."""
        ...

    async def promote(self) -> None:
        """Turn a running read-only or standby database writable."""
        ...

    async def follow(self, upstream: PeerAddress) -> None:
        """Run as a standby of upstream (cloning it first when there is no data)."""
        ...

    async def rebuild(self, upstream: PeerAddress) -> str:
        """Resynchronise from upstream (rewind, else clone); returns how ("rewind"/"clone")."""
        ...

    async def status(self) -> EngineStatus: ...

    async def apply_config(self) -> tuple[str, str]:
        """Re-read the database settings and apply them; returns (config_hash, message)."""
        ...

    async def set_replication_mode(self, mode: ReplicationMode, standby: str | None) -> None: ...

    def running(self) -> bool:
        """True while the database process is alive."""
        ...

    def writable(self) -> bool:
        """True while the database runs opened for writes (WRITABLE mode)."""
        ...

    def process_dir(self) -> Path | None:
        """The directory every database process runs in, for the lease watchdog
        (agent/watchdog.py) to kill them by; None when the engine cannot tell."""
        ...

    def config_hash(self) -> str | None: ...

    def retry(self) -> None:
        """Forget failed starts: the next start tries again even with the same settings
        (an engine may refuse to repeat a start that failed the same way, see postgres)."""
        ...
