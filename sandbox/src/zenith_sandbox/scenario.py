"""Drive a ZenithCluster in the sandbox: apply it, wait for states, inject a fault under a
client workload, and measure what happened.

Shared by `zenith-operator sandbox demo`, the end-to-end scenarios (tests/scenarios) and
the failover benchmark (bench/failover.py), so all three measure the same way.

Length: the cluster handle, the fault runs (a fault, an API pause) and the fault table
are one measuring method; keeping them together keeps the demo, the scenarios and the
benchmark measuring alike.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client

from zenith_operator import naming
from zenith_sandbox.faults import FaultError, Faults
from zenith_sandbox.polling import wait_for
from zenith_sandbox.workload import (
    DbCredentials,
    WritabilityChecker,
    Writer,
    active_pod_ip,
    missing_acknowledged,
)

Obj = dict[str, Any]
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def load_example(name: str, **zenith_spec: Any) -> Obj:
    """The ZenithCluster document of examples/NAME.yaml, with zenithSpec fields overridden."""
    docs = [d for d in yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text()) if d]
    cluster: Obj = copy.deepcopy(next(d for d in docs if d.get("kind") == naming.KIND))
    cluster["spec"].setdefault("zenithSpec", {}).update(zenith_spec)
    return cluster


def example_documents(name: str) -> list[Obj]:
    """Every document of examples/NAME.yaml except the ZenithCluster (ConfigMaps, Secrets)."""
    docs = [d for d in yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text()) if d]
    return [d for d in docs if d.get("kind") != naming.KIND]


class Cluster:
    """One ZenithCluster in a namespace, seen through the Kubernetes API."""

    def __init__(self, api: client.ApiClient, namespace: str, name: str) -> None:
        self.core = client.CoreV1Api(api)
        self.custom = client.CustomObjectsApi(api)
        self.namespace = namespace
        self.name = name

    # -- the resource -------------------------------------------------------------
    def create(self, body: Obj, extra: Iterable[Obj] = ()) -> None:
        for doc in extra:
            kind = doc["kind"]
            if kind == "ConfigMap":
                self.core.create_namespaced_config_map(self.namespace, doc)  # type: ignore[arg-type]
            elif kind == "Secret":
                self.core.create_namespaced_secret(self.namespace, doc)  # type: ignore[arg-type]
        body = copy.deepcopy(body)
        body["metadata"]["name"] = self.name
        self.custom.create_namespaced_custom_object(
            naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, body
        )

    def get(self) -> Obj | None:
        try:
            obj = self.custom.get_namespaced_custom_object(
                naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, self.name
            )
        except client.ApiException as e:
            if e.status == 404:
                return None
            raise
        return obj if isinstance(obj, dict) else None

    def patch_spec(self, zenith_spec: Obj) -> None:
        self.custom.patch_namespaced_custom_object(
            naming.GROUP,
            naming.VERSION,
            self.namespace,
            naming.PLURAL,
            self.name,
            {"spec": {"zenithSpec": zenith_spec}},
        )

    def annotate(self, key: str, value: str | None) -> None:
        """Set (or, with None, remove) an annotation of the ZenithCluster."""
        self.custom.patch_namespaced_custom_object(
            naming.GROUP,
            naming.VERSION,
            self.namespace,
            naming.PLURAL,
            self.name,
            {"metadata": {"annotations": {key: value}}},
        )

    def delete(self) -> None:
        self.custom.delete_namespaced_custom_object(
            naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, self.name
        )

    def status(self) -> Obj:
        obj = self.get() or {}
        status: Obj = obj.get("status") or {}
        return status

    def state(self) -> str | None:
        state: str | None = self.status().get("state")
        return state

    def wait_state(self, *states: str, timeout: float = 60.0) -> Obj:
        """Wait until the state is one of `states`; returns the status."""

        def reached() -> Obj | None:
            status = self.status()
            return status if status.get("state") in states else None

        result: Obj = wait_for(f"{self.name} in {'/'.join(states)}", reached, timeout)
        return result

    def wait_normal(self, timeout: float = 90.0, in_sync: bool = True) -> Obj:
        """Normal, and (for a pair) with its standby in sync."""

        def healthy() -> Obj | None:
            status = self.status()
            if status.get("state") != "Normal":
                return None
            if in_sync and status.get("standbyInstance"):
                synced = [i for i in status.get("instances", []) if i.get("inSync")]
                if status.get("replicationMode") != "sync" or not synced:
                    return None
            return status

        result: Obj = wait_for(f"{self.name} Normal", healthy, timeout)
        return result

    # -- pods and clients ----------------------------------------------------------
    def pod_ips(self) -> dict[str, str]:
        pods = self.core.list_namespaced_pod(
            self.namespace, label_selector=f"{naming.CLUSTER_LABEL}={self.name}"
        )
        ips: dict[str, str] = {}
        for pod in pods.items:
            meta, status = pod.metadata, pod.status
            if meta and meta.name and status and status.pod_ip and not meta.deletion_timestamp:
                ips[meta.name] = status.pod_ip
        return ips

    def credentials(self) -> DbCredentials:
        """Admin credentials from the cluster's database Secret (user's or generated)."""
        spec = (self.get() or {}).get("spec", {}).get("zenithSpec", {})
        names = spec.get("dbSecrets") or [naming.credentials_secret_name(self.name)]
        data: dict[str, str] = {}
        for secret_name in names:
            secret = self.core.read_namespaced_secret(secret_name, self.namespace)
            data.update({k: str(v) for k, v in (secret.data or {}).items()})

        def decode(key: str, default: str) -> str:
            return base64.b64decode(data[key]).decode() if key in data else default

        port = int((spec.get("ports") or {}).get("listen", naming.DEFAULT_LISTEN_PORT))
        return DbCredentials(
            user=decode("admin-user", "postgres"),
            password=decode("admin-password", ""),
            dbname="postgres",
            port=port,
        )

    def active_lookup(self) -> Callable[[], str | None]:
        return active_pod_ip(self.core, self.namespace, self.name)


@dataclass
class FaultRun:
    """What one fault did to a cluster under load. Times are seconds after the fault."""

    fault: str
    victim: str
    detected: float | None = None  # the operator left Normal
    promoted: float | None = None  # first acknowledged write on another instance
    recovered: float | None = None  # first write acknowledged after writes began failing
    normal: float | None = None  # back to Normal with the standby in sync
    new_active: str | None = None
    acked: int = 0
    lost: set[int] = field(default_factory=set)
    double_writable: int = 0
    samples: int = 0
    max_gap: float | None = None  # longest time without an acknowledged write after the fault
    states: list[tuple[float, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.lost and self.double_writable == 0 and self.normal is not None


def run_fault(
    cluster: Cluster,
    inject: Callable[[str], object],
    fault: str,
    *,
    victim_role: str = "active",
    warmup_acks: int = 20,
    timeout: float = 120.0,
    on_state: Callable[[float, str], None] | None = None,
) -> FaultRun:
    """Inject `fault` on the instance in `victim_role` under a writer and a checker, then
    wait for the cluster to be Normal again and check every acknowledged write."""
    creds = cluster.credentials()
    status = cluster.wait_normal()
    victim = status["activeInstance" if victim_role == "active" else "standbyInstance"]
    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    run = FaultRun(fault=fault, victim=victim)
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= warmup_acks, 30)
        old_ip = cluster.pod_ips()[victim]
        t0 = time.monotonic()
        inject(victim)
        last_state = "Normal"

        def watch() -> bool:
            nonlocal last_state
            now = time.monotonic() - t0
            state = cluster.state() or "?"
            if state != last_state:
                run.states.append((now, state))
                if on_state:
                    on_state(now, state)
                last_state = state
            if run.detected is None and state != "Normal":
                run.detected = now
            failed = writer.first_failure_after(t0)
            if run.recovered is None and failed is not None:
                ack = writer.first_ack_after(failed)
                if ack is not None:
                    run.recovered = ack.at - t0
            if run.promoted is None and victim_role == "active":
                moved = next((a for a in writer.acks if a.at > t0 and a.host != old_ip), None)
                if moved is not None:
                    run.promoted = moved.at - t0
            # a fault the agent repairs by itself (a crashed database restarted at once)
            # may never show the operator anything but Normal: writes that failed and
            # came back are the end of it then
            return state == "Normal" and (run.detected is not None or run.recovered is not None)

        wait_for(
            f"{cluster.name} to leave and return to Normal after {fault}", watch, timeout, 0.05
        )
        final = cluster.wait_normal(timeout=timeout)
        run.normal = time.monotonic() - t0
        run.new_active = final.get("activeInstance")
        # A few writes on the recovered cluster, so the check covers the whole story.
        count = len(writer.acks)
        wait_for("writes after recovery", lambda: len(writer.acks) >= count + 5, 30)
        run.max_gap = writer.longest_gap(t0)
    finally:
        writer.stop()
        checker.stop()
    return settle(run, cluster, writer, checker)


def run_api_pause(
    cluster: Cluster,
    pause: Callable[[], object],
    resume: Callable[[], object],
    seconds: float,
) -> FaultRun:
    """The Kubernetes API away for `seconds` while the pair is healthy, under a writer
    and a checker: nothing should change and no write should stop. `recovered` is set
    only if a write failed; `max_gap` is the longest gap during the pause."""
    creds = cluster.credentials()
    status = cluster.wait_normal()
    writer = Writer(cluster.active_lookup(), creds)
    checker = WritabilityChecker(lambda: list(cluster.pod_ips().values()), creds)
    writer.start()
    checker.start()
    run = FaultRun(fault="api-outage", victim=str(status["activeInstance"]))
    try:
        wait_for("the writer's first writes", lambda: len(writer.acks) >= 20, 30)
        t0 = time.monotonic()
        pause()
        try:
            time.sleep(seconds)  # the fault's length, not a wait for a condition
        finally:
            resume()
        t1 = time.monotonic()
        count = len(writer.acks)
        wait_for("writes after the outage", lambda: len(writer.acks) >= count + 5, 30)
        final = cluster.wait_normal(timeout=60)
        run.normal = time.monotonic() - t0
        run.new_active = final.get("activeInstance")
        run.max_gap = writer.longest_gap(t0, t1)
    finally:
        writer.stop()
        checker.stop()
    failed = writer.first_failure_after(t0)
    if failed is not None:
        ack = writer.first_ack_after(failed)
        run.recovered = (ack.at if ack else time.monotonic()) - t0
    return settle(run, cluster, writer, checker)


def settle(
    run: FaultRun, cluster: Cluster, writer: Writer, checker: WritabilityChecker
) -> FaultRun:
    """Record what the stopped writer and checker saw, and every acknowledged write that
    the active lacks."""
    run.acked = len(writer.acks)
    run.samples = checker.samples
    run.double_writable = len(checker.violations)
    active_ip = cluster.pod_ips()[run.new_active or run.victim]
    run.lost = missing_acknowledged(active_ip, cluster.credentials(), writer.acked_ids)
    return run


# -- faults ------------------------------------------------------------------------
@dataclass(frozen=True)
class FaultKind:
    name: str
    description: str
    network: bool = False  # needs iptables (root)
    victim: str = "active"  # the role of the instance the fault hits


HUNG_STANDBY_SECONDS = 15.0  # how long the hung-standby fault keeps the standby's node down
NODE_REBOOT_SECONDS = 15.0  # how long a crashed node stays away before it reboots


FAULT_KINDS = {
    f.name: f
    for f in (
        FaultKind("kill-database", "SIGKILL the instance's PostgreSQL postmaster"),
        FaultKind("kill-pod", "SIGKILL every process of the pod; the kubelet restarts them"),
        FaultKind("delete-pod", "delete the pod through the Kubernetes API"),
        FaultKind("freeze", "SIGSTOP every process of the pod: alive but unresponsive"),
        FaultKind(
            "cut-off",
            "drop TCP to the pod's agent port (iptables): alive, but unreachable",
            network=True,
        ),
        FaultKind(
            "node-crash",
            "the pod's node dies: its processes stop, its kubelet is gone (nothing reports "
            f"the pod) and its agent is cut off; it reboots {NODE_REBOOT_SECONDS:.0f} s later",
            network=True,
        ),
        FaultKind(
            "hung-standby",
            f"the standby's node hangs for {HUNG_STANDBY_SECONDS:.0f} s (processes frozen, "
            "kubelet gone): the active's commits wait for it until it is counted down",
            victim="standby",
        ),
    )
}


def network_faults_available() -> bool:
    return os.geteuid() == 0 and shutil.which("iptables") is not None


def fault_injector(faults: Faults, kind: str) -> Callable[[str], object]:
    """The function that injects fault `kind` into a pod, by name."""

    def cut_off(pod: str) -> object:
        return faults.block_port(pod, naming.DEFAULT_AGENT_PORT)

    def node_crash(pod: str) -> object:
        cut_off(pod)
        result = faults.node_down(pod)

        def reboot() -> None:
            with contextlib.suppress(FaultError):  # the pod may be gone by now
                faults.node_up(pod)  # processes killed, containers restarted
                faults.unblock_port(pod, naming.DEFAULT_AGENT_PORT)

        timer = threading.Timer(NODE_REBOOT_SECONDS, reboot)
        timer.daemon = True
        timer.start()
        return result

    def hung_node(pod: str) -> object:
        result = faults.node_down(pod)
        timer = threading.Timer(HUNG_STANDBY_SECONDS, lambda: faults.node_up(pod))
        timer.daemon = True
        timer.start()
        return result

    table: dict[str, Callable[[str], object]] = {
        "kill-database": faults.kill_database,
        "kill-pod": faults.kill_processes,
        "delete-pod": faults.delete_pod,
        "freeze": faults.freeze,
        "cut-off": cut_off,
        "node-crash": node_crash,
        "hung-standby": hung_node,
    }
    return table[kind]


def fresh_state_dir(prefix: str) -> Path:
    """A new sandbox state directory the unprivileged database user can traverse.

    PostgreSQL refuses to run as root, so the agent runs it as `postgres`, which must be
    able to reach the data directories below the state directory; home directories and
    pytest's temporary directories are often mode 0700.
    """
    path = Path(tempfile.mkdtemp(prefix=f"zenith-{prefix}-"))
    path.chmod(0o755)
    return path
