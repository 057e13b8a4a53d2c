"""EDIFACT rules the hub checks before anything leaves: the structures of the messages it
writes (ORDERS, ORDRSP, DESADV, INVOIC, RECADV in D96A and D01B; CONTRL in syntax 3 and 4),
the element and composite tables of every segment they use (the envelope included), and the
code lists of the elements whose codes the hub chooses. Written for the hub from the UN/EDIFACT
directories; the tests compare them with the Bots translator's grammars (tests/edi_grammars.py).

Only the segments the hub writes are listed: a segment outside its message's table is a write
error, never sent. Codes that go out as a partner sent them (RFF 1153, NAD 3035, units 6411,
BGM 1001/1225 of orders ...) are checked for type and length, not against a list.
"""

from __future__ import annotations

from edi.common.grammar import Grammar
from edi.edifact.charsets import CHARSETS
from edi.edifact.diagnostics import SyntaxCode
from hub.canonical.codes import ack_line_status_from_edifact

R = 999999  # no limit that matters


def M(kind: str, high: int, codes: str | None = None, low: int = 1) -> tuple:
    return ("M", kind, low, high, codes)


def O(kind: str, high: int, codes: str | None = None, low: int = 1) -> tuple:
    return ("C", kind, low, high, codes)


def C(req: str, *components: tuple) -> tuple:
    return (req, "C", components)


CODES: dict[str, frozenset[str]] = {
    "0001": frozenset(CHARSETS),
    "0002": frozenset({"1", "2", "3", "4"}),
    "0031": frozenset({"1"}),
    "0035": frozenset({"1"}),
    "0065": frozenset({"ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV", "CONTRL"}),
    "0081": frozenset({"S"}),
    "0083": frozenset({"4", "7", "8"}),
    "0085": frozenset(v for k, v in vars(SyntaxCode).items() if k.isupper()),
    "1229": frozenset({*ack_line_status_from_edifact.codes, "3", "5", "7", "10"}),  # ORDRSP line actions
    # order, delivery requested/promised (2, 17, 64, 69), despatch (11), shipment (10), invoice
    # delivery (35), expiry (36), receipt (50), production (94), reference date (171)
    "2005": frozenset({"137", "2", "10", "11", "17", "35", "36", "50", "64", "69", "94", "171"}),
    "2379": frozenset({"102"}),
    "3155": frozenset({"TE", "EM"}),
    "4233": frozenset({"33E", "36E"}),
    "4347": frozenset({"1", "5"}),
    "4451": frozenset({"AAI", "AAB"}),
    "5025": frozenset({"203", "77", "176", "124", "23", "204"}),
    "5125": frozenset({"AAA", "AAB"}),
    "5245": frozenset({"1", "2", "12"}),
    "5283": frozenset({"7"}),
    "5463": frozenset({"A", "C"}),
    "6063": frozenset({"21", "113", "83", "12", "47", "48", "194", "195"}),
    "6069": frozenset({"2"}),
    "6311": frozenset({"PD"}),
    "6313": frozenset({"AAB"}),
    "6343": frozenset({"9"}),
    "6347": frozenset({"2"}),
    "7077": frozenset({"F"}),
    "7405": frozenset({"BJ", "BX", "BN"}),
    "8051": frozenset({"20"}),
}

_PARTY_SCHEMES = C("C", M("an", 35), O("an", 4), O("an", 14), O("an", 35))


