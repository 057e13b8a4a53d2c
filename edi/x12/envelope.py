"""X12 envelope validation: ISA/IEA, GS/GE and ST/SE headers, trailers, counts and control
numbers. Each check returns diagnostics instead of raising, so a whole file can be reported
(and acknowledged) at once. The reader calls these at each header and trailer; nothing here
runs per body segment.
"""

from __future__ import annotations

from datetime import datetime

from edi.common.diagnostics import Diagnostic, Level, error, warning
from edi.common.numbers import brief, same_control_number, same_count, shown
from edi.common.text import digits

# ISA element widths (ISA01..ISA16) and the TA105 code for a bad value of each.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_ISA_CODES = {1: "010", 2: "011", 3: "012", 4: "013", 5: "005", 6: "006", 7: "007", 8: "008",
              9: "014", 10: "015", 11: "016", 12: "017", 13: "018", 14: "019", 15: "020"}
_PADDED = (2, 4, 6, 8)  # elements senders often leave unpadded


def _at(level: Level, position: int, seg_id: str, element: int | None = None, **extra) -> dict:
    return {"level": level, "segment_position": position, "segment_id": seg_id,
            "element_position": element, **extra}


def check_isa(isa: list[str], position: int) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    where = lambda n, **kw: _at(Level.INTERCHANGE, position, "ISA", n, ack_code=_ISA_CODES.get(n, ""), **kw)  # noqa: E731
    if len(isa) != 17:
        return [error(f"ISA has {len(isa) - 1} elements, not 16", code="isa_elements",
                      **_at(Level.INTERCHANGE, position, "ISA", ack_code="024"))]
    short = [n for n in _PADDED if len(isa[n]) < ISA_WIDTHS[n - 1]]
    if short:
        length = sum(len(e) for e in isa) + 16
        names = ", ".join(f"ISA{n:02d}" for n in short)
        diags.append(warning(f"ISA is not fixed-width ({length} characters instead of 106): {names} "
                             "not padded; accepted", code="isa_unpadded",
                             **_at(Level.INTERCHANGE, position, "ISA")))
    for n, width in enumerate(ISA_WIDTHS, start=1):
        value = isa[n]
        if len(value) > width:
            diags.append(error(f"ISA{n:02d} is {len(value)} characters long; the standard fixes {width}",
                               code="isa_width", bad_value=value, **where(n)))
        elif len(value) < width and n not in _PADDED:
            diags.append(error(f"ISA{n:02d} {value!r} is shorter than its fixed {width} characters",
                               code="isa_width", bad_value=value, **where(n)))
    if not digits(isa[13]):
        diags.append(error(f"ISA13 control number {isa[13]!r} is not 9 digits", code="isa_control",
                           bad_value=isa[13], **where(13)))
    if not _valid_datetime(isa[9], "%y%m%d"):
        diags.append(error(f"ISA09 {isa[9]!r} is not a YYMMDD date", code="isa_date", bad_value=isa[9], **where(9)))
    if not _valid_datetime(isa[10], "%H%M"):
        diags.append(error(f"ISA10 {isa[10]!r} is not an HHMM time", code="isa_time", bad_value=isa[10], **where(10)))
    if not digits(isa[12]):
        diags.append(error(f"ISA12 version {isa[12]!r} is not 5 digits", code="isa_version",
                           bad_value=isa[12], **where(12)))
    if isa[14] not in ("0", "1"):
        diags.append(error(f"ISA14 acknowledgment requested {isa[14]!r} is not 0 or 1", code="isa_ack_flag",
                           bad_value=isa[14], **where(14)))
    if isa[15] not in ("P", "T", "I"):
        diags.append(error(f"ISA15 usage indicator {isa[15]!r} is not P, T or I", code="isa_usage",
                           bad_value=isa[15], **where(15)))
    non_ascii = [n for n in range(1, 16) if not isa[n].isascii()]
    if non_ascii:
        diags.append(warning(f"ISA{non_ascii[0]:02d} holds non-ASCII characters {isa[non_ascii[0]]!r} "
                             "(padding must be spaces); trimmed", code="isa_non_ascii",
                             **_at(Level.INTERCHANGE, position, "ISA", non_ascii[0])))
    return diags


