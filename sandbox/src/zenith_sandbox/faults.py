"""Faults on demand for the sandbox: a client of the runtime's control API.

The runtime (`zenith-operator runtime`) owns the pods' processes; it serves a small
HTTP control API on 127.0.0.1 and writes its address to `<state-dir>/runtime.json`.
`Faults` calls it (kill, freeze, port block) and the Kubernetes API (pod delete).

    faults = Faults.from_state_dir(Path(".sandbox"))
    faults.kill_database("pair-0")      # SIGKILL the postmaster
    faults.freeze("pair-1"); faults.thaw("pair-1")

CLI: `zenith-operator sandbox fault KIND POD [--container C] [--port P]`.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, cast

Obj = dict[str, Any]

KINDS = (
    "kill-processes",
    "kill-container",
    "kill-database",
    "freeze",
    "thaw",
    "freeze-agent",
    "node-down",
    "node-up",
    "block-port",
    "unblock-port",
    "delete-pod",
)


class FaultError(Exception):
    """The runtime refused or could not apply a fault (status: its HTTP status)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _runtime_state(state_dir: Path) -> Obj:
    path = state_dir / "runtime.json"
    try:
        state = json.loads(path.read_text())
        str(state["control"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise FaultError(503, f"no running runtime found ({path}): {e}") from e
    return cast(Obj, state)


def control_url(state_dir: Path) -> str:
    return str(_runtime_state(state_dir)["control"])


def runtime_kubeconfig(state_dir: Path) -> Path | None:
    """The kubeconfig the runtime was started with (`--kubeconfig`), if it recorded one."""
    recorded = _runtime_state(state_dir).get("kubeconfig")
    return Path(recorded) if recorded else None


class Faults:
    def __init__(
        self,
        control: str,
        kubeconfig: Path | None = None,
        namespace: str = "default",
        timeout: float = 10.0,
    ) -> None:
        self.control = control.rstrip("/")
        self.kubeconfig = kubeconfig
        self.namespace = namespace
        self.timeout = timeout

    @classmethod
    def from_state_dir(
        cls, state_dir: Path, kubeconfig: Path | None = None, namespace: str = "default"
    ) -> Faults:
        """Kubeconfig: `kubeconfig`, else the sandbox's own `<state-dir>/kubeconfig`, else the
        runtime's `--kubeconfig` from runtime.json, else $KUBECONFIG / ~/.kube/config."""
        if kubeconfig is None and (state_dir / "kubeconfig").exists():
            kubeconfig = state_dir / "kubeconfig"
        if kubeconfig is None:
            kubeconfig = runtime_kubeconfig(state_dir)
        return cls(control_url(state_dir), kubeconfig, namespace)

    # -- transport -----------------------------------------------------------------
    def _call(self, method: str, path: str, body: Obj | None = None) -> Obj:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.control + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                out: Obj = json.loads(resp.read() or b"{}")
                return out
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("error", str(e))
            except ValueError:
                message = str(e)
            raise FaultError(e.code, message) from None
        except (urllib.error.URLError, OSError) as e:
            raise FaultError(503, f"runtime control API unreachable: {e}") from None

    def apply(
        self,
        kind: str,
        pod: str,
        container: str | None = None,
        port: int | None = None,
        namespace: str | None = None,
    ) -> Obj:
        body: Obj = {"kind": kind, "pod": pod, "namespace": namespace or self.namespace}
        if container:
            body["container"] = container
        if port is not None:
            body["port"] = port
        return self._call("POST", "/v1/faults", body)

    # -- faults --------------------------------------------------------------------
    def pods(self) -> list[Obj]:
        pods: list[Obj] = self._call("GET", "/v1/pods")["pods"]
        return pods

    def pod(self, name: str, namespace: str | None = None) -> Obj | None:
        ns = namespace or self.namespace
        return next(
            (
                p
                for p in self.pods()
                if p["name"] == name and p["namespace"] == ns and not p["stopping"]
            ),
            None,
        )

    def kill_processes(self, pod: str) -> Obj:
        """SIGKILL every process of the pod, as a crash would; the kubelet restarts them."""
        return self.apply("kill-processes", pod)

    def kill_container(self, pod: str, container: str) -> Obj:
        return self.apply("kill-container", pod, container)

    def kill_database(self, pod: str) -> Obj:
        """SIGKILL the pod's PostgreSQL postmaster (the agent sees its database die)."""
        return self.apply("kill-database", pod)

    def freeze(self, pod: str, container: str | None = None) -> Obj:
        """SIGSTOP all processes of the pod (or one container): alive but unresponsive."""
        return self.apply("freeze", pod, container)

    def thaw(self, pod: str, container: str | None = None) -> Obj:
        return self.apply("thaw", pod, container)

    def freeze_agent(self, pod: str, container: str = "zenith-ha") -> Obj:
        """SIGSTOP only the container's main process (the agent); the database runs on."""
        return self.apply("freeze-agent", pod, container)

    def node_down(self, pod: str, not_ready_after: float = 40.0) -> Obj:
        """The pod's node dies: processes frozen (peers time out, nothing answers), its
        kubelet stopped (no probes, restarts, status or deletes); the pod is marked not
        Ready after `not_ready_after` s, as the node controller does (40 s default)."""
        return self._call(
            "POST",
            "/v1/faults",
            {
                "kind": "node-down",
                "pod": pod,
                "namespace": self.namespace,
                "notReadyAfter": not_ready_after,
            },
        )

    def node_up(self, pod: str, reboot: bool = True) -> Obj:
        """The node comes back: rebooted (processes killed, containers restart) or, with
        reboot=False, the partition heals and the processes resume."""
        return self._call(
            "POST",
            "/v1/faults",
            {"kind": "node-up", "pod": pod, "namespace": self.namespace, "reboot": reboot},
        )

    def block_port(self, pod: str, port: int) -> Obj:
        """Drop TCP to podIP:port (iptables; FaultError 501 where unsupported)."""
        return self.apply("block-port", pod, port=port)

    def unblock_port(self, pod: str, port: int) -> Obj:
        return self.apply("unblock-port", pod, port=port)

    def delete_pod(
        self, pod: str, grace_seconds: int | None = None, namespace: str | None = None
    ) -> Obj:
        """Delete the pod object through the Kubernetes API (graceful unless 0)."""
        from zenith_sandbox.runtime.kube import PODS, Kube
        from zenith_sandbox.runtime.main import api_client

        kube = Kube(api_client(str(self.kubeconfig) if self.kubeconfig else None))
        try:
            ok = kube.delete(PODS, namespace or self.namespace, pod, grace_seconds)
        finally:
            kube.api.close()  # type: ignore[no-untyped-call]
        if not ok:
            raise FaultError(404, f"pod {pod} not found")
        return {"ok": True, "kind": "delete-pod", "pids": []}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="zenith-operator sandbox fault", description="inject a fault into a sandbox pod"
    )
    p.add_argument("kind", choices=KINDS)
    p.add_argument("pod")
    p.add_argument("--namespace", "-n", default="default")
    p.add_argument("--container", "-c")
    p.add_argument("--port", type=int)
    p.add_argument("--grace", type=int, help="delete-pod: gracePeriodSeconds")
    p.add_argument(
        "--not-ready-after",
        type=float,
        default=40.0,
        help="node-down: seconds until the pod is marked not Ready",
    )
    p.add_argument(
        "--no-reboot",
        action="store_true",
        help="node-up: resume the processes instead of restarting them",
    )
    p.add_argument("--state-dir", default=".sandbox")
    p.add_argument(
        "--kubeconfig",
        type=Path,
        help="API server of delete-pod (default: the sandbox's, else the runtime's --kubeconfig)",
    )
    args = p.parse_args(argv)
    try:
        faults = Faults.from_state_dir(
            Path(args.state_dir), kubeconfig=args.kubeconfig, namespace=args.namespace
        )
        if args.kind == "delete-pod":
            result = faults.delete_pod(args.pod, args.grace)
        elif args.kind == "node-down":
            result = faults.node_down(args.pod, args.not_ready_after)
        elif args.kind == "node-up":
            result = faults.node_up(args.pod, reboot=not args.no_reboot)
        else:
            if args.kind in ("block-port", "unblock-port") and args.port is None:
                p.error(f"{args.kind} needs --port")
            result = faults.apply(args.kind, args.pod, args.container, args.port)
    except FaultError as e:
        print(f"fault {args.kind} {args.pod}: {e}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0
