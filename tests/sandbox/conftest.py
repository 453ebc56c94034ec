"""Fixtures for the sandbox runtime tests: one emulator + runtime per module and a fresh
namespace per test."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import pytest
from sandbox_helpers import NAMESPACES

from zenith_operator.sandbox.apiserver import ApiServer
from zenith_operator.sandbox.cli import Sandbox, start_sandbox
from zenith_operator.sandbox.runtime.kube import Kube

_counter = itertools.count()


@pytest.fixture(scope="module")
def module_api() -> Iterator[ApiServer]:
    srv = ApiServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def sandbox(module_api: ApiServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    state = tmp_path_factory.mktemp("sandbox")
    kc = module_api.write_kubeconfig(state / "kubeconfig")
    with start_sandbox(state, operator=False, kubeconfig=kc, install_crds=False) as sb:
        yield sb


@pytest.fixture
def kube(sandbox: Sandbox) -> Kube:
    return Kube(sandbox.api)


@pytest.fixture
def ns(kube: Kube) -> str:
    name = f"t{next(_counter)}-{int(time.time() * 1000) % 100000}"
    kube.create(
        NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    return name
