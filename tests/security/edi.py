"""Interchanges for the security tests, built from their parts so each variant of a smuggled
interchange shows exactly what differs: an X12 855 from a sender, with any element separator,
ISA01 and line layout; an EDIFACT ORDRSP with any service characters."""

from __future__ import annotations


def x12(sender: str, control: str, *, sep: str = "*", isa01: str = "00", set_id: str = "855",
        gs_sender: str | None = None, term: str = "~", newline: str = "\n") -> str:
    """One interchange, one group, one set (ST01 ``set_id``)."""
    isa = sep.join(["ISA", isa01, " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", "HOSPITAL".ljust(15),
                    "261120", "1200", "^", "00401", control, "0", "P", ">"])
    body = [isa, sep.join(["GS", "PR", gs_sender or sender, "HOSPITAL", "20261120", "1200", "1", "X", "004010"]),
            sep.join(["ST", set_id, "0001"]), sep.join(["BAK", "00", "AD", f"PO-{control}", "20261120"]),
            sep.join(["SE", "3", "0001"]), sep.join(["GE", "1", "1"]), sep.join(["IEA", "1", control])]
    return "".join(segment + term + newline for segment in body)


def edifact(sender: str, qualifier: str, reference: str, *, una: str = ":+.? '", message: str = "ORDRSP") -> str:
    """One interchange with its own UNA (component, element, decimal, release, repetition, terminator)."""
    comp, elem, term = una[0], una[1], una[5]
    segments = [
        f"UNB{elem}UNOC{comp}3{elem}{sender}{comp}{qualifier}{elem}5412345000013{comp}14{elem}261120{comp}1200"
        f"{elem}{reference}",
        f"UNH{elem}1{elem}{message}{comp}D{comp}96A{comp}UN",
        f"BGM{elem}231{elem}ACK-{reference}",
        f"UNT{elem}3{elem}1",
        f"UNZ{elem}1{elem}{reference}",
    ]
    return "UNA" + una + "".join(s + term for s in segments)
