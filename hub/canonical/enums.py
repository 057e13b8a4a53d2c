"""Enumerations of the canonical model (domain.md section A), as ``StrEnum`` so JSON holds the
plain names. Values added beyond domain.md are marked; each addition is additive."""

from __future__ import annotations

from enum import StrEnum


class PartnerRole(StrEnum):
    SUPPLIER = "SUPPLIER"
    DISTRIBUTOR = "DISTRIBUTOR"
    MANUFACTURER = "MANUFACTURER"
    GPO = "GPO"
    PROVIDER = "PROVIDER"
    LAB = "LAB"
    NETWORK = "NETWORK"
    CARRIER = "CARRIER"


class PartyIdScheme(StrEnum):
    """Schemes of party and location identifiers: A.1's PartnerIdentifier list plus A.2's
    location schemes (ERP org/subinventory/locator, SAP plant/storage location) and VAT."""

    GLN = "GLN"
    HIN = "HIN"
    DUNS = "DUNS"
    DEA = "DEA"
    FEIN = "FEIN"
    ISA_ID = "ISA_ID"
    GS_ID = "GS_ID"
    UNB_ID = "UNB_ID"
    ERP_SUPPLIER = "ERP_SUPPLIER"
    ACCOUNT_AT_PARTNER = "ACCOUNT_AT_PARTNER"
    GHX_ID = "GHX_ID"
    ERP_ORG = "ERP_ORG"
    ERP_SUBINVENTORY = "ERP_SUBINVENTORY"
    ERP_LOCATOR = "ERP_LOCATOR"
    SAP_PLANT = "SAP_PLANT"
    SAP_STORAGE_LOCATION = "SAP_STORAGE_LOCATION"
    VAT = "VAT"


class PartnerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    ONBOARDING = "ONBOARDING"
    SUSPENDED = "SUSPENDED"


class EdiStandard(StrEnum):
    X12 = "X12"
    EDIFACT = "EDIFACT"
    OAGIS = "OAGIS"
    API = "API"


class AckKind(StrEnum):
    TA1 = "TA1"
    X997 = "997"
    X999 = "999"
    CONTRL = "CONTRL"


class LocationType(StrEnum):
    FACILITY = "FACILITY"
    SHIP_TO = "SHIP_TO"
    BILL_TO = "BILL_TO"
    WAREHOUSE = "WAREHOUSE"
    STOCKROOM = "STOCKROOM"
    PAR = "PAR"
    CABINET = "CABINET"
    OR_SUITE = "OR_SUITE"
    BIN = "BIN"
    QUARANTINE = "QUARANTINE"
    CONSIGNMENT = "CONSIGNMENT"


class ItemType(StrEnum):
    MEDSURG = "MEDSURG"
    DRUG_RX = "DRUG_RX"
    DRUG_OTC = "DRUG_OTC"
    DEVICE_IMPLANT = "DEVICE_IMPLANT"
    DEVICE_CAPITAL = "DEVICE_CAPITAL"
    LAB_REAGENT = "LAB_REAGENT"
    SERVICE = "SERVICE"


class ItemStatus(StrEnum):
    ACTIVE = "ACTIVE"
    DISCONTINUED = "DISCONTINUED"
    BLOCKED = "BLOCKED"


class ItemIdScheme(StrEnum):
    GTIN = "GTIN"
    NDC11 = "NDC11"
    HIBC = "HIBC"
    UPN = "UPN"
    VENDOR_PART = "VENDOR_PART"
    VENDOR_CATALOG = "VENDOR_CATALOG"
    MFR_PART = "MFR_PART"
    BUYER_ITEM = "BUYER_ITEM"
    UPC = "UPC"
    UNSPSC = "UNSPSC"


class UomKind(StrEnum):
    COUNT = "COUNT"
    PACKAGE = "PACKAGE"
    MASS = "MASS"
    VOLUME = "VOLUME"
    LENGTH = "LENGTH"


