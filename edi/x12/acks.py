"""Outbound acknowledgements for inbound X12: TA1 (interchange), 997 (4010 functional ack with
AK1/AK2/AK3/AK4/AK5/AK9) and 999 (5010 implementation ack with IK3/IK4/IK5), built from the
reader's diagnostics (domain.md 4.3-4.5, 4.7).

Rules: reject at the lowest level possible. An interchange with envelope errors, or a
duplicate, gets a TA1 ``R`` with the note code of its first error (025 for a duplicate) and no
functional ack (nothing in it is processed). Otherwise a TA1 ``A`` goes back when ISA14 asks for
one (or the partner profile always wants one), and each functional group gets a 997/999 —
except groups of acknowledgements (GS01 ``FA``), which are never acknowledged.

The reply follows the inbound file (ISA12, GS08 and delimiters) and the partner's settings
(``X12Profile``: ack kind, IDs), with the parties swapped.
"""

from __future__ import annotations

from datetime import datetime
from collections.abc import Callable
from typing import BinaryIO

from edi.common.diagnostics import Diagnostic, Level
from edi.common.grammar import fit_echo
from edi.common.text import digits
from edi.x12.engine import map_set
from edi.x12.grammar import grammar_for
from edi.x12.profile import X12Profile
from edi.x12.reader import (
    FunctionalGroup,
    Interchange,
    InterchangeEnd,
    SetSummary,
    TransactionSet,
    X12Reader,
)
from edi.x12.writer import (
    NumberSource,
    OutGroup,
    OutSet,
    PreviewNumbers,
    Written,
    render_interchange,
    sanitize,
)

IMPLEMENTATION_999 = "005010X231A1"
# Element 716 codes the 4010 997 allows (19 came with 5010).
_GROUP_CODES_4010 = {"1", "2", "3", "4", "5", "6", *map(str, range(10, 19)), "23", "24", "25", "26"}


def ta1_segment(interchange: Interchange, profile: X12Profile, *, duplicate: bool = False) -> list[str] | None:
    errors = [d for d in interchange.diagnostics if d.is_error]
    if duplicate:
        status, code = "R", "025"
    elif errors:
        status, code = "R", next((d.ack_code for d in errors if d.ack_code), "024")
    elif interchange.ack_requested or profile.ack_kind == "TA1" or profile.always_ta1:
        status, code = "A", "000"
    else:
        return None
    d = profile.delimiters
    return ["TA1", sanitize(interchange.control_number, d, 9), sanitize(interchange.date, d, 6),
            sanitize(interchange.time, d, 4), status, code]


def functional_acks(interchange: Interchange, profile: X12Profile) -> list[OutGroup]:
    if profile.ack_kind not in ("997", "999"):
        return []
    kind = profile.ack_kind
    groups = []
    for group in interchange.groups:
        if group.functional_id == "FA":
            continue
        body = _group_ack_body(group, kind, profile)
        version = IMPLEMENTATION_999 if kind == "999" else (group.version[:6] if digits(group.version[:6])
                                                               else profile.version)
        # Each group is answered by its own receiver to its own sender (GS03 → GS02), not the first group's.
        d = profile.delimiters
        groups.append(OutGroup("FA", [OutSet(kind, body, IMPLEMENTATION_999 if kind == "999" else None)], version,
                               sender=_gs_party(group.receiver_id, profile.group_sender, d),
                               receiver=_gs_party(group.sender_id, profile.group_receiver, d)))
    return groups


def _gs_party(value: str, fallback: str, d) -> str:
    """GS02/GS03 of a reply group (AN 2/15): the inbound group's party as the reply can write
    it, else the interchange's; 'UNKNOWN' when neither has the two characters GS needs."""
    for candidate in (value, fallback):
        text = sanitize(candidate, d, 15)
        if len(text) >= 2:
            return text
    return "UNKNOWN"


def _group_ack_body(group: FunctionalGroup, kind: str, profile: X12Profile) -> list[list]:
    d = profile.delimiters
    # Echoed values may hold characters that are delimiters in the reply: they are replaced.
    ak1 = ["AK1", sanitize(group.functional_id, d, 2), sanitize(group.control_number, d, 9)]
    if kind == "999":
        ak1.append(sanitize(group.version, d, 12))
    body: list[list] = [ak1]
    accepted = 0
    for summary in group.sets:
        segments, ok = _set_ack(summary, kind, d)
        body += segments
        accepted += ok
    received = len(group.sets)
    codes = [diag.ack_code for diag in group.errors if diag.ack_code]
    if kind == "997" and group.version[:6] < "005010":
        codes = [c for c in codes if c in _GROUP_CODES_4010]
    if group.errors or (received and not accepted):
        status = "R"
    elif accepted < received:
        status = "P"
    else:
        status = "A"
    included = group.ge[1].strip() if group.ge and len(group.ge) > 1 and digits(group.ge[1].strip()) else str(received)
    body.append(["AK9", status, included, str(received), str(accepted), *list(dict.fromkeys(codes))[:5]])
    return body


