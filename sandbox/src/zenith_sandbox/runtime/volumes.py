"""Pod volumes and container environment, as a kubelet computes them (pure functions).

`Fetch(kind, namespace, name)` returns a ConfigMap/Secret dict or None; it is the only
input from the API. Files are rendered to `{relative path: (bytes, mode)}` and written
by `sync_dir`, which replaces changed files atomically and drops stale ones, so a
refresh (e.g. after a label change for downwardAPI) is what a kubelet does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Obj = dict[str, Any]
Fetch = Callable[[str, str, str], "Obj | None"]  # kind ("configmap"|"secret"), ns, name
Files = dict[str, tuple[bytes, int]]

DEFAULT_MODE = 0o644


class VolumeError(Exception):
    """A volume or env source cannot be resolved yet (missing ConfigMap, Secret, key)."""


# -- object data ---------------------------------------------------------------------
def _data(kind: str, obj: Obj) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    if kind == "secret":
        for k, v in (obj.get("data") or {}).items():
            out[k] = base64.b64decode(v or "")
        for k, v in (obj.get("stringData") or {}).items():
            out[k] = str(v).encode()
    else:
        for k, v in (obj.get("data") or {}).items():
            out[k] = str(v).encode()
        for k, v in (obj.get("binaryData") or {}).items():
            out[k] = base64.b64decode(v or "")
    return out


def _source(kind: str, src: Obj, namespace: str, fetch: Fetch) -> dict[str, bytes] | None:
    name = src.get("secretName" if kind == "secret" and "secretName" in src else "name", "")
    obj = fetch(kind, namespace, name)
    if obj is None:
        if src.get("optional"):
            return None
        raise VolumeError(f"{kind} {namespace}/{name} not found")
    return _data(kind, obj)


def _keyed_files(kind: str, src: Obj, namespace: str, fetch: Fetch, default_mode: int) -> Files:
    data = _source(kind, src, namespace, fetch)
    if data is None:
        return {}
    items = src.get("items")
    if not items:
        return {k: (v, default_mode) for k, v in data.items()}
    files: Files = {}
    for item in items:
        key = item["key"]
        if key not in data:
            if src.get("optional"):
                continue
            raise VolumeError(f"{kind} {src.get('name') or src.get('secretName')}: no key {key!r}")
        files[item.get("path") or key] = (data[key], int(item.get("mode", default_mode)))
    return files


# -- downward API --------------------------------------------------------------------
def _go_quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _format_map(values: dict[str, str]) -> str:
    return "\n".join(f"{k}={_go_quote(v)}" for k, v in sorted(values.items()))


_INDEXED = re.compile(r"^metadata\.(labels|annotations)\['(.+)'\]$")


def field_value(pod: Obj, path: str) -> str:
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIP": status.get("podIP", ""),
        "status.podIPs": ",".join(p.get("ip", "") for p in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    if path == "metadata.labels":
        return _format_map(meta.get("labels") or {})
    if path == "metadata.annotations":
        return _format_map(meta.get("annotations") or {})
    m = _INDEXED.match(path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    raise VolumeError(f"unsupported fieldRef {path!r}")


def _resource_value(pod: Obj, ref: Obj, default_container: str | None) -> str:
    cname = ref.get("containerName") or default_container
    resource = ref.get("resource", "")
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == cname:
            kind, _, res = resource.partition(".")
            value = ((c.get("resources") or {}).get(kind) or {}).get(res)
            if value is not None:
                return str(value)
    return "0"


def downward_files(items: list[Obj], pod: Obj, default_mode: int) -> Files:
    files: Files = {}
    for item in items:
        if "fieldRef" in item:
            value = field_value(pod, item["fieldRef"]["fieldPath"])
        else:
            value = _resource_value(pod, item.get("resourceFieldRef") or {}, None)
        files[item["path"]] = (value.encode(), int(item.get("mode", default_mode)))
    return files


# -- volumes -------------------------------------------------------------------------
def render_volume(volume: Obj, pod: Obj, fetch: Fetch) -> Files | None:
    """Files of a configMap/secret/projected/downwardAPI volume; None for other kinds."""
    ns = (pod.get("metadata") or {}).get("namespace", "default")
    for kind, key in (("configmap", "configMap"), ("secret", "secret")):
        if key in volume:
            src = volume[key] or {}
            return _keyed_files(kind, src, ns, fetch, int(src.get("defaultMode", DEFAULT_MODE)))
    if "downwardAPI" in volume:
        src = volume["downwardAPI"] or {}
        return downward_files(
            src.get("items") or [], pod, int(src.get("defaultMode", DEFAULT_MODE))
        )
    if "projected" in volume:
        proj = volume["projected"] or {}
        mode = int(proj.get("defaultMode", DEFAULT_MODE))
        files: Files = {}
        for source in proj.get("sources") or []:
            if "configMap" in source:
                files.update(_keyed_files("configmap", source["configMap"], ns, fetch, mode))
            elif "secret" in source:
                files.update(_keyed_files("secret", source["secret"], ns, fetch, mode))
            elif "downwardAPI" in source:
                files.update(downward_files(source["downwardAPI"].get("items") or [], pod, mode))
            elif "serviceAccountToken" in source:
                path = source["serviceAccountToken"].get("path", "token")
                files[path] = (b"sandbox-service-account-token", mode)
        return files
    return None


def _safe_rel(rel: str) -> str:
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise VolumeError(f"invalid volume path {rel!r}")
    return "/".join(parts)


def sync_dir(root: Path, files: Files, gid: int | None = None) -> bool:
    """Make `root` hold exactly `files`; return True if anything changed."""
    root.mkdir(parents=True, exist_ok=True)
    changed = False
    wanted: set[Path] = set()
    for rel, (content, mode) in files.items():
        path = root / _safe_rel(rel)
        wanted.add(path)
        try:
            same = path.read_bytes() == content and (path.stat().st_mode & 0o7777) == mode
        except OSError:
            same = False
        if same:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(content)
        os.chmod(tmp, mode)
        if gid is not None:
            with contextlib.suppress(OSError):
                os.chown(tmp, -1, gid)
        os.replace(tmp, path)
        changed = True
    for dirpath, _dirs, names in os.walk(root, topdown=False):
        for name in names:
            p = Path(dirpath) / name
            if p not in wanted:
                p.unlink()
                changed = True
        if Path(dirpath) != root and not os.listdir(dirpath):
            os.rmdir(dirpath)
    return changed


# -- environment ---------------------------------------------------------------------
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes `$(VAR)` expansion; `$$` escapes; unknown references stay as written."""

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _REF.sub(sub, value)


