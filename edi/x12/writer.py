"""X12 writer: envelopes (ISA/GS/ST … SE/GE/IEA) around segment lists, with the partner's
delimiters, version and IDs (``X12Profile``) and control numbers from a ``NumberSource``.

Body segments are lists of element strings (``["PO1", "1", "10", "EA"]``); a composite is a
list (``["PO1", ..., ["EA", "2"]]``) and is joined with the component separator. X12 has no
release character, so a value containing one of the delimiters cannot be written faithfully:
``WriteError`` names the segment and element instead of sending a corrupted file. Trailing
empty elements are dropped.

Control numbers come from a ``NumberSource`` (``edi.common.control_numbers``):
``AllocatedNumbers`` (the shared database allocator — what the hub uses when it sends) or
``PreviewNumbers`` (from 1 in memory, for ``hub edi ack`` previews and tests that must not
consume real numbers); both are importable from here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel

from edi.common.control_numbers import GROUP, INTERCHANGE, TRANSACTION, NumberSource
from edi.common.control_numbers import AllocatedNumbers, PreviewNumbers  # noqa: F401 - the writer's number sources
from edi.common.grammar import Place, check_segment, check_structure
from edi.common.interchanges import GroupInfo
from edi.common.outbound import WriteError, WriteNotes  # WriteError: shared by both writers, importable here
from edi.x12.grammar import grammar_for, isa_errors
from edi.x12.profile import X12Profile
from edi.x12.tokenizer import Delimiters
from hub.store.models import utcnow

Element = str | Sequence[str]




@dataclass
class OutSet:
    set_id: str
    body: list[list[Element]]
    implementation_reference: str | None = None
    label: str = ""  # what the set carries, for errors: "document 1 (purchase_order 4500012345)"


@dataclass
class OutGroup:
    functional_id: str
    sets: list[OutSet]
    version: str | None = None  # GS08; the profile's version when None
    # GS02 / GS03 when they are not the profile's (an ack answers each group's own parties).
    sender: str | None = None
    receiver: str | None = None


@dataclass
class Written:
    data: bytes
    interchange_control_number: str
    groups: list[GroupInfo] = field(default_factory=list)
    # Canonical content the sets could not carry, each naming its document and field.
    warnings: list[str] = field(default_factory=list)


def format_segment(segment: Sequence[Element], d: Delimiters, where: str = "") -> str:
    parts: list[str] = []
    for n, value in enumerate(segment):
        if isinstance(value, str):
            _check(value, d, where or segment[0], n, (d.element, d.segment, d.component, d.repetition))
            parts.append(value)
        else:
            for c, comp in enumerate(value, start=1):
                _check(comp, d, where or segment[0], n, (d.element, d.segment, d.component, d.repetition), c)
            parts.append(d.component.join(value).rstrip(d.component))
    while len(parts) > 1 and parts[-1] == "":
        parts.pop()
    return d.element.join(parts) + d.segment + d.suffix


def _check(value: str, d: Delimiters, seg: str, n: int, delims: tuple[str, ...], comp: int | None = None) -> None:
    bad = next((c for c in delims if c and c in value), None)
    if bad is not None or "\r" in value or "\n" in value:
        place = f"{seg}, element {n}" + (f", component {comp}" if comp else "")
        what = f"the delimiter {bad!r}" if bad else "a line break"
        raise WriteError(f"{place}: value {value[:40]!r} contains {what}; X12 cannot escape it")


def sanitize(value: str, d: Delimiters, limit: int = 99) -> str:
    """Copy of bad data for AK404/IK404: delimiters replaced, trimmed to the element's length."""
    for c in (d.element, d.segment, d.component, d.repetition, "\r", "\n"):
        if c:
            value = value.replace(c, " ")
    return value.strip()[:limit]


def isa_segment(profile: X12Profile, control: int, now: datetime) -> list[str]:
    d = profile.delimiters
    return ["ISA", "00", " " * 10, "00", " " * 10,
            profile.sender_qualifier, profile.sender_id.ljust(15), profile.receiver_qualifier,
            profile.receiver_id.ljust(15), now.strftime("%y%m%d"), now.strftime("%H%M"),
            d.repetition or "U", profile.isa_version, f"{control:09d}",
            "1" if profile.request_ta1 else "0", "T" if profile.test else "P"]


def render_interchange(profile: X12Profile, groups: list[OutGroup], numbers: NumberSource, *,
                       service_segments: Sequence[Sequence[Element]] = (), now: datetime | None = None) -> Written:
    """One interchange with the given service segments (TA1) and functional groups."""
    now = now or utcnow()
    d = profile.delimiters
    _check_before_numbers(profile, groups, service_segments)
    (control,) = numbers.take(INTERCHANGE, "")
    isa = isa_segment(profile, control, now)
    if problems := isa_errors(isa):
        raise WriteError(f"interchange envelope: segment 1 (ISA): {'; '.join(problems)}")
    # The ISA is fixed-width and carries the component separator as ISA16.
    out = [d.element.join(isa) + d.element + d.component + d.segment + d.suffix]
    out += [format_segment(seg, d) for seg in service_segments]
    infos: list[GroupInfo] = []
    for group in groups:
        text, info = _render_group(profile, group, numbers, now, {i.control_number for i in infos})
        out.append(text)
        infos.append(info)
    out.append(format_segment(["IEA", str(len(groups)), f"{control:09d}"], d))
    return Written("".join(out).encode("utf-8"), f"{control:09d}", infos)


