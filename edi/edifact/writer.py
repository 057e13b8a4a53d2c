"""Write EDIFACT: canonical documents → one interchange (UNA, UNB, UNH..UNT per message, UNZ).

Message bodies are built as pydifact ``Segment`` objects (``edi.edifact.mapping.*`` ``build_*``)
and serialised with pydifact's ``Serializer`` — extended to escape the syntax-4 repetition
separator — in the partner's syntax level, delimiters and directory (``EdifactProfile``).
Interchange and message references come from the shared control-number allocator
(``edi.common.control_numbers``) through a ``NumberSource``; ``PreviewNumbers`` numbers from 1
without reserving anything (CLI previews, tests).

Every value is checked against the declared character set before writing: a character the
partner's syntax cannot carry is a ``WriteError`` naming the segment and element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydifact.control import Characters
from pydifact.segments import Segment
from pydifact.serializer import Serializer

from edi.common.control_numbers import INTERCHANGE, TRANSACTION, NumberSource
from edi.common.control_numbers import AllocatedNumbers, PreviewNumbers  # noqa: F401 - the writer's number sources
from edi.common.grammar import Place, check_segment, check_structure
from edi.common.interchanges import GroupInfo
from edi.common.outbound import WriteError, WriteNotes, uncarried  # WriteError: shared, importable here
from edi.edifact.charsets import CHARSETS, outside_pattern
from edi.edifact.grammar import grammar_for
from edi.edifact.profile import EdifactProfile
from edi.edifact.tokenizer import make_segment

Element = str | list[str]


@dataclass
class OutMessage:
    message_type: str
    body: list[Segment]
    document_key: str | None = None
    # UNH S009 when it is not the profile's directory (CONTRL names the syntax version).
    identifier: list[str] | None = None
    label: str = ""  # what the message carries, for errors: "document 1 (invoice INV-1)"


@dataclass
class Written:
    data: bytes
    reference: str
    messages: list[tuple[str, str]] = field(default_factory=list)  # (type, UNH reference)
    document_keys: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reference, key)
    # Canonical content the messages could not carry, each naming its document and field.
    warnings: list[str] = field(default_factory=list)

    def groups(self) -> list[GroupInfo]:
        """The interchange log's view: EDIFACT without UNG has no groups, so each message
        type becomes one pseudo-group keyed by the interchange reference (CONTRL UCMs are
        matched the same way, see ``edi.edifact.contrl``)."""
        by_type: dict[str, list[tuple[str, str]]] = {}
        for message_type, reference in self.messages:
            by_type.setdefault(message_type, []).append((message_type, reference))
        return [GroupInfo(t, self.reference, sets=tuple(sets)) for t, sets in by_type.items()]


def seg(tag: str, *elements: Element | None) -> Segment:
    """A pydifact segment without trailing empty elements or components."""
    values: list[Element] = []
    for value in elements:
        if value is None:
            value = ""
        if isinstance(value, list):
            value = [v or "" for v in value]
            while len(value) > 1 and value[-1] == "":
                value.pop()
            if len(value) == 1:
                value = value[0]
        values.append(value)
    while values and values[-1] in ("", []):
        values.pop()
    return make_segment(tag, values)


class HubSerializer(Serializer):
    """pydifact's serializer, also escaping the repetition separator (syntax 4 '*')."""

    def __init__(self, characters: Characters, repetition: str) -> None:
        super().__init__(characters)
        if repetition != " ":
            self.replace_map[repetition] = characters.escape_character + repetition
            self.regexp = re.compile("|".join(map(re.escape, sorted(self.replace_map, key=len, reverse=True))))


def unb_datetime(profile: EdifactProfile, now: datetime) -> list[str]:
    """S004: YYMMDD before syntax 4, CCYYMMDD from syntax 4; HHMM."""
    date = now.strftime("%Y%m%d" if profile.syntax_version == "4" else "%y%m%d")
    return [date, now.strftime("%H%M")]


