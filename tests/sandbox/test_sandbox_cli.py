"""`start_sandbox` and `zenith-operator sandbox up|status|down`: the emulator, runtime and
operator as background processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_helpers import eventually

from zenith_operator import naming
from zenith_sandbox.runtime.kube import NODES, Kube
from zenith_sandbox.runtime.processes import read_proc
from zenith_sandbox.stack import Sandbox, start_sandbox

pytestmark = pytest.mark.integration


def gone(pid: int) -> bool:
    info = read_proc(pid)
    return info is None or info.state == "Z"


def zenith(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zenith_operator", *args], capture_output=True, text=True, timeout=90
    )


def test_start_sandbox_runs_everything_and_restarts_the_operator(tmp_path: Path) -> None:
    with start_sandbox(tmp_path / "sb") as sb:
        assert set(sb.procs) == {"apiserver", "runtime", "operator"}
        assert all(p.alive() for p in sb.procs.values())
        kube = Kube(sb.api)
        eventually(lambda: kube.get(NODES, None, "sandbox-node"), what="node registered")
        # the CRD is installed: the custom resource list answers
        path = f"/apis/{naming.GROUP}/{naming.VERSION}/namespaces/default/{naming.PLURAL}"
        assert kube.request("GET", path)["items"] == []
        old = sb.procs["operator"].pid
        sb.restart_operator()
        assert sb.procs["operator"].pid != old and sb.procs["operator"].alive()
        assert gone(old)
        assert sb.faults.pods() == []
        pids = [p.pid for p in sb.procs.values()]
    assert all(gone(pid) for pid in pids)


def test_cli_up_status_down() -> None:
    import shutil

    from zenith_sandbox.scenario import fresh_state_dir

    # `sandbox up` refuses directories the postgres user cannot reach (pytest's are 0700).
    root = fresh_state_dir("cli-test")
    state = root / "cli"
    up = zenith("sandbox", "up", "--no-operator", "--state-dir", str(state))
    assert up.returncode == 0, up.stderr
    assert up.stdout.strip() == f"export KUBECONFIG={(state / 'kubeconfig').resolve()}"
    try:
        status = zenith("sandbox", "status", "--state-dir", str(state))
        assert status.returncode == 0, status.stderr
        info = json.loads(status.stdout)
        assert info["apiserver"]["alive"] and info["runtime"]["alive"]
        assert info["runtime"]["control"].startswith("http://127.0.0.1:")
        assert zenith("sandbox", "up", "--state-dir", str(state)).returncode == 1
        logs = zenith("sandbox", "logs", "runtime", "--state-dir", str(state))
        assert logs.returncode == 0 and "control http://127.0.0.1:" in logs.stdout
        fault = zenith("sandbox", "fault", "freeze", "nope", "--state-dir", str(state))
        assert fault.returncode == 1 and "not running on this node" in fault.stderr
    finally:
        down = zenith("sandbox", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    pids = [p["pid"] for p in info.values() if isinstance(p, dict) and "pid" in p]
    assert pids
    eventually(lambda: all(gone(pid) for pid in pids), what="processes reaped")
    assert not (state / "state.json").exists()
    assert Sandbox  # the class tests and the demo build on
    shutil.rmtree(root, ignore_errors=True)


def test_a_state_dir_the_database_user_cannot_reach_is_refused(tmp_path: Path) -> None:
    import os

    from zenith_sandbox.stack import check_reachable_by_database_user

    if os.geteuid() != 0:
        pytest.skip("only root hands the database to another user")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)
    (locked / "state").mkdir()
    with pytest.raises(RuntimeError, match="could not reach"):
        check_reachable_by_database_user(locked / "state")
    from zenith_sandbox.scenario import fresh_state_dir

    open_dir = fresh_state_dir("reachable")
    try:
        check_reachable_by_database_user(open_dir)
    finally:
        open_dir.rmdir()
