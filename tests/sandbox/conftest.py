"""Fixtures for the sandbox runtime tests: one API server + runtime per module and a
fresh namespace per test.

The API server is our emulator, or a real one when ZENITH_SANDBOX_KUBECONFIG names a
kubeconfig (kube-apiserver with the controller set docs/sandbox.md lists): the runtime
must work against both with the same assertions. ZENITH_SANDBOX_RUNTIME_ARGS adds runtime
flags for such a server (e.g. `--no-statefulsets --no-scheduler` where a full
kube-controller-manager and a scheduler run); the documented set needs none.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_helpers import NAMESPACES, eventually

from zenith_sandbox.apiserver import ApiServer
from zenith_sandbox.runtime.kube import NODES, Kube
from zenith_sandbox.runtime.main import api_client
from zenith_sandbox.stack import Sandbox, start_sandbox

_counter = itertools.count()
REAL_KUBECONFIG = os.environ.get("ZENITH_SANDBOX_KUBECONFIG")
RUNTIME_ARGS = tuple(shlex.split(os.environ.get("ZENITH_SANDBOX_RUNTIME_ARGS", "")))


@pytest.fixture(scope="module")
def module_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if REAL_KUBECONFIG:
        yield Path(REAL_KUBECONFIG)
        return
    srv = ApiServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        yield srv.write_kubeconfig(tmp_path_factory.mktemp("api") / "kubeconfig")
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def sandbox(module_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    state = tmp_path_factory.mktemp("sandbox")
    with start_sandbox(
        state,
        operator=False,
        kubeconfig=module_kubeconfig,
        install_crds=False,
        runtime_args=RUNTIME_ARGS if REAL_KUBECONFIG else (),
    ) as sb:
        yield sb
    if REAL_KUBECONFIG:  # a shared server: do not leave the stopped runtime's Node behind
        with contextlib.suppress(Exception):
            Kube(api_client(str(module_kubeconfig))).delete(NODES, None, "sandbox-node")


@pytest.fixture
def kube(sandbox: Sandbox) -> Kube:
    return Kube(sandbox.api)


@pytest.fixture
def ns(kube: Kube) -> Iterator[str]:
    name = f"zenith-sandbox-t{next(_counter)}-{int(time.time() * 1000) % 100000}"
    kube.create(
        NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    )
    yield name
    with contextlib.suppress(Exception):  # best effort: the runtime finishes the pods
        kube.delete(NAMESPACES, None, name)
        if REAL_KUBECONFIG:
            # a real namespace controller is slower: wait while the runtime still runs to
            # finish the pods, or the module's last namespace stays Terminating for good
            eventually(lambda: kube.get(NAMESPACES, None, name) is None, 120, "ns deleted")
