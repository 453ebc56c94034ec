"""Poll-until-true for integration tests (no fixed sleeps)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from zenith_operator.controller.reconcile_kube import KubeError
from zenith_sandbox.polling import wait_for

T = TypeVar("T")


def eventually(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll `check` until it returns a truthy value; fail naming `what` at the deadline.

    A KubeError from `check` counts as "not yet" (the object may not exist yet).
    """
    return wait_for(what, check, timeout, ignore=(KubeError,))
