"""The options of one API request (`Ctx`), shared by the verbs in rest.py and deletion.py."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Ctx:
    """Per-request options (query parameters) and the warnings to answer with."""

    query: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    internal: bool = False  # a controller's write (e.g. pods/binding): skips update rules

    @property
    def dry_run(self) -> bool:
        return self.query.get("dryRun") == "All"
