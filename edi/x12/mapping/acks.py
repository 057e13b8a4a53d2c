"""Inbound 997 / 999 / TA1 → ``AckResult`` (domain.md B.7)."""

from __future__ import annotations

from edi.common.ack_results import AckedGroup, AckedSet, AckError, AckResult, x12_status
from edi.common.diagnostics import Diagnostic, Level, error
from edi.common.numbers import count_value, shown
from edi.x12.mapping.base import MappingError, SetView, mapper
from edi.x12.reader import Interchange


@mapper("997", "999")
def map_functional_ack(view: SetView) -> AckResult:
    index, ak1 = view.require("AK1")
    group = AckedGroup(functional_id=view.need(index, 1, "AK101 functional identifier code"),
                       control_number=view.need(index, 2, "AK102 group control number"),
                       version=view.opt(ak1, 3))
    current: AckedSet | None = None
    last_error: AckError | None = None
    for i, seg in view.iter():
        tag = seg[0]
        if tag == "AK2":
            current = AckedSet(set_id=view.need(i, 1, "AK201 transaction set identifier"),
                               control_number=view.need(i, 2, "AK202 transaction set control number"),
                               implementation_reference=view.opt(seg, 3))
            group.sets.append(current)
            last_error = None
        elif tag in ("AK3", "IK3"):
            last_error = AckError(segment_id=view.opt(seg, 1), segment_position=_position(view, i),
                                  loop_id=view.opt(seg, 3), segment_code=view.opt(seg, 4))
            _in_set(view, i, current).errors.append(last_error)
        elif tag in ("AK4", "IK4"):
            last_error = _element_error(view, i, seg, _in_set(view, i, current), last_error)
        elif tag == "CTX" and last_error is not None:
            last_error.context.append(view.value(seg, 1))
        elif tag in ("AK5", "IK5"):
            set_ack = _in_set(view, i, current)
            set_ack.status_raw = view.need(i, 1, f"{tag}01 acknowledgment code")
            set_ack.status = _status(view, i, set_ack.status_raw)
            set_ack.codes = [c for c in (view.value(seg, n) for n in range(2, 7)) if c]
        elif tag == "AK9":
            group.status_raw = view.need(i, 1, "AK901 acknowledgment code")
            group.status = _status(view, i, group.status_raw)
            group.sets_included = view.integer(i, 2, required=True)
            group.sets_received = view.integer(i, 3, required=True)
            group.sets_accepted = view.integer(i, 4, required=True)
            group.codes = [c for c in (view.value(seg, n) for n in range(5, 10)) if c]
    if group.status is None:
        view.require("AK9")
    kind = "999" if view.ts.set_id == "999" else "997"
    return AckResult(standard="X12", ack_kind=kind, groups=[group])


def _position(view: SetView, index: int) -> int | None:
    """AK302/IK302 is informational for us: a partner's malformed value is kept as a warning
    rather than losing the whole acknowledgement."""
    raw = view.value(view.segments[index], 2)
    position = count_value(raw)
    if position is None and raw:
        view.warn(index, 2, f"segment position {shown(raw)} is not a number; ignored")
    return position


def _in_set(view: SetView, index: int, current: AckedSet | None) -> AckedSet:
    if current is None:
        raise view.fail(index, None, f"{view.segments[index][0][:3]} outside an AK2 loop (no AK2 before it)",
                        syntax=True)
    return current


def _element_error(view: SetView, index: int, seg: list[str], set_ack: AckedSet,
                   last: AckError | None) -> AckError:
    where = view.components(seg, 1)
    element_position = count_value(where[0])
    if element_position is None:
        raise view.fail(index, 1, f"element position {shown(where[0])} is not a number", element_code="6",
                        bad_value=where[0], syntax=True)
    found = last if last is not None and last.element_position is None else None
    if found is None:
        found = AckError(segment_id=last.segment_id if last else None,
                         segment_position=last.segment_position if last else None,
                         loop_id=last.loop_id if last else None,
                         segment_code=last.segment_code if last else None)
        set_ack.errors.append(found)
    found.element_position = element_position
    found.component_position = count_value(where[1]) if len(where) > 1 else None
    found.element_reference = view.opt(seg, 2)
    found.element_code = view.need(index, 3, f"{seg[0]}03 data element syntax error code")
    found.bad_value = view.opt(seg, 4)
    return found


def _status(view: SetView, index: int, raw: str):
    status = x12_status(raw)
    if status is None:
        raise view.fail(index, 1, f"acknowledgment code {shown(raw)} is not one of A, E, P, R, M, W, X",
                        element_code="7", bad_value=raw, syntax=True)
    return status


def ta1_results(interchange: Interchange) -> tuple[list[AckResult], list[Diagnostic]]:
    """Each TA1 segment of an interchange as an ``AckResult`` document, or a located error."""
    docs, problems = [], []
    for position, seg in interchange.service_segments:
        if seg[0] != "TA1":
            continue
        values = [seg[n].strip() if len(seg) > n else "" for n in range(6)]
        status = x12_status(values[4])
        missing = next((n for n in (1, 4, 5) if not values[n]), None)
        if missing is not None or status is None:
            n = missing or 4
            problems.append(error(f"TA1{n:02d} {'is missing' if missing else repr(values[4]) + ' is not A, E or R'}",
                                  level=Level.INTERCHANGE, segment_position=position, segment_id="TA1",
                                  element_position=n, code="ta1_invalid"))
            continue
        docs.append(AckResult(standard="X12", ack_kind="TA1", interchange_control_number=values[1],
                              interchange_date=values[2] or None, interchange_time=values[3] or None,
                              interchange_status=status, interchange_status_raw=values[4],
                              note_code=values[5]))
    return docs, problems


__all__ = ["map_functional_ack", "ta1_results", "MappingError"]
