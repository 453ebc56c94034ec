"""SQL against the database pods, an acknowledged-writes recorder and a split-brain monitor.

In-pod SQL runs psql inside container zenith-ha over TCP to the pod's own address with
the admin credentials from the projected secrets (docs/dev/contracts.md: POD_IP,
ZENITH_LISTEN_PORT, /etc/zenith/secrets/admin-user|admin-password). The writer runs in
its own pod and goes through the NAME-rw Service, as an application would.
"""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from zenith_operator import naming

from . import manifests, timeouts
from .kube import Kubectl, KubectlError, cluster_pods, pod_ready, wait_for

_IN_POD_PSQL = (
    'PGPASSWORD="$(cat {secrets}/admin-password)" exec timeout {timeout} psql '
    '"host=$POD_IP port=$ZENITH_LISTEN_PORT user=$(cat {secrets}/admin-user) '
    'dbname={db} connect_timeout=3 application_name=zenith-e2e" '
    '-v ON_ERROR_STOP=1 -qAtX -c "$1"'
)


def psql(
    kube: Kubectl,
    ns: str,
    pod: str,
    statement: str,
    *,
    db: str = manifests.DATABASE,
    check: bool = True,
) -> str:
    """Run one statement in `pod`'s database; return psql's unaligned output (stripped)."""
    script = _IN_POD_PSQL.format(
        secrets=f"{naming.CONFIG_DIR}/secrets", timeout=timeouts.SQL, db=db
    )
    proc = kube.exec(pod, "sh", "-c", script, "psql", statement, namespace=ns, check=check)
    return proc.stdout.strip()


def is_writable(kube: Kubectl, ns: str, pod: str) -> bool | None:
    """True: accepts writes (not in recovery); False: read-only; None: no answer."""
    try:
        out = psql(kube, ns, pod, "SELECT pg_is_in_recovery()", check=True)
    except (KubectlError, OSError):
        return None
    except Exception:  # subprocess.TimeoutExpired and friends: no answer
        return None
    return {"f": True, "t": False}.get(out)


def setting(kube: Kubectl, ns: str, pod: str, name: str) -> str:
    return psql(kube, ns, pod, f"SHOW {name}")


def postmaster_start(kube: Kubectl, ns: str, pod: str) -> float:
    """Epoch seconds when the pod's postmaster started."""
    return float(psql(kube, ns, pod, "SELECT extract(epoch FROM pg_postmaster_start_time())"))


def db_now(kube: Kubectl, ns: str, pod: str) -> float:
    return float(psql(kube, ns, pod, "SELECT extract(epoch FROM clock_timestamp())"))


def kill_postmaster(kube: Kubectl, ns: str, pod: str) -> None:
    """kill -9 the database's postmaster (found by its postmaster.pid under the data dir)."""
    script = (
        'pidfile=$(find "$ZENITH_DATA_DIR" -maxdepth 3 -name postmaster.pid | head -n 1); '
        '[ -n "$pidfile" ] || { echo "no postmaster.pid under $ZENITH_DATA_DIR" >&2; exit 1; }; '
        'kill -9 "$(head -n 1 "$pidfile")"'
    )
    kube.exec(pod, "sh", "-c", script, namespace=ns)


def create_marker(kube: Kubectl, ns: str, pod: str, value: str) -> None:
    """A row that must survive whatever the scenario does."""
    psql(kube, ns, pod, "CREATE TABLE IF NOT EXISTS e2e_marker (v text PRIMARY KEY)")
    psql(kube, ns, pod, f"INSERT INTO e2e_marker (v) VALUES ('{value}')")


def has_marker(kube: Kubectl, ns: str, pod: str, value: str) -> bool:
    return psql(kube, ns, pod, f"SELECT count(*) FROM e2e_marker WHERE v = '{value}'") == "1"


# --- acknowledged writes -----------------------------------------------------------


_ACK = re.compile(r"^ack (\d+)$", re.MULTILINE)


