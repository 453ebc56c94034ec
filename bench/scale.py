"""Scale benchmark: `make bench-scale` (not part of CI).

The real operator process against the API emulator with N ZenithClusters and 2N agent
doubles (bench/agent_double.py: the wire protocol over HTTP on loopback). The bench
plays the kubelet (it creates the pods with their IPs); the emulator counts requests
(`/metrics`, apiserver_request_total by verb). Per N it measures, at steady state:
operator RSS and CPU share, API requests/s by verb, writes/min, p50/p99 poll jitter
(|time between two polls of one agent - pollingInterval|, seen by the doubles), and the
reaction time from a double reporting a crashed database to the operator's first
corrective call; with --blackhole, the same with that many clusters' agents black-holed
(they accept connections and never answer). Each figure is printed next to its goal.

    python bench/scale.py [--n 10,100,500] [--quick] [--window 60] [--blackhole 50]
                          [--ramp 50] [--restart]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zenith_operator import naming
from zenith_operator.controller.kube_transport import kubeconfig_login
from zenith_operator.controller.reconcile_kube import Kube, Ref

NS = "bench"
GV = f"{naming.GROUP}/{naming.VERSION}"
AGENT_PORT = 18008
GOAL_RSS_MB = 200.0
GOAL_CORES = 1.0
GOAL_API_RPS = 1.0
GOAL_WRITES = 0.0
GOAL_JITTER = 0.5
READS = ("GET", "LIST", "WATCH")
REPAIR_INTERVAL = 60.0  # the operator's default ZENITH_REPAIR_INTERVAL
HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    n: int
    load: str = ""
    rss_mb: float = 0.0
    cores: float = 0.0
    rps: dict[str, float] = field(default_factory=dict)
    writes_per_min: float = 0.0
    jitter: tuple[float, float] = (0.0, 0.0)
    reactions: list[float] = field(default_factory=list)
    startup: float = 0.0
    restart: tuple[float, int] | None = None  # (seconds to stop, actives fenced meanwhile)
    blackholed: int = 0


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait(what: str, check: Callable[[], Any], timeout: float, every: float = 0.5) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


def agent_ip(i: int) -> str:
    return f"127.77.{i // 250}.{i % 250 + 1}"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Bench:
    def __init__(self, n: int, interval: int, timeout: int, state: Path) -> None:
        self.n, self.interval, self.timeout, self.state = n, interval, timeout, state
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.clusters = [f"c{i:03d}" for i in range(n)]
        self.control = free_port()
        self.kube: Kube | None = None
        self.api_url = ""
        self.created_at = 0.0
        self.stop_took = 0.0  # seconds the operator took to exit on SIGTERM (--restart)

    # ------------------------------------------------------------------ processes
    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
        log = (self.state / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env or dict(os.environ)
        )

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()

    def start_api(self) -> None:
        kc, crd = self.state / "kubeconfig", self.state / "crds.yaml"
        py = sys.executable
        subprocess.run([py, "-m", "zenith_operator", "crds", "--write", str(crd)], check=True)
        argv = [py, "-m", "zenith_operator", "apiserver", "--port", "0"]
        self.spawn("apiserver", [*argv, "--kubeconfig", str(kc), "--crd", str(crd)])
        wait("the emulator", kc.exists, 30)
        self.kube = Kube.from_kubeconfig(kc)
        self.api_url = kubeconfig_login(kc).server
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}
        self.kube.request("POST", "/api/v1/namespaces", namespace)

    def start_doubles(self) -> None:
        hosts = self.state / "hosts"
        lines = []
        for i, c in enumerate(self.clusters):
            for j in (0, 1):
                lines.append(f"{c} {naming.pod_name(c, j)} {agent_ip(2 * i + j)}")
        hosts.write_text("\n".join(lines) + "\n")
        argv = [sys.executable, str(HERE / "agent_double.py"), "--hosts-file", str(hosts)]
        self.spawn("doubles", [*argv, "--port", str(AGENT_PORT), "--control-port",
                               str(self.control)])  # fmt: skip
        log = self.state / "doubles.log"
        wait("the agent doubles", lambda: "doubles ready" in log.read_text(), 120)

    def restart_operator(self) -> None:
        """Stop the operator (as a Deployment rollout does) and start a new one."""
        proc = self.procs.pop("operator")
        (self.state / "operator.log").rename(self.state / "operator-before-restart.log")
        stopping = time.monotonic()
        proc.terminate()
        proc.wait(30)
        self.stop_took = time.monotonic() - stopping
        self.start_operator()

    def all_polled_since(self, since: float) -> bool:
        """Every agent double polled at or after `since` (wall clock): every loop runs."""
        stats = self.doubles("/stats")
        return all(any(t >= since for t in info["polls"]) for info in stats.values())

    def promotes_since(self, since: float) -> int:
        """Promotes sent at or after `since`: after a restart, each is an active whose
        lease ran out while no operator renewed it (its writes stopped meanwhile)."""
        stats = self.doubles("/stats")
        return sum(1 for info in stats.values() for t, kind in info["commands"]
                   if t >= since and kind == "promote")  # fmt: skip

    def start_operator(self) -> None:
        env = {**os.environ, "KUBECONFIG": str(self.state / "kubeconfig")}
        argv = [sys.executable, "-m", "zenith_operator", "run", "--namespace", NS,
                "--standalone", "--liveness", "none"]  # fmt: skip
        self.spawn("operator", argv, env)

    # ------------------------------------------------------------------ objects
    def create_objects(self, clusters: list[str] | None = None) -> None:
        kube = self.kube
        assert kube is not None
        chosen = self.clusters if clusters is None else clusters
        index = {c: i for i, c in enumerate(self.clusters)}

        def cluster(c: str) -> None:
            spec = {"replicas": 2, "pollingInterval": self.interval,
                    "unreachableTimeout": self.timeout, "ports": {"agent": AGENT_PORT}}  # fmt: skip
            kube.create({"apiVersion": GV, "kind": naming.KIND,
                         "metadata": {"name": c, "namespace": NS},
                         "spec": {"zenithSpec": spec}})  # fmt: skip

        def pod(args: tuple[int, str, int]) -> None:
            i, c, j = args
            name = naming.pod_name(c, j)
            labels = {**naming.selector_labels(c), naming.CLUSTER_LABEL: c}
            kube.create({"apiVersion": "v1", "kind": "Pod",
                         "metadata": {"name": name, "namespace": NS, "labels": labels},
                         "spec": {"containers": [{"name": naming.CONTAINER_NAME,
                                                  "image": "bench-double"}]}})  # fmt: skip
            ready = [{"type": "Ready", "status": "True"}]
            status = {"podIP": agent_ip(2 * i + j), "phase": "Running", "conditions": ready}
            kube.patch(Ref("v1", "Pod", name, NS), {"status": status}, subresource="status")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(cluster, chosen))
            list(pool.map(pod, [(index[c], c, j) for c in chosen for j in (0, 1)]))
        self.created_at = time.monotonic()

    def normal_count(self) -> int:
        assert self.kube is not None
        items = self.kube.request("GET", f"/apis/{GV}/namespaces/{NS}/zenithclusters")["items"]
        return sum(1 for o in items if (o.get("status") or {}).get("state") == "Normal")

    # ------------------------------------------------------------------ measures
    def metrics(self) -> dict[str, float]:
        with urllib.request.urlopen(f"{self.api_url}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line.startswith("apiserver_request_total{"):
                labels, value = line.rsplit(" ", 1)
                verb = labels.split('verb="')[1].split('"')[0]
                out[verb] = out.get(verb, 0.0) + float(value)
        return out

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.procs['operator'].pid}/stat").read_text().rpartition(")")[2]
        utime, stime = fields.split()[11:13]
        return (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.procs['operator'].pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def doubles(self, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.control}{path}", data=data,
                                     method="POST" if data else "GET")  # fmt: skip
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())

    def jitter(self, since: float, until: float, skip: set[str]) -> list[float]:
        out = []
        for info in self.doubles("/stats").values():
            if info["cluster"] in skip:
                continue
            polls = [t for t in info["polls"] if since <= t <= until]
            out += [abs(b - a - self.interval) for a, b in itertools.pairwise(polls)]
        return out

    def reactions(self, clusters: list[str]) -> list[float]:
        out = []
        for c in clusters:
            time.sleep(random.uniform(0, self.interval))  # a random phase of the poll cycle
            at = self.doubles("/crash", {"cluster": c})["at"]

            def corrected(c: str = c, at: float = at) -> float | None:
                stats = self.doubles("/stats")
                times = [t for pod in (naming.pod_name(c, 0), naming.pod_name(c, 1))
                         for t, _ in stats[pod]["commands"] if t > at]  # fmt: skip
                return min(times) - at if times else None

            out.append(wait(f"a corrective call to {c}", corrected, 5 * self.interval, 0.1))
        return out

    def settle(self, interval: float, limit: float) -> None:
        """Wait for steady state: no API request but watches for two intervals (the last
        clusters' first repair pass), at most `limit` seconds; past that the window shows it."""
        # the first repair pass of the last batch (ZENITH_REPAIR_INTERVAL, 60 s, after it)
        time.sleep(max(0.0, self.created_at + REPAIR_INTERVAL + 2 * interval - time.monotonic()))
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.metrics()
            time.sleep(2 * interval)
            after = self.metrics()
            if all(after.get(v, 0) == before.get(v, 0) for v in after if v != "WATCH"):
                return

    def steady(self, window: float, skip: set[str]) -> tuple[dict[str, float], float, list[float]]:
        m0, c0, t0 = self.metrics(), self.cpu_seconds(), time.time()
        time.sleep(window)
        m1, c1, t1 = self.metrics(), self.cpu_seconds(), time.time()
        rps = {v: (m1.get(v, 0) - m0.get(v, 0)) / (t1 - t0) for v in m1}
        return rps, (c1 - c0) / (t1 - t0), self.jitter(t0, t1, skip)


def run(n: int, args: argparse.Namespace) -> tuple[Result, Result | None]:
    state = Path(tempfile.mkdtemp(prefix=f"zenith-bench-scale-{n}-"))
    bench = Bench(n, args.interval, args.timeout, state)
    result = Result(n)
    holed: Result | None = None
    try:
        bench.start_api()
        bench.start_doubles()
        began = time.monotonic()
        if args.ramp:  # clusters arrive in batches, each Normal before the next
            bench.start_operator()
            for k in range(0, n, args.ramp):
                bench.create_objects(bench.clusters[k : k + args.ramp])
                done = min(n, k + args.ramp)
                wait(f"{done} clusters Normal", lambda d=done: bench.normal_count() == d,
                     300 + 4 * done, 2.0)  # fmt: skip
        else:  # the operator (re)starts in front of all n clusters at once
            bench.create_objects()
            began = time.monotonic()
            bench.start_operator()
            wait(f"{n} clusters Normal", lambda: bench.normal_count() == n, 300 + 4 * n, 5.0)
        if args.restart:  # a new operator process in front of n Normal, settled clusters
            bench.settle(args.interval, 180.0)  # an upgrade of an idle operator
            began, restarted = time.monotonic(), time.time()
            bench.restart_operator()
            bench.created_at = began

            def polled() -> bool:
                return bench.all_polled_since(restarted)

            wait("every agent polled by the new operator", polled, 300 + n, 2.0)
            wait(f"{n} clusters Normal", lambda: bench.normal_count() == n, 300, 2.0)
            result.restart = (bench.stop_took, bench.promotes_since(restarted))
        result.startup = time.monotonic() - began
        bench.settle(args.interval, 180.0)
        result.rps, result.cores, jit = bench.steady(args.window, set())
        result.rss_mb = bench.rss_mb()
        result.load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        result.jitter = (percentile(jit, 0.5), percentile(jit, 0.99))
        result.writes_per_min = 60 * sum(v for k, v in result.rps.items() if k not in READS)
        k = min(args.reactions, n)
        result.reactions = bench.reactions(random.sample(bench.clusters, k))
        if args.blackhole and n >= 2 * args.blackhole:
            holes = bench.clusters[: args.blackhole]
            bench.doubles("/blackhole", {"clusters": holes})
            time.sleep(2 * args.interval)
            holed = Result(n, blackholed=len(holes))
            holed.rps, holed.cores, jit = bench.steady(args.window, set(holes))
            holed.rss_mb = bench.rss_mb()
            holed.load = result.load
            holed.jitter = (percentile(jit, 0.5), percentile(jit, 0.99))
            others = [c for c in bench.clusters[args.blackhole :]]
            holed.reactions = bench.reactions(random.sample(others, k))
    finally:
        bench.stop()
        print(f"  (logs in {state})", file=sys.stderr)
    return result, holed


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(r: Result, interval: int) -> None:
    title = f"N={r.n}" + (f", {r.blackholed} black-holed" if r.blackholed else "")
    print(f"\n{title}  (load average {r.load}; all {r.n} Normal after {r.startup:.0f}s)")
    if r.restart is not None:
        took, fenced = r.restart
        print(f"  restart: the old operator stopped in {took:.1f}s; actives re-promoted "
              f"after their lease ran out: {fenced} of {r.n}")  # fmt: skip
    api = sum(v for k, v in r.rps.items() if k != "WATCH")
    by_verb = ", ".join(f"{k} {v:.2f}" for k, v in sorted(r.rps.items()) if v)
    react = max(r.reactions) if r.reactions else float("nan")
    rows = [
        ("operator RSS", f"{r.rss_mb:.0f} MB", f"<= {GOAL_RSS_MB:.0f} MB", r.rss_mb <= GOAL_RSS_MB),
        ("operator CPU", f"{r.cores:.2f} core", f"<= {GOAL_CORES:g} core", r.cores <= GOAL_CORES),
        ("API req/s (no watches)", f"{api:.2f}", f"<= {GOAL_API_RPS:g}", api <= GOAL_API_RPS),
        ("writes/min", f"{r.writes_per_min:.1f}", "0", r.writes_per_min <= GOAL_WRITES),
        ("poll jitter p50", f"{r.jitter[0]:.3f} s", "", True),
        (
            "poll jitter p99",
            f"{r.jitter[1]:.3f} s",
            f"<= {GOAL_JITTER} s",
            r.jitter[1] <= GOAL_JITTER,
        ),
        ("reaction (max)", f"{react:.2f} s", f"<= {1.5 * interval:g} s", react <= 1.5 * interval),
    ]
    if r.blackholed:
        rows = [rows[i] for i in (1, 4, 5, 6)]
        rows = [(f"{name} (others)", v, g, ok) for name, v, g, ok in rows]
    for name, value, goal, ok in rows:
        print(f"  {name:<30} {value:>12}   goal {goal:<12} {verdict(ok) if goal else ''}")
    print(f"  {'API req/s by verb':<30} {by_verb or '-'}")
    if r.reactions:
        med = statistics.median(r.reactions)
        print(f"  {'reactions':<30} p50 {med:.2f} s over {len(r.reactions)} crashes")


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the children on the way out
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", default="10,100,500", help="cluster counts (default 10,100,500)")
    p.add_argument("--interval", type=int, default=5, help="pollingInterval (default 5)")
    p.add_argument("--timeout", type=int, default=15, help="unreachableTimeout (default 15)")
    p.add_argument("--window", type=float, default=60.0, help="steady-state seconds")
    p.add_argument("--reactions", type=int, default=5, help="crashes per N")
    p.add_argument("--blackhole", type=int, default=50, help="black-holed clusters (0: off)")
    ramp = "add the clusters this many at a time, each batch Normal before the next "
    ramp += "(default 50); 0: start the operator in front of all of them"
    p.add_argument("--ramp", type=int, default=50, help=ramp)
    again = "once the clusters are Normal and the operator idle, restart it, measure the new one"
    p.add_argument("--restart", action="store_true", help=again)
    p.add_argument("--quick", action="store_true", help="--n 10,100 --window 20 --reactions 3")
    args = p.parse_args()
    if args.quick:
        args.n, args.window, args.reactions = "10,100", 20.0, 3
    start = f"clusters added {args.ramp} at a time" if args.ramp else "operator started last"
    start += ", then the operator restarted" if args.restart else ""
    print(f"bench-scale: pollingInterval {args.interval}s, unreachableTimeout {args.timeout}s, "
          f"window {args.window:g}s, {os.cpu_count()} CPUs, {start}")  # fmt: skip
    for n in (int(x) for x in args.n.split(",")):
        result, holed = run(n, args)
        report(result, args.interval)
        if holed is not None:
            report(holed, args.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