class ConversionSource(StrEnum):
    ITEM_MASTER = "ITEM_MASTER"
    CATALOG_832 = "CATALOG_832"
    PRICAT = "PRICAT"
    PO4 = "PO4"
    GHX_QOE = "GHX_QOE"
    MANUAL = "MANUAL"


class LotStatus(StrEnum):
    RELEASED = "RELEASED"
    QUARANTINED = "QUARANTINED"
    RECALLED = "RECALLED"
    EXPIRED = "EXPIRED"
    CONSUMED = "CONSUMED"
    RETURNED = "RETURNED"


class LotSource(StrEnum):
    ASN = "ASN"
    RECEIPT_SCAN = "RECEIPT_SCAN"
    EPCIS = "EPCIS"
    USAGE = "USAGE"
    RECALL = "RECALL"


class PoType(StrEnum):
    STANDARD = "STANDARD"
    BILL_ONLY = "BILL_ONLY"
    BILL_AND_REPLACE = "BILL_AND_REPLACE"
    DROP_SHIP = "DROP_SHIP"
    BLANKET_RELEASE = "BLANKET_RELEASE"
    CONSIGNMENT_REPLENISH = "CONSIGNMENT_REPLENISH"


class PoPurpose(StrEnum):
    ORIGINAL = "ORIGINAL"
    REPLACE = "REPLACE"
    CANCEL = "CANCEL"
    CHANGE = "CHANGE"
    CONFIRMATION = "CONFIRMATION"
    DUPLICATE = "DUPLICATE"


class PoStatus(StrEnum):
    DRAFT = "DRAFT"
    SENT = "SENT"
    ACKED = "ACKED"
    PARTIALLY_ACKED = "PARTIALLY_ACKED"
    PARTIALLY_RECEIVED = "PARTIALLY_RECEIVED"
    RECEIVED = "RECEIVED"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class AckType(StrEnum):
    ACCEPTED = "ACCEPTED"
    ACCEPTED_WITH_CHANGES = "ACCEPTED_WITH_CHANGES"
    REJECTED = "REJECTED"
    PARTIAL = "PARTIAL"
    HOLD = "HOLD"
    NOT_PROCESSED = "NOT_PROCESSED"  # domain.md B.9 (ORDRSP BGM 1225 = 12); not in A.7's list


class AckLineStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    BACKORDERED = "BACKORDERED"
    PARTIAL_BACKORDER = "PARTIAL_BACKORDER"
    CHANGED = "CHANGED"
    PRICE_CHANGED = "PRICE_CHANGED"
    QTY_CHANGED = "QTY_CHANGED"
    SUBSTITUTED = "SUBSTITUTED"
    RESCHEDULED = "RESCHEDULED"
    ON_HOLD = "ON_HOLD"
    DELETED = "DELETED"
    REJECTED = "REJECTED"
    NOT_FOUND = "NOT_FOUND"  # domain.md B.9 (ORDRSP LIN 1229 = 10); not in A.7's list


class PackLevel(StrEnum):
    TARE = "TARE"
    PACK = "PACK"


class ReceiptSource(StrEnum):
    DOCK_SCAN = "DOCK_SCAN"
    ASN_AUTO = "ASN_AUTO"
    MANUAL = "MANUAL"
    SYSTEM_FOR_BILL_ONLY = "SYSTEM_FOR_BILL_ONLY"


class InvoiceType(StrEnum):
    INVOICE = "INVOICE"
    CREDIT_MEMO = "CREDIT_MEMO"
    DEBIT_MEMO = "DEBIT_MEMO"


class ChargeType(StrEnum):
    FREIGHT = "FREIGHT"
    FUEL = "FUEL"
    HANDLING = "HANDLING"
    DISCOUNT = "DISCOUNT"
    TAX = "TAX"
    OTHER = "OTHER"  # addition: any SAC/ALC code not in the list above (the raw code is kept)


class AllowanceOrCharge(StrEnum):
    ALLOWANCE = "ALLOWANCE"
    CHARGE = "CHARGE"


