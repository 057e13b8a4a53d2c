"""Code tables: partner/standard codes → canonical enums (domain.md sections 1.3-1.5, 3, B).

Each table is a ``CodeTable``; call it with the code as sent::

    ack_line_status_from_x12("IB")        # AckLineStatus.BACKORDERED
    ack_type_from_edifact("29")           # AckType.ACCEPTED
    invoice_type_from_x12("CR", overrides={"ZZ": InvoiceType.DEBIT_MEMO})

Mappers store the enum AND the raw code (``status`` + ``status_raw``) so nothing is lost.
An unknown code raises ``UnknownCode`` (a ``ValueError``) naming the table, the standard
element and the codes it knows; the mapper turns it into an error at its segment/element.
Partner guides win over the base standard: pass ``overrides`` with the partner's own codes
(they are consulted first). Codes marked (verify) in domain.md are marked here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from hub.canonical.enums import (
    AckLineStatus,
    AckType,
    AllowanceOrCharge,
    CatalogAction,
    InvoiceType,
    ItemIdScheme,
    PartyIdScheme,
    PoPurpose,
    PoType,
    PriceType,
)

E = TypeVar("E")


class UnknownCode(ValueError):
    def __init__(self, table: str, element: str, code: str, known: list[str]) -> None:
        self.table, self.element, self.code, self.known = table, element, code, known
        super().__init__(f"{element} code {code!r} is not in code table {table!r} (known: {', '.join(known)})")


@dataclass(frozen=True)
class CodeTable(Generic[E]):
    name: str
    element: str  # where the code comes from, e.g. "X12 ACK01 (element 668)"
    codes: Mapping[str, E]
    notes: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, code: str | None, overrides: Mapping[str, E] | None = None) -> E:
        key = (code or "").strip().upper()
        if overrides and key in overrides:
            return overrides[key]
        try:
            return self.codes[key]
        except KeyError:
            known = sorted(set(self.codes) | set(overrides or ()))
            raise UnknownCode(self.name, self.element, code or "", known) from None

    def get(self, code: str | None, default: E | None = None) -> E | None:
        try:
            return self(code)
        except UnknownCode:
            return default


S = AckLineStatus
ack_line_status_from_x12 = CodeTable(
    "ack_line_status_x12",
    "X12 ACK01 / SN108 (element 668)",
    {
        "IA": S.ACCEPTED,
        "AC": S.ACCEPTED,  # accepted and shipped
        "AR": S.ACCEPTED,  # accepted and released for shipment
        "AA": S.ACCEPTED,  # accepted, forwarded to an alternate supplier location
        "IB": S.BACKORDERED,
        "BP": S.PARTIAL_BACKORDER,
        "IC": S.CHANGED,
        "IP": S.PRICE_CHANGED,
        "IQ": S.QTY_CHANGED,
        "IS": S.SUBSTITUTED,
        "DR": S.RESCHEDULED,
        # "Accepted - schedule date pending": accepted but the ship date is not yet known; it is a
        # scheduling status, and section C (#18) still flags it through status_raw.
        "SP": S.RESCHEDULED,
        "IE": S.ON_HOLD,  # price pending
        "IH": S.ON_HOLD,
        "IW": S.ON_HOLD,  # on hold, waiver required
        "IF": S.ON_HOLD,  # on hold, incomplete description
        "ID": S.DELETED,
        "IR": S.REJECTED,
        **{f"R{n}": S.REJECTED for n in range(1, 9)},  # rejected with reason; reason_code = the code
    },
)

ack_line_status_from_edifact = CodeTable(
    "ack_line_status_edifact",
    "EDIFACT ORDRSP LIN 1229",
    {"5": S.ACCEPTED, "6": S.CHANGED, "24": S.CHANGED, "3": S.CHANGED, "7": S.REJECTED, "10": S.NOT_FOUND},
)


def ack_reason_from_x12(code: str | None) -> str | None:
    """The reason code an ACK01 status carries (R1-R8), else None."""
    key = (code or "").strip().upper()
    return key if len(key) == 2 and key[0] == "R" and key[1] in "12345678" else None


A = AckType
ack_type_from_x12 = CodeTable(
    "ack_type_x12",
    "X12 BAK02 (element 587)",
    {
        "AC": A.ACCEPTED_WITH_CHANGES,  # with detail and change
        "AD": A.ACCEPTED,  # with detail, no change
        "AK": A.ACCEPTED,  # no detail or change
        "AT": A.ACCEPTED,
        "AP": A.ACCEPTED,  # acknowledge - product replenishment (verify); seen in real 855s
        # "Exception detail only": lines not listed are accepted as ordered, listed lines carry
        # exceptions - a partial acceptance.
        "AE": A.PARTIAL,
        "AH": A.HOLD,
        "RD": A.REJECTED,
        "RF": A.REJECTED,
        "RJ": A.REJECTED,
        "RO": A.REJECTED,  # rejected with counter-offer
    },
)

ack_type_from_edifact = CodeTable(
    "ack_type_edifact",
    "EDIFACT ORDRSP BGM 1225",
    {
        "29": A.ACCEPTED,
        "4": A.ACCEPTED_WITH_CHANGES,
        "28": A.ACCEPTED_WITH_CHANGES,
        "30": A.ACCEPTED_WITH_CHANGES,
        "34": A.ACCEPTED_WITH_CHANGES,
        "27": A.REJECTED,
        "12": A.NOT_PROCESSED,
    },
)

P = PoPurpose
po_purpose_from_x12 = CodeTable(
    "po_purpose_x12",
    "X12 BEG01 / BSN01 / BAK01 (element 353)",
    {"00": P.ORIGINAL, "01": P.CANCEL, "04": P.CHANGE, "05": P.REPLACE, "06": P.CONFIRMATION, "07": P.DUPLICATE},
)

po_purpose_from_edifact = CodeTable(
    "po_purpose_edifact",
    "EDIFACT BGM 1225",
    {"9": P.ORIGINAL, "1": P.CANCEL, "4": P.CHANGE, "5": P.REPLACE, "6": P.CONFIRMATION, "7": P.DUPLICATE},
)

po_type_from_x12 = CodeTable(
    "po_type_x12",
    "X12 BEG02 (element 92; partner dependent)",
    {
        "SA": PoType.STANDARD,
        "NE": PoType.STANDARD,
        "BK": PoType.BLANKET_RELEASE,
        "RL": PoType.BLANKET_RELEASE,
        "DS": PoType.DROP_SHIP,
    },
    notes={"*": "bill-only is signalled by partner-specific REF/N9 or order types: pass overrides"},
)

invoice_type_from_x12 = CodeTable(
    "invoice_type_x12",
    "X12 BIG07 (element 640; verify per partner)",
    {
        "": InvoiceType.INVOICE,  # BIG07 absent: a plain invoice
        "DI": InvoiceType.INVOICE,  # debit invoice
        "CR": InvoiceType.CREDIT_MEMO,
        "CN": InvoiceType.CREDIT_MEMO,  # credit note (verify)
        "DR": InvoiceType.DEBIT_MEMO,  # debit memo (verify)
    },
)

invoice_type_from_edifact = CodeTable(
    "invoice_type_edifact",
    "EDIFACT INVOIC BGM 1001",
    {
        "380": InvoiceType.INVOICE,
        "384": InvoiceType.INVOICE,  # corrected invoice
        "381": InvoiceType.CREDIT_MEMO,
        "383": InvoiceType.DEBIT_MEMO,
    },
)

catalog_action_from_edifact = CodeTable(
    "catalog_action_edifact",
    "EDIFACT PRICAT LIN 1229",
    {
        "1": CatalogAction.ADD,
        "2": CatalogAction.DELETE,
        "3": CatalogAction.CHANGE,
        "4": CatalogAction.NO_CHANGE,
        "38": CatalogAction.CHANGE,  # replaced: the entry's data change (action_raw keeps 38)
    },
)

price_type_from_edifact = CodeTable(
    "price_type_edifact",
    "EDIFACT PRI 5375",
    {"CT": PriceType.CONTRACT, "CA": PriceType.CATALOG},
)

IDS = ItemIdScheme
item_scheme_from_x12 = CodeTable(
    "item_scheme_x12",
    "X12 product/service ID qualifier (element 235)",
    {
        "VP": IDS.VENDOR_PART,
        "VN": IDS.VENDOR_PART,
        "VC": IDS.VENDOR_CATALOG,
        "BP": IDS.BUYER_ITEM,
        "IN": IDS.BUYER_ITEM,
        "CB": IDS.BUYER_ITEM,  # buyer's catalog number
        "SK": IDS.BUYER_ITEM,  # stock keeping unit, the buyer's item number in retail-derived guides (verify)
        "MG": IDS.MFR_PART,
        # UPC/EAN are GTIN-12/13/8: stored as GTIN-14 (domain.md 1.4 "left-pad for storage").
        "UK": IDS.GTIN,
        "UA": IDS.GTIN,  # U.P.C./EAN case code: a case-level GTIN
        "UP": IDS.GTIN,
        "EN": IDS.GTIN,
        "EO": IDS.GTIN,
        "HI": IDS.HIBC,
        "N4": IDS.NDC11,
        "ND": IDS.NDC11,
    },
)

item_scheme_from_edifact = CodeTable(
    "item_scheme_edifact",
    "EDIFACT LIN C212 / PIA 7143",
    {
        "SA": IDS.VENDOR_PART,
        "IN": IDS.BUYER_ITEM,
        "MF": IDS.MFR_PART,
        "SRV": IDS.GTIN,
        "EN": IDS.GTIN,
        "UP": IDS.GTIN,
        "AC": IDS.HIBC,
    },
)

# 235 qualifiers that describe the item rather than identify it: mappers keep them as refs.
DESCRIPTIVE_QUALIFIERS_X12 = {"MF": "manufacturer name", "EC": "engineering change level", "PR": "process number"}

# Qualifiers that carry lot / serial numbers in item ID pairs, not item identifiers.
LOT_QUALIFIERS_X12 = {"LT": "lot_number", "SN": "serial_number"}
LOT_QUALIFIERS_EDIFACT = {"NB": "lot_number", "SN": "serial_number", "BX": "lot_number", "BN": "serial_number"}

party_scheme_from_x12 = CodeTable(
    "party_scheme_x12",
    "X12 N103 (element 66)",
    {
        "UL": PartyIdScheme.GLN,
        "21": PartyIdScheme.HIN,
        "11": PartyIdScheme.DEA,
        "1": PartyIdScheme.DUNS,
        "9": PartyIdScheme.DUNS,  # DUNS+4
        "24": PartyIdScheme.FEIN,
        "91": PartyIdScheme.ACCOUNT_AT_PARTNER,  # assigned by seller
        "92": PartyIdScheme.ACCOUNT_AT_PARTNER,  # assigned by buyer
    },
)

party_scheme_from_edifact = CodeTable(
    "party_scheme_edifact",
    "EDIFACT NAD C082 3055 (code list agency)",
    {
        "9": PartyIdScheme.GLN,
        "16": PartyIdScheme.DUNS,
        "91": PartyIdScheme.ACCOUNT_AT_PARTNER,
        "92": PartyIdScheme.ACCOUNT_AT_PARTNER,
    },
)

allowance_or_charge_from_code = CodeTable(
    "allowance_or_charge",
    "X12 SAC01 (element 248) / EDIFACT ALC 5463",
    {"A": AllowanceOrCharge.ALLOWANCE, "C": AllowanceOrCharge.CHARGE},
)


class AckDateField(StrEnum):
    PROMISED_SHIP = "promised_ship_date"
    PROMISED_DELIVERY = "promised_delivery_date"


ack_date_field_from_x12 = CodeTable(
    "ack_date_field_x12",
    "X12 ACK04 (element 374)",
    {
        "068": AckDateField.PROMISED_SHIP,  # current schedule ship
        "079": AckDateField.PROMISED_SHIP,  # promised for shipment
        "067": AckDateField.PROMISED_DELIVERY,  # current schedule delivery
        "017": AckDateField.PROMISED_DELIVERY,  # estimated delivery
    },
)

CODE_TABLES: dict[str, CodeTable] = {
    table.name: table
    for table in (
        ack_line_status_from_x12,
        ack_line_status_from_edifact,
        ack_type_from_x12,
        ack_type_from_edifact,
        po_purpose_from_x12,
        po_purpose_from_edifact,
        po_type_from_x12,
        invoice_type_from_x12,
        invoice_type_from_edifact,
        catalog_action_from_edifact,
        price_type_from_edifact,
        item_scheme_from_x12,
        item_scheme_from_edifact,
        party_scheme_from_x12,
        party_scheme_from_edifact,
        allowance_or_charge_from_code,
        ack_date_field_from_x12,
    )
}