@dataclass
class Writer:
    """A pod inserting ids 1, 2, 3... through NAME-rw; its log lists the acknowledged ones."""

    kube: Kubectl
    namespace: str
    cluster: str
    image: str
    pod: str = ""

    def __post_init__(self) -> None:
        self.pod = self.pod or f"{self.cluster}-writer"

    def start(self) -> Writer:
        body = manifests.client_pod(
            self.pod, self.cluster, image=self.image, script=manifests.WRITER_SCRIPT
        )
        self.kube.apply(body, namespace=self.namespace)
        wait_for(
            lambda: "ready" in self.log().splitlines(),
            timeouts.CLIENT_POD_READY,
            f"writer pod {self.pod} to create its table",
        )
        return self

    def log(self) -> str:
        return self.kube("logs", self.pod, namespace=self.namespace).stdout

    def acked(self) -> list[int]:
        return [int(m) for m in _ACK.findall(self.log())]

    def wait_acks(self, more_than: int, timeout: float = timeouts.WRITES_RESUME) -> int:
        """Wait until more than `more_than` writes are acknowledged; return the count."""
        return wait_for(
            lambda: (n := len(self.acked())) > more_than and n,
            timeout,
            f"more than {more_than} acknowledged writes from {self.pod}",
        )

    def stop(self) -> list[int]:
        """Stop the loop, wait for the pod to finish; return every acknowledged id."""
        self.kube.exec(
            self.pod, "touch", manifests.STOP_FILE, namespace=self.namespace, container="client"
        )

        def finished() -> bool:
            pod = self.kube.get("pod", self.pod, namespace=self.namespace)
            return pod["status"].get("phase") in ("Succeeded", "Failed")

        wait_for(finished, timeouts.CLIENT_POD_READY, f"writer pod {self.pod} to finish")
        return self.acked()

    def check_no_loss(self, active_pod: str) -> list[int]:
        """Stop writing and assert every acknowledged id is in the active's table."""
        acked = self.stop()
        assert acked, f"writer {self.pod} got no write acknowledged:\n{self.log()[-2000:]}"
        present = {
            int(v)
            for v in psql(
                self.kube, self.namespace, active_pod, f"SELECT id FROM {manifests.WRITER_TABLE}"
            ).split()
        }
        lost = sorted(set(acked) - present)
        assert not lost, f"{len(lost)} acknowledged writes lost on {active_pod}: {lost[:50]}"
        return acked


# --- never two writable ------------------------------------------------------------


@dataclass
class SplitBrainMonitor:
    """Samples both instances every MONITOR_INTERVAL: at most one may accept writes and at
    most one pod may carry role=active. Violations are kept with the sample time."""

    kube: Kubectl
    namespace: str
    cluster: str
    violations: list[str] = field(default_factory=list)
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> SplitBrainMonitor:
        self._thread = threading.Thread(target=self._run, name="split-brain", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        pods = [naming.pod_name(self.cluster, i) for i in (0, 1)]
        with ThreadPoolExecutor(max_workers=3) as pool:
            while not self._stop.is_set():
                started = time.monotonic()
                writable = list(pool.map(lambda p: is_writable(self.kube, self.namespace, p), pods))
                try:
                    labelled = [
                        p["metadata"]["name"]
                        for p in cluster_pods(self.kube, self.namespace, self.cluster)
                        if p["metadata"].get("labels", {}).get(naming.ROLE_LABEL) == "active"
                        and pod_ready(p)
                    ]
                except Exception:  # a failed sample is no evidence either way
                    labelled = []
                self.samples += 1
                stamp = time.strftime("%H:%M:%S")
                if all(writable):
                    self.violations.append(f"{stamp}: both {pods} accept writes")
                if len(labelled) > 1:
                    self.violations.append(f"{stamp}: ready pods labelled active: {labelled}")
                self._stop.wait(max(0.0, timeouts.MONITOR_INTERVAL - (time.monotonic() - started)))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)

    def assert_clean(self) -> None:
        self.stop()
        assert self.samples > 0, "split-brain monitor took no sample"
        assert not self.violations, "two writable instances:\n" + "\n".join(self.violations)

    def __enter__(self) -> SplitBrainMonitor:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
