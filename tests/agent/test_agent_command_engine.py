"""The command-template engine, driven by tests/agent/fake_db.py through real agents."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from agent_harness import Pod, pods, wait_for

pytestmark = pytest.mark.integration

FAKE = f"{sys.executable} {Path(__file__).with_name('fake_db.py')} {{data_dir}}"
COMMANDS = {
    "init": f"{FAKE} init",
    "start": f"{FAKE} start {{mode}} {{host}} {{port}}",
    "stop": f"{FAKE} stop",
    "fence": f"{FAKE} fence",
    "promote": f"{FAKE} promote",
    "follow": f"{FAKE} follow {{host}} {{port}}",
    "rebuild": f"{FAKE} rebuild {{host}} {{port}}",
    "status": f"{FAKE} status",
    "apply_config": f"{FAKE} apply_config {{config_dir}}",
    "set_replication": f"{FAKE} set_replication {{mode}} {{standby}}",
}


def configure(pod: Pod) -> None:
    # a data dir with a space and a quote proves placeholders are shell-quoted
    pod.data = pod.base / "data dir's"
    pod.extra_env["ZENITH_DATA_DIR"] = str(pod.data)
    pod.extra_env["ZENITH_ENGINE"] = "command"
    text = yaml.safe_dump({"command_timeout": 10, "commands": COMMANDS})
    (pod.config / "agent" / "agent.yaml").write_text(text)


def fake(pod: Pod, *args: str) -> subprocess.CompletedProcess[str]:
    script = str(Path(__file__).with_name("fake_db.py"))
    return subprocess.run(
        [sys.executable, script, str(pod.data), *args], capture_output=True, text=True
    )


@pytest.fixture
def cmd_pair() -> Iterator[tuple[Pod, Pod]]:
    with pods(("cmd-0", "127.0.0.2"), ("cmd-1", "127.0.0.3")) as made:
        for pod in made:
            configure(pod)
            pod.start()
        yield made[0], made[1]


def test_command_engine_pair(cmd_pair: tuple[Pod, Pod]) -> None:
    a, b = cmd_pair
    assert a.status()["role"] == "none"
    result = a.call("/v1/promote", {"lease_ttl": 30})
    assert result["changed"] is True
    st = result["status"]
    assert (st["role"], st["database"], st["engine"], st["engine_version"]) == (
        "active",
        "running",
        "command",
        "fake-1",
    )
    assert fake(a, "write").returncode == 0
    assert a.call("/v1/promote", {"lease_ttl": 30})["changed"] is False

    b.call("/v1/follow", a.address())
    sb = b.status()
    assert (sb["role"], sb["replication"]["upstream_host"]) == ("standby", a.ip)
    assert sb["replication"]["upstream_port"] == a.listen_port
    assert b.call("/v1/follow", a.address())["changed"] is False
    assert fake(b, "write").returncode == 1  # a standby never writes

    a.call("/v1/replication", {"mode": "sync", "standby_name": "cmd-1"})
    repl = a.status()["replication"]
    assert (repl["mode"], repl["sync_standby"]) == ("sync", "cmd-1")

    result = a.call("/v1/reload")
    assert "applied 1 file(s)" in result["message"]

    # failover by commands: b promoted, a rebuilt from it
    b.call("/v1/promote", {"lease_ttl": 30})
    assert b.status()["timeline"] == 2
    a.call("/v1/stop")
    result = a.call("/v1/rebuild", b.address())
    assert a.status()["role"] == "standby"
    calls = [json.loads(line) for line in (a.data / "calls.log").read_text().splitlines()]
    assert ["rebuild", b.ip, str(b.listen_port)] in calls


def test_command_engine_fences_on_lapse(cmd_pair: tuple[Pod, Pod]) -> None:
    a, _ = cmd_pair
    # (a promote still running when its lease ends is killed: the lease must outlive it)
    a.call("/v1/promote", {"lease_ttl": 2.5})
    started = time.monotonic()
    wait_for("fenced", lambda: a.status()["fenced"], timeout=8)
    wait_for("fake db read-only", lambda: fake(a, "write").returncode == 1, timeout=5)
    assert time.monotonic() - started < 5
    assert a.get("/health?ready=1").status_code == 503
    a.call("/v1/promote", {"lease_ttl": 30})
    assert fake(a, "write").returncode == 0


def test_command_failure_is_reported(cmd_pair: tuple[Pod, Pod]) -> None:
    a, _ = cmd_pair
    resp = a.post("/v1/start")
    assert resp.status_code == 409  # no data yet
    a.call("/v1/promote", {"lease_ttl": 30})
    a.call("/v1/stop")
    (a.data / "fail-promote").touch()
    resp = a.post("/v1/promote", {"lease_ttl": 30})
    assert resp.status_code == 500, resp.text
    assert resp.json()["reason"] == "EngineError"
    assert "promote command exited 3: injected failure of promote" in a.status()["last_error"]
    (a.data / "fail-promote").unlink()
    assert a.call("/v1/promote", {"lease_ttl": 30})["status"]["last_error"] is None
