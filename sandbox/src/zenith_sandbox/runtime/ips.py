"""Loopback addresses for the sandbox's pods, one per pod, shared safely between runtimes."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import tempfile
from pathlib import Path


class IpPool:
    """127.0.0.2 .. 127.0.0.254, handed out round-robin, never one still in use.

    Several runtimes may share the machine (parallel test runs): an address is held
    with an flock on `<tmp>/zenith-sandbox-ips/<ip>.lock` while in use, released by
    `release` or by the kernel when the runtime dies.
    """

    LOCK_DIR = Path(tempfile.gettempdir()) / "zenith-sandbox-ips"

    def __init__(self) -> None:
        self.in_use: dict[str, int] = {}  # ip -> fd of its lock file
        self._next = 2

    def _lock(self, ip: str) -> bool:
        self.LOCK_DIR.mkdir(mode=0o1777, parents=True, exist_ok=True)
        fd = os.open(self.LOCK_DIR / f"{ip}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.in_use[ip] = fd
        return True

    def take(self, preferred: str | None = None, also_used: set[str] | None = None) -> str:
        busy = set(self.in_use) | (also_used or set())
        if preferred and preferred not in busy and _loopback(preferred) and self._lock(preferred):
            return preferred
        for _ in range(253):
            ip = f"127.0.0.{self._next}"
            self._next = 2 if self._next >= 254 else self._next + 1
            if ip not in busy and self._lock(ip):
                return ip
        raise RuntimeError("no free loopback address")

    def release(self, ip: str | None) -> None:
        fd = self.in_use.pop(ip, None) if ip else None
        if fd is not None:
            os.close(fd)


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback and ip != "127.0.0.1"
    except ValueError:
        return False
