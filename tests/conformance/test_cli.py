"""`zenith-operator apiserver`: foreground serving, kubeconfig, --crd, clean SIGTERM exit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

from .conftest import REAL
from .widget_crd import GADGET_CRD

pytestmark = pytest.mark.skipif(bool(REAL), reason="runs the emulator's own CLI")


def test_cli_serves_until_sigterm(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    crd = tmp_path / "crd.yaml"
    crd.write_text(yaml.safe_dump(GADGET_CRD))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zenith_operator",
            "apiserver",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
            "--crd",
            str(crd),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("apiserver listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        cfg = yaml.safe_load(kubeconfig.read_text())
        assert cfg["current-context"] == "zenith-sandbox"
        assert cfg["clusters"][0]["cluster"]["server"] == url
        api = config.new_client_from_config(str(kubeconfig))
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names
        crds = client.ApiextensionsV1Api(api).list_custom_resource_definition().items
        assert [c.metadata.name for c in crds] == [GADGET_CRD["metadata"]["name"]]
        api.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_kubeconfig_shape(tmp_path: Path) -> None:
    from zenith_sandbox.apiserver import ApiServer

    srv = ApiServer()
    srv.start()
    try:
        path = srv.write_kubeconfig(tmp_path / "k")
        cfg = yaml.safe_load(path.read_text())
        assert {c["name"] for c in cfg["clusters"]} == {"zenith-sandbox"}
        assert {u["name"] for u in cfg["users"]} == {"zenith-sandbox"}
        assert cfg["users"][0]["user"]["token"]
        assert srv.url.startswith("http://127.0.0.1:")
        assert json.loads(json.dumps(cfg)) == cfg
    finally:
        srv.stop()


async def test_start_async_inside_a_loop(tmp_path: Path) -> None:
    import aiohttp

    from zenith_sandbox.apiserver import ApiServer

    srv = ApiServer()
    await srv.start_async()
    try:
        async with aiohttp.ClientSession() as session:
            url = f"{srv.url}/api/v1/namespaces/default/configmaps"
            async with session.post(url, json={"metadata": {"name": "a"}}) as resp:
                assert resp.status == 201
            async with session.get(f"{url}/a") as resp:
                assert (await resp.json())["metadata"]["name"] == "a"
    finally:
        await srv.stop_async()
