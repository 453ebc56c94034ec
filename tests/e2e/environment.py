"""The e2e environment: a kind cluster, our image loaded into it, the operator deployed;
or any existing cluster whose nodes already hold the image (no kind, no docker).

Knobs (environment variables, see docs/e2e.md):
  ZENITH_E2E_KUBECONFIG  run on this existing cluster instead of kind (needs ZENITH_E2E_IMAGE)
  ZENITH_E2E_CLUSTER     name of an existing kind cluster to use (not created, not deleted)
  ZENITH_E2E_KEEP=1      keep the kind cluster and the test namespaces afterwards
  ZENITH_E2E_IMAGE       image tag to build and load (default zenith-operator:e2e); with
                         ZENITH_E2E_KUBECONFIG: the image already present on the nodes
  ZENITH_E2E_SKIP_BUILD=1  use the image already in the local docker daemon
  ZENITH_E2E_NODE_IMAGE  kindest/node image for a new cluster (default: kind's own)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from . import timeouts
from .kube import Kubectl, wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY_DIR = REPO_ROOT / "deploy"
KIND_CONFIG = REPO_ROOT / "hack" / "kind-config.yaml"
DEFAULT_CLUSTER = "zenith-e2e"
DEFAULT_IMAGE = "zenith-operator:e2e"
SKIP_PREFIX = "kind e2e"
EXISTING_PREFIX = "existing-cluster e2e"
EXISTING_HINT = "or set ZENITH_E2E_KUBECONFIG and ZENITH_E2E_IMAGE for an existing cluster"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def existing_kubeconfig() -> Path | None:
    """ZENITH_E2E_KUBECONFIG: run on that cluster instead of kind."""
    value = os.environ.get("ZENITH_E2E_KUBECONFIG", "").strip()
    return Path(value).expanduser() if value else None


def existing_image() -> str:
    return os.environ.get("ZENITH_E2E_IMAGE", "").strip()


@cache
def unavailable_reason() -> str | None:
    """One line saying why the suite cannot run here, or None when it can."""
    kubeconfig = existing_kubeconfig()
    if kubeconfig is not None:
        return existing_cluster_reason(kubeconfig)
    missing = [tool for tool in ("kind", "docker", "kubectl") if shutil.which(tool) is None]
    if missing:
        return f"{SKIP_PREFIX}: {', '.join(missing)} not on PATH ({EXISTING_HINT})"
    try:
        info = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=timeouts.DOCKER_INFO,
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"{SKIP_PREFIX}: docker daemon not reachable (`docker info` failed)"
    if info.returncode != 0 or not info.stdout.strip():
        return f"{SKIP_PREFIX}: docker daemon not reachable (`docker info` failed; {EXISTING_HINT})"
    return None


def existing_cluster_reason(kubeconfig: Path) -> str | None:
    """Why the existing cluster of ZENITH_E2E_KUBECONFIG cannot be used (None: it can)."""
    if not kubeconfig.is_file():
        return f"{EXISTING_PREFIX}: ZENITH_E2E_KUBECONFIG={kubeconfig}: no such file"
    if not existing_image():
        return (
            f"{EXISTING_PREFIX}: set ZENITH_E2E_IMAGE to the operator image already "
            "present on the cluster's nodes"
        )
    if shutil.which("kubectl") is None:
        return f"{EXISTING_PREFIX}: kubectl not on PATH"
    try:
        ready = subprocess.run(
            ["kubectl", "--kubeconfig", str(kubeconfig), "get", "--raw", "/readyz"],
            capture_output=True,
            text=True,
            timeout=timeouts.KUBECTL,
        )
    except (OSError, subprocess.TimeoutExpired):
        ready = None
    if ready is None or ready.returncode != 0:
        return (
            f"{EXISTING_PREFIX}: the API server of {kubeconfig} is not reachable "
            "(`kubectl get --raw /readyz` failed)"
        )
    return None


def log(message: str) -> None:
    print(f"[e2e] {message}", file=sys.stderr, flush=True)


def run(*cmd: str, timeout: float, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a setup command; its output goes to the terminal unless captured."""
    log("$ " + " ".join(cmd))
    proc = subprocess.run(cmd, text=True, timeout=timeout, capture_output=capture)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip() if capture else "(output above)"
        raise RuntimeError(f"`{' '.join(cmd)}` exited {proc.returncode}: {detail}")
    return proc


