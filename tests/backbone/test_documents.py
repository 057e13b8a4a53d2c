"""The business numbers a document carries (hub.documents.references), which the route worker
indexes so that `hub documents trail` can follow a PO from order to invoice."""

from __future__ import annotations

from hub.canonical import ShipNotice
from hub.documents import references
from hub.payloads import RenderedDocument


def test_a_ship_notice_names_its_own_number_and_every_po_on_its_lines() -> None:
    asn = ShipNotice.model_validate({
        "asn_number": "ASN-1", "supplier_partner_id": "P-0042", "ship_date": "2026-03-12",
        "ship_to": {"role": "ST", "name": "Receiving"},
        "lines": [{"po_number": po, "qty_shipped": "1", "item_ids": [{"scheme": "VENDOR_PART", "value": "V1"}]}
                  for po in ("PO-1", "PO-2", "PO-1")]})
    assert references(asn) == [("asn_number", "ASN-1"), ("po_number", "PO-1"), ("po_number", "PO-2")]


def test_dict_bodies_rendered_bodies_and_keys_no_trail_field_names() -> None:
    invoice = {"document_type": "invoice", "invoice_number": "INV-9", "po_number": "PO-1",
               "lines": [{"po_number": "PO-1"}, {"po_number": ""}]}
    assert references(invoice) == [("po_number", "PO-1"), ("invoice_number", "INV-9")]
    rendered = RenderedDocument(b"ISA*...", "application/edi-x12", "purchase_order", "PO-7")
    assert references(rendered) == [("document_key", "PO-7")]
    item = {"document_type": "item", "item_id": "ST-10022"}
    assert references(item) == [("document_key", "ST-10022")]
    assert references(b"raw bytes") == [] and references({"no": "document"}) == []
