"""Shared fixtures: a started Kubernetes API emulator and a kubeconfig for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zenith_operator.sandbox.apiserver import ApiServer


@pytest.fixture
def apiserver() -> Iterator[ApiServer]:
    srv = ApiServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def kubeconfig(apiserver: ApiServer, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig(tmp_path / "kubeconfig")
