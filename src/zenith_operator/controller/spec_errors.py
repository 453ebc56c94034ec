"""Spec errors the CRD schema cannot catch: they need the API (a referenced ConfigMap is
missing or holds the wrong keys), operator settings (the local-storage roots) or relate
fields the schema checks separately. Each names the field path."""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from zenith_operator.agent.config import AgentFile
from zenith_operator.api.cluster import ZenithCluster
from zenith_operator.api.spec import Engine, SpecError
from zenith_operator.controller.reconcile_kube import Kube, Ref
from zenith_operator.resources.config import ResolvedSource, SourceRef, referenced_sources, resolve
from zenith_operator.resources.storage import pv_name

LOCAL_ROOTS_ENV = "ZENITH_LOCAL_STORAGE_ROOTS"
DEFAULT_LOCAL_ROOTS = ("/mnt", "/srv", "/data", "/var/lib/zenith-local")
AGENT_FILE = "agent.yaml"
ADMIN_PASSWORD = "admin-password"
# A postgresql.conf line: `name = value`, `name value`, or include directives; comments
# and blank lines are skipped (a bare value such as `128MB` makes PostgreSQL refuse).
_PG_LINE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*\s*(=\s*|\s+)\S")


def local_roots(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Base directories localStorage paths must lie under ($ZENITH_LOCAL_STORAGE_ROOTS,
    `:`-separated; empty entries ignored)."""
    raw = (os.environ if env is None else env).get(LOCAL_ROOTS_ENV)
    if raw is None:
        return DEFAULT_LOCAL_ROOTS
    return tuple(r.rstrip("/") or "/" for r in raw.split(":") if r.strip())


def _under(path: str, root: str) -> bool:
    return root == "/" or (PurePosixPath(path).is_relative_to(root) and path != root)


def check_static(cluster: ZenithCluster, roots: tuple[str, ...] | None = None) -> None:
    z = cluster.spec.zenith_spec
    if not z.local_storage:
        return
    if len(z.local_storage.nodes) < z.replicas:
        raise SpecError(
            "spec.zenithSpec.localStorage.nodes",
            f"has {len(z.local_storage.nodes)} entries; one per instance is needed "
            f"(replicas: {z.replicas})",
        )
    allowed = local_roots() if roots is None else roots
    for i, entry in enumerate(z.local_storage.nodes):
        if not any(_under(entry.path, root) for root in allowed):
            raise SpecError(
                f"spec.zenithSpec.localStorage.nodes[{i}].path",
                f"{entry.path!r} is not below an allowed local-storage directory "
                f"({', '.join(allowed) or 'none configured'}; operator setting "
                f"{LOCAL_ROOTS_ENV})",
            )


def _overlap(a: str, b: str) -> bool:
    return a == b or a.startswith(b.rstrip("/") + "/") or b.startswith(a.rstrip("/") + "/")


def _pv_node(pv: Mapping[str, Any]) -> str | None:
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expr in term.get("matchExpressions") or []:
            if expr.get("key") == "kubernetes.io/hostname" and expr.get("values"):
                return str(expr["values"][0])
    return None


def check_local_paths_free(kube: Kube, cluster: ZenithCluster) -> None:
    """No other PersistentVolume (another cluster's, or the administrator's) uses the
    same or a nested directory on the same node: two databases in one directory kill
    each other's server and corrupt the data."""
    z = cluster.spec.zenith_spec
    if not z.local_storage:
        return
    ours = {pv_name(cluster.ref, i) for i in range(len(z.local_storage.nodes))}
    pvs = kube.list("v1", "PersistentVolume", None, {})
    for i, entry in enumerate(z.local_storage.nodes):
        for pv in pvs:
            name = (pv.get("metadata") or {}).get("name", "")
            spec = pv.get("spec") or {}
            path = (spec.get("local") or spec.get("hostPath") or {}).get("path")
            if name in ours or not path or _pv_node(pv) not in (entry.node, None):
                continue
            if _overlap(os.path.normpath(str(path)), entry.path):
                raise SpecError(
                    f"spec.zenithSpec.localStorage.nodes[{i}].path",
                    f"{entry.path!r} on node {entry.node!r} overlaps {path!r} of "
                    f"PersistentVolume {name}",
                )


def read_sources(kube: Kube, cluster: ZenithCluster) -> list[ResolvedSource]:
    """Every referenced ConfigMap/Secret, or a SpecError naming the first missing or
    malformed one."""
    out = []
    for ref in referenced_sources(cluster.spec, cluster.name):
        obj = kube.get(Ref("v1", ref.kind, ref.name, cluster.namespace))
        if obj is None:
            raise SpecError(
                ref.field_path,
                f"{ref.kind} {ref.name!r} not found in namespace {cluster.namespace!r}",
            )
        check_content(cluster, ref, obj)
        out.append(resolve(ref, obj))
    check_keys(cluster, out)
    return out


def _values(obj: Mapping[str, Any]) -> dict[str, str]:
    """Text values of a ConfigMap or Secret (undecodable ones as empty text)."""
    out = {k: str(v) for k, v in (obj.get("stringData") or {}).items()}
    for key, value in (obj.get("data") or {}).items():
        if obj.get("kind") == "Secret":
            try:
                value = base64.b64decode(str(value)).decode()
            except (ValueError, UnicodeDecodeError):
                value = ""
        out.setdefault(key, str(value))
    return out


def check_content(cluster: ZenithCluster, ref: SourceRef, obj: Mapping[str, Any]) -> None:
    """What the agent would refuse: a bad agent.yaml, PostgreSQL settings not in
    `name = value` form."""
    values = _values(obj)
    engine = cluster.spec.zenith_spec.engine
    if ref.directory == "agent" and AGENT_FILE in values:
        problem = agent_file_problem(values[AGENT_FILE], engine)
        if problem:
            raise SpecError(ref.field_path, f"ConfigMap {ref.name!r} key {AGENT_FILE}: {problem}")
    if ref.directory == "db" and engine == Engine.POSTGRES:
        for key, text in sorted(values.items()):
            bad = postgres_settings_problem(text)
            if bad:
                raise SpecError(
                    ref.field_path,
                    f"ConfigMap {ref.name!r} key {key!r}: {bad}; each key is a file of "
                    "postgresql.conf lines (`shared_buffers = 128MB`), not one setting",
                )


def check_keys(cluster: ZenithCluster, sources: list[ResolvedSource]) -> None:
    """Keys the engine needs across the referenced objects."""
    z = cluster.spec.zenith_spec
    secrets = [s for s in sources if s.ref.directory == "secrets"]
    has_password = any(ADMIN_PASSWORD in s.keys for s in secrets)
    if z.engine == Engine.POSTGRES and z.db_secrets and not has_password:
        raise SpecError(
            "spec.zenithSpec.dbSecrets",
            f"no Secret of {', '.join(z.db_secrets)} has the key {ADMIN_PASSWORD!r} "
            "(the database admin's password)",
        )
    if z.engine == Engine.COMMAND:
        agent = [s for s in sources if s.ref.directory == "agent" and AGENT_FILE in s.keys]
        if not agent:
            raise SpecError(
                "spec.zenithSpec.engine",
                f"engine 'command' needs {AGENT_FILE} with `commands` in a ConfigMap of "
                "spec.agentSpec.agentConfig",
            )


def agent_file_problem(text: str, engine: Engine | None = None) -> str | None:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return "cannot parse yaml: " + " ".join(str(exc).split())
    if not isinstance(data, dict):
        return "expected a mapping at the top level"
    try:
        parsed = AgentFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        return f"field {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
    if engine == Engine.COMMAND and parsed.commands is None:
        return "engine 'command' needs `commands`"
    return None


def postgres_settings_problem(text: str) -> str | None:
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if line and not _PG_LINE.match(line):
            return f"line {number} {line[:40]!r} is not `name = value`"
    return None