class MatchStatus(StrEnum):
    UNMATCHED = "UNMATCHED"
    MATCHED = "MATCHED"
    WITHIN_TOLERANCE = "WITHIN_TOLERANCE"
    EXCEPTION = "EXCEPTION"
    ON_HOLD = "ON_HOLD"


class AdjustmentType(StrEnum):
    ISSUE_TO_COST_CENTER = "ISSUE_TO_COST_CENTER"
    ISSUE_TO_PATIENT = "ISSUE_TO_PATIENT"
    TRANSFER = "TRANSFER"
    SCRAP = "SCRAP"
    EXPIRED_WRITE_OFF = "EXPIRED_WRITE_OFF"
    COUNT_GAIN = "COUNT_GAIN"
    COUNT_LOSS = "COUNT_LOSS"
    QUARANTINE = "QUARANTINE"
    RELEASE = "RELEASE"
    RETURN_TO_VENDOR = "RETURN_TO_VENDOR"
    CONSIGNMENT_CONSUMPTION = "CONSIGNMENT_CONSUMPTION"
    # Addition to domain.md A.11: a counted quantity, not a movement. ``qty`` is what was counted;
    # the receiving ERP compares it with its book stock and books the difference (gain or loss).
    CYCLE_COUNT = "CYCLE_COUNT"


class SnapshotBasis(StrEnum):
    BOOK = "BOOK"
    PHYSICAL_COUNT = "PHYSICAL_COUNT"
    AVAILABLE_TO_PROMISE = "AVAILABLE_TO_PROMISE"
    CONSIGNMENT_STATUS = "CONSIGNMENT_STATUS"


class ChargeStatus(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    REVERSED = "REVERSED"


class UsageSource(StrEnum):
    POU_SCAN = "POU_SCAN"
    ADC_CABINET = "ADC_CABINET"
    OR_LOG = "OR_LOG"
    EHR = "EHR"
    MANUAL = "MANUAL"


class ReplenishmentMethod(StrEnum):
    """How a par breach is filled (an addition to domain.md section A)."""

    TRANSFER = "TRANSFER"
    STANDARD_PO = "STANDARD_PO"
    EXPEDITED_PO = "EXPEDITED_PO"


class CatalogAction(StrEnum):
    ADD = "ADD"
    CHANGE = "CHANGE"
    DELETE = "DELETE"
    NO_CHANGE = "NO_CHANGE"


class PriceType(StrEnum):
    CONTRACT = "CONTRACT"
    CATALOG = "CATALOG"  # domain.md writes CATALOG/LIST: one value, list prices are catalogue prices
    PROMO = "PROMO"
    TIER = "TIER"


class RecallSource(StrEnum):
    MANUFACTURER = "MANUFACTURER"
    DISTRIBUTOR = "DISTRIBUTOR"
    FDA = "FDA"
    RECALL_SERVICE = "RECALL_SERVICE"
    INTERNAL = "INTERNAL"


class RecallClass(StrEnum):
    CLASS_I = "CLASS_I"
    CLASS_II = "CLASS_II"
    CLASS_III = "CLASS_III"


class RecallType(StrEnum):
    MANDATORY = "MANDATORY"
    VOLUNTARY = "VOLUNTARY"
    MARKET_WITHDRAWAL = "MARKET_WITHDRAWAL"
    FIELD_SAFETY_NOTICE = "FIELD_SAFETY_NOTICE"


class RecallStatus(StrEnum):
    OPEN = "OPEN"
    LOCATING = "LOCATING"
    QUARANTINED = "QUARANTINED"
    RESPONDED = "RESPONDED"
    CLOSED = "CLOSED"


class RecallHitKind(StrEnum):
    IN_TRANSIT = "IN_TRANSIT"
    RECEIVED = "RECEIVED"
    ON_HAND = "ON_HAND"
    TRANSFERRED = "TRANSFERRED"
    USED = "USED"
    RETURNED = "RETURNED"


class Confidence(StrEnum):
    CONFIRMED = "CONFIRMED"
    INFERRED = "INFERRED"
