"""Bearer-token check: the token file is re-read whenever it changes (Secret rotation)."""

from __future__ import annotations

import hmac
import os
from pathlib import Path


class TokenFile:
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
        expected = self.token()
        if not authorization or not expected:
            return False
        scheme, _, presented = authorization.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(presented.strip().encode(), expected)
