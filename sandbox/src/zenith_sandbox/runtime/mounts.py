"""A sandbox pod's files and process environment: its volumes as directories (claims on
their PersistentVolume's host path, configMap/secret/projected rendered and kept fresh),
the container's env with mounted paths rewritten, and the user it runs as."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
from pathlib import Path
from typing import Any, Protocol

from . import volumes as vol
from .containers import ContainerRun, container_argv
from .kube import CONFIGMAPS, PVCS, PVS, SECRETS, Kube
from .node import Node

Obj = dict[str, Any]

INHERITED_ENV = (
    "PATH",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
)


class Mounted(Protocol):
    """What a pod's files need of its pod worker (pod.PodWorker)."""

    kube: Kube
    node: Node
    pod: Obj
    ns: str
    name: str
    ip: str
    dir: Path
    volume_dirs: dict[str, Path]


def _fetcher(w: Mounted) -> vol.Fetch:
    """ConfigMaps and Secrets from the API, for volumes and env."""

    def fetch(kind: str, ns: str, name: str) -> Obj | None:
        return w.kube.get(CONFIGMAPS if kind == "configmap" else SECRETS, ns, name)

    return fetch


async def prepare_volumes(w: Mounted) -> None:
    w.dir.mkdir(parents=True, exist_ok=True)
    dirs: dict[str, Path] = {}
    for v in (w.pod.get("spec") or {}).get("volumes") or []:
        name = v["name"]
        if "persistentVolumeClaim" in v:
            dirs[name] = await _claim_dir(w, v["persistentVolumeClaim"]["claimName"])
        elif "hostPath" in v:
            dirs[name] = w.node.hostpath_root / w.node.name / v["hostPath"]["path"].lstrip("/")
            dirs[name].mkdir(parents=True, exist_ok=True)
        else:
            dirs[name] = w.dir / "volumes" / name
            dirs[name].mkdir(parents=True, exist_ok=True)
            if "emptyDir" in v:
                os.chmod(dirs[name], 0o777)
            elif not any(k in v for k in ("configMap", "secret", "projected", "downwardAPI")):
                raise vol.VolumeError(
                    f"volume {name}: unsupported type {sorted(set(v) - {'name'})}"
                )
    w.volume_dirs = dirs
    await refresh_volumes(w)


async def _claim_dir(w: Mounted, claim: str) -> Path:
    pvc = await asyncio.to_thread(w.kube.get, PVCS, w.ns, claim)
    if pvc is None:
        raise vol.VolumeError(f"persistentvolumeclaim {claim!r} not found")
    volume_name = (pvc.get("spec") or {}).get("volumeName")
    if (pvc.get("status") or {}).get("phase") != "Bound" or not volume_name:
        raise vol.VolumeError(f"persistentvolumeclaim {claim!r} is not bound")
    pv = await asyncio.to_thread(w.kube.get, PVS, None, volume_name)
    host = w.node.host_dir(pv) if pv else None
    if host is None:
        raise vol.VolumeError(f"volume {volume_name!r} has no hostPath/local path")
    host.mkdir(parents=True, exist_ok=True)
    return host


async def refresh_volumes(w: Mounted) -> None:
    pod = with_ip(w)

    def work() -> bool:
        changed = False
        for v in (pod.get("spec") or {}).get("volumes") or []:
            files = vol.render_volume(v, pod, _fetcher(w))
            if files is not None:
                changed |= vol.sync_dir(w.volume_dirs[v["name"]], files)
        return changed

    await asyncio.to_thread(work)


def with_ip(w: Mounted) -> Obj:
    pod = dict(w.pod)
    pod["status"] = {
        **(w.pod.get("status") or {}),
        "podIP": w.ip,
        "podIPs": [{"ip": w.ip}],
        "hostIP": "127.0.0.1",
    }
    return pod


async def container_command(w: Mounted, run: ContainerRun) -> tuple[dict[str, str], list[str]]:
    pod = with_ip(w)
    spec_env = await asyncio.to_thread(vol.resolve_env, run.spec, pod, _fetcher(w))
    mounts = vol.mount_map(run.spec, w.volume_dirs)
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env["HOSTNAME"] = (pod.get("spec") or {}).get("hostname") or w.name
    env["HOME"] = str(w.dir)
    env.update(vol.rewrite_env(spec_env, mounts))
    env["ZENITH_SANDBOX"] = "1"
    argv = container_argv(run.spec, env)
    return env, argv


def identity(w: Mounted, container: Obj) -> tuple[int | None, int | None, list[int] | None]:
    """runAsUser/runAsGroup are honoured when we are root and the uid exists here;
    otherwise the container runs as the runtime's user (documented)."""
    if os.geteuid() != 0:
        return None, None, None
    psc = (w.pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    uid = csc.get("runAsUser", psc.get("runAsUser"))
    if uid is None:
        return None, None, None
    try:
        entry = pwd.getpwuid(int(uid))
    except KeyError:
        return None, None, None
    gid = int(csc.get("runAsGroup", psc.get("runAsGroup", entry.pw_gid)))
    groups = [int(psc["fsGroup"])] if psc.get("fsGroup") is not None else []
    for path in w.volume_dirs.values():
        with contextlib.suppress(OSError):
            os.chown(path, -1, groups[0] if groups else gid)
            os.chmod(path, os.stat(path).st_mode | 0o070)
    return int(uid), gid, groups