@dataclass
class Environment:
    cluster: str
    kubeconfig: Path
    image: str
    created: bool  # we created the kind cluster (so teardown may delete it)
    existing: bool = False  # ZENITH_E2E_KUBECONFIG: not kind, nothing built or loaded
    operator_namespace: str = ""
    operator_deployment: str = ""

    @property
    def kube(self) -> Kubectl:
        return Kubectl(self.kubeconfig)

    @property
    def keep(self) -> bool:
        return env_flag("ZENITH_E2E_KEEP")

    def operator_selector(self) -> str:
        dep = self.kube.get(
            "deployment", self.operator_deployment, namespace=self.operator_namespace
        )
        labels: dict[str, str] = dep["spec"]["selector"]["matchLabels"]
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))

    def operator_pods(self) -> list[dict[str, Any]]:
        return self.kube.items(
            "pods", namespace=self.operator_namespace, selector=self.operator_selector()
        )


# --- kind cluster --------------------------------------------------------------------


def kind_clusters() -> list[str]:
    out = run("kind", "get", "clusters", timeout=timeouts.KUBECTL, capture=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def ensure_kind_cluster(workdir: Path) -> Environment:
    existing = os.environ.get("ZENITH_E2E_CLUSTER", "").strip()
    name = existing or DEFAULT_CLUSTER
    kubeconfig = workdir / "kubeconfig"
    image = os.environ.get("ZENITH_E2E_IMAGE", "").strip() or DEFAULT_IMAGE
    if existing and existing not in kind_clusters():
        raise RuntimeError(f"ZENITH_E2E_CLUSTER={existing}: no such kind cluster")
    created = False
    if name not in kind_clusters():
        cmd = [
            "kind",
            "create",
            "cluster",
            "--name",
            name,
            "--config",
            str(KIND_CONFIG),
            "--kubeconfig",
            str(kubeconfig),
            "--wait",
            "120s",
        ]
        node_image = os.environ.get("ZENITH_E2E_NODE_IMAGE", "").strip()
        if node_image:
            cmd += ["--image", node_image]
        run(*cmd, timeout=timeouts.KIND_CREATE)
        created = True
    else:
        log(f"using the existing kind cluster {name}")
        # a cluster left by ZENITH_E2E_KEEP=1 counts as ours unless named explicitly
        created = not existing
    config = run(
        "kind", "get", "kubeconfig", "--name", name, timeout=timeouts.KUBECTL, capture=True
    ).stdout
    kubeconfig.write_text(config)
    kubeconfig.chmod(0o600)
    env = Environment(cluster=name, kubeconfig=kubeconfig, image=image, created=created)
    wait_for(
        lambda: (
            env.kube(
                "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=10s", check=False
            ).returncode
            == 0
        ),
        timeouts.KIND_CREATE,
        f"the nodes of kind cluster {name} to be Ready",
    )
    return env


def use_existing_cluster(kubeconfig: Path) -> Environment:
    """The cluster of ZENITH_E2E_KUBECONFIG, as it is: no kind, no docker, no image load."""
    env = Environment(
        cluster=f"existing cluster of {kubeconfig}",
        kubeconfig=kubeconfig.resolve(),
        image=existing_image(),
        created=False,
        existing=True,
    )
    log(f"using {env.cluster}; image {env.image} must already be on its nodes")
    wait_for(
        lambda: (
            env.kube(
                "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=10s", check=False
            ).returncode
            == 0
        ),
        timeouts.KIND_CREATE,
        "the cluster's nodes to be Ready",
    )
    return env


def delete_kind_cluster(env: Environment) -> None:
    if env.existing:
        log(f"leaving {env.cluster} and the operator deployed there in place")
        return
    if not env.created or env.keep:
        log(f"keeping kind cluster {env.cluster} (kubeconfig {env.kubeconfig})")
        return
    run("kind", "delete", "cluster", "--name", env.cluster, timeout=timeouts.KIND_DELETE)


# --- image ---------------------------------------------------------------------------


def build_and_load_image(env: Environment) -> None:
    if env_flag("ZENITH_E2E_SKIP_BUILD"):
        log(f"ZENITH_E2E_SKIP_BUILD=1: using the local image {env.image}")
    else:
        run("docker", "build", "--tag", env.image, str(REPO_ROOT), timeout=timeouts.IMAGE_BUILD)
    run(
        "kind",
        "load",
        "docker-image",
        env.image,
        "--name",
        env.cluster,
        timeout=timeouts.IMAGE_LOAD,
    )


# --- operator ------------------------------------------------------------------------


def render_deploy(image: str) -> list[dict[str, Any]]:
    """deploy/ through kustomize, adapted to the test cluster.

    - every container image of the operator -> the image under test, never pulled;
    - WATCH_NAMESPACE "" (watch all namespaces; deploy/operator.yaml documents it) so
      each test runs in a namespace of its own.
    """
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY_DIR)],
        capture_output=True,
        text=True,
        timeout=timeouts.KUBECTL,
        check=True,
    ).stdout
    objects = [doc for doc in yaml.safe_load_all(rendered) if doc]
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        pod_spec = obj["spec"]["template"]["spec"]
        for container in pod_spec.get("containers", []) + pod_spec.get("initContainers", []):
            container["image"] = image
            container["imagePullPolicy"] = "IfNotPresent"
            for var in container.get("env", []):
                if var.get("name") == "WATCH_NAMESPACE":
                    var.pop("valueFrom", None)
                    var["value"] = ""
    return objects


