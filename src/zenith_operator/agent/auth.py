"""Bearer-token check: a token given once at start ($ZENITH_AGENT_TOKEN, how the pod
gets it), or a token file re-read whenever it changes (Secret rotation)."""

from __future__ import annotations

import ctypes
import hmac
import os
from collections.abc import MutableMapping
from pathlib import Path

TOKEN_ENV = "ZENITH_AGENT_TOKEN"
PR_SET_DUMPABLE = 4


def _matches(authorization: str | None, expected: bytes) -> bool:
    if not authorization or not expected:
        return False
    scheme, _, presented = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected)


class Token:
    """What the HTTP layer asks: does this Authorization header carry the token?"""

    def check(self, authorization: str | None) -> bool:
        raise NotImplementedError


class StaticToken(Token):
    """A token read once at start and kept only in this process's memory."""

    def __init__(self, token: str) -> None:
        self._token = token.strip().encode()

    def check(self, authorization: str | None) -> bool:
        """True when the header is `Bearer <token>`; compared in constant time."""
        return _matches(authorization, self._token)


def take_token_from_env(env: MutableMapping[str, str]) -> str | None:
    """Remove $ZENITH_AGENT_TOKEN from the environment (children never inherit it)."""
    value = env.pop(TOKEN_ENV, None)
    return value.strip() or None if value is not None else None


def hide_process_memory() -> None:
    """PR_SET_DUMPABLE 0: processes of the same uid (the database server) can no longer
    read this process's /proc/PID/environ, mem or maps, so the token stays private."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to hide from
        pass


class TokenFile(Token):
    """Caches the token keyed by the file's (inode, size, mtime); re-reads on change.

    Kubernetes rotates a projected Secret by swapping a symlink, which changes the
    stat of the resolved file, so a `stat` per request is enough to notice.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._key: tuple[int, int, int] | None = None
        self._token = b""

    def token(self) -> bytes:
        try:
            st = os.stat(self.path)
        except OSError:
            return self._token  # keep the last good token while a rotation is in flight
        key = (st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key:
            try:
                value = self.path.read_bytes().strip()
            except OSError:
                return self._token
            if value:
                self._token, self._key = value, key
        return self._token

    def check(self, authorization: str | None) -> bool:
        """True when the header is `Bearer <token>`; compared in constant time."""
        return _matches(authorization, self.token())