def check_message(message: OutMessage, profile: EdifactProfile, reference: str = "1") -> None:
    """One message against its directory's rules (edi.edifact.grammar): structure, then each
    segment's elements, with the profile's decimal mark."""
    grammar, structures = grammar_for(profile.directory, profile.decimal)
    label = f"{message.message_type} message" + (f" of {message.label}" if message.label else "")
    structure = structures.get(message.message_type)
    if structure is None:
        raise WriteError(f"{label}: {grammar.name} has no rules for {message.message_type}; the hub does not write it")
    segments = [seg("UNH", reference, message.identifier or profile.message_identifier(message.message_type)),
                *message.body, seg("UNT", str(len(message.body) + 2), reference)]
    check_structure([s.tag for s in segments], structure, label)
    for position, segment in enumerate(segments, start=1):
        check_segment(list(segment.elements), Place(label, position, segment.tag), grammar, message.message_type)


def render_interchange(profile: EdifactProfile, messages: Sequence[OutMessage], numbers: NumberSource, *,
                       now: datetime | None = None) -> Written:
    now = now or datetime.now()
    for message in messages:  # before any reference is taken: nothing invalid is numbered or sent
        check_message(message, profile)
    reference = str(numbers.take(INTERCHANGE, "")[0])
    segments: list[Segment] = [
        seg(
            "UNB",
            [profile.syntax_id, profile.syntax_version],
            [profile.sender_id, profile.sender_qualifier or ""],
            [profile.receiver_id, profile.receiver_qualifier or ""],
            unb_datetime(profile, now),
            reference,
            "",
            "",
            "",
            "1" if profile.request_contrl else "",
            "",
            "1" if profile.test else "",
        )
    ]
    written = Written(b"", reference)
    for message in messages:
        ref = str(numbers.take(TRANSACTION, message.message_type)[0])
        segments.append(seg("UNH", ref, message.identifier or profile.message_identifier(message.message_type)))
        segments.extend(message.body)
        segments.append(seg("UNT", str(len(message.body) + 2), ref))
        written.messages.append((message.message_type, ref))
        if message.document_key:
            written.document_keys.append((message.message_type, ref, message.document_key))
    segments.append(seg("UNZ", str(len(messages)), reference))
    grammar, _ = grammar_for(profile.directory, profile.decimal)
    for position in (0, len(segments) - 1):  # UNB and UNZ: the message checks saw UNH..UNT
        check_segment(list(segments[position].elements), Place("interchange", position + 1, segments[position].tag),
                      grammar)
    written.data = serialize(segments, profile)
    return written


def serialize(segments: list[Segment], profile: EdifactProfile) -> bytes:
    d = profile.delimiters
    _check_characters(segments, profile)
    serializer = HubSerializer(d.characters(), d.repetition)
    text = serializer.serialize(segments, with_una_header=profile.write_una, break_lines=profile.line_break)
    return text.encode(CHARSETS[profile.syntax_id].codec)


def _check_characters(segments: list[Segment], profile: EdifactProfile) -> None:
    pattern = outside_pattern(profile.syntax_id, profile.delimiters.escapable())
    for position, segment in enumerate(segments, start=1):
        for element, value in enumerate(segment.elements, start=1):
            for component, text in enumerate(value if isinstance(value, list) else [value], start=1):
                bad = pattern.search(text) if pattern is not None else None
                if bad is None and ("\r" in text or "\n" in text):
                    bad = re.search(r"[\r\n]", text)
                if bad is not None:
                    raise WriteError(
                        f"segment {position} ({segment.tag}), element {element}, component {component}: "
                        f"character {bad.group()!r} cannot be written in {profile.syntax_id}"
                    )


Builder = Callable[[dict[str, Any], EdifactProfile, WriteNotes], tuple[str, list[Segment], str | None]]