def deploy_operator(env: Environment) -> None:
    objects = render_deploy(env.image)
    deployments = [o for o in objects if o.get("kind") == "Deployment"]
    if len(deployments) != 1:
        raise RuntimeError(f"deploy/ should hold one Deployment, found {len(deployments)}")
    env.operator_namespace = deployments[0]["metadata"].get("namespace", "default")
    env.operator_deployment = deployments[0]["metadata"]["name"]
    existed = (
        env.kube.get_or_none(
            "deployment", env.operator_deployment, namespace=env.operator_namespace
        )
        is not None
    )
    doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    # server-side: CRDs can outgrow the last-applied annotation of client-side apply
    env.kube(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=zenith-e2e",
        "--filename",
        "-",
        input=doc,
        timeout=timeouts.OPERATOR_AVAILABLE,
    )
    for crd in (o for o in objects if o.get("kind") == "CustomResourceDefinition"):
        env.kube(
            "wait",
            "--for=condition=Established",
            f"crd/{crd['metadata']['name']}",
            f"--timeout={timeouts.CRD_ESTABLISHED}s",
            timeout=timeouts.CRD_ESTABLISHED + 10,
        )
    # a re-run against a kept cluster: make the Deployment pick up the rebuilt image
    if existed and not env.existing and not env_flag("ZENITH_E2E_SKIP_BUILD"):
        env.kube(
            "rollout",
            "restart",
            f"deployment/{env.operator_deployment}",
            namespace=env.operator_namespace,
        )
    wait_operator_available(env)


def wait_operator_available(env: Environment) -> None:
    env.kube(
        "rollout",
        "status",
        f"deployment/{env.operator_deployment}",
        f"--timeout={timeouts.OPERATOR_AVAILABLE}s",
        namespace=env.operator_namespace,
        timeout=timeouts.OPERATOR_AVAILABLE + 10,
    )
    env.kube(
        "wait",
        "--for=condition=Available",
        f"deployment/{env.operator_deployment}",
        f"--timeout={timeouts.OPERATOR_AVAILABLE}s",
        namespace=env.operator_namespace,
        timeout=timeouts.OPERATOR_AVAILABLE + 10,
    )


def setup(workdir: Path) -> Environment:
    kubeconfig = existing_kubeconfig()
    if kubeconfig is not None:
        env = use_existing_cluster(kubeconfig)
        deploy_operator(env)
        log(
            f"ready: {env.cluster}, operator {env.operator_namespace}/"
            f"{env.operator_deployment}, image {env.image}"
        )
        return env
    env = ensure_kind_cluster(workdir)
    try:
        build_and_load_image(env)
        deploy_operator(env)
    except BaseException:
        delete_kind_cluster(env)
        raise
    log(
        f"ready: kind cluster {env.cluster}, operator {env.operator_namespace}/"
        f"{env.operator_deployment}, image {env.image}, KUBECONFIG={env.kubeconfig}"
    )
    return env
