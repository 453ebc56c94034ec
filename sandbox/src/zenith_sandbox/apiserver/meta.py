"""Small helpers over object metadata: time, names, uids, comparisons."""

from __future__ import annotations

import copy
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

Obj = dict[str, Any]

_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # utilrand's alphabet (no vowels, no 0/1/3)


def now(offset_seconds: int = 0) -> str:
    t = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=offset_seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(random.choice(_NAME_CHARS) for _ in range(5))


def deep(obj: Obj) -> Obj:
    return copy.deepcopy(obj)


def body_without(obj: Obj, *keys: str) -> Obj:
    """The object without the named top-level keys (used for generation checks)."""
    return {k: v for k, v in obj.items() if k not in keys}


def same_content(a: Obj, b: Obj) -> bool:
    """Equal ignoring resourceVersion (a no-op write is not stored)."""
    ma = {k: v for k, v in a.get("metadata", {}).items() if k != "resourceVersion"}
    mb = {k: v for k, v in b.get("metadata", {}).items() if k != "resourceVersion"}
    return ma == mb and body_without(a, "metadata") == body_without(b, "metadata")
