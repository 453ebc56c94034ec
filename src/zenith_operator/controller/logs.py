"""Loggers bound to one ZenithCluster: every line carries its namespace and name."""

from __future__ import annotations

from typing import Any

import structlog


def cluster_logger(namespace: str | None, name: str | None, **extra: Any) -> Any:
    return structlog.get_logger("zenith_operator.controller").bind(
        namespace=namespace, name=name, **extra
    )