def check_iea(iea: list[str], position: int, control_number: str, groups: int) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    count = _element(iea, 1)
    if not same_count(count, groups):
        diags.append(error(f"count {_count(count)} but {groups} functional groups", code="iea_count",
                           bad_value=count, **_at(Level.INTERCHANGE, position, "IEA", 1, ack_code="021")))
    ref = _element(iea, 2)
    if ref != control_number:
        diags.append(error(f"control number {shown(ref)} does not match ISA13 {control_number!r}",
                           code="iea_control", bad_value=ref,
                           **_at(Level.INTERCHANGE, position, "IEA", 2, ack_code="001")))
    return diags


def check_gs(gs: list[str], position: int, seen_controls: set[str]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    if len(gs) < 9:
        diags.append(error(f"GS has {len(gs) - 1} elements, at least 8 are required", code="gs_elements",
                           **_at(Level.GROUP, position, "GS", len(gs), ack_code="")))
    control = _element(gs, 6)
    if not (digits(control) and len(control) <= 9):
        diags.append(error(f"GS06 group control number {shown(control)} is not 1-9 digits", code="gs_control",
                           bad_value=control, **_at(Level.GROUP, position, "GS", 6, ack_code="6")))
    elif control in seen_controls:
        diags.append(error(f"GS06 group control number {control} is used twice in the interchange",
                           code="gs_duplicate", bad_value=control,
                           **_at(Level.GROUP, position, "GS", 6, ack_code="19")))
    date = _element(gs, 4)
    if not (_valid_datetime(date, "%Y%m%d") or _valid_datetime(date, "%y%m%d")):
        diags.append(error(f"GS04 {shown(date)} is not a CCYYMMDD date", code="gs_date", bad_value=date,
                           **_at(Level.GROUP, position, "GS", 4)))
    elif len(date) == 6:
        diags.append(warning(f"GS04 {date!r} is a YYMMDD date; CCYYMMDD expected", code="gs_date_short",
                             **_at(Level.GROUP, position, "GS", 4)))
    return diags


def check_ge(ge: list[str], position: int, gs_control: str, sets: int) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    count = _element(ge, 1)
    if not same_count(count, sets):
        diags.append(error(f"count {_count(count)} but {sets} transaction sets", code="ge_count",
                           bad_value=count, **_at(Level.GROUP, position, "GE", 1, ack_code="5")))
    ref = _element(ge, 2)
    if not same_control_number(ref, gs_control):
        diags.append(error(f"control number {shown(ref)} does not match GS06 {shown(gs_control)}", code="ge_control",
                           bad_value=ref, **_at(Level.GROUP, position, "GE", 2, ack_code="4")))
    return diags


def check_st(st: list[str], position: int, seen_controls: set[str]) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    set_id, control = _element(st, 1), _element(st, 2)
    if not (len(set_id) == 3 and set_id.isalnum()):
        diags.append(error(f"ST01 transaction set identifier {shown(set_id)} is not 3 characters",
                           code="st_id", bad_value=set_id,
                           **_at(Level.TRANSACTION, position, "ST", 1, ack_code="6", set_position=1)))
    if not 4 <= len(control) <= 9:
        diags.append(error(f"ST02 control number {shown(control)} is not 4-9 characters", code="st_control",
                           bad_value=control,
                           **_at(Level.TRANSACTION, position, "ST", 2, ack_code="7", set_position=1)))
    elif control in seen_controls:
        diags.append(error(f"ST02 control number {control} is used twice in the functional group",
                           code="st_duplicate", bad_value=control,
                           **_at(Level.TRANSACTION, position, "ST", 2, ack_code="23", set_position=1)))
    return diags


def check_se(se: list[str], position: int, st_control: str, segments: int) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    count = _element(se, 1)
    if not same_count(count, segments):
        diags.append(error(f"count {_count(count)} but {segments} segments", code="se_count",
                           bad_value=count,
                           **_at(Level.TRANSACTION, position, "SE", 1, ack_code="4", set_position=segments)))
    ref = _element(se, 2)
    if ref != st_control:
        diags.append(error(f"control number {shown(ref)} does not match ST02 {shown(st_control)}", code="se_control",
                           bad_value=ref,
                           **_at(Level.TRANSACTION, position, "SE", 2, ack_code="3", set_position=segments)))
    return diags


def _count(value: str) -> str:
    """A stated count as a diagnostic quotes it (hostile ones are thousands of digits long)."""
    return brief(value) if value else "missing"


def _element(segment: list[str], n: int) -> str:
    return segment[n].strip() if len(segment) > n else ""


def _valid_datetime(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return len(value) == len(datetime.now().strftime(fmt))