def _segments(d01b: bool) -> dict[str, tuple]:
    """Element tables of one directory. D01B grew a few data elements (code list qualifier 1131
    an..3 → an..17, free text 4440 an..70 → an..512, description 7008 an..35 → an..256,
    packaging ids 7164/7166 an..12 → an..35, amounts 5004 n..18 → n..35, postal code 3251
    an..9 → an..17) and made BGM 1004 the composite C106 and IMD 7081 the composite C272."""
    qualifier = O("an", 17 if d01b else 3)  # 1131 code list identification
    c212 = C("C", O("an", 35), O("an", 3), qualifier, O("an", 3))
    c082 = C("C", M("an", 35), qualifier, O("an", 3))
    text, description, packaging = (512, 256, 35) if d01b else (70, 35, 12)
    number_high = 35 if d01b else 18
    return {
        # envelope
        "UNB": (C("M", M("a", 4, "0001", 4), M("n", 1, "0002", 1)), C("M", M("an", 35), O("an", 4), O("an", 14)),
                C("M", M("an", 35), O("an", 4), O("an", 14)), C("M", M("n", 8, low=6), M("n", 4, low=4)),
                M("an", 14), C("C", M("an", 14), O("an", 2)), O("an", 14), O("a", 1), O("n", 1, "0031"),
                O("an", 35), O("n", 1, "0035")),
        "UNZ": (M("n", 6), M("an", 14)),
        "UNH": (M("an", 14), C("M", M("an", 6, "0065"), M("an", 3), M("an", 3), M("an", 2), O("an", 6)),
                O("an", 35)),
        "UNT": (M("n", 6), M("an", 14)),
        # business segments
        "BGM": (C("C", O("an", 3), qualifier, O("an", 3), O("an", 35)),
                C("C", O("an", 35), O("an", 9), O("an", 6)) if d01b else O("an", 35), O("an", 3), O("an", 3)),
        "DTM": (C("M", M("an", 3, "2005"), O("an", 35), O("an", 3, "2379")),),
        "FTX": (M("an", 3, "4451"), O("an", 3), C("C", M("an", 17 if d01b else 3), qualifier, O("an", 3)),
                C("C", M("an", text), *(O("an", text),) * 4), O("an", 3)),
        "RFF": (C("M", M("an", 3), O("an", 70 if d01b else 35), O("an", 6), O("an", 35), O("an", 6)),),
        "NAD": (M("an", 3), c082, C("C", M("an", 35), *(O("an", 35),) * 4),
                C("C", M("an", 35), *(O("an", 35),) * 4, O("an", 3)), C("C", M("an", 35), *(O("an", 35),) * 3),
                O("an", 35), C("C", O("an", 9), qualifier, O("an", 3), O("an", 70)) if d01b else O("an", 9),
                O("an", 17 if d01b else 9), O("an", 3)),
        "CTA": (O("an", 3), C("C", O("an", 17), O("an", 35))),
        "COM": (C("M", M("an", 512), M("an", 3, "3155")),),
        "CUX": (C("C", M("an", 3, "6347"), O("an", 3), O("an", 3, "6343"), O("n", 4)),
                C("C", M("an", 3), O("an", 3), O("an", 3), O("n", 4)), O("n", 12), O("an", 3)),
        "PAT": (M("an", 3), C("C", M("an", 17), qualifier, O("an", 3), O("an", 35), O("an", 35)),
                C("C", M("an", 3), O("an", 3), O("an", 3), O("n", 3))),
        "PCD": (C("M", M("an", 3, "5245"), O("n", 10), O("an", 3), qualifier, O("an", 3)),),
        "MOA": (C("M", M("an", 3, "5025"), O("n", number_high), O("an", 3), O("an", 3), O("an", 3)),),
        "ALC": (M("an", 3, "5463"), C("C", O("an", 35), O("an", 3)), O("an", 3), O("an", 3),
                C("C", O("an", 3), qualifier, O("an", 3), O("an", 35), O("an", 35))),
        "LIN": (O("an" if d01b else "n", 6), O("an", 3, "1229"), c212,
                C("C", O("an", 3), O("an" if d01b else "n", 6)), O("n", 2), O("an", 3)),
        "PIA": (M("an", 3, "4347"), C("M", O("an", 35), O("an", 3), qualifier, O("an", 3)), *(c212,) * 4),
        "IMD": (O("an", 3, "7077"), C("C", O("an", 3), qualifier, O("an", 3)) if d01b else O("an", 3),
                C("C", O("an", 17), qualifier, O("an", 3), O("an", description), O("an", description), O("an", 3)),
                O("an", 3)),
        "QTY": (C("M", M("an", 3, "6063"), M("an" if d01b else "n", 35 if d01b else 15), O("an", 3)),),
        "PRI": (C("C", M("an", 3, "5125"), O("n", 15), O("an", 3), O("an", 3), O("n", 9), O("an", 3)), O("an", 3)),
        "TAX": (M("an", 3, "5283"), C("C", O("an", 3), qualifier, O("an", 3), O("an", 35)),),
        "UNS": (M("a", 1, "0081"),),
        "CNT": (C("M", M("an", 3, "6069"), M("n", 18), O("an", 3)),),
        "TDT": (M("an", 3, "8051"), O("an", 17), C("C", O("an", 3), O("an", 17)), C("C", O("an", 8), O("an", 17)),
                C("C", O("an", 17), qualifier, O("an", 3), O("an", 35))),
        "CPS": (M("an", packaging), O("an", packaging), O("an", 3)),
        "PAC": (O("n", 8), C("C", O("an", 3), O("an", 3), O("an", 3)),
                C("C", O("an", 17), qualifier, O("an", 3), O("an", 35))),
        "MEA": (M("an", 3, "6311"), C("C", O("an", 3, "6313"), O("an", 3), O("an", 17 if d01b else 3), O("an", 70)),
                C("C", M("an", 3), O("an" if d01b else "n", 18), O("n", 18), O("n", 18), O("n", 2))),
        "PCI": (O("an", 3, "4233"),),
        "GIN": (M("an", 3, "7405"), *(C("M" if n == 0 else "C", M("an", 35), O("an", 35)) for n in range(5))),
        "QVR": (C("C", M("n", 15), O("an", 3)), O("an", 3), C("C", O("an", 3), qualifier, O("an", 3), O("an", 35))),
        # CONTRL (service segments: the same in syntax 3 and 4 as the hub writes them)
        "UCI": (M("an", 14), _PARTY_SCHEMES, _PARTY_SCHEMES, M("an", 3, "0083"), O("an", 3, "0085"), O("a", 3),
                C("C", M("n", 3), O("n", 3))),
        "UCF": (M("an", 14), C("M", M("an", 35), O("an", 4)), C("M", M("an", 35), O("an", 4)),
                M("an", 3, "0083"), O("an", 3, "0085"), O("a", 3), C("C", M("n", 3), O("n", 3))),
        "UCM": (M("an", 14), C("M", M("an", 6), M("an", 3), M("an", 3), M("an", 2), O("an", 6)),  # echoes theirs
                M("an", 3, "0083"), O("an", 3, "0085"), O("a", 3), C("C", M("n", 3), O("n", 3))),
        "UCS": (M("n", 6), O("an", 3, "0085")),
        "UCD": (M("an", 3, "0085"), C("M", M("n", 3), O("n", 3))),
    }


