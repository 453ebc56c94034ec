"""Container probes as a kubelet runs them.

`ProbeTracker` is the pure state machine (thresholds, initial results); `check` runs
one httpGet/tcpSocket/exec attempt against the pod IP and returns success.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

Obj = dict[str, Any]
ExecRunner = Callable[[list[str], float], Awaitable[int | None]]


@dataclass
class ProbeTracker:
    """Result of one probe of one container run.

    kind: "startup" | "liveness" | "readiness". Initial results follow the kubelet:
    readiness and startup start failed (not ready, not started), liveness starts
    succeeded. `record` returns the new result when it flips, else None.
    """

    kind: str
    spec: Obj
    result: bool = field(init=False)
    successes: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        self.result = self.kind == "liveness"

    @property
    def initial_delay(self) -> float:
        return float(self.spec.get("initialDelaySeconds", 0))

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds", 1))

    @property
    def failure_threshold(self) -> int:
        return int(self.spec.get("failureThreshold", 3))

    @property
    def success_threshold(self) -> int:
        # liveness and startup require 1 (the API server rejects anything else)
        if self.kind != "readiness":
            return 1
        return int(self.spec.get("successThreshold", 1))

    def record(self, ok: bool) -> bool | None:
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.result and self.successes >= self.success_threshold:
                self.result = True
                return True
        else:
            self.failures += 1
            self.successes = 0
            if self.result and self.failures >= self.failure_threshold:
                self.result = False
                return False
            if self.kind != "readiness" and self.failures >= self.failure_threshold:
                # startup/liveness: every threshold reached is a verdict (kill)
                self.failures = 0
                return False
        return None


def resolve_port(port: Any, container: Obj) -> int:
    if isinstance(port, int) or (isinstance(port, str) and port.isdigit()):
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p["containerPort"])
    raise ValueError(f"no container port named {port!r}")


_INSECURE = ssl.create_default_context()
_INSECURE.check_hostname = False
_INSECURE.verify_mode = ssl.CERT_NONE


async def http_get(spec: Obj, pod_ip: str, container: Obj, timeout: float) -> bool:
    port = resolve_port(spec.get("port"), container)
    host = spec.get("host") or pod_ip
    scheme = str(spec.get("scheme", "HTTP")).lower()
    path = spec.get("path") or "/"
    if not path.startswith("/"):
        path = "/" + path
    headers = {"User-Agent": "kube-probe/1.30"}
    headers.update({h["name"]: h["value"] for h in spec.get("httpHeaders") or []})
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as s,
            s.get(
                f"{scheme}://{host}:{port}{path}",
                headers=headers,
                ssl=_INSECURE if scheme == "https" else True,
                allow_redirects=False,
            ) as resp,
        ):
            return 200 <= resp.status < 400
    except (aiohttp.ClientError, TimeoutError, OSError):
        return False


async def tcp_socket(spec: Obj, pod_ip: str, container: Obj, timeout: float) -> bool:
    port = resolve_port(spec.get("port"), container)
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(spec.get("host") or pod_ip, port), timeout
        )
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def check(spec: Obj, pod_ip: str, container: Obj, run_exec: ExecRunner) -> bool:
    """One attempt of a probe (or a lifecycle handler); never raises."""
    timeout = float(spec.get("timeoutSeconds", 1))
    try:
        if "httpGet" in spec:
            return await http_get(spec["httpGet"], pod_ip, container, timeout)
        if "tcpSocket" in spec:
            return await tcp_socket(spec["tcpSocket"], pod_ip, container, timeout)
        if "exec" in spec:
            code = await run_exec(list(spec["exec"].get("command") or []), timeout)
            return code == 0
    except ValueError:
        return False
    return False  # grpc and unknown handlers: unsupported here, reported as failure
