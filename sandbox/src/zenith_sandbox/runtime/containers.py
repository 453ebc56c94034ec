"""One container of a sandbox pod: its run state (`ContainerRun`) and its command line."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import Any

from . import volumes as vol
from .processes import Group

Obj = dict[str, Any]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def container_argv(container: Obj, env: dict[str, str]) -> list[str]:
    """command + args with $(VAR) expanded from the (rewritten) env; the `zenith-operator`
    executable is this Python's module. Arguments themselves are not path-rewritten
    (only env is, per docs/dev/contracts.md): refer to mounted files through env."""
    argv = [vol.expand(str(a), env) for a in (container.get("command") or [])]
    argv += [vol.expand(str(a), env) for a in (container.get("args") or [])]
    if not argv:
        raise vol.VolumeError(
            "container has no command: the sandbox cannot run an image's entrypoint"
        )
    if argv[0] == "zenith-operator":
        argv = [sys.executable, "-m", "zenith_operator", *argv[1:]]
    return argv


@dataclass
class ContainerRun:
    spec: Obj
    init: bool = False
    restart_count: int = 0
    group: Group | None = None
    exited: asyncio.Future[int] | None = None
    kill: asyncio.Future[str] | None = None
    state: Obj = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: Obj = field(default_factory=dict)
    started: bool = False
    ready: bool = False
    done: bool = False  # terminated for good (init success, or no restart)
    env: dict[str, str] = field(default_factory=dict)
    backoff: float = 0.0
    frozen: bool = False
    task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    def status(self) -> Obj:
        out: Obj = {
            "name": self.name,
            "image": self.spec.get("image", ""),
            "imageID": "",
            "ready": self.ready,
            "started": self.started,
            "restartCount": self.restart_count,
            "state": self.state,
            "lastState": self.last_state,
        }
        if self.group is not None:
            out["containerID"] = f"sandbox://{self.group.main_pid}"
        return out
