"""How the operator reaches agents that serve TLS (`spec.agentSpec.tlsSecret`).

The agents and the operator share one kubernetes.io/tls Secret: the pods mount its
tls.crt/tls.key (resources/pod.py), the operator trusts its ca.crt (tls.crt when the
Secret has no ca.crt: a self-signed certificate) and checks that the certificate names
the pod it calls, `POD.NAME.NAMESPACE.svc` (the headless Service; a wildcard
`*.NAME.NAMESPACE.svc` covers every pod).
"""

from __future__ import annotations

import base64
import ssl
from typing import Any

from zenith_operator import naming
from zenith_operator.controller.reconcile_kube import Kube, Ref

CA_KEYS = ("ca.crt", "tls.crt")


def pod_server_name(pod: str, cluster: str, namespace: str) -> str:
    """The name a pod's agent certificate must carry."""
    return f"{pod}.{naming.headless_service_name(cluster)}.{namespace}.svc"


def ca_of(secret: dict[str, Any] | None) -> str | None:
    """The PEM the operator trusts, from the Secret's data (ca.crt, else tls.crt)."""
    data = (secret or {}).get("data") or {}
    for key in CA_KEYS:
        if data.get(key):
            return base64.b64decode(data[key]).decode()
    return None


def client_context(ca_pem: str | None) -> ssl.SSLContext:
    """Verifies the chain against ca_pem (the system's CAs when None) and the host name."""
    ctx = ssl.create_default_context(cadata=ca_pem) if ca_pem else ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def read_context(kube: Kube, namespace: str, secret: str) -> ssl.SSLContext:
    """Blocking: the client context for the agents of a cluster using `secret`. A missing
    Secret or CA still gives a verifying context: calls fail (and say so) rather than
    fall back to plain HTTP."""
    return client_context(ca_of(kube.get(Ref("v1", "Secret", secret, namespace))))