# Canonical fields each message's builder maps (a path carries everything under it); whatever
# else a document holds is a warning naming the field (``edi.common.outbound.uncarried``).
_LINE_ITEM = ("item_ids", "description", "uom", "refs", "po_number", "po_line_number")
CARRIED: dict[str, frozenset[str]] = {
    "purchase_order": frozenset({
        "po_number", "po_type", "po_type_raw", "purpose", "purpose_raw", "order_date", "requested_delivery_date",
        "requested_ship_date", "notes", "contract_ref", "refs", "buyer_org", "supplier", "ship_to", "bill_to",
        "currency", "payment_terms", "lines[].line_number", "lines[].item_ids_sent", "lines[].lot_numbers",
        "lines[].serial_numbers", "lines[].description", "lines[].qty", "lines[].uom", "lines[].requested_date",
        "lines[].unit_price", "lines[].price_basis", "lines[].price_uom", "lines[].refs"}),
    "purchase_order_ack": frozenset({
        "ack_id", "ack_type", "ack_type_raw", "ack_date", "po_number", "po_date", "refs", "currency",
        "lines[].po_line_number", "lines[].status", "lines[].status_raw", "lines[].item_ids", "lines[].ordered_qty",
        "lines[].ordered_uom", "lines[].qty", "lines[].uom", "lines[].qty_backordered",
        "lines[].promised_delivery_date", "lines[].promised_ship_date", "lines[].date_qualifier_raw",
        "lines[].unit_price", "lines[].price_uom", "lines[].reason_code"}),
    "ship_notice": frozenset({
        "asn_number", "purpose", "purpose_raw", "created_at", "ship_date", "est_delivery_date", "bol",
        "tracking_numbers", "refs", "seller", "buyer", "ship_to", "ship_from", "carrier_scac", "carrier_name",
        "packs[].pack_id", "packs[].parent_pack_id", "packs[].level", "packs[].weight", "packs[].weight_uom",
        "packs[].sscc", "packs[].line_refs", "lines[].line_id", "lines[].qty_shipped", "lines[].qty_ordered",
        "lines[].uom_ordered", "lines[].pack_id", "lines[].lots[].lot_number", "lines[].lots[].serial_number",
        "lines[].lots[].expiration_date", "lines[].lots[].production_date", "lines[].lots[].qty",
        "lines[].lots[].uom", *(f"lines[].{f}" for f in _LINE_ITEM)}),
    "invoice": frozenset({
        "invoice_number", "invoice_type", "invoice_type_raw", "invoice_date", "ship_date", "po_number", "po_date",
        "original_invoice_ref", "refs", "supplier", "bill_to", "ship_to", "remit_to", "currency", "terms",
        "charges", "total_amount", "tax_total", "lines[].line_number", "lines[].lot_numbers",
        "lines[].serial_numbers", "lines[].qty_invoiced", "lines[].line_amount", "lines[].unit_price",
        "lines[].price_basis", "lines[].price_uom", "lines[].tax", "lines[].charges",
        *(f"lines[].{f}" for f in _LINE_ITEM)}),
    "goods_receipt": frozenset({
        "receipt_id", "receipt_datetime", "asn_number", "receiving_location_id", "source", "lines[].line_number",
        "lines[].item_ids", "lines[].lot_allocations", "lines[].qty_received", "lines[].uom",
        "lines[].qty_accepted", "lines[].qty_rejected", "lines[].reject_reason", "lines[].po_number",
        "lines[].po_line_number"}),
}


def _builders() -> dict[str, Builder]:
    from edi.edifact.mapping.desadv import build_desadv
    from edi.edifact.mapping.invoic import build_invoic
    from edi.edifact.mapping.orders import build_orders
    from edi.edifact.mapping.ordrsp import build_ordrsp
    from edi.edifact.mapping.recadv import build_recadv

    return {
        "purchase_order": build_orders,
        "purchase_order_ack": build_ordrsp,
        "ship_notice": build_desadv,
        "invoice": build_invoic,
        "goods_receipt": build_recadv,
    }


def write_documents(documents: Sequence[dict | BaseModel], profile: EdifactProfile, numbers: NumberSource, *,
                    now: datetime | None = None) -> Written:
    """One interchange with one message per canonical document (ORDERS, ORDRSP, DESADV,
    INVOIC, RECADV), in the order given."""
    from edi.x12.writer import document_label

    builders = _builders()
    messages = []
    warnings: list[str] = []
    for position, document in enumerate(documents, start=1):
        data = document.model_dump(mode="json", exclude_none=True) if isinstance(document, BaseModel) else document
        kind = data.get("document_type")
        builder = builders.get(kind)
        if builder is None:
            raise WriteError(f"document {position}: no EDIFACT message for document type {kind!r} "
                             f"(writable: {', '.join(sorted(builders))})")
        notes = WriteNotes(f"document {position} ({document_label(data)}): ")
        try:
            message_type, body, key = builder(data, profile, notes)
        except WriteError as exc:
            raise WriteError(f"{notes.where}{exc}") from None
        notes.extend(notes.where + text for text in uncarried(data, CARRIED[kind], f"EDIFACT {message_type}"))
        messages.append(OutMessage(message_type, body, key, label=notes.where.rstrip(": ")))
        warnings += notes.items
    written = render_interchange(profile, messages, numbers, now=now)
    written.warnings = warnings
    return written
