"""Trading partners for route-step tests: loaded into the real partner registry, each test with
ids of its own (the registry and the interchange log are shared by the session's tests)."""

from __future__ import annotations

import secrets
from typing import Any

from hub.db import Database
from hub.partners import PartnerConfig, PartnerRegistry


def trading_partner(db: Database, *, x12: dict[str, Any] | None = None, edifact: dict[str, Any] | None = None,
                    endpoints: dict[str, str] | None = None, **extra: Any) -> PartnerConfig:
    """Store a supplier with the given EDI identities (``{"isa_qualifier": "ZZ", "isa_id": ...}``,
    ``{"unb_id": ..., "unb_qualifier": ...}``) and outbound endpoints; return its entry."""
    partner = PartnerConfig.model_validate({
        "id": f"P-{secrets.token_hex(4)}", "name": "Test supplier", "roles": ["SUPPLIER"], "x12": x12,
        "edifact": edifact, "outbound_endpoints": endpoints or {}, **extra})
    PartnerRegistry(db).load([partner])
    return partner
