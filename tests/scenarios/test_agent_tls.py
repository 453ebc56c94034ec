"""spec.agentSpec.tlsSecret on the sandbox (issue 12 item 8): the agents serve HTTPS only
and the operator reaches them through it, verifying the CA and the pod names."""

from __future__ import annotations

import base64
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_sandbox.scenario import Cluster, load_example, wait_for
from zenith_sandbox.stack import Sandbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
]

FAST = {"pollingInterval": 1, "unreachableTimeout": 5}


def tls_secret(tmp: Path, name: str, san: str) -> dict[str, object]:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=agent",
         "-addext", f"subjectAltName={san}", "-days", "1",
         "-keyout", str(tmp / "tls.key"), "-out", str(tmp / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    data = {k: base64.b64encode((tmp / k).read_bytes()).decode() for k in ("tls.crt", "tls.key")}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name},
        "data": data,
    }


def test_operator_reaches_tls_agents(sandbox: Sandbox, tmp_path: Path) -> None:
    cluster = Cluster(sandbox.api, sandbox.namespace, "tls-0")
    secret = tls_secret(tmp_path, "tls-0-agent-tls", f"DNS:*.tls-0.{sandbox.namespace}.svc")
    body = load_example("pair", **FAST)
    body["spec"]["agentSpec"] = {"tlsSecret": "tls-0-agent-tls"}
    cluster.create(body, [secret])
    try:
        status = cluster.wait_normal(timeout=180)
        assert status.get("replicationMode") == "sync"
        # only HTTPS is served, with the Secret's certificate
        ip = cluster.pod_ips()[status["activeInstance"]]
        pem = ssl.get_server_certificate((ip, 8008), timeout=5)
        assert pem.strip() == (tmp_path / "tls.crt").read_text().strip()
        # commands go over TLS too: a planned switchover
        target = status["standbyInstance"]
        cluster.annotate(SWITCHOVER_ANNOTATION, target)
        wait_for("switched over", lambda: cluster.status().get("activeInstance") == target, 90)
        cluster.annotate(SWITCHOVER_ANNOTATION, None)
        cluster.wait_normal(timeout=120)
    finally:
        cluster.delete()
        wait_for("tls-0 gone", lambda: not cluster.pod_ips(), 60)
        cluster.core.delete_namespaced_secret("tls-0-agent-tls", cluster.namespace)