def _render_group(profile: X12Profile, group: OutGroup, numbers: NumberSource, now: datetime,
                  used: set[str]) -> tuple[str, GroupInfo]:
    d = profile.delimiters
    (gcn,) = numbers.take(GROUP, group.functional_id)
    while str(gcn) in used:
        # Counters run per functional id, but GS06 must be unique in the interchange: two
        # groups whose counters meet take the next number of their own counter.
        (gcn,) = numbers.take(GROUP, group.functional_id)
    version = group.version or profile.version
    sender, receiver = group.sender or profile.group_sender, group.receiver or profile.group_receiver
    gs = ["GS", group.functional_id, sender, receiver, now.strftime("%Y%m%d"), now.strftime("%H%M"), str(gcn), "X",
          version]
    grammar, _ = grammar_for(version)
    check_segment(gs[1:], Place(f"group {gcn}", 1, "GS"), grammar)
    lines = [format_segment(gs, d)]
    controls = numbers.take(TRANSACTION, group.functional_id, len(group.sets)) if group.sets else []
    sets: list[tuple[str, str]] = []
    for out_set, number in zip(group.sets, controls, strict=True):
        st_control = f"{number:04d}"
        st = ["ST", out_set.set_id, st_control] + ([out_set.implementation_reference]
                                                    if out_set.implementation_reference else [])
        body = [format_segment(st, d)]
        body += [format_segment(seg, d, f"{out_set.set_id} segment {i + 2} ({seg[0]})")
                 for i, seg in enumerate(out_set.body)]
        body.append(format_segment(["SE", str(len(out_set.body) + 2), st_control], d))
        lines += body
        sets.append((out_set.set_id, st_control))
    lines.append(format_segment(["GE", str(len(group.sets)), str(gcn)], d))
    info = GroupInfo(group.functional_id, str(gcn), sender, receiver, version, tuple(sets))
    return "".join(lines), info


def _check_before_numbers(profile: X12Profile, groups: list[OutGroup],
                          service_segments: Sequence[Sequence[Element]]) -> None:
    """Every set against its version's rules (edi.x12.grammar) before a control number is
    taken: an interchange that would be refused by the partner is never numbered nor sent.
    ST/SE are checked with placeholder numbers of the right shape."""
    for group in groups:
        version = group.version or profile.version
        grammar, structures = grammar_for(version)
        for out_set in group.sets:
            check_set(out_set, grammar, structures)
    grammar, _ = grammar_for(profile.version)
    for n, segment in enumerate(service_segments, start=2):
        check_segment(list(segment[1:]), Place("interchange", n, str(segment[0])), grammar)


def check_set(out_set: OutSet, grammar, structures: dict[str, tuple]) -> None:
    """One transaction set: its structure, then each segment's elements."""
    label = f"{out_set.set_id} set" + (f" of {out_set.label}" if out_set.label else "")
    structure = structures.get(out_set.set_id)
    if structure is None:
        raise WriteError(f"{label}: {grammar.name} has no rules for set {out_set.set_id}; the hub does not write it")
    st = ["ST", out_set.set_id, "0001"] + ([out_set.implementation_reference] if out_set.implementation_reference
                                           else [])
    segments = [st, *out_set.body, ["SE", str(len(out_set.body) + 2), "0001"]]
    check_structure([str(seg[0]) for seg in segments], structure, label)
    for position, segment in enumerate(segments, start=1):
        values = [list(v) if not isinstance(v, str) else v for v in segment[1:]]
        while values and values[-1] in ("", []):
            values.pop()  # trailing empty elements are not written
        check_segment(values, Place(label, position, str(segment[0])), grammar, out_set.set_id)


def write_documents(documents: Sequence[dict | BaseModel], profile: X12Profile, numbers: NumberSource, *,
                    now: datetime | None = None) -> Written:
    """One interchange carrying canonical documents (850/855/856/810), one functional group per
    functional id (PO, PR, SH, IN), in the order given."""
    from edi.x12.builders import FUNCTIONAL_IDS, set_for

    groups: dict[str, OutGroup] = {}
    warnings: list[str] = []
    for position, document in enumerate(documents, start=1):
        data = document.model_dump(mode="json", exclude_none=True) if isinstance(document, BaseModel) else document
        notes = WriteNotes(f"document {position} ({document_label(data)}): ")
        try:
            set_id, body = set_for(data, notes, profile.version)
        except WriteError as exc:
            raise WriteError(f"{notes.where}{exc}") from None
        functional_id = FUNCTIONAL_IDS[set_id]
        out_set = OutSet(set_id, body, label=notes.where.rstrip(": "))
        groups.setdefault(functional_id, OutGroup(functional_id, [])).sets.append(out_set)
        warnings += notes.items
    written = render_interchange(profile, list(groups.values()), numbers, now=now)
    written.warnings = warnings
    return written


def document_label(document: dict) -> str:
    """``purchase_order 4500012345``: the document type and its business key, for messages."""
    from hub.payloads import identity

    _, key = identity(document)
    return f"{document.get('document_type')} {key}" if key else str(document.get("document_type"))
