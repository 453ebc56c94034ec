"""The projected configuration volume and the config hash.

Layout at `naming.CONFIG_DIR` (docs/dev/contracts.md):
`db/` (dbConfigMap), `instance/` (instanceConfigMap), `secrets/` (dbSecrets),
`agent/` (agentConfig + `agent-token`), `podinfo/` (downward API).

A projected source without `items` puts keys at the volume root, so each key is listed
with its `dir/key` path: the builder needs the keys of every referenced object. The
controller reads them (`ResolvedSource`), which also yields the config hash.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from zenith_operator import naming
from zenith_operator.api.spec import SpecError, ZenithClusterSpec

Kind = Literal["ConfigMap", "Secret"]
DB_SPECS_ANNOTATION = f"{naming.LABEL_PREFIX}/db-specs"


@dataclass(frozen=True)
class SourceRef:
    """One ConfigMap or Secret the spec references, and where its keys land."""

    kind: Kind
    name: str
    directory: str
    field_path: str  # e.g. spec.zenithSpec.dbConfigMap[0]


@dataclass(frozen=True)
class ResolvedSource:
    ref: SourceRef
    keys: tuple[str, ...]
    digest: str  # sha256 of the data, never the data itself


def referenced_sources(spec: ZenithClusterSpec, cluster: str) -> list[SourceRef]:
    """With no dbSecrets, the operator-generated `NAME-credentials` Secret stands in."""
    z, a = spec.zenith_spec, spec.agent_spec
    db_secrets = z.db_secrets or [naming.credentials_secret_name(cluster)]
    groups: list[tuple[Kind, list[str], str, str]] = [
        ("ConfigMap", z.db_config_map, "db", "spec.zenithSpec.dbConfigMap"),
        ("ConfigMap", z.instance_config_map, "instance", "spec.zenithSpec.instanceConfigMap"),
        ("Secret", db_secrets, "secrets", "spec.zenithSpec.dbSecrets"),
        ("ConfigMap", a.agent_config, "agent", "spec.agentSpec.agentConfig"),
    ]
    return [
        SourceRef(kind, name, directory, f"{path}[{i}]")
        for kind, names, directory, path in groups
        for i, name in enumerate(names)
    ]


def resolve(ref: SourceRef, obj: Mapping[str, Any]) -> ResolvedSource:
    """Keys and digest of a ConfigMap/Secret object as read from the API."""
    string_data = {
        k: base64.b64encode(str(v).encode()).decode()
        for k, v in (obj.get("stringData") or {}).items()
    }  # a manifest's Secret.stringData, as the API server would store it
    data: dict[str, Any] = {
        **dict(obj.get("data") or {}),
        **string_data,
        **{f"binary:{k}": v for k, v in (obj.get("binaryData") or {}).items()},
    }
    keys = sorted(k.removeprefix("binary:") for k in data)
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    return ResolvedSource(ref=ref, keys=tuple(keys), digest=digest)


def config_hash(sources: Iterable[ResolvedSource]) -> str:
    """Changes whenever a referenced object's content (or the list of them) changes."""
    h = hashlib.sha256()
    for src in sources:
        h.update(f"{src.ref.kind}/{src.ref.name}/{src.ref.directory}={src.digest}\n".encode())
    return h.hexdigest()[:16]


def check_paths(sources: Iterable[ResolvedSource]) -> None:
    """Two sources projecting the same file is a spec error (kubelet would refuse)."""
    seen: dict[str, str] = {f"agent/{naming.AGENT_TOKEN_KEY}": "the operator's agent token"}
    for src in sources:
        for key in src.keys:
            path = f"{src.ref.directory}/{key}"
            if path in seen:
                raise SpecError(
                    src.ref.field_path,
                    f"{src.ref.kind} {src.ref.name!r} key {key!r} collides with {seen[path]} "
                    f"at {naming.CONFIG_DIR}/{path}",
                )
            seen[path] = f"{src.ref.kind} {src.ref.name!r}"


def projected_volume(cluster: str, sources: Iterable[ResolvedSource]) -> dict[str, Any]:
    projected: list[dict[str, Any]] = []
    for src in sources:
        if not src.keys:
            continue
        items = [{"key": k, "path": f"{src.ref.directory}/{k}"} for k in src.keys]
        key = "configMap" if src.ref.kind == "ConfigMap" else "secret"
        projected.append({key: {"name": src.ref.name, "items": items}})
    projected.append(
        {
            "downwardAPI": {
                "items": [
                    {"path": f"podinfo/{field}", "fieldRef": {"fieldPath": f"metadata.{field}"}}
                    for field in ("labels", "annotations", "name", "namespace")
                ]
            }
        }
    )
    return {"name": CONFIG_VOLUME, "projected": {"sources": projected, "defaultMode": 0o440}}


CONFIG_VOLUME = "config"
DATA_VOLUME = "data"
