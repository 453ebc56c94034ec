"""docs/agent-protocol.md's route table and the server's router agree, both ways."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zenith_operator.agent.server import ROUTES, make_app

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "agent-protocol.md"
ROW = re.compile(r"^\|\s*`(GET|POST|PUT|DELETE|PATCH)`\s*\|\s*`([^`]+)`\s*\|")


def documented() -> set[tuple[str, str]]:
    return {(m[1], m[2]) for line in DOC.read_text().splitlines() if (m := ROW.match(line))}


def routed() -> set[tuple[str, str]]:
    app = make_app(None, None)  # type: ignore[arg-type]
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method != "HEAD":
            found.add((route.method, str(path)))
    return found


def test_doc_table_matches_router() -> None:
    docs, router = documented(), routed()
    assert len(docs) == len(ROUTES) == 10
    assert docs - router == set(), "documented but not served"
    assert router - docs == set(), "served but not documented"