def _set_ack(summary: SetSummary, kind: str, d) -> tuple[list[list], bool]:
    seg_tag, elem_tag, result_tag = ("IK3", "IK4", "IK5") if kind == "999" else ("AK3", "AK4", "AK5")
    ak2 = ["AK2", sanitize(summary.set_id, d, 3), sanitize(summary.control_number, d, 9)]
    if kind == "999" and summary.implementation_reference:
        ak2.append(sanitize(summary.implementation_reference, d, 35))
    segments: list[list] = [ak2]
    errors = summary.errors
    seg_errors = [e for e in errors if e.level is Level.SEGMENT and e.ack_code]
    for diag in seg_errors[:20]:
        segments += _segment_error(diag, seg_tag, elem_tag, d)
    codes = [e.ack_code for e in errors if e.level is Level.TRANSACTION and e.ack_code]
    if seg_errors:
        codes.append("5")
    status = "R" if errors else "A"
    segments.append([result_tag, status, *list(dict.fromkeys(codes))[:5]])
    return segments, not errors


def _segment_error(diag: Diagnostic, seg_tag: str, elem_tag: str, d) -> list[list]:
    seg_id = (diag.extra.get("missing_segment") or diag.segment_id or "")[:3]
    if not (seg_id.isalnum() and len(seg_id) >= 2):
        seg_id = "ZZZ"
    position = diag.set_position or 2
    out: list[list] = [[seg_tag, seg_id, str(position), "", diag.ack_code]]
    if diag.element_position:
        where = str(diag.element_position)
        if diag.component_position:
            where = [where, str(diag.component_position)]
        element = [elem_tag, where, "", diag.extra.get("element_code") or "7"]
        if diag.bad_value:
            element.append(sanitize(diag.bad_value, d))
        out.append(element)
    return out


def build_reply(interchange: Interchange, profile: X12Profile | None = None, *,
                numbers: NumberSource | None = None, duplicate: bool = False,
                now: datetime | None = None) -> Written | None:
    """The reply interchange (TA1 and/or 997/999) for one inbound interchange, or None."""
    reply_profile = X12Profile.reply_to(interchange, profile)
    ta1 = ta1_segment(interchange, reply_profile, duplicate=duplicate)
    rejected = ta1 is not None and ta1[4] == "R"
    groups = [] if rejected else functional_acks(interchange, reply_profile)
    # What the acks echo from a broken interchange is fitted to their elements: the reply
    # itself must pass the write checks (edi.common.grammar.fit_echo).
    free = _not_a_delimiter(reply_profile.delimiters)
    if ta1 is not None:
        ta1 = ["TA1", *free(fit_echo("TA1", ta1[1:], grammar_for(reply_profile.version)[0]))]
    for group in groups:
        grammar, _ = grammar_for(group.version or reply_profile.version)
        for out_set in group.sets:
            out_set.body = [[seg[0], *free(fit_echo(seg[0], seg[1:], grammar))] for seg in out_set.body]
    if ta1 is None and not groups:
        return None
    return render_interchange(reply_profile, groups, numbers or PreviewNumbers(),
                              service_segments=[ta1] if ta1 else [], now=now)


def _not_a_delimiter(d) -> Callable[[list], list]:
    """Element values with any of the reply's delimiters replaced by a character that is none
    of them. ``fit_echo`` shows a control character as '?', and '?' may be the very ISA16 the
    reply mirrors: X12 has no release character, so the writer would refuse the ack."""
    delimiters = {c for c in (d.element, d.component, d.repetition, d.segment) if c}
    stand_in = next(c for c in "?_.#@" if c not in delimiters)  # four delimiters at most

    def clean(text: str) -> str:
        return "".join(stand_in if c in delimiters else c for c in text) if delimiters & set(text) else text

    def values(elements: list) -> list:
        return [[clean(c) for c in v] if isinstance(v, list) else clean(v) for v in elements]

    return values


def acknowledge_file(stream: BinaryIO | bytes, profile: X12Profile | None = None, *,
                     numbers: NumberSource | None = None) -> bytes:
    """Read a whole file (validating every set through its mapping) and return the replies."""
    numbers = numbers or PreviewNumbers()
    replies: list[bytes] = []
    for item in X12Reader(stream):
        if isinstance(item, TransactionSet):
            map_set(item)
        elif isinstance(item, InterchangeEnd):
            written = build_reply(item.interchange, profile, numbers=numbers)
            if written is not None:
                replies.append(written.data)
    return b"".join(replies)
