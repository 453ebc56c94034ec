"""ZenithCluster status model (owned by the HA layer; the CRD schema is generated from it).

Seed version: the HA engineers extend it. Field names are camelCase on the wire.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class StatusModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class Condition(StatusModel):
    type: str
    status: str = Field(description="True, False or Unknown")
    reason: str = ""
    message: str = ""
    last_transition_time: str | None = None
    observed_generation: int | None = None


class ZenithClusterStatus(StatusModel):
    state: str | None = Field(default=None, description="cluster state, see docs/states.md")
    since: str | None = Field(default=None, description="when the cluster entered its state")
    active_instance: str | None = None
    standby_instance: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    observed_generation: int | None = None
