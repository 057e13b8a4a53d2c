"""Route components both EDI engines share, dispatching on the parsed body's type:

- ``split: transaction`` — one part per transaction set (X12 ST) or message (EDIFACT UNH);
- ``ack: auto`` — the acknowledgement the partner expects (TA1/997/999 or CONTRL), appended
  to ``ex.side_outputs`` for the partner's ack endpoint;
- ``duplicate_check`` — business-level duplicates (same PO number + purpose, same supplier +
  invoice number, same supplier + ASN number): recorded as ``duplicate_document`` business
  exceptions (domain.md C #9), then held (default) or forwarded.

Each engine registers its body type once with ``register_body``; the components here never
import an engine, so either engine can be installed alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from edi.common.interchanges import register_document
from hub.exchange import Exchange, SideOutput
from hub.registry import RouteEnv, Step, StepError, StrictModel, splitter, step


@dataclass(frozen=True)
class BodyHandlers:
    split: Callable[[Any, Exchange], list[Any]]
    acknowledge: Callable[[Any, Exchange, AckConfig, RouteEnv], list[SideOutput]]


_HANDLERS: dict[type, BodyHandlers] = {}


def register_body(body_type: type, handlers: BodyHandlers) -> None:
    _HANDLERS[body_type] = handlers


def _handlers(body: Any, what: str) -> BodyHandlers:
    for body_type, handlers in _HANDLERS.items():
        if isinstance(body, body_type):
            return handlers
    known = ", ".join(t.__name__ for t in _HANDLERS) or "none registered"
    raise StepError(f"{what} needs a parsed EDI body (parse: x12 or parse: edifact first), got "
                    f"{type(body).__name__}; known: {known}", code="edi_body")


@splitter("transaction")
def split_transactions(body: Any, ex: Exchange) -> list[Any]:
    """One part per X12 transaction set / EDIFACT message; each keeps its envelope."""
    return _handlers(body, "split: transaction").split(body, ex)


class AckConfig(StrictModel):
    mode: Literal["auto", "none"] = "auto"
    # Where the ack goes; default: the partner's endpoint for acks (profile / partner registry).
    endpoint: str | None = None
    # Override the partner's ack kind (997, 999, TA1 for X12; CONTRL for EDIFACT).
    kind: str | None = None


@step
class AckStep(Step):
    kind = "ack"
    Config = AckConfig
    shorthand = "mode"
    summary = "Build the acknowledgement the partner expects (TA1/997/999 or CONTRL) as a side output"

    def process(self, ex: Exchange) -> list[Exchange]:
        config: AckConfig = self.config  # type: ignore[assignment]
        if config.mode == "none" or ex.headers.get("ack") == "sync":
            return [ex]  # (sync: the inbound API already answered with the ack, connectors.inbound.syncack)
        ex.side_outputs.extend(_handlers(ex.body, "ack").acknowledge(ex.body, ex, config, self.env))
        return [ex]


class DuplicateCheckConfig(StrictModel):
    on_duplicate: Literal["hold", "forward"] = "hold"


def business_key(document: dict[str, Any]) -> tuple[str, str, str] | None:
    """(document type, partner, key) identifying a business document across resends."""
    kind = document.get("document_type")
    if kind == "purchase_order":
        buyer = (document.get("buyer_org") or {}).get("identifiers") or [{}]
        return kind, str(buyer[0].get("value", "")), f"{document['po_number']}/{document.get('purpose', '')}"
    if kind == "invoice":
        return kind, document["supplier_partner_id"], document["invoice_number"]
    if kind == "ship_notice":
        return kind, document["supplier_partner_id"], document["asn_number"]
    return None


@step
class DuplicateCheckStep(Step):
    kind = "duplicate_check"
    Config = DuplicateCheckConfig
    shorthand = "on_duplicate"
    summary = "Flag resent business documents (PO number + purpose, supplier + invoice / ASN number)"

    def process(self, ex: Exchange) -> list[Exchange]:
        from hub.business_exceptions import record_exception

        document = ex.body.model_dump(mode="json") if isinstance(ex.body, BaseModel) else ex.body
        key = business_key(document) if isinstance(document, dict) else None
        if key is None:
            return [ex]
        kind, partner, value = key
        db = self.env.service("db")
        with db.session() as session:
            earlier = register_document(session, document_type=kind, partner=partner, key=value,
                                        message_id=ex.message_id)
            if earlier is None:
                return [ex]
            message = (f"duplicate {kind} {value} from {partner}: first received in message "
                       f"{earlier.message_id} at {earlier.first_seen_at.isoformat()}")
            record_exception(session, kind="duplicate_document", message=message, document_type=kind,
                             document_key=value, partner_id=partner, message_id=ex.message_id,
                             route=self.env.route_name, detail={"first_message_id": earlier.message_id,
                                                                 "times_seen": earlier.times_seen})
        ex.exceptions.append({"kind": "duplicate_document", "message": message, "document_key": value})
        if self.config.on_duplicate == "hold":  # type: ignore[attr-defined]
            ex.held = True
        return [ex]
