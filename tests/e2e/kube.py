"""kubectl wrapper, Eventually-style waiting and ZenithCluster observation for the e2e suite.

Everything goes through the kubectl binary against the kind cluster's own kubeconfig
(never the user's default context), i.e. through the same surfaces a user has.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from zenith_operator import naming
from zenith_sandbox import polling

from . import timeouts

T = TypeVar("T")

ZC = f"{naming.PLURAL}.{naming.GROUP}"  # kubectl resource name of ZenithCluster


class KubectlError(subprocess.CalledProcessError):
    """A kubectl command failed; str() carries the command and its stderr."""

    def __str__(self) -> str:
        cmd = " ".join(str(part) for part in self.cmd)
        err = (self.stderr or "").strip() or (self.output or "").strip()
        return f"`{cmd}` exited {self.returncode}: {err}"

    @property
    def not_found(self) -> bool:
        return "NotFound" in (self.stderr or "") or "not found" in (self.stderr or "")


@dataclass(frozen=True)
class Kubectl:
    """`kubectl --kubeconfig K [-n NS] ARGS...`; call it like a function."""

    kubeconfig: Path
    binary: str = "kubectl"

    def argv(self, args: tuple[str, ...], namespace: str | None) -> list[str]:
        ns = ["--namespace", namespace] if namespace else []
        return [self.binary, "--kubeconfig", str(self.kubeconfig), *ns, *args]

    def __call__(
        self,
        *args: str,
        namespace: str | None = None,
        input: str | None = None,
        check: bool = True,
        timeout: float = timeouts.KUBECTL,
    ) -> subprocess.CompletedProcess[str]:
        cmd = self.argv(args, namespace)
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise KubectlError(proc.returncode, cmd, proc.stdout, proc.stderr)
        return proc

    def popen(self, *args: str, namespace: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(args, namespace),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def get(
        self,
        kind: str,
        name: str | None = None,
        *,
        namespace: str | None = None,
        selector: str | None = None,
    ) -> dict[str, Any]:
        args = ["get", kind, *([name] if name else []), "--output", "json"]
        if selector:
            args += ["--selector", selector]
        result: dict[str, Any] = json.loads(self(*args, namespace=namespace).stdout)
        return result

    def get_or_none(
        self, kind: str, name: str, *, namespace: str | None = None
    ) -> dict[str, Any] | None:
        try:
            return self.get(kind, name, namespace=namespace)
        except KubectlError as exc:
            if exc.not_found:
                return None
            raise

    def items(
        self, kind: str, *, namespace: str | None = None, selector: str | None = None
    ) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(kind, namespace=namespace, selector=selector)[
            "items"
        ]
        return items

    def apply(
        self,
        *objects: dict[str, Any],
        namespace: str | None = None,
        check: bool = True,
        dry_run: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """`kubectl apply -f -` of the objects (sent as one JSON List)."""
        doc = {"apiVersion": "v1", "kind": "List", "items": list(objects)}
        args = ["apply", "--filename", "-"] + (["--dry-run=server"] if dry_run else [])
        return self(*args, namespace=namespace, input=json.dumps(doc), check=check)

    def merge_patch(self, kind: str, name: str, patch: dict[str, Any], *, namespace: str) -> None:
        self(
            "patch",
            kind,
            name,
            "--type",
            "merge",
            "--patch",
            json.dumps(patch),
            namespace=namespace,
        )

    def exec(
        self,
        pod: str,
        *command: str,
        namespace: str,
        container: str = naming.CONTAINER_NAME,
        check: bool = True,
        timeout: float = timeouts.EXEC,
    ) -> subprocess.CompletedProcess[str]:
        return self(
            "exec",
            pod,
            "--container",
            container,
            "--",
            *command,
            namespace=namespace,
            check=check,
            timeout=timeout,
        )


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    what: str,
    interval: float = timeouts.POLL,
) -> T:
    """Poll until predicate() is truthy and return it (Gomega's Eventually).

    kubectl failures and subprocess timeouts inside the predicate count as "not yet";
    the last value or error is in the failure message (WaitTimeout).
    """
    return polling.wait_for(
        what,
        predicate,
        timeout,
        every=interval,
        ignore=(KubectlError, subprocess.TimeoutExpired, KeyError, IndexError),
    )


# --- ZenithCluster observation --------------------------------------------------------


def cluster(kube: Kubectl, ns: str, name: str) -> dict[str, Any]:
    return kube.get(ZC, name, namespace=ns)


def cluster_status(kube: Kubectl, ns: str, name: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster(kube, ns, name).get("status") or {}
    return status


def cluster_state(kube: Kubectl, ns: str, name: str) -> str | None:
    state: str | None = cluster_status(kube, ns, name).get("state")
    return state


def condition(status: dict[str, Any], type_: str) -> dict[str, Any] | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)


def wait_state(
    kube: Kubectl,
    ns: str,
    name: str,
    state: str,
    timeout: float,
    extra: Callable[[dict[str, Any]], bool] | None = None,
) -> dict[str, Any]:
    """Wait until status.state == state (and extra(status)); return the status."""

    def reached() -> dict[str, Any] | None:
        status = cluster_status(kube, ns, name)
        ok = status.get("state") == state and (extra is None or extra(status))
        return status if ok else None

    return wait_for(reached, timeout, f"ZenithCluster {ns}/{name} to be {state}")


def wait_normal(
    kube: Kubectl, ns: str, name: str, timeout: float = timeouts.CLUSTER_NORMAL, replicas: int = 2
) -> dict[str, Any]:
    """Normal with the roles settled: an active and (pair) a standby, both named."""

    def settled(status: dict[str, Any]) -> bool:
        if not status.get("activeInstance"):
            return False
        return replicas == 1 or bool(status.get("standbyInstance"))

    return wait_state(kube, ns, name, "Normal", timeout, settled)


def cluster_pods(kube: Kubectl, ns: str, name: str) -> list[dict[str, Any]]:
    return kube.items("pods", namespace=ns, selector=f"{naming.CLUSTER_LABEL}={name}")


def pods_with_role(kube: Kubectl, ns: str, name: str, role: str) -> list[str]:
    return [
        p["metadata"]["name"]
        for p in cluster_pods(kube, ns, name)
        if p["metadata"].get("labels", {}).get(naming.ROLE_LABEL) == role
        and not p["metadata"].get("deletionTimestamp")
    ]


def pod_uid(kube: Kubectl, ns: str, pod: str) -> str | None:
    obj = kube.get_or_none("pod", pod, namespace=ns)
    return None if obj is None else str(obj["metadata"]["uid"])


def pod_ready(pod: dict[str, Any]) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


# --- a watch on the status: every transition the operator writes ------------------------


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    state: str
    active: str
    standby: str
    replication_mode: str
    replication_degraded: bool

    def key(self) -> tuple[str, str, str, str, bool]:
        """Everything but the time: two snapshots with equal keys are one observation."""
        return (
            self.state,
            self.active,
            self.standby,
            self.replication_mode,
            self.replication_degraded,
        )


_WATCH_TEMPLATE = (
    "{.status.state}|{.status.activeInstance}|{.status.standbyInstance}"
    '|{.status.replicationMode}|{.status.replicationDegraded}{"\\n"}'
)


@dataclass
class StateWatcher:
    """`kubectl get zc NAME --watch`: records every status the API server hands out.

    The operator writes the status only on transitions, so a watch (unlike polling)
    sees short-lived states such as StandbyDown.
    """

    kube: Kubectl
    namespace: str
    name: str
    history: list[Snapshot] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _proc: subprocess.Popen[str] | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> StateWatcher:
        self._thread = threading.Thread(target=self._run, name=f"watch-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._proc = self.kube.popen(
                "get",
                ZC,
                self.name,
                "--watch",
                "--output",
                f"jsonpath={_WATCH_TEMPLATE}",
                namespace=self.namespace,
            )
            assert self._proc.stdout is not None
            for line in self._proc.stdout:
                self._record(line.rstrip("\n"))
            self._proc.wait()
            self._stop.wait(1.0)  # the watch ended (server timeout): start a new one

    def _record(self, line: str) -> None:
        parts = (line.split("|") + [""] * 5)[:5]
        snap = Snapshot(
            time.monotonic(), parts[0], parts[1], parts[2], parts[3], parts[4] == "true"
        )
        with self._lock:
            if not self.history or self.history[-1].key() != snap.key():
                self.history.append(snap)

    def snapshots(self) -> list[Snapshot]:
        with self._lock:
            return list(self.history)

    def states(self) -> list[str]:
        """Distinct consecutive states seen, e.g. ['Normal', 'StandbyDown', 'Normal']."""
        out: list[str] = []
        for snap in self.snapshots():
            if snap.state and (not out or out[-1] != snap.state):
                out.append(snap.state)
        return out

    def wait_seen(
        self, predicate: Callable[[Snapshot], bool], timeout: float, what: str, after: float = 0.0
    ) -> Snapshot:
        """Wait until a snapshot recorded at or after `after` matches; return it."""

        def seen() -> Snapshot | None:
            return next((s for s in self.snapshots() if s.at >= after and predicate(s)), None)

        return wait_for(seen, timeout, f"{what} (states seen: {self.states()})", interval=0.2)

    def __enter__(self) -> StateWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def watching(kube: Kubectl, ns: str, name: str) -> Iterator[StateWatcher]:
    watcher = StateWatcher(kube, ns, name).start()
    try:
        yield watcher
    finally:
        watcher.stop()