SEGMENTS_D96A, SEGMENTS_D01B = _segments(False), _segments(True)


# Canonical fields behind elements, named in errors: (message, tag, element).
FIELDS: dict[tuple[str, str, int], str] = {
    ("ORDERS", "BGM", 1): "po_type_raw", ("ORDERS", "BGM", 2): "po_number", ("ORDERS", "BGM", 3): "purpose_raw",
    ("ORDRSP", "BGM", 2): "ack_id", ("ORDRSP", "BGM", 3): "ack_type_raw", ("DESADV", "BGM", 2): "asn_number",
    ("DESADV", "BGM", 3): "purpose_raw", ("INVOIC", "BGM", 1): "invoice_type_raw",
    ("INVOIC", "BGM", 2): "invoice_number", ("RECADV", "BGM", 2): "receipt_id",
    **{(m, "LIN", 1): "lines[].line_number / line_id" for m in ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV")},
    **{(m, "QTY", 1): "lines[] quantity and uom" for m in ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV")},
    **{(m, "NAD", 2): "party identifier" for m in ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV")},
    **{(m, "NAD", 4): "party name" for m in ("ORDERS", "DESADV", "INVOIC")},
    **{(m, "NAD", 5): "address.lines" for m in ("ORDERS", "DESADV", "INVOIC")},
    **{(m, "NAD", 8): "address.postal_code" for m in ("ORDERS", "DESADV", "INVOIC")},
    **{(m, "RFF", 1): "refs / references" for m in ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV")},
    **{(m, "IMD", 3): "lines[].description" for m in ("ORDERS", "DESADV", "INVOIC")},
    **{(m, "PIA", 2): "item identifiers, lots, serials" for m in ("ORDERS", "ORDRSP", "DESADV", "INVOIC", "RECADV")},
    ("INVOIC", "ALC", 5): "charges[].type_raw / description", ("DESADV", "GIN", 2): "packs[].sscc / lots[]",
    ("DESADV", "TDT", 5): "carrier_scac / carrier_name", ("DESADV", "CPS", 1): "packs[].pack_id",
}


def newer_than_d96(directory: str) -> bool:
    """D01B and later (directories are named by year: D93A … D99B, then D00A …)."""
    year = int(directory[1:3])
    return year < 90 and (year, directory[3:]) >= (1, "B")


def _structures(directory: str) -> dict[str, tuple]:
    """Message structures; D01B let a few groups repeat more (NAD 99 in DESADV, RFF 9999 ...)."""
    d01b = newer_than_d96(directory)
    rff = ("RFF", 0, 9999 if d01b else 10, (("DTM", 0, 5),))
    party = ("NAD", 0, 99, (("LOC", 0, 99 if d01b else 25), ("RFF", 0, 99 if d01b else 10, (("DTM", 0, 5),)),
                            ("CTA", 0, 5, (("COM", 0, 5),))))
    order_line = ("LIN", 0, 200000, (("PIA", 0, 25), ("IMD", 0, 99), ("QTY", 0, 99 if d01b else 10), ("DTM", 0, 35),
                                     ("MOA", 0, 10), ("GIN", 0, 1000), ("QVR", 0, 1),
                                     ("PRI", 0, 25, (("CUX", 0, 1), ("DTM", 0, 5))),
                                     ("RFF", 0, 9999 if d01b else 999, (("DTM", 0, 5),))))
    order = (("UNH", 1, 1), ("BGM", 1, 1), ("DTM", 1, 35), ("FTX", 0, 99), rff, party,
             ("CUX", 0, 5, (("PCD", 0, 5), ("DTM", 0, 5))), ("PAT", 0, 10, (("DTM", 0, 5), ("PCD", 0, 1), ("MOA", 0, 1))),
             order_line, ("UNS", 1, 1), ("MOA", 0, 99 if d01b else 12), ("CNT", 0, 10), ("UNT", 1, 1))
    despatch_line = ("LIN", 0, 9999, (("PIA", 0, 10), ("IMD", 0, 25), ("QTY", 0, 10), ("GIN", 0, 100), ("DTM", 0, 5),
                                      ("RFF", 0, 99 if d01b else 10, (("DTM", 0, 1),)),
                                      ("PCI", 0, 9999, (("DTM", 0, 5), ("QTY", 0, 1), ("GIN", 0, 10)))))
    receipt_line = ("LIN", 0, 9999, (("PIA", 0, 10), ("IMD", 0, 25), ("QTY", 0, 10), ("QVR", 0, 10), ("DTM", 0, 5),
                                     ("GIN", 0, 99), ("RFF", 0, 10, (("DTM", 0, 1),))))
    invoice_charge = ("ALC", 0, 9999, (("PCD", 0, 1), ("MOA", 0, 2)))
    return {
        "ORDERS": order,
        "ORDRSP": order,
        "DESADV": (("UNH", 1, 1), ("BGM", 1, 1), ("DTM", 0, 10), ("RFF", 0, 10, (("DTM", 0, 1),)),
                   ("NAD", 0, 99 if d01b else 10, party[3]), ("TDT", 0, 10),
                   ("CPS", 0, 9999, (("PAC", 0, 9999, (("MEA", 0, 10), ("PCI", 0, 1000, (("GIN", 0, 99),)))),
                                     despatch_line)),
                   ("CNT", 0, 5), ("UNT", 1, 1)),
        "INVOIC": (("UNH", 1, 1), ("BGM", 1, 1), ("DTM", 1, 35), ("FTX", 0, 99 if d01b else 10),
                   ("RFF", 0, 99999 if d01b else 99, (("DTM", 0, 5),)), party, ("CUX", 0, 99 if d01b else 5),
                   ("PAT", 0, 10, (("DTM", 0, 5), ("PCD", 0, 1), ("MOA", 0, 1))), invoice_charge,
                   ("LIN", 0, 9999999, (("PIA", 0, 25), ("IMD", 0, 99 if d01b else 10), ("QTY", 0, 5),
                                        ("MOA", 0, 99 if d01b else 5), ("PRI", 0, 25), ("RFF", 0, 10, (("DTM", 0, 5),)),
                                        ("TAX", 0, 99, (("MOA", 0, 2 if d01b else 1),)),
                                        ("ALC", 0, 30 if d01b else 15, (("PCD", 0, 1), ("MOA", 0, 2))))),
                   ("UNS", 1, 1), ("CNT", 0, 10), ("MOA", 1, 100), ("UNT", 1, 1)),
        "RECADV": (("UNH", 1, 1), ("BGM", 1, 1), ("DTM", 1, 10), ("RFF", 0, 10, (("DTM", 0, 1),)),
                   ("NAD", 1, 99 if d01b else 10, party[3]), ("CPS", 0, 9999, (receipt_line,)), ("CNT", 0, 1),
                   ("UNT", 1, 1)),
    }


_ACK_MESSAGE = ("UCM", 0, R, (("UCS", 0, 999, (("UCD", 0, 99),)),))
CONTRL = (("UNH", 1, 1), ("UCI", 1, 1), _ACK_MESSAGE, ("UCF", 0, R, (_ACK_MESSAGE,)), ("UNT", 1, 1))
STRUCTURES = {"D96A": {**_structures("D96A"), "CONTRL": CONTRL}, "D01B": {**_structures("D01B"), "CONTRL": CONTRL}}
SEGMENTS = {"D96A": SEGMENTS_D96A, "D01B": SEGMENTS_D01B}


def grammar_for(directory: str, decimal: str = ".") -> tuple[Grammar, dict[str, tuple]]:
    """The rules for a directory: D01B for D01B and later, D96A before (the hub writes these two)."""
    key = "D01B" if newer_than_d96(directory) else "D96A"
    return Grammar(f"EDIFACT {key}", SEGMENTS[key], CODES, decimal=decimal, fields=FIELDS), STRUCTURES[key]
