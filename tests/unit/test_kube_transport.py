"""Kube's transport (kube_transport): kubeconfigs with a token or a client certificate, CA
data or file, the 401 re-login, 'no answer' as KubeError(0, Unreachable), and kopf logging
in with the same credentials when the kubernetes client is not installed."""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import kopf
import pytest
import urllib3
import yaml

from zenith_operator.controller.kube_transport import Transport, kubeconfig_login, login
from zenith_operator.controller.reconcile_kube import UNREACHABLE, Kube, KubeError

Reply = Callable[["Handler"], tuple[int, Any]]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def _answer(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(size)) if size else None
        self.server.seen.append((self.command, self.path, dict(self.headers), body))
        status, answer = self.server.reply(self)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _answer

    def log_message(self, *_: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, reply: Reply, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.reply = reply
        self.seen: list[tuple[str, str, dict[str, str], Any]] = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, *_: Any) -> None:  # a refused TLS handshake is part of a test
        pass


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(reply: Reply, tls: ssl.SSLContext | None = None) -> Server:
        server = Server(reply, tls)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def kubeconfig(path: Path, server: str, user: dict[str, Any], **cluster: Any) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "db"}}],
        "current-context": "ctx",
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def bearer(handler: Handler) -> tuple[int, Any]:
    token = handler.headers.get("Authorization")
    if token != "Bearer secret":
        return 401, {"kind": "Status", "reason": "Unauthorized", "message": str(token)}
    return 200, {"kind": "Namespace", "metadata": {"name": "db"}}


def test_a_token_kubeconfig(serve: Callable[..., Server], tmp_path: Path) -> None:
    server = serve(bearer)
    kube = Kube.from_kubeconfig(kubeconfig(tmp_path / "kc", server.url, {"token": "secret"}))
    assert kube.request("GET", "/api/v1/namespaces/db")["metadata"]["name"] == "db"
    body = {"metadata": {"labels": {"a": "b"}}}
    kube.request("PATCH", "/api/v1/namespaces/db", body, "application/merge-patch+json")
    method, path, headers, sent = server.seen[-1]
    assert (method, path, sent) == ("PATCH", "/api/v1/namespaces/db", body)
    assert headers["Content-Type"] == "application/merge-patch+json"
    assert headers["Accept"] == "application/json"
    wrong = Kube.from_kubeconfig(kubeconfig(tmp_path / "kc2", server.url, {"token": "nope"}))
    with pytest.raises(KubeError) as err:
        wrong.request("GET", "/api/v1/namespaces/db")
    assert (err.value.status, err.value.reason) == (401, "Unauthorized")


def test_a_401_reads_the_credentials_again_once(serve: Callable[..., Server]) -> None:
    server = serve(bearer)
    tokens = iter(["rotated-away", "secret", "never-read"])
    logins: list[str] = []

    def login() -> kopf.ConnectionInfo:
        logins.append(next(tokens))
        return kopf.ConnectionInfo(server=server.url, token=logins[-1])

    kube = Kube(Transport(login, connections=2))
    assert kube.request("GET", "/api/v1/namespaces/db")["kind"] == "Namespace"
    assert logins == ["rotated-away", "secret"]
    assert len(server.seen) == 2
    assert kube.request("GET", "/api/v1/namespaces/db")["kind"] == "Namespace"
    assert logins == ["rotated-away", "secret"]  # the new token stays


def test_a_401_with_fresh_credentials_stands(serve: Callable[..., Server]) -> None:
    server = serve(bearer)
    logins: list[int] = []

    def login() -> kopf.ConnectionInfo:
        logins.append(1)
        return kopf.ConnectionInfo(server=server.url, token="wrong")

    with pytest.raises(KubeError) as err:
        Kube(Transport(login, connections=2)).request("GET", "/version")
    assert err.value.status == 401
    assert len(logins) == 2 and len(server.seen) == 2


