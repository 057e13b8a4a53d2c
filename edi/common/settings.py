"""The hub's own EDI settings (``HUB_EDI_*``), read by the outbound renderers (our identity,
the test flag) and by the ``ack: auto`` route step (what inbound interchanges must be)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class EdiSettings(BaseSettings):
    """The hub's own EDI identity and environment (``HUB_EDI_*``)."""

    model_config = SettingsConfigDict(env_prefix="HUB_EDI_", extra="ignore")

    x12_qualifier: str = "ZZ"
    x12_id: str | None = None
    x12_gs_id: str | None = None
    edifact_id: str | None = None
    edifact_qualifier: str | None = None
    test: bool = Field(False, description="Mark outbound interchanges as test (ISA15 T, UNB 0035 1)")
    usage: Literal["production", "test"] | None = Field(
        None, description="What inbound interchanges must be (ISA15 P / T or I, UNB 0035 empty / 1; domain.md C #5); "
                          "default test when HUB_EDI_TEST is set, else production")

    @property
    def inbound_usage(self) -> Literal["production", "test"]:
        """The usage inbound interchanges must have: ``usage``, else the one the hub sends in
        (a hub that marks what it sends as test is a test system and takes test interchanges)."""
        return self.usage or ("test" if self.test else "production")
