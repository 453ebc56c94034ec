"""How the e2e suite picks its cluster (not marked e2e: runs with the other tests).

kind by default; an existing cluster with ZENITH_E2E_KUBECONFIG + ZENITH_E2E_IMAGE (no
kind or docker call); otherwise a one-line skip reason.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config

from zenith_sandbox.apiserver import ApiServer

from . import environment

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in ("ZENITH_E2E_KUBECONFIG", "ZENITH_E2E_IMAGE"):
        monkeypatch.delenv(var, raising=False)
    environment.unavailable_reason.cache_clear()
    yield
    environment.unavailable_reason.cache_clear()


def test_without_kind_or_a_cluster_the_skip_says_why_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert environment.unavailable_reason() == (
        "kind e2e: kind, docker, kubectl not on PATH (or set ZENITH_E2E_KUBECONFIG and "
        "ZENITH_E2E_IMAGE for an existing cluster)"
    )


def test_an_existing_cluster_needs_its_image(
    monkeypatch: pytest.MonkeyPatch, kubeconfig: Path
) -> None:
    monkeypatch.setenv("ZENITH_E2E_KUBECONFIG", str(kubeconfig))
    assert environment.unavailable_reason() == (
        "existing-cluster e2e: set ZENITH_E2E_IMAGE to the operator image already present "
        "on the cluster's nodes"
    )


def test_an_existing_cluster_needs_its_kubeconfig(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZENITH_E2E_KUBECONFIG", str(tmp_path / "nope"))
    monkeypatch.setenv("ZENITH_E2E_IMAGE", "zenith-operator:0.1.0")
    assert environment.unavailable_reason() == (
        f"existing-cluster e2e: ZENITH_E2E_KUBECONFIG={tmp_path / 'nope'}: no such file"
    )


@needs_kubectl
def test_an_unreachable_cluster_is_a_skip_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    srv = ApiServer(host="127.0.0.1", port=0)
    srv.start()
    kubeconfig = srv.write_kubeconfig(tmp_path / "kubeconfig")
    srv.stop()
    monkeypatch.setenv("ZENITH_E2E_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("ZENITH_E2E_IMAGE", "zenith-operator:0.1.0")
    assert environment.unavailable_reason() == (
        f"existing-cluster e2e: the API server of {kubeconfig} is not reachable "
        "(`kubectl get --raw /readyz` failed)"
    )


@needs_kubectl
def test_an_existing_cluster_is_used_without_kind_or_docker(
    monkeypatch: pytest.MonkeyPatch, kubeconfig: Path
) -> None:
    calls: list[str] = []
    real_run = subprocess.run

    def run(cmd: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(Path(str(cmd[0])).name)
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", run)
    monkeypatch.setenv("ZENITH_E2E_KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("ZENITH_E2E_IMAGE", "zenith-operator:0.1.0")
    _ready_node(kubeconfig)
    assert environment.unavailable_reason() is None
    env = environment.use_existing_cluster(kubeconfig)
    assert (env.existing, env.created, env.image) == (True, False, "zenith-operator:0.1.0")
    assert env.kubeconfig == kubeconfig.resolve()
    environment.delete_kind_cluster(env)  # leaves an existing cluster alone
    assert calls and set(calls) == {"kubectl"}


def _ready_node(kubeconfig: Path) -> None:
    api = config.new_client_from_config(str(kubeconfig))
    try:
        core = client.CoreV1Api(api)
        core.create_node({"metadata": {"name": "n1"}})
        core.patch_node_status(
            "n1", {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        )
    finally:
        api.close()