def test_no_answer_is_unreachable(serve: Callable[..., Server], tmp_path: Path) -> None:
    server = serve(lambda h: (200, {}))
    path = kubeconfig(tmp_path / "kc", server.url, {"token": "secret"})
    server.shutdown()
    server.server_close()
    with pytest.raises(KubeError) as err:
        Kube.from_kubeconfig(path).request("GET", "/version")
    assert (err.value.status, err.value.reason) == (0, UNREACHABLE)


def test_a_slow_answer_times_out_as_unreachable(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    gate = threading.Event()

    def slow(_: Handler) -> tuple[int, Any]:
        gate.wait(5)
        return 200, {}

    server = serve(slow)
    kube = Kube.from_kubeconfig(kubeconfig(tmp_path / "kc", server.url, {"token": "t"}))
    short = kube.with_timeout(0.2)
    assert short.transport is kube.transport and kube.timeout != short.timeout
    with pytest.raises(KubeError) as err:
        short.request("POST", "/api/v1/namespaces", {"metadata": {"name": "x"}})
    gate.set()
    assert (err.value.status, err.value.reason) == (0, UNREACHABLE)


def test_the_kubeconfig_context_and_relative_files(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path / "kc", "https://api:6443", {"token": "t"},
                      **{"certificate-authority": "ca.crt"})  # fmt: skip
    doc = yaml.safe_load(path.read_text())
    doc["users"].append({"name": "admin", "user": {"client-certificate": "/abs/admin.crt",
                                                   "client-key": "admin.key"}})  # fmt: skip
    doc["contexts"].append({"name": "admin", "context": {"cluster": "c", "user": "admin"}})
    path.write_text(yaml.safe_dump(doc))
    info = kubeconfig_login(path)
    assert (info.server, info.token, info.default_namespace) == ("https://api:6443", "t", "db")
    assert info.ca_path == str(tmp_path / "ca.crt")
    admin = kubeconfig_login(path, "admin")
    assert (admin.certificate_path, admin.private_key_path) == (
        "/abs/admin.crt",
        str(tmp_path / "admin.key"),
    )
    assert admin.token is None and admin.default_namespace is None
    with pytest.raises(kopf.LoginError, match="context 'missing' not found"):
        kubeconfig_login(path, "missing")


def test_in_a_pod_the_api_address_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = kopf.ConnectionInfo(server="https://kubernetes.default.svc", token="sa",
                                  ca_path="/ca.crt", default_namespace="zenith")  # fmt: skip
    monkeypatch.setattr(kopf, "login_with_service_account", lambda **_: account)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    assert login() is account
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    info = login()
    assert (info.server, info.token, info.ca_path, info.default_namespace) == (
        "https://10.96.0.1:443", "sa", "/ca.crt", "zenith"
    )  # fmt: skip
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    assert login().server == "https://[fd00::1]:443"


# -- TLS: CA data or file, client certificates ---------------------------------------
@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    d = tmp_path_factory.mktemp("pki")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1",
            "-subj", "/CN=test-ca")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, cn, ext in (("server", "/CN=127.0.0.1", ["-extfile", "san.ext"]),
                          ("client", "/CN=zenith-admin", [])):  # fmt: skip
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", cn)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "1", *ext)  # fmt: skip
    return d


def client_name(handler: Handler) -> tuple[int, Any]:
    cert = handler.connection.getpeercert()  # type: ignore[attr-defined]
    subject = dict(item for rdn in cert["subject"] for item in rdn) if cert else {}
    return 200, {"user": subject.get("commonName")}


def tls_server(pki: Path) -> ssl.SSLContext:
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(pki / "server.crt", pki / "server.key")
    tls.verify_mode = ssl.CERT_REQUIRED
    tls.load_verify_locations(pki / "ca.crt")
    return tls


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def test_a_client_certificate_kubeconfig_with_ca_data(
    serve: Callable[..., Server], pki: Path, tmp_path: Path
) -> None:
    server = serve(client_name, tls_server(pki))
    user = {"client-certificate-data": b64(pki / "client.crt"),
            "client-key-data": b64(pki / "client.key")}  # fmt: skip
    path = kubeconfig(tmp_path / "kc", server.url, user,
                      **{"certificate-authority-data": b64(pki / "ca.crt")})  # fmt: skip
    assert Kube.from_kubeconfig(path).request("GET", "/version") == {"user": "zenith-admin"}


