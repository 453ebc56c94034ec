"""A small generic Kubernetes API wrapper over our transport (kube_transport: kopf's
credentials, urllib3).

Objects are plain dicts (what the builders produce). One instance per operator,
created at start-up and passed in (never a module-level client).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from zenith_operator.controller import metrics
from zenith_operator.controller.kube_transport import Transport, kubeconfig_login, login

# kind -> (plural, namespaced)
KINDS: dict[str, tuple[str, bool]] = {
    "ConfigMap": ("configmaps", True),
    "Secret": ("secrets", True),
    "Service": ("services", True),
    "Pod": ("pods", True),
    "PersistentVolumeClaim": ("persistentvolumeclaims", True),
    "PersistentVolume": ("persistentvolumes", False),
    "StatefulSet": ("statefulsets", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", True),
    "StorageClass": ("storageclasses", False),
    "ZenithCluster": ("zenithclusters", True),
    "ClusterKopfPeering": ("clusterkopfpeerings", False),
    "KopfPeering": ("kopfpeerings", True),
}
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
REQUEST_TIMEOUT = 30.0
CONNECTIONS = 20  # kopf's handler threads (8) + the HA loops' API threads (8) + a probe
UNREACHABLE = "Unreachable"  # KubeError.reason when no HTTP answer came back (status 0)


class KubeError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


def is_unreachable(exc: BaseException) -> bool:
    """True for errors that say the API is away (no answer, 5xx, throttled), not 'no'."""
    if not isinstance(exc, KubeError):
        return False
    return exc.status == 0 or exc.status == 429 or exc.status >= 500


@dataclass(frozen=True)
class Ref:
    api_version: str
    kind: str
    name: str
    namespace: str | None = None

    @classmethod
    def of(cls, obj: dict[str, Any]) -> Ref:
        meta = obj.get("metadata") or {}
        return cls(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name}"


def collection_path(
    api_version: str, kind: str, namespace: str | None, everywhere: bool = False
) -> str:
    """The kind's collection in `namespace`; in all namespaces when `everywhere`."""
    plural, namespaced = KINDS[kind]
    base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
    if namespaced and not (everywhere and not namespace):
        if not namespace:
            raise ValueError(f"{kind} needs a namespace")
        return f"{base}/namespaces/{quote(namespace)}/{plural}"
    return f"{base}/{plural}"


class Kube:
    """Synchronous calls (kopf runs sync handlers in its thread pool)."""

    def __init__(self, transport: Transport, timeout: float = REQUEST_TIMEOUT) -> None:
        self.transport = transport
        self.timeout = timeout

    @classmethod
    def from_environment(cls) -> Kube:
        """The credentials kopf logs in with: the service account, else the kubeconfig."""
        return cls(Transport(login, CONNECTIONS))

    @classmethod
    def from_kubeconfig(cls, path: str | Path, context: str | None = None) -> Kube:
        """A context (default: the current one) of one kubeconfig file."""
        return cls(Transport(lambda: kubeconfig_login(path, context), CONNECTIONS))

    def with_timeout(self, timeout: float) -> Kube:
        """The same connections, another per-request timeout."""
        return Kube(self.transport, timeout)

    def close(self) -> None:
        self.transport.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
    ) -> Any:
        if query:
            path = f"{path}?{urlencode(query)}"
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body).encode()
        try:
            status, raw = self.transport.request(method, path, data, headers, self.timeout)
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, timed out
            metrics.api_request(method, 0)
            raise KubeError(0, UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        metrics.api_request(method, status)
        if status >= 400:
            raise _error(status, raw)
        return json.loads(raw) if raw else None

    def watch(self, path: str, query: dict[str, str], seconds: int) -> Iterator[dict[str, Any]]:
        """The events of one watch of `path` (a collection), as the server sends them,
        until it ends the watch after `seconds`; KubeError when it refuses or goes away."""
        query = {**query, "watch": "true", "timeoutSeconds": str(seconds)}
        headers = {"Accept": "application/json"}
        try:
            status, resp = self.transport.stream(
                f"{path}?{urlencode(query)}", headers, connect=self.timeout, read=seconds + 30.0
            )
        except urllib3.exceptions.HTTPError as exc:
            metrics.api_request("WATCH", 0)
            raise KubeError(0, UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        metrics.api_request("WATCH", status)
        try:
            if status >= 400:
                raise _error(status, resp.read())
            buffer = b""
            for chunk in resp.stream(64 * 1024, decode_content=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip():
                yield json.loads(buffer)
        except urllib3.exceptions.HTTPError as exc:  # reset or silent past the read timeout
            raise KubeError(0, UNREACHABLE, f"{type(exc).__name__}: {exc}") from exc
        finally:  # a watch left early has unread bytes: its connection is not reused
            resp.close()
            resp.release_conn()

    # --- objects -------------------------------------------------------------------

    def get(self, ref: Ref) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.request(
                "GET", f"{collection_path(ref.api_version, ref.kind, ref.namespace)}/{ref.name}"
            )
            return obj
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.get("metadata") or {}
        path = collection_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        created: dict[str, Any] = self.request("POST", path, obj)
        return created

    def patch(
        self, ref: Ref, patch: Any, content_type: str = MERGE, subresource: str = ""
    ) -> dict[str, Any]:
        path = f"{collection_path(ref.api_version, ref.kind, ref.namespace)}/{ref.name}"
        if subresource:
            path += f"/{subresource}"
        patched: dict[str, Any] = self.request("PATCH", path, patch, content_type)
        return patched

    def delete(self, ref: Ref, propagation: str = "Background") -> bool:
        """True when a deletion was requested, False when the object was already gone."""
        path = f"{collection_path(ref.api_version, ref.kind, ref.namespace)}/{ref.name}"
        try:
            self.request(
                "DELETE",
                path,
                {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation},
            )
            return True
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise

    def list(
        self, api_version: str, kind: str, namespace: str | None, selector: dict[str, str]
    ) -> list[dict[str, Any]]:
        query = {"labelSelector": ",".join(f"{k}={v}" for k, v in sorted(selector.items()))}
        result = self.request("GET", collection_path(api_version, kind, namespace), query=query)
        items: list[dict[str, Any]] = result.get("items") or []
        for item in items:  # list items come without apiVersion/kind
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items


def _error(status: int, raw: Any) -> KubeError:
    try:
        body = json.loads(raw) if raw else {}
    except (ValueError, TypeError):
        body = {"message": raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)}
    if not isinstance(body, dict):
        body = {"message": str(body)}
    return KubeError(status, str(body.get("reason", "")), str(body.get("message", "")))
