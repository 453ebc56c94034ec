"""Poll-until-true for integration tests (no fixed sleeps)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from zenith_operator.controller.reconcile_kube import KubeError

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns a truthy value; fail naming `what` at the deadline.

    A KubeError from `check` counts as "not yet" (the object may not exist yet).
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except KubeError as exc:
            last = exc
        if last and not isinstance(last, Exception):
            return cast(T, last)
        pause.wait(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
