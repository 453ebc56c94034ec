"""Fixtures of the e2e suite (docs/e2e.md).

Without docker (a reachable daemon) or kind, and without ZENITH_E2E_KUBECONFIG, every
`e2e` test here is skipped at collection with one line saying why. Otherwise a session
creates (or reuses) the kind cluster, builds and loads the image — or, with
ZENITH_E2E_KUBECONFIG, uses that cluster and the image ZENITH_E2E_IMAGE already on its
nodes — deploys the operator from deploy/, and gives every test a namespace of its own,
dumped on failure and deleted afterwards.
"""

from __future__ import annotations

import re
import secrets
import subprocess
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zenith_operator import naming

from . import environment, manifests, timeouts
from .environment import Environment, env_flag, log, unavailable_reason
from .kube import ZC, Kubectl, StateWatcher, wait_for, wait_normal
from .sql import SplitBrainMonitor, Writer

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [
        item
        for item in items
        if HERE in item.path.parents and item.get_closest_marker("e2e") is not None
    ]
    if not ours:
        return
    reason = unavailable_reason()
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in ours:
        item.add_marker(skip)


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture(scope="session")
def e2e_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environment]:
    env = environment.setup(tmp_path_factory.mktemp("kind"))
    try:
        yield env
    finally:
        environment.delete_kind_cluster(env)


@pytest.fixture(scope="session")
def kube(e2e_env: Environment) -> Kubectl:
    return e2e_env.kube


@pytest.fixture(scope="session")
def image(e2e_env: Environment) -> str:
    return e2e_env.image


@pytest.fixture
def namespace(
    request: pytest.FixtureRequest,
    kube: Kubectl,
    e2e_env: Environment,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower().removeprefix("test_"))
    ns = f"e2e-{slug[:40].strip('-')}-{secrets.token_hex(2)}"
    kube("create", "namespace", ns)
    kube("label", "namespace", ns, "zenith-e2e=true")
    try:
        yield ns
    finally:
        if request.node.stash.get(FAILED, False):
            try:
                dump_diagnostics(e2e_env, ns, tmp_path_factory.mktemp(f"diag-{ns}"))
            except Exception as exc:  # diagnostics must never hide the failure itself
                log(f"diagnostics of {ns} incomplete: {exc}")
        if env_flag("ZENITH_E2E_KEEP"):
            log(f"keeping namespace {ns}")
        else:
            result = kube(
                "delete",
                "namespace",
                ns,
                "--wait=true",
                f"--timeout={timeouts.NAMESPACE_DELETE}s",
                check=False,
                timeout=timeouts.NAMESPACE_DELETE + 10,
            )
            if result.returncode != 0:
                log(f"namespace {ns} not deleted in time: {result.stderr.strip()}")


def dump_diagnostics(env: Environment, ns: str, out: Path) -> None:
    """Everything needed to understand a failure, written to files under `out`."""
    kube = env.kube

    def save(filename: str, *args: str, namespace: str | None = ns) -> None:
        try:
            proc = kube(*args, namespace=namespace, check=False, timeout=timeouts.KUBECTL)
            (out / filename).write_text(proc.stdout + proc.stderr)
        except subprocess.TimeoutExpired:
            (out / filename).write_text("kubectl timed out\n")

    save(
        "objects.yaml",
        "get",
        f"{ZC},statefulsets,pods,services,endpointslices,"
        "poddisruptionbudgets,persistentvolumeclaims,configmaps",
        "--output",
        "yaml",
    )
    save("describe.txt", "describe", f"{ZC},statefulsets,pods,persistentvolumeclaims")
    save("events.txt", "get", "events", "--sort-by=.lastTimestamp")
    save("pv.yaml", "get", "persistentvolumes", "--output", "yaml", namespace=None)
    for pod in kube.items("pods", namespace=ns):
        name = pod["metadata"]["name"]
        save(f"logs-{name}.txt", "logs", name, "--all-containers", "--timestamps")
        save(f"logs-{name}-previous.txt", "logs", name, "--all-containers", "--previous")
    for pod in env.operator_pods():
        name = pod["metadata"]["name"]
        save(
            f"operator-{name}.txt",
            "logs",
            name,
            "--all-containers",
            "--timestamps",
            namespace=env.operator_namespace,
        )
    log(f"diagnostics of {ns} in {out}")


@dataclass
class Observed:
    """A cluster under observation: acknowledged writes, split-brain samples, states."""

    writer: Writer
    monitor: SplitBrainMonitor
    watcher: StateWatcher


@dataclass
class E2E:
    """What a scenario needs: kubectl, its namespace, the image, and the builders."""

    env: Environment
    kube: Kubectl
    ns: str
    image: str

    def create_cluster(self, name: str, **kwargs: Any) -> None:
        """Secret + dbConfigMap + ZenithCluster `name` (kwargs: manifests.cluster_objects)."""
        self.kube.apply(
            *manifests.cluster_objects(name, image=self.image, **kwargs), namespace=self.ns
        )

    def create_normal_cluster(self, name: str, replicas: int = 2, **kwargs: Any) -> dict[str, Any]:
        """Create and wait for Normal with the roles settled; return the status."""
        self.create_cluster(name, replicas=replicas, **kwargs)
        return wait_normal(self.kube, self.ns, name, replicas=replicas)

    def writer(self, cluster: str) -> Writer:
        return Writer(self.kube, self.ns, cluster, self.image).start()

    def watcher(self, cluster: str) -> StateWatcher:
        return StateWatcher(self.kube, self.ns, cluster).start()

    def monitor(self, cluster: str) -> SplitBrainMonitor:
        return SplitBrainMonitor(self.kube, self.ns, cluster).start()

    @contextmanager
    def observed(self, cluster: str) -> Iterator[Observed]:
        """Start a writer through NAME-rw, the split-brain monitor and the state watch."""
        writer = self.writer(cluster)
        monitor = self.monitor(cluster)
        watcher = self.watcher(cluster)
        try:
            yield Observed(writer, monitor, watcher)
        finally:
            monitor.stop()
            watcher.stop()
            log(f"{cluster}: states seen {watcher.states()}")

    def delete_pod(self, pod: str, *, force: bool = False) -> None:
        args = ["delete", "pod", pod, "--wait=false"]
        if force:
            args += ["--grace-period=0", "--force"]
        self.kube(*args, namespace=self.ns)

    def node_of(self, pod: str) -> str:
        node: str = self.kube.get("pod", pod, namespace=self.ns)["spec"]["nodeName"]
        return node

    @contextmanager
    def node_cordoned(self, node: str) -> Iterator[None]:
        """Nothing new schedules on `node` while inside: a pod whose local volume lives
        there stays Pending, i.e. its instance stays down (a lost node)."""
        self.kube("cordon", node)
        try:
            yield
        finally:
            self.kube("uncordon", node)

    def wait_pods_gone(self, cluster: str, timeout: float) -> None:
        wait_for(
            lambda: (
                not self.kube.items(
                    "pods", namespace=self.ns, selector=f"{naming.CLUSTER_LABEL}={cluster}"
                )
            ),
            timeout,
            f"the pods of {cluster} to be gone",
        )


@pytest.fixture
def e2e(e2e_env: Environment, kube: Kubectl, namespace: str, image: str) -> E2E:
    return E2E(e2e_env, kube, namespace, image)