def resolve_env(container: Obj, pod: Obj, fetch: Fetch) -> dict[str, str]:
    """The container's env (envFrom, then env), as the kubelet resolves it."""
    ns = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        prefix = src.get("prefix", "")
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            if key in src:
                data = _source(kind, src[key], ns, fetch) or {}
                env.update({prefix + k: v.decode() for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(str(var.get("value", "")), env)
            continue
        vf = var["valueFrom"]
        if "fieldRef" in vf:
            env[name] = field_value(pod, vf["fieldRef"]["fieldPath"])
        elif "resourceFieldRef" in vf:
            env[name] = _resource_value(pod, vf["resourceFieldRef"], container.get("name"))
        else:
            for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                if key in vf:
                    ref = vf[key]
                    values = _source(kind, ref, ns, fetch)
                    if values is None or ref["key"] not in values:
                        if ref.get("optional"):
                            break
                        raise VolumeError(f"{key} {ref.get('name')}/{ref['key']} not found")
                    env[name] = values[ref["key"]].decode()
    return env


def mount_map(container: Obj, volume_dirs: dict[str, Path]) -> list[tuple[str, Path]]:
    """(mountPath, host directory) for each volumeMount, longest mountPath first."""
    mounts: list[tuple[str, Path]] = []
    for m in container.get("volumeMounts") or []:
        host = volume_dirs.get(m["name"])
        if host is None:
            raise VolumeError(f"volumeMount {m['name']!r} names no volume of the pod")
        if m.get("subPath"):
            host = host / _safe_rel(m["subPath"])
        mounts.append((m["mountPath"].rstrip("/") or "/", host))
    mounts.sort(key=lambda mp: len(mp[0]), reverse=True)
    return mounts


def rewrite_path(value: str, mounts: list[tuple[str, Path]]) -> str:
    """A value equal to or under a mountPath becomes the host path backing it."""
    for mount_path, host in mounts:
        if value == mount_path or value.rstrip("/") == mount_path:
            return str(host)
        if value.startswith(mount_path + "/"):
            return (
                str(host / value[len(mount_path) + 1 :])
                if value[len(mount_path) + 1 :]
                else str(host)
            )
    return value


def rewrite_env(env: dict[str, str], mounts: list[tuple[str, Path]]) -> dict[str, str]:
    return {k: rewrite_path(v, mounts) for k, v in env.items()}
