"""The kopf layer for ZenithCluster resources: thin handlers, each calling one function.

- create / update (spec) -> reconcile (children + SpecValid/ResourcesReady); resume (an
  operator start) -> the same at the first repair tick
- timer `repair` -> the same reconcile when a child changed since the last one, or
  once per resync period (repair_schedule.py): an idle operator reads nothing
- a child (StatefulSet, Service, PDB, token Secret) deleted -> reconcile its owner;
  changed -> mark its owner for the next repair tick
- a referenced ConfigMap/Secret changed -> reconcile the clusters that use it
  (config_users.py, kept from the ZenithCluster events)
- delete -> finalizer `cleanup` honouring spec.retentionPolicy
- login -> the credentials `Kube` uses too (kube_transport.login), with or without the
  kubernetes client installed
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any, cast

import kopf

from zenith_operator import naming
from zenith_operator.api.spec import SpecError, parse_spec
from zenith_operator.controller import metrics
from zenith_operator.controller.cache import STS_SELECTOR
from zenith_operator.controller.config_users import ConfigUsers, Source
from zenith_operator.controller.kube_transport import login
from zenith_operator.controller.logs import cluster_logger
from zenith_operator.controller.reconcile import (
    Result,
    cluster_ref,
    is_deleting,
    owner_of,
    reconcile,
)
from zenith_operator.controller.reconcile_delete import Waiting, cleanup
from zenith_operator.controller.reconcile_kube import Kube, KubeError
from zenith_operator.controller.repair_schedule import RepairSchedule
from zenith_operator.resources.config import referenced_sources

CR = (naming.GROUP, naming.VERSION, naming.PLURAL)
MANAGED = {"app.kubernetes.io/managed-by": "zenith-operator"}
REPAIR_INTERVAL = float(os.environ.get("ZENITH_REPAIR_INTERVAL", "60"))
RESYNC_INTERVAL = float(os.environ.get("ZENITH_RESYNC_INTERVAL", str(10 * 3600)))
RETRY_DELAY = 10.0
RESIZE_FOLLOW = 5.0  # seconds between reconciles while PVCs grow (VolumeExpansion progress)

# kopf logs in as Kube does: the service account, else the kubeconfig (kopf's own functions).
kopf.on.login(id="login")(login)


@kopf.on.startup(id="configure")
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    prefix = naming.LABEL_PREFIX
    # Progress and diff-base in annotations: the status schema is ours (structural),
    # so kopf must not keep its bookkeeping in status.kopf.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=prefix)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=prefix, key="last-handled-configuration"
    )
    settings.persistence.finalizer = f"{prefix}/finalizer"
    settings.posting.level = logging.INFO  # explicit kopf.info/warn only (posting.loggers off)
    settings.posting.loggers = False
    settings.posting.reporting_component = "zenith-operator"
    settings.networking.request_timeout = 30
    settings.networking.connect_timeout = 10
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 10
    settings.execution.max_workers = 8  # sync handlers; each thread costs resident memory
    # A server-side filter: kopf watches StatefulSets for our own only (child-statefulset).
    settings.watching.label_selectors["statefulsets"] = STS_SELECTOR
    if not hasattr(memo, "kube"):
        memo.kube = Kube.from_environment()
    memo.locks = {}
    memo.locks_guard = threading.Lock()
    memo.repairs = RepairSchedule(RESYNC_INTERVAL)
    memo.config_users = ConfigUsers()


def _lock(memo: kopf.Memo, namespace: str, name: str) -> threading.Lock:
    with memo.locks_guard:
        lock: threading.Lock = memo.locks.setdefault((namespace, name), threading.Lock())
        return lock


def _report(obj: kopf.Body | dict[str, Any], result: Result, log: Any) -> None:
    """Events for transitions and changes; raise what kopf should do next."""
    body = cast(kopf.Body, obj)  # kopf's event posting reads plain dicts as well
    if result.spec_error:
        err = result.spec_error
        log.warning("invalid spec", field=err.path, error=err.message)
        if result.spec_condition_changed:
            kopf.warn(body, reason="InvalidSpec", message=str(err))
        raise kopf.PermanentError(str(err))
    if result.conflict:
        log.warning("conflict", error=result.conflict)
        if result.resources_condition_changed:
            kopf.warn(body, reason="Conflict", message=result.conflict)
        raise kopf.TemporaryError(result.conflict, delay=60)
    for applied in result.changes:
        log.info("applied", object=str(applied.ref), action=applied.action)
    if result.changes:
        summary = ", ".join(f"{a.action} {a.ref}" for a in result.changes)
        kopf.info(body, reason="Reconciled", message=summary)
    for applied in result.immutable:
        if result.resources_condition_changed:
            kopf.warn(
                body, reason="ImmutableFieldChanged", message=f"{applied.ref}: {applied.detail}"
            )


def run_reconcile(memo: kopf.Memo, body: kopf.Body | dict[str, Any], trigger: str) -> None:
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name")
    log = cluster_logger(namespace, name)
    key = (str(namespace), str(name))
    with _lock(memo, *key):
        memo.repairs.started(key, time.monotonic())
        timer = metrics.RECONCILE.labels((trigger.split() or ["?"])[0]).time()
        try:
            with timer:
                result = reconcile(memo.kube, dict(body))
        except KubeError as exc:
            memo.repairs.mark(key)
            log.warning("API error, will retry", error=str(exc))
            raise kopf.TemporaryError(str(exc), delay=RETRY_DELAY) from exc
    if result.resizing:  # follow the PVCs' growth: soon, and at the next repair tick
        memo.repairs.mark(key)
        if memo.repairs.growing(key, time.monotonic()):
            follow = threading.Timer(RESIZE_FOLLOW, _follow_growth, (memo, key))
            follow.daemon = True
            follow.start()
    else:
        memo.repairs.grown(key)
    if not (result.changes or result.spec_error or result.conflict):
        log.debug("in sync", trigger=trigger)
    _report(body, result, log)


@kopf.on.create(*CR, id="reconcile-create")
def on_create(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    run_reconcile(memo, body, "create")


@kopf.on.update(*CR, id="reconcile-update", field="spec")
def on_update(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    # (the HA loop wakes on the watch event itself: ha_daemon.py, HaLoop.notify)
    run_reconcile(memo, body, "update")


@kopf.on.resume(*CR, id="reconcile-resume")
async def on_resume(namespace: str | None, name: str, memo: kopf.Memo, **_: Any) -> None:
    """An operator (re)start, nothing changed meanwhile: reconciled at the first repair
    tick, not now, so that an operator restarted in front of many clusters spends its
    first seconds on their HA loops (the actives' leases), not on reading every child."""
    memo.repairs.mark((str(namespace), name))


@kopf.timer(*CR, id="repair", interval=REPAIR_INTERVAL, initial_delay=REPAIR_INTERVAL)
def repair(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    meta = body.get("metadata") or {}
    key = (str(meta.get("namespace")), str(meta.get("name")))
    if is_deleting(dict(body)) or not memo.repairs.due(key, time.monotonic()):
        return
    with contextlib.suppress(kopf.PermanentError):  # reported on the transition already
        run_reconcile(memo, body, "timer")


@kopf.on.delete(*CR, id="cleanup")
def on_delete(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    meta = body.get("metadata") or {}
    log = cluster_logger(meta.get("namespace"), meta.get("name"))
    try:
        done = cleanup(memo.kube, dict(body))
    except Waiting as wait:
        log.info("cleanup waiting", reason=str(wait))
        raise kopf.TemporaryError(str(wait), delay=5) from wait
    except KubeError as exc:
        raise kopf.TemporaryError(str(exc), delay=RETRY_DELAY) from exc
    memo.repairs.forget((str(meta.get("namespace")), str(meta.get("name"))))
    log.info("cleaned up", actions=done)


# --- reacting to other objects -------------------------------------------------------


@kopf.on.event(*CR, id="config-users")
async def config_users(
    type: str | None, namespace: str | None, name: str, spec: kopf.Spec, memo: kopf.Memo, **_: Any
) -> None:
    """Record which ConfigMaps/Secrets the cluster's spec names. On the event loop, not in
    a handler thread: kopf starts a cluster's HA loop only after its event handlers, and
    the threads may be busy with other clusters' reconciles (an operator restart)."""
    memo.config_users.uses(namespace or "", name, [] if type == "DELETED" else _sources(
        namespace, name, spec))  # fmt: skip


def _sources(namespace: str | None, name: str, spec: kopf.Spec) -> list[Source]:
    try:
        parsed = parse_spec(dict(spec))
    except SpecError:
        return []
    return [(namespace or "", r.kind, r.name) for r in referenced_sources(parsed, name)]


def _follow_growth(memo: kopf.Memo, key: tuple[str, str]) -> None:
    """The follow-up of growing PVCs (a timer thread); the repair tick retries a failure."""
    memo.repairs.followed(key)
    try:
        reconcile_named(memo, key[0], [key[1]], "volumes growing")
    except KubeError as exc:
        cluster_logger(*key).warning("API error, will retry", error=str(exc))


def reconcile_named(memo: kopf.Memo, namespace: str, names: Iterable[str], why: str) -> None:
    for name in sorted(set(names)):
        body = memo.kube.get(cluster_ref(namespace, name))
        if body is None or is_deleting(body):
            continue
        try:
            run_reconcile(memo, body, why)
        except (kopf.PermanentError, kopf.TemporaryError) as exc:
            cluster_logger(namespace, name).info("reconcile deferred", reason=str(exc))


async def _child_changed(
    event_type: str | None, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, what: str
) -> None:
    """Deleted: reconcile the owner now (in a thread). Changed: the next repair tick looks
    at it. (None is kopf's initial listing: the first repair tick covers it.) The event
    handlers are async so that the listing of every child at an operator start costs no
    thread hop per object."""
    owner = owner_of(dict(labels))
    if not owner or not namespace or event_type is None:
        return
    if event_type == "DELETED":
        await asyncio.to_thread(reconcile_named, memo, namespace, [owner], f"{what} deleted")
    else:
        memo.repairs.mark((namespace, owner))


@kopf.on.event("apps", "v1", "statefulsets", id="child-statefulset", labels=MANAGED)
async def statefulset_event(
    type: str | None, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    await _child_changed(type, namespace, labels, memo, "StatefulSet")


@kopf.on.event("", "v1", "services", id="child-service", labels=MANAGED)
async def service_event(
    type: str | None, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    await _child_changed(type, namespace, labels, memo, "Service")


@kopf.on.event("policy", "v1", "poddisruptionbudgets", id="child-pdb", labels=MANAGED)
async def pdb_event(
    type: str | None, namespace: str | None, labels: kopf.Labels, memo: kopf.Memo, **_: Any
) -> None:
    await _child_changed(type, namespace, labels, memo, "PodDisruptionBudget")


async def _config_event(
    kind: str,
    event_type: str | None,
    namespace: str | None,
    name: str | None,
    memo: kopf.Memo,
) -> None:
    if event_type is None or not namespace or not name:  # None: the initial listing
        return
    users = memo.config_users.users((namespace, kind, name))
    if users:
        why = f"{kind} {name} {event_type.lower()}"
        await asyncio.to_thread(reconcile_named, memo, namespace, users, why)


@kopf.on.event("", "v1", "configmaps", id="config-configmap")
async def configmap_event(
    type: str,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    await _config_event("ConfigMap", type, namespace, name, memo)


@kopf.on.event("", "v1", "secrets", id="config-secret")
async def secret_event(
    type: str,
    namespace: str | None,
    name: str,
    labels: kopf.Labels,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    await _child_changed(type, namespace, labels, memo, "Secret")
    await _config_event("Secret", type, namespace, name, memo)
