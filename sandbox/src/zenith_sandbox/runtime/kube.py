"""A thin raw-JSON wrapper over the `kubernetes` client's ApiClient.

The runtime works on plain dicts exactly as the API server returns them: no model
round-trip that could drop unknown fields. Authentication, TLS and the kubeconfig are
the client's; only the request paths are built here. All calls are blocking: the
runtime runs them in threads (`asyncio.to_thread`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.watch.watch import iter_resp_lines

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"


@dataclass(frozen=True)
class Kind:
    group: str  # "" for core
    version: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None = None, name: str | None = None, sub: str = "") -> str:
        base = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.plural}"
        if name:
            base += f"/{name}"
            if sub:
                base += f"/{sub}"
        return base


PODS = Kind("", "v1", "pods")
PVCS = Kind("", "v1", "persistentvolumeclaims")
PVS = Kind("", "v1", "persistentvolumes", namespaced=False)
NODES = Kind("", "v1", "nodes", namespaced=False)
CONFIGMAPS = Kind("", "v1", "configmaps")
SECRETS = Kind("", "v1", "secrets")
EVENTS = Kind("", "v1", "events")
STATEFULSETS = Kind("apps", "v1", "statefulsets")


class KubeError(Exception):
    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body
        try:
            parsed = json.loads(body)
            self.reason = str(parsed.get("reason", "")) if isinstance(parsed, dict) else ""
            self.message = str(parsed.get("message", body)) if isinstance(parsed, dict) else body
        except ValueError:
            self.reason, self.message = "", body
        super().__init__(f"HTTP {status} {self.reason}: {self.message}")

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409


class Kube:
    """Raw JSON requests through `kubernetes.client.ApiClient`."""

    def __init__(self, api: k8s.ApiClient, timeout: float = 10.0) -> None:
        self.api = api
        self.timeout = timeout

    def _call(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float | tuple[float, float] | None = None,
    ) -> Any:
        params = [(k, v) for k, v in (query or {}).items() if v is not None]
        headers = {"Accept": "application/json", "Content-Type": content_type}
        m, url, hdrs, data, _ = self.api.param_serialize(
            method,
            path,
            query_params=params,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        return self.api.call_api(
            m, url, header_params=hdrs, body=data, _request_timeout=timeout or self.timeout
        )

    def request(
        self,
        method: str,
        path: str,
        query: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Obj:
        resp = self._call(method, path, query, body, content_type)
        raw = resp.read()
        if not 200 <= resp.status < 300:
            raise KubeError(resp.status, raw.decode("utf-8", "replace"))
        result: Obj = json.loads(raw) if raw else {}
        return result

    # -- verbs ---------------------------------------------------------------------
    def list(
        self,
        kind: Kind,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[list[Obj], str]:
        out = self.request(
            "GET",
            kind.path(namespace),
            {"labelSelector": label_selector, "fieldSelector": field_selector},
        )
        items: list[Obj] = out.get("items") or []
        return items, str(out.get("metadata", {}).get("resourceVersion", ""))

    def get(self, kind: Kind, namespace: str | None, name: str) -> Obj | None:
        try:
            return self.request("GET", kind.path(namespace, name))
        except KubeError as e:
            if e.not_found:
                return None
            raise

    def create(self, kind: Kind, namespace: str | None, body: Obj) -> Obj:
        return self.request("POST", kind.path(namespace), body=body)

    def patch(self, kind: Kind, namespace: str | None, name: str, body: Obj, sub: str = "") -> Obj:
        return self.request(
            "PATCH", kind.path(namespace, name, sub), body=body, content_type=MERGE_PATCH
        )

    def delete(
        self,
        kind: Kind,
        namespace: str | None,
        name: str,
        grace_seconds: int | None = None,
        uid: str | None = None,
    ) -> bool:
        """Delete; False if already gone (or the uid precondition no longer matches)."""
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if grace_seconds is not None:
            body["gracePeriodSeconds"] = grace_seconds
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            self.request("DELETE", kind.path(namespace, name), body=body)
            return True
        except KubeError as e:
            if e.not_found or e.conflict:
                return False
            raise

    def bind(self, namespace: str, name: str, node: str, uid: str | None = None) -> None:
        body: Obj = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }
        if uid:
            body["metadata"]["uid"] = uid
        self.request("POST", PODS.path(namespace, name, "binding"), body=body)

    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, timeout_seconds: int = 30
    ) -> Iterator[tuple[str, Obj]]:
        """Yield (type, object) until the server ends the watch; raises KubeError."""
        resp = self._call(
            "GET",
            kind.path(namespace),
            {
                "watch": "true",
                "resourceVersion": resource_version or None,
                "timeoutSeconds": timeout_seconds,
                "allowWatchBookmarks": "true",
            },
            timeout=(5.0, timeout_seconds + 10.0),
        )
        try:
            if not 200 <= resp.status < 300:
                raise KubeError(resp.status, resp.read().decode("utf-8", "replace"))
            for line in iter_resp_lines(resp.response):  # type: ignore[no-untyped-call]
                if not line.strip():
                    continue
                event = json.loads(line)
                yield str(event.get("type", "")), event.get("object") or {}
        finally:
            resp.response.release_conn()
