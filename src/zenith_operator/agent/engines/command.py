"""Command-template engine (placeholder, filled in below)."""

from __future__ import annotations

from zenith_operator.agent.config import AgentConfig
from zenith_operator.agent.engine import EngineError


class CommandEngine:
    name = "command"

    def __init__(self, config: AgentConfig) -> None:
        raise EngineError("command engine not implemented yet")
