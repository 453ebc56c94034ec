"""docs/states.md documents exactly the states of the code."""

from __future__ import annotations

import re
from pathlib import Path

from zenith_operator.ha.states import State

DOC = Path(__file__).resolve().parents[3] / "docs" / "states.md"


def test_states_doc_lists_exactly_the_states() -> None:
    text = DOC.read_text()
    headings = re.findall(r"^### (\w+)\s*$", text, flags=re.MULTILINE)
    assert sorted(headings) == sorted(s.value for s in State)


def test_states_doc_diagram_mentions_every_state() -> None:
    diagram = DOC.read_text().split("```mermaid", 1)[1].split("```", 1)[0]
    for state in State:
        assert state.value in diagram, state