def test_client_certificate_and_ca_files(
    serve: Callable[..., Server], pki: Path, tmp_path: Path
) -> None:
    server = serve(client_name, tls_server(pki))
    for name in ("ca.crt", "client.crt", "client.key"):
        shutil.copy(pki / name, tmp_path / name)
    user = {"client-certificate": "client.crt", "client-key": str(tmp_path / "client.key")}
    path = kubeconfig(tmp_path / "kc", server.url, user, **{"certificate-authority": "ca.crt"})
    assert Kube.from_kubeconfig(path).request("GET", "/version") == {"user": "zenith-admin"}
    untrusted = kubeconfig(tmp_path / "kc2", server.url, user)  # the system CAs only
    with pytest.raises(KubeError) as err:
        Kube.from_kubeconfig(untrusted).request("GET", "/version")
    assert err.value.status == 0
    insecure = kubeconfig(tmp_path / "kc3", server.url, user, **{"insecure-skip-tls-verify": True})
    with pytest.warns(urllib3.exceptions.InsecureRequestWarning):
        assert Kube.from_kubeconfig(insecure).request("GET", "/version") == {"user": "zenith-admin"}


# -- kopf without the kubernetes client ----------------------------------------------
KOPF_LOGIN = """
import json, sys
sys.modules["kubernetes"] = None  # as in the operator image: not installed
import kopf
from kopf._core.intents.causes import Activity
import zenith_operator.controller.handlers
from zenith_operator.controller.reconcile_kube import Kube
registry = kopf.get_default_registry()
handlers = registry._activities.get_handlers(activity=Activity.AUTHENTICATION)
info = handlers[0].fn(settings=kopf.OperatorSettings(), logger=None)
kube = Kube.from_environment()
print(json.dumps({"ids": [h.id for h in handlers], "server": info.server, "token": info.token,
                  "version": kube.request("GET", "/version")}))
"""


def test_kopf_and_kube_log_in_alike_without_the_kubernetes_client(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve(lambda h: (200, {"auth": h.headers.get("Authorization")}))
    path = kubeconfig(tmp_path / "kc", server.url, {"token": "secret"})
    env = {**os.environ, "KUBECONFIG": str(path), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", KOPF_LOGIN], env=env, capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(out.splitlines()[-1])
    assert seen == {
        "ids": ["login"],
        "server": server.url,
        "token": "secret",
        "version": {"auth": "Bearer secret"},
    }


def test_an_exec_plugin_user_logs_in_through_the_kubernetes_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kopf's own kubeconfig reader runs no exec plugin: with the client installed (the
    kubectl extra, the dev virtualenv) it does; without it, the error says what to install."""
    from zenith_operator.controller import kube_transport

    path = tmp_path / "kc"
    exec_user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "x"}}
    path.write_text(yaml.safe_dump({
        "current-context": "c",
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": exec_user}],
    }))  # fmt: skip
    assert kube_transport.login_plugin({"KUBECONFIG": str(path)}) == "an exec plugin"
    assert kube_transport.login_plugin({"KUBECONFIG": str(tmp_path / "none")}) is None
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    via_client = kopf.ConnectionInfo(server="https://127.0.0.1:1", token="from-exec")
    monkeypatch.setattr(kopf, "login_via_client", lambda **_: via_client)
    assert login() is via_client
    monkeypatch.setattr(kopf, "login_via_client", lambda **_: None)
    with pytest.raises(kopf.LoginError, match=r"zenith-operator\[kubectl\]"):
        login()
