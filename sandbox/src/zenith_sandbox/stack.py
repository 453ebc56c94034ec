"""The sandbox's processes: `start_sandbox` for tests, the demo and `zenith-operator sandbox`.

`start_sandbox` (the CLI's `up`) starts three background processes, each in its own
session, with logs and pids in the state directory (default `.sandbox`):

    apiserver  `zenith-operator apiserver` (the emulator) with our CRD installed
    runtime    `zenith-operator runtime`   (StatefulSet controller + kubelet on 127.0.0.N)
    operator   `zenith-operator run --namespace default --standalone`

and writes `<state>/kubeconfig` and `<state>/state.json`. `Sandbox.stop` (the CLI's
`down`) stops them (operator, runtime -- which stops every pod's processes -- then the
API) and cleans up.

From Python (tests, the demo):

    with start_sandbox(tmp_path) as sb:
        sb.api            # kubernetes.client.ApiClient for the sandbox API
        sb.kubeconfig     # Path
        sb.faults         # faults.Faults
        sb.restart_operator()
        sb.pause_api(); sb.resume_api()   # SIGSTOP / SIGCONT the emulator
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from zenith_sandbox.faults import Faults, control_url
from zenith_sandbox.polling import wait_for

STATE_FILE = "state.json"
ORDER = ("apiserver", "runtime", "operator")  # start order; stop in reverse


def _zenith(*args: str) -> list[str]:
    return [sys.executable, "-m", "zenith_operator", *args]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_ticks(pid: int) -> int | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(raw.rpartition(")")[2].split()[19])


def _alive(pid: int, ticks: int | None) -> bool:
    now = _start_ticks(pid)
    if now is None:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z" and (ticks is None or now == ticks)


def _wait_for(what: str, check: Any, timeout: float, proc: Proc | None = None) -> Any:
    def exited() -> str | None:
        if proc is None or proc.alive():
            return None
        return f"{proc.name} exited (see {proc.log})"

    return wait_for(what, check, timeout, every=0.05, abort=exited)


@dataclass
class Proc:
    name: str
    argv: list[str]
    log: Path
    env: dict[str, str]
    pid: int = 0
    ticks: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=str(cwd),
                start_new_session=True,
            )
        self.pid = self.popen.pid
        self.ticks = _start_ticks(self.pid)

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return _alive(self.pid, self.ticks)

    def stop(self, timeout: float = 20.0) -> None:
        if not self.pid or not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            while self.alive():
                time.sleep(0.05)

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "ticks": self.ticks, "argv": self.argv, "log": str(self.log)}


@dataclass
class Sandbox:
    state_dir: Path
    kubeconfig: Path
    procs: dict[str, Proc] = field(default_factory=dict)
    namespace: str = "default"
    runtime_args: tuple[str, ...] = ()
    metrics_url: str | None = None  # the operator's /metrics (a new port at each start)
    _api: Any = None

    @property
    def api(self) -> Any:
        """A kubernetes.client.ApiClient for the sandbox's API server."""
        if self._api is None:
            from zenith_sandbox.runtime.main import api_client

            self._api = api_client(str(self.kubeconfig))
        return self._api

    @property
    def faults(self) -> Faults:
        return Faults(control_url(self.state_dir), self.kubeconfig, self.namespace)

    def env(self) -> dict[str, str]:
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def start_operator(self) -> None:
        metrics = f"127.0.0.1:{_free_port()}"
        self.metrics_url = f"http://{metrics}/metrics"
        proc = Proc(
            "operator",
            _zenith(
                "run",
                "--namespace",
                self.namespace,
                "--standalone",
                "--liveness",
                f"http://127.0.0.1:{_free_port()}/healthz",
                "--metrics",
                metrics,
            ),
            self.state_dir / "logs" / "operator.log",
            self.env(),
        )
        proc.start(self.state_dir)
        self.procs["operator"] = proc
        self.save()

    def start_runtime(self, timeout: float = 30.0) -> None:
        (self.state_dir / "runtime.json").unlink(missing_ok=True)
        argv = _zenith(
            "runtime",
            "--kubeconfig",
            str(self.kubeconfig),
            "--state-dir",
            str(self.state_dir),
            *self.runtime_args,
        )
        proc = Proc("runtime", argv, self.state_dir / "logs" / "runtime.log", self.env())
        proc.start(self.state_dir)
        self.procs["runtime"] = proc
        self.save()
        _wait_for(
            "the runtime's control API",
            lambda: (self.state_dir / "runtime.json").exists(),
            timeout,
            proc,
        )

    def restart_runtime(self, kill: bool = False) -> None:
        """Stop the node (SIGTERM: containers stopped, pod objects kept; kill=True:
        SIGKILL, a node crash) and start it again: the pods' containers restart."""
        from zenith_sandbox.runtime.processes import reap_leftovers

        proc = self.procs.get("runtime")
        if proc is not None and proc.alive():
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                _wait_for("runtime exit", lambda: not proc.alive(), 10.0)
                reap_leftovers(self.state_dir / "sessions.json")
            else:
                proc.stop(timeout=30.0)
        self.start_runtime()

    def restart_operator(self, kill: bool = True) -> None:
        """Kill (SIGKILL by default, as a crash) and start the operator again."""
        proc = self.procs.get("operator")
        if proc is not None and proc.alive():
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                _wait_for("operator exit", lambda: not proc.alive(), 10.0)
            else:
                proc.stop()
        self.start_operator()

    def pause_api(self) -> None:
        """SIGSTOP the API server (fault `api-pause`): connections are accepted by the
        kernel but nothing answers, as when the control plane hangs or is cut off."""
        self._signal_api(signal.SIGSTOP)

    def resume_api(self) -> None:
        self._signal_api(signal.SIGCONT)

    def _signal_api(self, sig: signal.Signals) -> None:
        proc = self.procs.get("apiserver")
        if proc is None or not proc.alive():
            raise RuntimeError("this sandbox does not run its own API server")
        os.killpg(proc.pid, sig)

    def save(self) -> None:
        state = {
            "kubeconfig": str(self.kubeconfig),
            "namespace": self.namespace,
            "runtime_args": list(self.runtime_args),
            "metrics_url": self.metrics_url,
            "procs": {n: p.to_json() for n, p in self.procs.items()},
        }
        (self.state_dir / STATE_FILE).write_text(json.dumps(state, indent=2))

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            n: {"pid": p.pid, "alive": p.alive(), "log": str(p.log)} for n, p in self.procs.items()
        }
        if self.metrics_url and "operator" in out:
            out["operator"]["metrics"] = self.metrics_url
        with contextlib.suppress(Exception):
            out["runtime"]["control"] = control_url(self.state_dir)
            out["pods"] = [
                {
                    "name": p["name"],
                    "ip": p["ip"],
                    "containers": {c["name"]: c["state"] for c in p["containers"]},
                }
                for p in self.faults.pods()
            ]
        return out

    def stop(self) -> None:
        from zenith_sandbox.runtime.processes import reap_leftovers

        for name in reversed(ORDER):
            proc = self.procs.get(name)
            if proc is not None:
                proc.stop(timeout=30.0 if name == "runtime" else 10.0)
            if name == "runtime":  # a runtime that crashed or hung left its pods running
                reap_leftovers(self.state_dir / "sessions.json")
        if self._api is not None:
            self._api.close()
            self._api = None
        with contextlib.suppress(OSError):
            (self.state_dir / STATE_FILE).unlink()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @classmethod
    def load(cls, state_dir: Path) -> Sandbox:
        state = json.loads((state_dir / STATE_FILE).read_text())
        sb = cls(
            state_dir,
            Path(state["kubeconfig"]),
            namespace=state["namespace"],
            runtime_args=tuple(state.get("runtime_args") or ()),
            metrics_url=state.get("metrics_url"),
        )
        for name, p in state["procs"].items():
            sb.procs[name] = Proc(name, p["argv"], Path(p["log"]), {}, p["pid"], p["ticks"])
        return sb


