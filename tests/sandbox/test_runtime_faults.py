"""Faults through the runtime's control API, and a clean runtime shutdown.

The container runs a stand-in database: a child process named `postgres` (a symlink
to sleep) next to the HTTP app, so `kill-database` has a postmaster to find."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_helpers import PODAPP, app_container, eventually, pod_ready, statefulset

from zenith_sandbox.apiserver import ApiServer
from zenith_sandbox.faults import FaultError
from zenith_sandbox.runtime.kube import PODS, STATEFULSETS, Kube
from zenith_sandbox.runtime.processes import read_proc
from zenith_sandbox.stack import Sandbox, start_sandbox

pytestmark = pytest.mark.integration

WITH_DB = (
    'ln -sf "$(command -v sleep)" "$HOME/postgres"; "$HOME/postgres" 1000 & '
    f'exec "{sys.executable}" "{PODAPP}"'
)


def db_container() -> dict:
    return app_container(command=["sh", "-c", WITH_DB])


def proc_state(pid: int) -> str | None:
    info = read_proc(pid)
    return info.state if info else None


def container(sandbox: Sandbox, ns: str, pod: str) -> dict:
    p = sandbox.faults.pod(pod, ns)
    assert p is not None, f"{pod} not on the node"
    return p["containers"][0]


def restart_count(kube: Kube, ns: str, pod: str) -> int:
    return int(kube.get(PODS, ns, pod)["status"]["containerStatuses"][0]["restartCount"])


def test_faults(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(STATEFULSETS, ns, statefulset("f", 1, container=db_container()))
    eventually(lambda: pod_ready(kube.get(PODS, ns, "f-0")), what="f-0 ready")
    faults = sandbox.faults
    faults.namespace = ns
    c = eventually(
        lambda: len((c := container(sandbox, ns, "f-0"))["pids"]) >= 2 and c,
        what="app + postgres running",
    )
    main = c["mainPid"]

    # kill-database: only the postmaster dies; the container keeps running
    killed = faults.kill_database("f-0")["pids"]
    assert killed and main not in killed
    eventually(lambda: all(proc_state(p) in (None, "Z") for p in killed), what="db dead")
    assert container(sandbox, ns, "f-0")["mainPid"] == main
    assert restart_count(kube, ns, "f-0") == 0

    # freeze: every process stopped, readiness fails; thaw: back
    frozen = faults.freeze("f-0")["pids"]
    assert main in frozen
    eventually(lambda: all(proc_state(p) == "T" for p in frozen), what="all stopped")
    eventually(lambda: not pod_ready(kube.get(PODS, ns, "f-0")), what="frozen -> unready")
    faults.thaw("f-0")
    eventually(lambda: proc_state(main) in ("S", "R"), what="thawed")
    eventually(lambda: pod_ready(kube.get(PODS, ns, "f-0")), what="thawed -> ready")

    # freeze-agent: only the container's main process
    assert faults.freeze_agent("f-0", container="app")["pids"] == [main]
    eventually(lambda: proc_state(main) == "T", what="agent stopped")
    faults.thaw("f-0")

    # port blocking needs iptables + root: done, or a clear 501
    try:
        faults.block_port("f-0", 8080)
        faults.unblock_port("f-0", 8080)
    except FaultError as e:
        assert e.status == 501

    # kill-processes: the kubelet restarts the container
    faults.kill_processes("f-0")
    eventually(lambda: restart_count(kube, ns, "f-0") >= 1, what="restart after kill")
    eventually(lambda: pod_ready(kube.get(PODS, ns, "f-0")), what="ready after kill")
    assert container(sandbox, ns, "f-0")["mainPid"] != main

    # the CLI does the same from another process
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "zenith_operator",
            "sandbox",
            "fault",
            "kill-container",
            "f-0",
            "-c",
            "app",
            "-n",
            ns,
            "--state-dir",
            str(sandbox.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=sandbox.env(),
    )
    assert out.returncode == 0, out.stderr
    eventually(lambda: restart_count(kube, ns, "f-0") >= 2, what="restart after CLI kill")

    uid = kube.get(PODS, ns, "f-0")["metadata"]["uid"]
    faults.delete_pod("f-0", namespace=ns)
    eventually(
        lambda: (p := kube.get(PODS, ns, "f-0")) and p["metadata"]["uid"] != uid and pod_ready(p),
        what="deleted pod recreated",
    )
    with pytest.raises(FaultError) as err:
        faults.kill_database("no-such-pod")
    assert err.value.status == 404


def test_runtime_shutdown_leaves_no_processes(apiserver: ApiServer, tmp_path: Path) -> None:
    kc = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    sb = start_sandbox(tmp_path / "sb", operator=False, kubeconfig=kc, install_crds=False)
    try:
        kube = Kube(sb.api)
        kube.create(
            STATEFULSETS,
            "default",
            statefulset("s", 2, container=db_container(), podManagementPolicy="Parallel"),
        )
        # a container process mapping a POSIX shm file, as PostgreSQL does: when the
        # runtime SIGKILLs it, the file must not be left in /dev/shm
        shm = Path("/dev/shm") / f"zenith-test-{os.getpid()}-{tmp_path.name}"
        mapper = (
            "import mmap, sys, time; f = open(sys.argv[1], 'w+b'); f.truncate(4096); "
            "m = mmap.mmap(f.fileno(), 4096); time.sleep(1000)"
        )
        shm_pod = app_container(
            command=[
                "sh",
                "-c",
                f'"{sys.executable}" -c "{mapper}" {shm} & exec "{sys.executable}" "{PODAPP}"',
            ]
        )
        kube.create(STATEFULSETS, "default", statefulset("m", 1, container=shm_pod))
        eventually(
            lambda: all(pod_ready(kube.get(PODS, "default", n)) for n in ("s-0", "s-1", "m-0")),
            what="3 ready",
        )
        eventually(shm.exists, what="shm file mapped")
        pids = {
            pid: read_proc(pid)
            for p in sb.faults.pods()
            for c in p["containers"]
            for pid in c["pids"]
        }
        assert len(pids) >= 6
    finally:
        sb.stop()
    for pid, info in pids.items():
        now = read_proc(pid)
        assert now is None or info is None or now.start != info.start, f"pid {pid} survived"
    assert not (sb.state_dir / "runtime.json").exists()
    assert not shm.exists()


def test_pods_do_not_outlive_a_killed_runtime(apiserver: ApiServer, tmp_path: Path) -> None:
    kc = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    with start_sandbox(tmp_path / "sb", operator=False, kubeconfig=kc, install_crds=False) as sb:
        kube = Kube(sb.api)
        kube.create(STATEFULSETS, "default", statefulset("k", 1, container=db_container()))
        eventually(lambda: pod_ready(kube.get(PODS, "default", "k-0")), what="ready")
        c = eventually(
            lambda: len((c := container(sb, "default", "k-0"))["pids"]) >= 2 and c,
            what="app + postgres",
        )
        os.kill(sb.procs["runtime"].pid, 9)
        # the container's main process dies with the runtime (PR_SET_PDEATHSIG) ...
        eventually(lambda: proc_state(c["mainPid"]) in (None, "Z"), what="main process gone")
    # ... and `stop` (sandbox down) kills what a dead runtime left (the orphaned child)
    assert all(proc_state(p) in (None, "Z") for p in c["pids"])


def test_runtime_restart_restarts_containers_in_place(apiserver: ApiServer, tmp_path: Path) -> None:
    kc = apiserver.write_kubeconfig(tmp_path / "kubeconfig")
    with start_sandbox(tmp_path / "sb", operator=False, kubeconfig=kc, install_crds=False) as sb:
        kube = Kube(sb.api)
        kube.create(STATEFULSETS, "default", statefulset("r", 1))
        before = eventually(
            lambda: pod_ready(p := kube.get(PODS, "default", "r-0")) and p, what="ready"
        )
        sb.restart_runtime()

        def restarted() -> dict | None:
            p = kube.get(PODS, "default", "r-0")
            cs = p["status"]["containerStatuses"][0]
            return p if pod_ready(p) and cs["restartCount"] >= 1 else None

        after = eventually(restarted, what="container restarted by the new runtime")
        assert after["metadata"]["uid"] == before["metadata"]["uid"]  # same pod object
        assert after["status"]["podIP"] == before["status"]["podIP"]  # IP kept while it lives
        events = kube.request("GET", "/api/v1/namespaces/default/events")["items"]
        assert {"Started"} <= {e["reason"] for e in events if e["involvedObject"]["name"] == "r-0"}


def test_node_down_and_up(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    kube.create(STATEFULSETS, ns, statefulset("n", 1))
    eventually(lambda: pod_ready(kube.get(PODS, ns, "n-0")), what="ready")
    faults = sandbox.faults
    faults.namespace = ns
    main = container(sandbox, ns, "n-0")["mainPid"]
    faults.node_down("n-0", not_ready_after=1.0)
    eventually(lambda: proc_state(main) == "T", what="processes frozen")

    def not_ready() -> bool:
        conds = kube.get(PODS, ns, "n-0")["status"]["conditions"]
        return any(c["type"] == "Ready" and c.get("reason") == "NodeNotReady" for c in conds)

    eventually(not_ready, what="node controller marks the pod not Ready")
    kube.delete(PODS, ns, "n-0")  # a dead node does not finish the delete...
    assert kube.get(PODS, ns, "n-0")["metadata"].get("deletionTimestamp")
    assert proc_state(main) == "T"
    uid = kube.get(PODS, ns, "n-0")["metadata"]["uid"]
    up = subprocess.run(  # ... until it is back (rebooted); here through the CLI
        [
            sys.executable,
            "-m",
            "zenith_operator",
            "sandbox",
            "fault",
            "node-up",
            "n-0",
            "-n",
            ns,
            "--state-dir",
            str(sandbox.state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env=sandbox.env(),
    )
    assert up.returncode == 0, up.stderr
    eventually(
        lambda: (p := kube.get(PODS, ns, "n-0")) and p["metadata"]["uid"] != uid and pod_ready(p),
        what="pod replaced after the node came back",
    )
    assert proc_state(main) in (None, "Z")


@pytest.mark.skipif(os.geteuid() != 0, reason="port blocking needs root and iptables")
def test_port_block_is_lifted_when_the_pod_goes(sandbox: Sandbox, kube: Kube, ns: str) -> None:
    """A pod IP is reused by later pods: a block on it must not outlive its pod."""
    kube.create(STATEFULSETS, ns, statefulset("b", 1, container=db_container()))
    eventually(lambda: pod_ready(kube.get(PODS, ns, "b-0")), what="b-0 ready")
    faults = sandbox.faults
    faults.namespace = ns
    ip = kube.get(PODS, ns, "b-0")["status"]["podIP"]
    faults.block_port("b-0", 8080)

    def rules() -> str:
        return subprocess.run(["iptables", "-S", "INPUT"], capture_output=True, text=True).stdout

    assert f"{ip}/32" in rules()
    uid = kube.get(PODS, ns, "b-0")["metadata"]["uid"]
    kube.delete(STATEFULSETS, ns, "b")
    kube.delete(PODS, ns, "b-0", 0)
    eventually(lambda: (kube.get(PODS, ns, "b-0") or {}).get("metadata", {}).get("uid") != uid,
               what="b-0 gone")  # fmt: skip
    eventually(lambda: f"{ip}/32 -p tcp -m tcp --dport 8080" not in rules(), what="rule lifted")
