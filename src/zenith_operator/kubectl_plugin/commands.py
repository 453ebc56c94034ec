"""The `kubectl zenith` commands: each reads or annotates one ZenithCluster.

They set the documented annotations and spec fields (docs/operations.md); the plugin
is a convenience over that API, never another way in. Waiting polls the resource.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from kubernetes import client

from zenith_operator import naming
from zenith_operator.ha import SWITCHOVER_ANNOTATION
from zenith_operator.kubectl_plugin import view

Obj = dict[str, Any]
SERVING = {"Normal", "StandbyDown", "StandbyPartiallyDown", "StandbyPartiallyStarting"}
POLL_EVERY = 0.5


class PluginError(Exception):
    """A clear message for the user; the plugin exits 1 with it."""


@dataclass
class Target:
    api: client.ApiClient
    namespace: str
    name: str
    out: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep

    def get(self) -> Obj:
        try:
            obj = raw(
                client.CustomObjectsApi(self.api).get_namespaced_custom_object,
                naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, self.name,
            )  # fmt: skip
        except client.ApiException as exc:
            if exc.status == 404:
                raise PluginError(
                    f'zenithclusters "{self.name}" not found in namespace "{self.namespace}"'
                ) from None
            raise
        return obj

    def patch(self, body: Obj) -> None:
        client.CustomObjectsApi(self.api).patch_namespaced_custom_object(
            naming.GROUP, naming.VERSION, self.namespace, naming.PLURAL, self.name, body
        )

    def annotate(self, key: str, value: str | None) -> None:
        self.patch({"metadata": {"annotations": {key: value}}})

    def events(self) -> list[Obj]:
        selector = f"involvedObject.name={self.name},involvedObject.kind={naming.KIND}"
        api = client.CoreV1Api(self.api)
        items: list[Obj] = raw(api.list_namespaced_event, self.namespace, field_selector=selector)[
            "items"
        ]
        return items or []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def wait(self, what: str, done: Callable[[Obj], bool], timeout: float) -> Obj:
        """Poll until done(body); one progress line per change (rewritten on a terminal)."""
        start, last = self.clock(), ""
        tty = self.out.isatty()
        while True:
            body = self.get()
            elapsed = self.clock() - start
            line = view.progress(elapsed, body)
            if done(body):
                if tty:
                    self.out.write("\r\033[K")
                return body
            shown = line.split("]", 1)[1]
            if tty:
                self.out.write("\r\033[K" + line[:150])
                self.out.flush()
            elif shown != last:
                self.say(line)
            last = shown
            if elapsed >= timeout:
                if tty:
                    self.out.write("\n")
                raise PluginError(f"timed out after {timeout:g}s waiting for {what}")
            self.sleep(POLL_EVERY)


def raw(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    """A client call's JSON body as plain dicts (the API's own field names)."""
    resp = call(*args, _preload_content=False, **kwargs)
    obj: Obj = json.loads(resp.data)
    return obj


def _status(body: Obj) -> Obj:
    st: Obj = body.get("status") or {}
    return st


def _instances(body: Obj) -> list[str]:
    replicas = int(((body.get("spec") or {}).get("zenithSpec") or {}).get("replicas", 2))
    return [naming.pod_name(body["metadata"]["name"], i) for i in range(replicas)]


def status(t: Target) -> int:
    body = t.get()
    t.say(view.status_view(body, t.events(), datetime.now(UTC)))
    return 0


def switchover(t: Target, to: str | None, wait: bool, timeout: float) -> int:
    body = t.get()
    st = _status(body)
    active, target = st.get("activeInstance"), to or st.get("standbyInstance")
    if not target:
        raise PluginError(f"{t.name} has no standby to switch over to (state {st.get('state')})")
    if target not in _instances(body):
        raise PluginError(
            f"{target} is not an instance of {t.name} ({', '.join(_instances(body))})"
        )
    if target == active:
        raise PluginError(f"{target} is already the active")
    if st.get("state") != "Normal":
        t.say(f"note: {t.name} is {st.get('state')}; the operator switches over once it is "
              "Normal with the standby in sync")  # fmt: skip
    t.annotate(SWITCHOVER_ANNOTATION, target)
    t.say(f"switchover of {t.name} to {target} requested ({SWITCHOVER_ANNOTATION}={target})")
    if not wait:
        t.say(f"when it is done, remove the annotation: kubectl -n {t.namespace} annotate zc "
              f"{t.name} {SWITCHOVER_ANNOTATION}-   (--wait does it for you)")  # fmt: skip
        return 0
    seen: dict[str, bool] = {"started": False}

    def done(b: Obj) -> bool:
        s = _status(b)
        if s.get("activeInstance") == target and s.get("state") in SERVING:
            return True
        if f"switchover-to {target} ignored" in (s.get("message") or ""):
            raise PluginError(f"the operator refused the switchover: {s.get('message')}")
        pending = s.get("pendingAction") or {}
        if pending.get("kind") == "Switchover":
            seen["started"] = True
        elif seen["started"] and s.get("activeInstance") == active:
            raise PluginError(f"switchover cancelled: {s.get('message')}")
        return False

    began = t.clock()
    try:
        t.wait(f"{target} to become the active", done, timeout)
    except PluginError:
        t.annotate(SWITCHOVER_ANNOTATION, None)
        t.say(f"removed {SWITCHOVER_ANNOTATION}")
        raise
    t.annotate(SWITCHOVER_ANNOTATION, None)
    t.say(f"switched over: {target} is the active ({t.clock() - began:.1f}s); annotation removed")
    return 0


def resume(t: Target, active: str | None, wait: bool, timeout: float) -> int:
    body = t.get()
    st = _status(body)
    if active is not None and active not in _instances(body):
        raise PluginError(
            f"{active} is not an instance of {t.name} ({', '.join(_instances(body))})"
        )
    if st.get("state") != "ManualIntervention":
        t.say(f"note: {t.name} is {st.get('state')}, not ManualIntervention: the operator "
              "only reads the resume annotation there")  # fmt: skip
    value = active or str(int(time.time()))
    t.annotate(naming.RESUME_ANNOTATION, value)
    what = f"making {active} the active" if active else "re-examining the cluster"
    t.say(f"resume of {t.name} requested: {what} ({naming.RESUME_ANNOTATION}={value})")
    if active:
        t.say(f"writes that exist only on the other instance are discarded when it is rebuilt "
              f"from {active}")  # fmt: skip
    if wait:
        t.wait("Normal", lambda b: _status(b).get("state") == "Normal", timeout)
        t.say(f"{t.name} is Normal")
    return 0


def set_stopped(t: Target, stopped: bool, wait: bool, timeout: float) -> int:
    t.get()
    t.patch({"spec": {"zenithSpec": {"stopped": stopped}}})
    verb = "stop" if stopped else "start"
    t.say(f"{verb} of {t.name} requested (spec.zenithSpec.stopped={str(stopped).lower()})")
    if wait:
        want = "Stopped" if stopped else "Normal"
        t.wait(want, lambda b: _status(b).get("state") == want, timeout)
        t.say(f"{t.name} is {want}")
    return 0


def rollout_status(t: Target, wait: bool, timeout: float) -> int:
    def hashes() -> tuple[dict[str, str | None], str | None]:
        core, apps = client.CoreV1Api(t.api), client.AppsV1Api(t.api)
        key = naming.CONFIG_HASH_ANNOTATION
        template: str | None = None
        try:
            sts = raw(apps.read_namespaced_stateful_set, naming.statefulset_name(t.name),
                      t.namespace)  # fmt: skip
            meta = ((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}
            template = (meta.get("annotations") or {}).get(key)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        selector = f"{naming.CLUSTER_LABEL}={t.name}"
        pods = raw(core.list_namespaced_pod, t.namespace, label_selector=selector)["items"]
        return {
            p["metadata"]["name"]: (p["metadata"].get("annotations") or {}).get(key)
            for p in pods or []
        }, template

    def done(b: Obj) -> bool:
        pods, template = hashes()
        current = all(v == template for v in pods.values()) and bool(pods)
        return not _status(b).get("rollout") and _status(b).get("state") == "Normal" and current

    if wait:
        t.wait("the rollout to finish", done, timeout)
    pods, template = hashes()
    t.say(view.rollout_view(t.get(), pods, template, datetime.now(UTC)))
    return 0
