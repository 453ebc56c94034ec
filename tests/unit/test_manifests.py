"""Every manifest we ship, and every object the builders make from the examples, passes
offline schema validation: Kubernetes' own OpenAPI schemas (kubernetes-validate, strict:
unknown fields fail) for built-in kinds, our CRD's schema for ZenithClusters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from zenith_operator.api import crd
from zenith_operator.api.cluster import from_body
from zenith_operator.resources import desired
from zenith_operator.resources.config import referenced_sources, resolve
from zenith_operator.resources.workload import agent_token_secret, credentials_secret

ROOT = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.32"
MONITORING = ROOT / "deploy/monitoring"  # Prometheus Operator kinds: test_monitoring.py
MANIFESTS = sorted(
    p
    for p in [*ROOT.glob("deploy/**/*.yaml"), *ROOT.glob("examples/*.yaml")]
    if MONITORING not in p.parents
)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _cr_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd.crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def validate(obj: dict[str, Any]) -> None:
    if obj.get("kind") == "Kustomization":
        return
    if obj["apiVersion"].startswith("huawei.cloudb.com/"):
        jsonschema.Draft7Validator(_cr_schema()).validate(obj)
        return
    if obj["apiVersion"].startswith("kopf.dev/"):
        return
    kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_there_are_manifests() -> None:
    names = {p.name for p in MANIFESTS}
    assert {"operator.yaml", "kustomization.yaml", "single.yaml", "pair.yaml"} <= names
    assert {"pair-with-config.yaml", "local-storage.yaml"} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_manifest_is_valid(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path} is empty"
    for doc in docs:
        validate(doc)


def built_objects(path: Path) -> list[dict[str, Any]]:
    docs = _docs(path)
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    out: list[dict[str, Any]] = []
    for doc in docs:
        if doc["kind"] != "ZenithCluster":
            continue
        doc["metadata"].update(namespace="demo", uid="00000000-0000-0000-0000-000000000001")
        cluster = from_body(doc)
        if not cluster.spec.zenith_spec.db_secrets:
            generated = credentials_secret(cluster.ref, "admin-pw", "repl-pw")
            by_key[("Secret", generated["metadata"]["name"])] = generated
            out.append(generated)
        sources = [
            resolve(r, by_key[(r.kind, r.name)])
            for r in referenced_sources(cluster.spec, cluster.name)
        ]
        out += desired(cluster, sources).all()
        out.append(agent_token_secret(cluster.ref, "token"))
    return out


EXAMPLES = sorted(ROOT.glob("examples/*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_built_objects_are_valid(path: Path) -> None:
    objects = built_objects(path)
    kinds = {o["kind"] for o in objects}
    assert {"StatefulSet", "Service", "PodDisruptionBudget", "Secret"} <= kinds
    for obj in objects:
        validate(obj)


def test_invalid_cr_is_rejected_by_the_crd_schema() -> None:
    bad = {
        "apiVersion": "huawei.cloudb.com/v1",
        "kind": "ZenithCluster",
        "metadata": {"name": "x"},
        "spec": {"zenithSpec": {"replicas": 3}},
    }
    with pytest.raises(jsonschema.ValidationError, match="3 is not one of"):
        validate(bad)


def test_kustomization_lists_every_deploy_manifest() -> None:
    kustomization = yaml.safe_load((ROOT / "deploy/kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {
        str(p.relative_to(ROOT / "deploy"))
        for p in ROOT.glob("deploy/**/*.yaml")
        if p.name != "kustomization.yaml" and MONITORING not in p.parents
    }
    assert listed == on_disk
