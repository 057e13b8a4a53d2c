"""Implant usage: what the OR records for a case becomes the stock movement, the patient charge,
the ERP's valuation and — for a supplier's consigned implant — the bill-only PO its invoice is
matched against.

Why one module: a single line of the OR's implant log feeds four systems that must agree — the
inventory system (one fewer on the shelf, which its par levels then replenish), billing (the
charge code and quantity on the patient's account), the ERP (the cost of what was used) and the
supplier (a consigned implant is the supplier's until used: it bills it, and the hospital's PO
must exist and name the same lot and serial). The log's UDI is read like a dock scan
(``transforms.receiving.read_scan``). Billing gets the charge code, quantity and patient
account reference only — never the procedure, the surgeon or anything clinical — and neither
the account nor anything clinical reaches a log line or an exception.

- ``usage.implant_log_to_usage_events``: the log's rows → usage events;
- ``usage_check`` (step): an implant without its UDI (lot and serial, C #44), a chargeable item
  without a charge code, a charge for an item that is not chargeable, or a charge quantity other
  than the quantity used (C #45) — the item master (routes/contracts.yaml) says what is an
  implant and what is chargeable;
- ``usage.usage_to_documents``: a usage event → the inventory adjustment (ISSUE_TO_PATIENT, or
  CONSIGNMENT_CONSUMPTION), the charge, and for consignment the BILL_ONLY purchase order; the
  ``contract_price`` step then values the adjustment and prices the PO at the contract.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hub.canonical import Document
from hub.canonical.steps import CanonicalStep, Problem
from hub.canonical.xref import Crosswalk
from hub.db import Database
from hub.documents import stored_all
from hub.exchange import Exchange
from hub.registry import StepError, step, transform
from transforms.receiving import aware, read_scans


@transform("usage.implant_log_to_usage_events", emits="usage_event")
def implant_log_to_usage_events(rows: list[dict[str, Any]], ex: Exchange) -> list[dict[str, Any]]:
    """Rows of the OR's implant log (parsed by the csv step) → UsageEvents.

    Row keys: case, used_at, location, patient_account, barcode (the implant's GS1 UDI), qty,
    uom; optional facility, charge_code, hcpcs, charge_amount, consigned_by (the supplier that
    owns consigned stock). A barcode that cannot be read fails the file with its line."""
    if not isinstance(rows, list) or not rows:
        raise StepError("implant log: expected the rows of a parsed file (put a parse: csv step first)")
    events = []
    for row, scan in read_scans(rows, "UDI", "implant log"):
        usage_id = f"USE-{row['case']}-{row.get('_line')}"
        event: dict[str, Any] = {
            "document_type": "usage_event", "usage_id": usage_id, "occurred_at": aware(row["used_at"]).isoformat(),
            "item_ids": [{"scheme": "GTIN", "value": scan.gtin}], "lot_number": scan.lot,
            "serial_number": scan.serial, "expiration_date": scan.expiry, "udi_carrier": str(row["barcode"]),
            "qty": str(row["qty"]), "uom": row["uom"], "location_id": row["location"],
            "patient_ref": row["patient_account"], "case_id": row["case"], "source": "OR_LOG",
            "meta": {"source": f"{ex.format}:{ex.sender}", "source_ref": f"{ex.filename or ex.message_id} line "
                     f"{row.get('_line')}", "raw_ref": ex.message_id},
        }
        if row.get("charge_code"):
            event["charge"] = {k: v for k, v in {"cdm_code": row["charge_code"], "hcpcs": row.get("hcpcs"),
                                                  "qty": str(row["qty"]), "unit_amount": row.get("charge_amount")}.items()
                               if v is not None}
        if row.get("consigned_by"):
            # The PO number an 850 (BEG03) and an 810 (BIG04) can carry: 22 characters at most.
            event["consignment"] = {"owner_partner_id": row["consigned_by"],
                                    "bill_only_po_number": f"BO-{row['case']}-{row.get('_line')}"[:22]}
        events.append({k: v for k, v in event.items() if v is not None})
    return events


@step
class UsageCheckStep(CanonicalStep):
    """A usage event against the item master: an implant (item type DEVICE_IMPLANT, or serial
    controlled) used without lot and serial is ``implant_usage_without_udi`` (C #44); a chargeable
    item without a charge code, a charge on an item that is not chargeable, a charge quantity
    other than the quantity used are ``charge_mapping_missing`` (C #45). Items the item master
    does not hold are checked for the charge quantity only."""

    kind = "usage_check"
    summary = "Check a usage event: implant UDI (lot, serial) and the charge against the item master"

    def apply(self, document: Document, crosswalk: Crosswalk, partner: str | None, db: Database) -> list[Problem]:
        if document.document_type != "usage_event":
            return []
        usage: Any = document
        item = _master_item(db, {(i.scheme.value, i.value) for i in usage.item_ids})
        problems = []
        if item is not None and (item.get("item_type") == "DEVICE_IMPLANT" or item.get("serial_controlled")):
            # An implant is traced by its lot, and by its serial when the item is serialised.
            needed = ["lot_number"] + (["serial_number"] if item.get("serial_controlled") else [])
            missing = [name for name in needed if not getattr(usage, name)]
            if missing:
                problems.append(Problem("implant_usage_without_udi", missing[0], None,
                                        f"{usage.usage_id}: implant {item['item_id']} used without "
                                        f"{' and '.join(m.replace('_number', '') for m in missing)}"))
        charge = usage.charge
        if item is not None and item.get("chargeable") and charge is None:
            problems.append(Problem("charge_mapping_missing", "charge", None,
                                    f"{usage.usage_id}: {item['item_id']} is chargeable (CDM {item.get('cdm_code')}) "
                                    "but no charge was recorded"))
        if charge is not None:
            if item is not None and item.get("chargeable") is False:
                problems.append(Problem("charge_mapping_missing", "charge.cdm_code", charge.cdm_code,
                                        f"{usage.usage_id}: {item['item_id']} is not chargeable"))
            elif item is not None and item.get("cdm_code") and charge.cdm_code != item["cdm_code"]:
                problems.append(Problem("charge_mapping_missing", "charge.cdm_code", charge.cdm_code,
                                        f"{usage.usage_id}: charge code {charge.cdm_code}, the item master's is "
                                        f"{item['cdm_code']}"))
            if charge.qty != usage.qty:
                problems.append(Problem("charge_mapping_missing", "charge.qty", str(charge.qty),
                                        f"{usage.usage_id}: {charge.qty} charged, {usage.qty} used"))
        return problems


def _master_item(db: Database, ids: set[tuple[str, str]]) -> dict[str, Any] | None:
    """The stored item master record (routes/contracts.yaml) with one of the identifiers."""
    return next((item for item in stored_all(db, "item")
                 if ids & {(i["scheme"], i["value"]) for i in item.get("identifiers", [])}), None)


@transform("usage.usage_to_documents")
def usage_to_documents(body: Any, ex: Exchange) -> list[dict[str, Any]]:
    """A usage event → the inventory adjustment (stock and valuation), the charge for billing
    (when one was recorded) and, for a consigned implant, the BILL_ONLY purchase order."""
    usage = body.canonical_dict() if isinstance(body, Document) else body
    if not isinstance(usage, dict) or usage.get("document_type") != "usage_event":
        raise StepError("usage.usage_to_documents needs one usage_event (split first)", location="body")
    consignment = usage.get("consignment")
    out = [_adjustment(usage, consignment)]
    if usage.get("charge"):
        out.append(_charge(usage))
    if consignment:
        out.append(_bill_only_po(usage, consignment))
    return out


def _adjustment(usage: dict[str, Any], consignment: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in {
        "document_type": "inventory_adjustment", "adjustment_id": f"ADJ-{usage['usage_id']}",
        "type": "CONSIGNMENT_CONSUMPTION" if consignment else "ISSUE_TO_PATIENT",
        "item_ids": usage["item_ids"], "qty": f"-{usage['qty']}", "uom": usage["uom"],
        "location_id": usage["location_id"], "from_location_id": usage["location_id"],
        "lot_number": usage.get("lot_number"), "serial_number": usage.get("serial_number"),
        "expiration_date": usage.get("expiration_date"),
        "reason_code": "IMPLANT_USED", "reference": usage["usage_id"], "occurred_at": usage["occurred_at"],
    }.items() if v is not None}


def _charge(usage: dict[str, Any]) -> dict[str, Any]:
    """The billing record: code, quantity, amount, the patient account reference — nothing else
    of the case (no procedure, no performer, no encounter)."""
    charge = usage["charge"]
    amount = None
    if charge.get("unit_amount") is not None:
        amount = str(Decimal(charge["unit_amount"]) * Decimal(charge["qty"]))
    return {k: v for k, v in {
        "document_type": "charge", "charge_id": f"CHG-{usage['usage_id']}", "usage_id": usage["usage_id"],
        "service_date": usage["occurred_at"][:10], "patient_account_ref": usage.get("patient_ref"),
        "charge_code": charge["cdm_code"], "hcpcs": charge.get("hcpcs"), "qty": charge["qty"], "uom": usage["uom"],
        "unit_amount": charge.get("unit_amount"), "amount": amount, "department_id": usage["location_id"],
    }.items() if v is not None}


def _bill_only_po(usage: dict[str, Any], consignment: dict[str, Any]) -> dict[str, Any]:
    """The bill-only PO for a consigned implant: the supplier bills what was used, its invoice
    must name the same lot and serial (po_match, C #40). The case is named by its number only."""
    line: dict[str, Any] = {"line_number": "1", "item_ids_sent": usage["item_ids"], "qty": usage["qty"],
                            "uom": usage["uom"], "lot_numbers": [usage["lot_number"]] if usage.get("lot_number") else [],
                            "serial_numbers": [usage["serial_number"]] if usage.get("serial_number") else []}
    return {
        "document_type": "purchase_order", "po_number": consignment.get("bill_only_po_number") or f"BO-{usage['usage_id']}",
        "po_type": "BILL_ONLY", "purpose": "ORIGINAL", "order_date": usage["occurred_at"][:10],
        "buyer_org": {"role": "BY", "name": usage["location_id"]}, "ship_to": {"role": "ST", "name": usage["location_id"]},
        "supplier_partner_id": consignment["owner_partner_id"], "currency": "USD",
        "bill_only_case": {"case_id": usage["case_id"]} if usage.get("case_id") else None,
        "lines": [line],
    }
