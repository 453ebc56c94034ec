"""HTTP transport of `Kube`: kopf's credentials, requests over one urllib3 pool.

`login()` gives the credentials kopf itself logs in with (it is also the operator's
`kopf.on.login` handler): the pod's service account, else the kubeconfig ($KUBECONFIG or
~/.kube/config, its current context), through kopf's public login functions. In a pod the
API's address comes from $KUBERNETES_SERVICE_HOST/PORT, as client-go and the kubernetes
client take it: no cluster DNS needed to reach the API.
`kubeconfig_login(path, context)` reads one kubeconfig file the same way, for tools and
tests. A 401 answer re-reads the credentials once and retries: in-cluster service-account
tokens rotate. Thread-safe: kopf's handler threads and the HA loops share one transport.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kopf
import urllib3
import yaml

Login = Callable[[], kopf.ConnectionInfo]
USER_AGENT = "zenith-operator"
LOG = logging.getLogger(__name__)


def login(
    settings: kopf.OperatorSettings | None = None, logger: Any = None, **_: Any
) -> kopf.ConnectionInfo:
    """The service account in a pod, else the current context of the kubeconfig; a user
    that logs in through an exec plugin or an auth provider (EKS, GKE, AKS) needs the
    kubernetes client (`zenith-operator[kubectl]`), which runs them."""
    settings = settings or kopf.OperatorSettings()
    info = kopf.login_with_service_account(settings=settings)
    if info is not None:
        return in_cluster_address(info)
    if plugin := login_plugin():
        info = kopf.login_via_client(logger=logger or LOG, settings=settings)
        if info is None:
            raise kopf.LoginError(
                f"the kubeconfig's user logs in with {plugin}: that needs the kubernetes "
                "client: pip install 'zenith-operator[kubectl]'"
            )
        return info
    info = kopf.login_with_kubeconfig(settings=settings)
    if info is None:
        raise kopf.LoginError("no service account and no kubeconfig ($KUBECONFIG, ~/.kube/config)")
    return info


def login_plugin(environ: Mapping[str, str] = os.environ) -> str | None:
    """'an exec plugin' or 'an auth provider' when the current context's user of the
    kubeconfig ($KUBECONFIG's first file, else ~/.kube/config) logs in through one."""
    first = (environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
    path = Path(first or "~/.kube/config").expanduser()
    try:
        doc = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    ctx = named(doc, "context", doc.get("current-context")) or {}
    user = named(doc, "user", ctx.get("user")) or {}
    if user.get("exec"):
        return "an exec plugin"
    return "an auth provider" if user.get("auth-provider") else None


def named(doc: Mapping[str, Any], section: str, name: str | None) -> dict[str, Any] | None:
    """The `section` entry called `name` of a kubeconfig (its `contexts`, `clusters` or
    `users` list), None when there is none."""
    for item in doc.get(f"{section}s") or []:
        if item.get("name") == name:
            found: dict[str, Any] = item.get(section) or {}
            return found
    return None


def in_cluster_address(info: kopf.ConnectionInfo) -> kopf.ConnectionInfo:
    """The service account's credentials with the address the kubelet gives every pod
    (kopf's is https://kubernetes.default.svc, which needs the cluster's DNS)."""
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST"),
        os.environ.get("KUBERNETES_SERVICE_PORT"),
    )
    if not host or not port:
        return info
    host = f"[{host}]" if ":" in host else host
    return dataclasses.replace(info, server=f"https://{host}:{port}")


def kubeconfig_login(path: str | Path, context: str | None = None) -> kopf.ConnectionInfo:
    """The credentials of `context` (default: the current one) in the kubeconfig at `path`;
    relative file names in it are relative to the file, as kubectl reads them."""
    path = Path(path).expanduser()
    doc = yaml.safe_load(path.read_text()) or {}

    def entry(section: str, name: str | None) -> dict[str, Any]:
        found = named(doc, section, name)
        if found is None:
            raise kopf.LoginError(f"{section} {name!r} not found in {path}")
        return found

    ctx = entry("context", context or doc.get("current-context"))
    cluster, user = entry("cluster", ctx.get("cluster")), entry("user", ctx.get("user"))

    def file(value: str | None) -> str | None:
        return str(path.parent / value) if value else None

    return kopf.ConnectionInfo(
        server=cluster["server"],
        ca_path=file(cluster.get("certificate-authority")),
        ca_data=cluster.get("certificate-authority-data"),
        insecure=cluster.get("insecure-skip-tls-verify"),
        certificate_path=file(user.get("client-certificate")),
        certificate_data=user.get("client-certificate-data"),
        private_key_path=file(user.get("client-key")),
        private_key_data=user.get("client-key-data"),
        username=user.get("username"),
        password=user.get("password"),
        token=user.get("token"),
        default_namespace=ctx.get("namespace"),
        proxy_url=cluster.get("proxy-url"),
    )


@dataclass(frozen=True)
class Session:
    """One set of credentials and the connection pool built for it."""

    server: str
    headers: dict[str, str]
    pool: urllib3.PoolManager

    @classmethod
    def of(cls, info: kopf.ConnectionInfo, connections: int) -> Session:
        tls = info.as_ssl_context() if info.server.startswith("https:") else None
        options: dict[str, Any] = {"maxsize": connections, "ssl_context": tls}
        pool = (
            urllib3.ProxyManager(info.proxy_url, **options)
            if info.proxy_url
            else urllib3.PoolManager(**options)
        )
        headers = {"User-Agent": USER_AGENT, **info.as_http_headers()}
        return cls(info.server.rstrip("/"), headers, pool)


class Transport:
    """Sends requests to the API server; raises urllib3's HTTPError when no answer came."""

    def __init__(self, login: Login, connections: int) -> None:
        self._login = login
        self._connections = connections
        self._lock = threading.Lock()
        self._session = Session.of(login(), connections)

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float
    ) -> tuple[int, bytes]:
        """(status, body) of the answer; a 401 re-reads the credentials and retries once."""
        session = self._session
        status, data = self._send(session, method, path, body, headers, timeout)
        if status == 401:
            renewed = self._renew(session)
            if renewed is not session:
                status, data = self._send(renewed, method, path, body, headers, timeout)
        return status, data

    def stream(
        self, path: str, headers: dict[str, str], connect: float, read: float
    ) -> tuple[int, urllib3.BaseHTTPResponse]:
        """A GET whose body is read as it arrives (a watch); the caller releases it.
        A 401 re-reads the credentials and retries once, as `request` does."""
        session = self._session
        status, resp = self._open(session, path, headers, connect, read)
        if status == 401:
            renewed = self._renew(session)
            if renewed is not session:
                resp.release_conn()
                status, resp = self._open(renewed, path, headers, connect, read)
        return status, resp

    def close(self) -> None:
        self._session.pool.clear()

    @staticmethod
    def _open(
        session: Session, path: str, headers: dict[str, str], connect: float, read: float
    ) -> tuple[int, urllib3.BaseHTTPResponse]:
        resp = session.pool.request(
            "GET",
            session.server + path,
            headers={**session.headers, **headers},
            timeout=urllib3.Timeout(connect=connect, read=read),
            preload_content=False,
            retries=False,
        )
        return resp.status, resp

    @staticmethod
    def _send(
        session: Session,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        timeout: float,
    ) -> tuple[int, bytes]:
        resp = session.pool.request(
            method,
            session.server + path,
            body=body,
            headers={**session.headers, **headers},
            timeout=urllib3.Timeout(total=timeout),
        )
        return resp.status, resp.data

    def _renew(self, failed: Session) -> Session:
        """New credentials after a 401 on `failed` (once for all threads that saw it); the
        same session when they cannot be read."""
        with self._lock:
            if self._session is failed:
                try:
                    self._session = Session.of(self._login(), self._connections)
                except Exception:  # no new credentials: the 401 stands
                    return failed
            return self._session
