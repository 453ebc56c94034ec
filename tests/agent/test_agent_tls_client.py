"""The operator's agent client over TLS (issue 12 item 8): https to an agent whose pod
mounts the TLS Secret, the certificate checked against its CA and the pod's name."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import aiohttp
import pytest
from agent_harness import TOKEN, pods, wait_for

from zenith_operator.controller.agent_client import AgentClient, Unknown
from zenith_operator.controller.agent_tls import client_context, pod_server_name
from zenith_operator.wire import AgentStatus

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed"),
]

NAME = pod_server_name("tls-0", "pair", "test")


def make_cert(tls: Path, san: str) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=agent",
         "-addext", f"subjectAltName={san}", "-days", "1",
         "-keyout", str(tls / "tls.key"), "-out", str(tls / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


async def _status(ip: str, port: int, ca: str | None, names: dict[str, str], tls: bool) -> object:
    async with aiohttp.ClientSession() as session:
        client = AgentClient(session, TOKEN)
        if tls:
            ctx = client_context(ca)
            client.tls = {host: (name, ctx) for host, name in names.items()}
        return await client.status(ip, port)


def test_client_verifies_the_agents_certificate() -> None:
    with pods(("tls-0", "127.0.0.2")) as (pod,):
        tls = pod.config / "tls"
        tls.mkdir()
        make_cert(tls, "DNS:*.pair.test.svc")
        other = pod.config / "other"
        other.mkdir()
        make_cert(other, "DNS:*.pair.test.svc")
        pod.extra_env["ZENITH_TLS_DIR"] = str(tls)
        pod.extra_env["ZENITH_ENGINE"] = "command"
        (pod.config / "agent" / "agent.yaml").write_text(
            "commands: {start: 'true', stop: 'true', promote: 'true', follow: 'true', "
            "status: 'echo {{}}'}\n"
        )
        pod.start(wait=False)
        ca = (tls / "tls.crt").read_text()
        ip, port = pod.ip, pod.agent_port

        def ask(ca_pem: str | None, names: dict[str, str], tls_on: bool = True) -> object:
            return asyncio.run(_status(ip, port, ca_pem, names, tls_on))

        ok = wait_for(
            "https status", lambda: isinstance(s := ask(ca, {ip: NAME}), AgentStatus) and s
        )
        assert isinstance(ok, AgentStatus) and ok.pod == "tls-0"
        # another CA, another name, no name, plain http: all refused
        for answer in (
            ask((other / "tls.crt").read_text(), {ip: NAME}),
            ask(ca, {ip: pod_server_name("tls-0", "other", "test")}),
            ask(ca, {ip: ip}),  # the IP itself is not in the certificate
        ):
            assert isinstance(answer, Unknown) and "CERTIFICATE_VERIFY_FAILED" in answer.error, (
                answer
            )
        assert isinstance(ask(None, {}, tls_on=False), Unknown)
