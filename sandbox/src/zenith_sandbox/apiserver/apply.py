"""Server-side apply, approximately: an applier owns the fields it applied last time.

Fields a manager applied before and leaves out now are removed (unless another applier
still applies them); the rest merges like a patch. Ownership is kept per object uid in
memory and dropped with the object. Not emulated: managedFields, conflicts with other
managers (force), ownership taken over by non-apply updates.
"""

from __future__ import annotations

from typing import Any

from .storage import Obj

Path = tuple[str, ...]
_IDENTITY = {("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace")}


def leaf_paths(value: Any, prefix: Path = ()) -> set[Path]:
    """Paths of the leaves of an applied configuration (lists are atomic)."""
    if isinstance(value, dict) and value:
        out: set[Path] = set()
        for key, sub in value.items():
            out |= leaf_paths(sub, (*prefix, str(key)))
        return out
    return {prefix} if prefix and prefix not in _IDENTITY else set()


def _remove(obj: Obj, path: Path) -> None:
    cur: Any = obj
    for part in path[:-1]:
        cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is None:
            return
    if isinstance(cur, dict):
        cur.pop(path[-1], None)


class Tracker:
    """uid -> manager -> paths it applied."""

    def __init__(self) -> None:
        self.owned: dict[str, dict[str, set[Path]]] = {}

    def prune(self, uid: str, manager: str, config: Obj, current: Obj) -> None:
        """Drop from `current` what `manager` applied before but no longer applies."""
        managers = self.owned.get(uid, {})
        now = leaf_paths(config)
        others: set[Path] = set().union(*(p for m, p in managers.items() if m != manager))
        for path in managers.get(manager, set()) - now - others:
            _remove(current, path)

    def record(self, uid: str, manager: str, config: Obj) -> None:
        self.owned.setdefault(uid, {})[manager] = leaf_paths(config)

    def forget(self, uid: str) -> None:
        self.owned.pop(uid, None)
