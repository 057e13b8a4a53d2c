"""CONTRL (ISO 9735 syntax and service report) and APERAK: building the hub's CONTRL for an
inbound interchange, reading the partner's CONTRL / APERAK, and matching them to what the hub
sent through the shared interchange log (``edi.common.interchanges``).

Outbound CONTRL (when UNB 0031 = 1 or the partner's agreement asks; never for a CONTRL):

- ``UCI``: the interchange (0020, sender, recipient), action 0083 — 4 rejected when the
  interchange has errors or is a duplicate (0085 = 26), else 7 acknowledged — and the first
  interchange-level error (0085, service segment 0013, element S011). CONTRL has room for one
  interchange-level error only; the others stay in the hub's diagnostics. A message's further
  envelope errors (UNH/UNT) are listed as UCS/UCD at their segment position.
- ``UCF`` per functional group (UNG/UNE) with the group's messages under it.
- ``UCM`` per message: reference, S009, action 4 / 7 and its first message-level error;
  ``UCS`` (segment position in the message, UNH = 1) and ``UCD`` (element and component
  position) for every segment and element error.

Inbound CONTRL becomes an ``AckResult`` (``ack_kind = "CONTRL"``). Messages the hub sends without
UNG are logged as one pseudo-group per message type keyed by the interchange reference
(``Written.groups``), and UCMs are read back into the same shape, so ``record_ack`` matches them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from datetime import datetime
from typing import Any

from pydifact.segments import Segment
from sqlalchemy import select
from sqlalchemy.orm import Session

from edi.common.numbers import count_value
from edi.edifact.charsets import writable
from edi.common.ack_results import EDIFACT_STATUS, AckedGroup, AckedSet, AckError, AckResult, AckStatus
from edi.common.diagnostics import Diagnostic
from edi.common.interchanges import AckMatch, InterchangeRecord, Party, record_ack
from edi.edifact.diagnostics import Level, SyntaxCode
from edi.edifact.mapping.base import comp
from edi.edifact.model import ReadGroup, ReadInterchange, ReadMessage, element
from edi.edifact.profile import EdifactProfile
from edi.edifact.writer import NumberSource, OutMessage, PreviewNumbers, Written, render_interchange, seg

REJECTED, ACKNOWLEDGED = "4", "7"


# -- building -----------------------------------------------------------------------------------


def contrl_due(interchange: ReadInterchange, profile: EdifactProfile | None) -> bool:
    """Asked for (UNB 0031 = 1) or agreed, not itself made of CONTRL messages, and answerable:
    a UNB without sender or reference gives a CONTRL nobody to go to and nothing to name (its
    errors stay in the hub's diagnostics)."""
    if interchange.messages and all(m.type == "CONTRL" for m in interchange.messages):
        return False
    if not interchange.sender_id or not interchange.reference:
        return False
    return interchange.ack_requested or bool(profile and profile.contrl)


def contrl_identifier(interchange: ReadInterchange) -> list[str]:
    """UNH S009 of the CONTRL, in the syntax version of the interchange it answers."""
    return ["CONTRL", "4", "1", "UN"] if interchange.syntax_version == "4" else ["CONTRL", "D", "3", "UN"]


def build_contrl(interchange: ReadInterchange, profile: EdifactProfile, numbers: NumberSource, *,
                 duplicate: bool = False, now: datetime | None = None) -> Written:
    """A CONTRL interchange answering ``interchange`` (profile: ``EdifactProfile.reply_to``)."""
    clean = partial(writable, syntax_id=profile.syntax_id, escapable=profile.delimiters.escapable())
    body = [_writable(s, clean) for s in contrl_body(interchange, duplicate=duplicate)]
    message = OutMessage("CONTRL", body, identifier=contrl_identifier(interchange))
    return render_interchange(profile, [message], numbers, now=now)


def _writable(segment: Segment, clean: Callable[[str], str]) -> Segment:
    """A CONTRL segment whose echoed values hold only characters the reply's syntax can carry
    (a NUL or a character outside UNOA in the sender's reference is replaced by '?'): the
    writer refuses anything else, and an answer to a broken interchange must be writable.
    Segments with nothing to replace are kept as they are (one test over all their values)."""
    values = [c for v in segment.elements for c in (v if isinstance(v, list) else [v])]
    joined = " ".join(values)  # a space: every syntax writes it
    if clean(joined) == joined:
        return segment
    return seg(segment.tag, *[[clean(c) for c in v] if isinstance(v, list) else clean(v) for v in segment.elements])


def contrl_body(interchange: ReadInterchange, *, duplicate: bool = False) -> list[Segment]:
    """The CONTRL's segments; what they echo from the inbound interchange (references,
    parties, message identifiers) is fitted to the CONTRL's elements, so an answer to a broken
    interchange is itself valid (edi.common.grammar.fit_echo)."""
    from edi.common.grammar import fit_echo
    from edi.edifact.grammar import grammar_for

    grammar, _ = grammar_for("D96A")
    return [seg(s.tag, *fit_echo(s.tag, s.elements, grammar)) for s in _contrl_segments(interchange, duplicate)]


def _contrl_segments(interchange: ReadInterchange, duplicate: bool) -> list[Segment]:
    # The interchange's errors are gathered once: per group and per message they made building
    # a CONTRL for thousands of junk messages quadratic.
    errors = interchange.errors
    rejected = bool(errors)
    first = _first(errors, (Level.INTERCHANGE, Level.FILE, Level.GROUP)) if not duplicate else None
    action = REJECTED if errors or duplicate else ACKNOWLEDGED
    segments = [
        seg(
            "UCI",
            interchange.reference,
            _party(interchange.header, 1),
            _party(interchange.header, 2),
            action,
            SyntaxCode.DUPLICATE if duplicate else _code(first),
            _tag(first),
            _s011(first),
        )
    ]
    if interchange.groups:
        group_errors: dict[str, Diagnostic] = {}
        for d in errors:
            if d.level is Level.GROUP and "group" in d.extra:
                group_errors.setdefault(d.extra["group"], d)
        for group in interchange.groups:
            segments.append(_ucf(group, group_errors.get(group.reference), rejected))
            segments.extend(_messages(group.messages, rejected))
        segments.extend(_messages([m for m in interchange.messages if m.group is None], rejected))
    else:
        segments.extend(_messages(interchange.messages, rejected))
    return segments


def _party(unb: Segment, index: int) -> list[str]:
    value = unb.elements[index] if len(unb.elements) > index else ""
    return list(value) if isinstance(value, list) else [value]


def _ucf(group: ReadGroup, first: Diagnostic | None, interchange_rejected: bool) -> Segment:
    # A bad message does not reject its group: its own UCM says 4 (0083 = 7 "unless explicitly rejected").
    rejected = first is not None or interchange_rejected
    return seg("UCF", group.reference, _party(group.header, 1), _party(group.header, 2),
               REJECTED if rejected else ACKNOWLEDGED, _code(first), _tag(first), _s011(first))


def _messages(messages: Iterable[ReadMessage], interchange_rejected: bool) -> list[Segment]:
    out: list[Segment] = []
    details = MAX_ERROR_SEGMENTS
    for message in messages:
        errors = message.errors
        first = _first(errors, (Level.TRANSACTION,))
        out.append(seg("UCM", message.reference_number, list(message.identifier),
                       REJECTED if errors or interchange_rejected else ACKNOWLEDGED,
                       _code(first), _tag(first), _s011(first)))
        if details > 0:
            found = _segment_errors([d for d in errors if d is not first])[:details]
            details -= len(found)
            out.extend(found)
    return out


# CONTRL allows 999 UCS per UCM and 99 UCD per UCS: a message of junk has more errors than
# that, and the first ones say enough (the rest stay in the hub's diagnostics). Across an
# interchange, UCS/UCD stop after MAX_ERROR_SEGMENTS: every message still gets its UCM with
# its action and first error, but 10-byte junk messages with half a dozen errors each would
# otherwise make the CONTRL seven times as many segments as the interchange had bytes / 10.
MAX_UCS, MAX_UCD = 999, 99
MAX_ERROR_SEGMENTS = 1_000


def _segment_errors(errors: list[Diagnostic]) -> list[Segment]:
    """UCS per segment position, with its segment-level code, then a UCD per element error;
    at most ``MAX_UCS`` UCS and ``MAX_UCD`` UCD under each."""
    out: list[Segment] = []
    by_position: dict[int, list[Diagnostic]] = {}
    for d in errors:
        by_position.setdefault(d.set_position or 1, []).append(d)
    ucs = ucd = 0
    for position in sorted(by_position):
        found = by_position[position]
        segment_level = next((d for d in found if d.element_position is None), None)
        entries = [(True, segment_level)] + [(d.element_position is None, d) for d in found if d is not segment_level]
        for is_ucs, d in entries:
            if is_ucs:
                if ucs == MAX_UCS:
                    return out
                ucs, ucd = ucs + 1, 0
                out.append(seg("UCS", str(position), _code(d)))
            elif ucd < MAX_UCD:
                ucd += 1
                out.append(seg("UCD", _code(d), _s011(d)))
    return out


def _first(errors: list[Diagnostic], levels: tuple[Level, ...]) -> Diagnostic | None:
    return next((d for d in errors if d.level in levels), None)


def _code(d: Diagnostic | None) -> str:
    return (d.ack_code or SyntaxCode.UNSPECIFIED) if d is not None else ""


def _tag(d: Diagnostic | None) -> str:
    return (d.segment_id or "")[:3] if d is not None else ""


def _s011(d: Diagnostic | None) -> list[str] | str:
    if d is None or d.element_position is None:
        return ""
    return [str(d.element_position), str(d.component_position or "")]


def acknowledge_file(data: bytes, profile: EdifactProfile | None = None, *,
                     numbers: NumberSource | None = None, now: datetime | None = None) -> bytes:
    """The CONTRL(s) the hub would send for a file: one per interchange that is due; b"" if none.
    Messages are mapped first, so mapping errors are reported too."""
    from edi.edifact.engine import map_message
    from edi.edifact.reader import read

    file = read(data)
    numbers = numbers or PreviewNumbers()
    out = []
    for interchange in file.interchanges:
        if not contrl_due(interchange, profile):
            continue
        for message in interchange.messages:
            map_message(message)
        reply = EdifactProfile.reply_to(interchange, profile)
        out.append(build_contrl(interchange, reply, numbers, now=now).data)
    return b"".join(out)


# -- reading -----------------------------------------------------------------------------------


def contrl_result(message: ReadMessage) -> dict[str, Any]:
    """A CONTRL message → ``ack_result`` document (JSON-ready)."""
    segments = message.segments
    uci = next((s for s in segments if s.tag == "UCI"), None)
    if uci is None:
        raise ValueError(f"CONTRL {message.reference_number} has no UCI segment")
    result = AckResult(
        standard="EDIFACT",
        ack_kind="CONTRL",
        interchange_control_number=element(uci, 0),
        interchange_status=EDIFACT_STATUS.get(element(uci, 3)),
        interchange_status_raw=element(uci, 3) or None,
        note_code=element(uci, 4) or None,
        groups=_acked_groups(segments, element(uci, 0), EDIFACT_STATUS.get(element(uci, 3))),
    )
    return result.model_dump(mode="json", exclude_none=True)


def _acked_groups(segments: list[Segment], interchange_ref: str, status: AckStatus | None) -> list[AckedGroup]:
    """UCMs grouped by UCF (real groups) or by message type (the hub's pseudo-groups)."""
    groups: dict[tuple[str, str], AckedGroup] = {}
    current_ucf: Segment | None = None
    current: AckedSet | None = None
    for s in segments:
        if s.tag == "UCF":
            current_ucf = s
        elif s.tag == "UCM":
            current = _acked_set(s)
            key = (("UNG", element(current_ucf, 0)) if current_ucf is not None
                   else (current.set_id, interchange_ref))
            group = groups.setdefault(key, AckedGroup(functional_id=key[0], control_number=key[1]))
            group.sets.append(current)
        elif s.tag in ("UCS", "UCD") and current is not None:
            current.errors.append(_ack_error(s, current))
    for group in groups.values():
        group.status = _group_status(group, status)
    return list(groups.values())


def _acked_set(ucm: Segment) -> AckedSet:
    code = element(ucm, 3)
    errors = []
    if code:
        errors.append(AckError(segment_id=element(ucm, 4) or None, element_position=_int(element(ucm, 5, 0)),
                               component_position=_int(element(ucm, 5, 1)), element_code=code))
    return AckedSet(set_id=element(ucm, 1, 0), control_number=element(ucm, 0),
                    status=EDIFACT_STATUS.get(element(ucm, 2)), status_raw=element(ucm, 2) or None,
                    codes=[code] if code else [], errors=errors)


def _ack_error(s: Segment, current: AckedSet) -> AckError:
    if s.tag == "UCS":
        return AckError(segment_position=_int(element(s, 0)), segment_code=element(s, 1) or None)
    previous = next((e for e in reversed(current.errors) if e.segment_position is not None), None)
    return AckError(segment_position=previous.segment_position if previous else None,
                    element_position=_int(element(s, 1, 0)), component_position=_int(element(s, 1, 1)),
                    element_code=element(s, 0) or None)


def _group_status(group: AckedGroup, interchange: AckStatus | None) -> AckStatus | None:
    rejected = [s for s in group.sets if s.status is AckStatus.REJECTED]
    if rejected and len(rejected) == len(group.sets):
        return AckStatus.REJECTED
    if rejected:
        return AckStatus.PARTIALLY_ACCEPTED
    return interchange


def _int(text: str) -> int | None:
    return count_value(text)


def aperak_result(message: ReadMessage) -> dict[str, Any]:
    """An APERAK (application error and acknowledgement) as a plain record: what it refers to
    (RFF ACW message reference, ON order, other RFF), its function / response codes (BGM 1225 /
    4343), date, and errors (ERC codes with the FTX text after them)."""
    refs: dict[str, str] = {}
    errors: list[dict[str, str]] = []
    result: dict[str, Any] = {"document_type": "aperak", "refs": refs, "errors": errors}
    for s in message.segments:
        if s.tag == "BGM":
            result.update(function=comp(s, 2, 0) or None, response=comp(s, 3, 0) or None,
                          number=comp(s, 1, 0) or None)
        elif s.tag == "DTM" and comp(s, 0, 0) == "137":
            result["date"] = comp(s, 0, 1)
        elif s.tag == "RFF" and comp(s, 0, 1):
            refs.setdefault(comp(s, 0, 0), comp(s, 0, 1))
        elif s.tag == "ERC":
            errors.append({"code": comp(s, 0, 0)})
        elif s.tag == "FTX" and errors:
            errors[-1]["text"] = " ".join(v for v in (comp(s, 3, i) for i in range(5)) if v)
    return result


# -- the interchange log ------------------------------------------------------------------------


def register_sent(session: Session, written: Written, profile: EdifactProfile, *, message_id: str | None = None,
                  ack_expected: str | None = None) -> InterchangeRecord:
    """Log an interchange the hub sent, with its messages and the business keys they carry (for
    APERAK matching)."""
    from edi.common.interchanges import register_outbound

    record = register_outbound(
        session, standard="EDIFACT", sender=Party(profile.sender_qualifier or "", profile.sender_id),
        receiver=Party(profile.receiver_qualifier or "", profile.receiver_id), control_number=written.reference,
        version=f"{profile.syntax_id}:{profile.syntax_version}", test=profile.test, message_id=message_id,
        groups=written.groups(), ack_expected=ack_expected or ("CONTRL" if profile.request_contrl else None))
    record.detail = {"documents": [{"type": t, "message": ref, "key": key} for t, ref, key in written.document_keys]}
    session.flush()
    return record


def record_contrl(session: Session, interchange: ReadInterchange, result: dict[str, Any], *,
                  message_id: str | None = None) -> AckMatch:
    """Match an inbound CONTRL to the interchange the hub sent and record its status."""
    ack = AckResult.model_validate(result)
    return record_ack(session, ack, ack_sender=Party(interchange.sender_qualifier, interchange.sender_id),
                      ack_receiver=Party(interchange.recipient_qualifier, interchange.recipient_id),
                      message_id=message_id)


def record_aperak(session: Session, interchange: ReadInterchange, result: dict[str, Any], *,
                  message_id: str | None = None) -> list[int]:
    """Attach an APERAK to the sent interchanges whose messages it names (RFF ACW = our UNH
    reference, or the business key in RFF ON / other RFF); returns the matched record ids."""
    wanted = set(result.get("refs", {}).values())
    sent = session.scalars(
        select(InterchangeRecord).where(
            InterchangeRecord.standard == "EDIFACT", InterchangeRecord.direction == "out",
            InterchangeRecord.receiver_id == interchange.sender_id,
            InterchangeRecord.sender_id == interchange.recipient_id,
        ).order_by(InterchangeRecord.at.desc()).limit(500)
    )
    matched = []
    for record in sent:
        documents = (record.detail or {}).get("documents", [])
        if not any(doc["message"] in wanted or doc["key"] in wanted for doc in documents):
            continue
        entry = {"message_id": message_id, "response": result.get("response"), "function": result.get("function"),
                 "errors": result.get("errors", []), "refs": result.get("refs", {})}
        record.detail = {**(record.detail or {}), "aperak": [*(record.detail or {}).get("aperak", []), entry]}
        matched.append(record.id)
    session.flush()
    return matched
