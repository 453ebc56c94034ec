"""Shared fixtures: a started Kubernetes API emulator and a kubeconfig for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from zenith_sandbox.apiserver import ApiServer

# Property tests: derandomized (the same examples every run) unless `make test-deep`
# selects the "deep" profile, which draws fresh random examples (and more of them, see
# tests/unit/ha/test_properties.py `scaled`). A counterexample found there is kept
# as an @example.
settings.register_profile(
    "ci", derandomize=True, database=None, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.register_profile(
    "deep", derandomize=False, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