def _install_crds(sb: Sandbox) -> None:
    """Install the generated CRD through the API (for an external API server)."""
    import yaml

    from zenith_sandbox.runtime.kube import Kube, KubeError

    path = sb.state_dir / "crds.yaml"
    subprocess.run(_zenith("crds", "--write", str(path)), check=True)
    kube = Kube(sb.api)
    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            try:
                kube.request(
                    "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body=doc
                )
            except KubeError as e:
                if e.status != 409:
                    raise


def check_reachable_by_database_user(state: Path) -> None:
    """Fail early where PostgreSQL could not reach its data below `state`.

    Run as root, the agent starts PostgreSQL as the unprivileged `postgres` user, which
    needs search permission on every directory above its data directory.
    """
    if os.geteuid() != 0:
        return
    for directory in (state, *state.parents):
        if not directory.stat().st_mode & 0o001:
            raise RuntimeError(
                f"{directory} is mode {directory.stat().st_mode & 0o777:o}: the database runs "
                f"as user postgres and could not reach {state}; choose a state directory "
                "outside it, e.g. --state-dir /tmp/zenith-sandbox"
            )


def start_sandbox(
    state_dir: Path | str = ".sandbox",
    *,
    operator: bool = True,
    kubeconfig: Path | None = None,
    namespace: str = "default",
    install_crds: bool = True,
    runtime_args: tuple[str, ...] = (),
    timeout: float = 30.0,
) -> Sandbox:
    """Start the sandbox (a context manager). With `kubeconfig`, use that API server
    (e.g. a test's emulator or a real cluster) instead of starting the emulator."""
    state = Path(state_dir).resolve()
    state.mkdir(parents=True, exist_ok=True)
    (state / "runtime.json").unlink(missing_ok=True)
    own_api = kubeconfig is None
    kc = state / "kubeconfig" if kubeconfig is None else Path(kubeconfig).resolve()
    sb = Sandbox(state, kc, namespace=namespace)
    try:
        if own_api:
            kc.unlink(missing_ok=True)
            crd = state / "crds.yaml"
            subprocess.run(_zenith("crds", "--write", str(crd)), check=True)
            api = Proc(
                "apiserver",
                _zenith("apiserver", "--port", "0", "--kubeconfig", str(kc), "--crd", str(crd)),
                state / "logs" / "apiserver.log",
                dict(os.environ),
            )
            api.start(state)
            sb.procs["apiserver"] = api
            sb.save()
            _wait_for("the API server's kubeconfig", kc.exists, timeout, api)
        elif install_crds:
            _install_crds(sb)
        sb.runtime_args = tuple(runtime_args)
        sb.start_runtime(timeout)
        if operator:
            sb.start_operator()
    except BaseException:
        sb.stop()
        raise
    return sb
