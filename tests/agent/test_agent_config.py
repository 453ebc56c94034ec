"""Configuration errors end the agent with exit 2 and one clear line; TLS when configured."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from agent_harness import TOKEN, pods, wait_for

from zenith_operator.agent.main import main

pytestmark = pytest.mark.integration


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in ("POD_NAME", "POD_IP", "ZENITH_ENGINE", "ZENITH_AGENT_PORT", "ZENITH_TLS_DIR"):
        monkeypatch.delenv(key, raising=False)
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "agent-token").write_text("t")
    monkeypatch.setenv("POD_NAME", "p-0")
    monkeypatch.setenv("POD_IP", "127.0.0.1")
    monkeypatch.setenv("ZENITH_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("ZENITH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ZENITH_TOKEN_FILE", str(tmp_path / "agent" / "agent-token"))
    return tmp_path


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"POD_NAME": ""}, "POD_NAME is not set"),
        ({"ZENITH_AGENT_PORT": "80a"}, "ZENITH_AGENT_PORT='80a' is not a port number"),
        ({"ZENITH_LISTEN_PORT": "70000"}, "ZENITH_LISTEN_PORT=70000 is out of range"),
        ({"ZENITH_TOKEN_FILE": "/nonexistent/token"}, "ZENITH_TOKEN_FILE /nonexistent/token"),
        ({"ZENITH_ENGINE": "mysql"}, "ZENITH_ENGINE='mysql' is unknown"),
        ({"POD_IP": "pod-ip"}, "POD_IP='pod-ip' is not an IP address"),
        ({"ZENITH_UNREACHABLE_TIMEOUT": "5s"}, "ZENITH_UNREACHABLE_TIMEOUT='5s' is not a number"),
    ],
)
def test_bad_env(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    words: str,
) -> None:
    for key, value in change.items():
        monkeypatch.setenv(key, value)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("engine: [unclosed", "cannot parse yaml"),
        ("- a list", "expected a mapping"),
        ("command_timeout: -1", "field command_timeout"),
        ("bogus: 1", "field bogus"),
        ("engine: command", "engine 'command' needs 'commands'"),
        (
            "engine: command\ncommands: {start: 'x {nope}', stop: x, promote: x, follow: x, "
            "status: x}",
            "unknown placeholder(s) nope",
        ),
    ],
)
def test_bad_agent_yaml(
    env: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    (env / "agent" / "agent.yaml").write_text(text)
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and "\n" not in err


def test_cli_exit_code(env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "zenith_operator", "agent"],
        env={"PATH": "/usr/bin:/bin", "POD_NAME": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "zenith-operator agent: bad configuration: POD_NAME is not set"


def make_cert(tls: Path, cn: str) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
         "-addext", "subjectAltName=IP:127.0.0.2", "-days", "1",
         "-keyout", str(tls / "tls.key.new"), "-out", str(tls / "tls.crt.new")],
        check=True, capture_output=True,
    )  # fmt: skip
    os.replace(tls / "tls.key.new", tls / "tls.key")
    os.replace(tls / "tls.crt.new", tls / "tls.crt")


def served_cn(ip: str, port: int) -> str:
    pem = ssl.get_server_certificate((ip, port), timeout=5)
    out = subprocess.run(
        ["openssl", "x509", "-noout", "-subject"], input=pem, capture_output=True, text=True
    )
    return out.stdout.strip().rsplit("=", 1)[-1].strip()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_tls_when_certificates_exist_and_rotation() -> None:
    with pods(("tls-0", "127.0.0.2")) as (pod,):
        tls = pod.config / "tls"
        tls.mkdir()
        make_cert(tls, "first")
        pod.extra_env["ZENITH_TLS_DIR"] = str(tls)
        pod.extra_env["ZENITH_ENGINE"] = "command"
        (pod.config / "agent" / "agent.yaml").write_text(
            "commands: {start: 'true', stop: 'true', promote: 'true', follow: 'true', "
            "status: 'echo {{}}'}\n"
        )
        pod.start(wait=False)
        url = f"https://{pod.ip}:{pod.agent_port}"

        def https_status() -> int:
            return requests.get(
                url + "/v1/status",
                headers={"Authorization": f"Bearer {TOKEN}"},
                verify=str(tls / "tls.crt"),
                timeout=5,
            ).status_code

        assert wait_for("https status", https_status, timeout=20) == 200
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://{pod.ip}:{pod.agent_port}/health", timeout=5)
        assert served_cn(pod.ip, pod.agent_port) == "first"
        make_cert(tls, "second")
        wait_for("rotated cert served", lambda: served_cn(pod.ip, pod.agent_port) == "second")
        assert https_status() == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_unreachable_data_dir_is_named(need_pg: None) -> None:
    with pods(("priv-0", "127.0.0.2")) as (pod,):
        private = pod.base / "private"
        private.mkdir(mode=0o700)
        pod.extra_env["ZENITH_DATA_DIR"] = str(private / "data")
        pod.start()
        resp = pod.post("/v1/promote", {"lease_ttl": 30})
        assert resp.status_code == 500
        assert f"{private} is mode 700" in resp.json()["message"]


def test_replication_timeouts_follow_unreachable_timeout(need_pg: None) -> None:
    """Issue 16 item 1: a hung peer's replication connection is dropped after about
    unreachableTimeout, not PostgreSQL's 60 s default."""
    import psycopg

    with pods(("wal-0", "127.0.0.2"), ZENITH_UNREACHABLE_TIMEOUT="7") as (pod,):
        pod.start()
        pod.call("/v1/promote", {"lease_ttl": 30})
        with psycopg.connect(pod.dsn()) as conn:
            sender = conn.execute("SHOW wal_sender_timeout").fetchone()
            receiver = conn.execute("SHOW wal_receiver_timeout").fetchone()
        assert sender == ("7s",) and receiver == ("7s",)
