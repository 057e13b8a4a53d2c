"""Segment directory: the structure of the segments the hub maps, and their syntax checks.

pydifact 0.2.3 ships no message directories, so the hub keeps the definitions of the
segments it reads itself. Each definition is the union over directories D93A..D10A (an
element that became a composite later is allowed as a composite; lengths are the longest
any of those directories allows), so a valid message of any of them passes. The checks find
what those directories all forbid: too many data elements or components (0085 code 16),
a missing mandatory value (13), non-numeric numbers (37) and numbers with more digits than
the directory allows (39) are errors; other values longer than the directory allows (39) are
warnings, because partners routinely send 4-character unit codes and the like that map fine. Segments not listed here are not checked. X12 / TRADACOMS envelope tags inside a message get a
warning (a sign of a mis-sniffed or concatenated file).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pydifact.segments import Segment

from edi.common.numbers import shown
from edi.edifact.diagnostics import Diagnostic, SyntaxCode
from edi.edifact.model import ReadMessage
from edi.edifact.tokenizer import Delimiters

# Element notation: "1225:an..3" simple; "C507=2005:an..3!,2380:an..35" composite. A leading
# "!" marks a mandatory element, a trailing "!" a component mandatory when its composite is
# present; "*N" repeats the element N times (PIA's and GIN's further C212/C208).
_DEFINITIONS = """
ALC !5463:an..3 | C552=1230:an..35,5189:an..3 | 4471:an..3 | 1227:an..3 | C214=7161:an..3,1131:an..17,3055:an..3,7160:an..35,7160:an..35
BGM C002=1001:an..3,1131:an..17,3055:an..3,1000:an..35 | C106=1004:an..35,1056:an..9,1060:an..6 | 1225:an..3 | 4343:an..3
CNT !C270=6069:an..3!,6066:n..18!,6411:an..3
CPS !7164:an..35 | 7166:an..35 | 7075:an..3
CUX C504=6347:an..3!,6345:an..3,6343:an..3,6348:n..4 | C504=6347:an..3!,6345:an..3,6343:an..3,6348:n..4 | 5402:n..12 | 6341:an..3
DTM !C507=2005:an..3!,2380:an..35,2379:an..3
FTX !4451:an..3 | 4453:an..3 | C107=4441:an..17!,1131:an..17,3055:an..3 | C108=4440:an..512!,4440:an..512,4440:an..512,4440:an..512,4440:an..512 | 3453:an..3 | 4447:an..3
GIN !7405:an..3 | !C208=7402:an..35!,7402:an..35 | C208=7402:an..35!,7402:an..35*4
IMD 7077:an..3 | C272=7081:an..3,1131:an..17,3055:an..3 | C273=7009:an..17,1131:an..17,3055:an..3,7008:an..512,7008:an..512,3453:an..3 | 7383:an..3
INV 4501:an..3 | 7491:an..3 | 4499:an..3 | 4503:an..3 | C522=4403:an..3!,4401:an..3,1131:an..17,3055:an..3,4400:an..35
LIN 1082:an..6 | 1229:an..3 | C212=7140:an..35,7143:an..3,1131:an..17,3055:an..3 | C829=5495:an..3!,1082:an..6 | 1222:n..2 | 7083:an..3
LOC !3227:an..3 | C517=3225:an..35,1131:an..17,3055:an..3,3224:an..256 | C519=3223:an..25,1131:an..17,3055:an..3,3222:an..70 | C553=3233:an..25,1131:an..17,3055:an..3,3232:an..70 | 5479:an..3
MEA !6311:an..3 | C502=6313:an..3,6321:an..3,6155:an..17,6154:an..70 | C174=6411:an..3!,6314:an..18,6162:n..18,6152:n..18,6432:n..2 | 7383:an..3
MOA !C516=5025:an..3!,5004:n..35,6345:an..3,6343:an..3,4405:an..3
NAD !3035:an..3 | C082=3039:an..35!,1131:an..17,3055:an..3 | C058=3124:an..35!,3124:an..35,3124:an..35,3124:an..35,3124:an..35 | C080=3036:an..70!,3036:an..70,3036:an..70,3036:an..70,3036:an..70,3045:an..3 | C059=3042:an..35!,3042:an..35,3042:an..35,3042:an..35 | 3164:an..35 | C819=3229:an..9,1131:an..17,3055:an..3,3228:an..70 | 3251:an..17 | 3207:an..3
PAC 7224:n..8 | C531=7075:an..3,7233:an..3,7073:an..3 | C202=7065:an..17,1131:an..17,3055:an..3,7064:an..35 | C402=7077:an..3!,7064:an..35,7143:an..3,7064:an..35,7143:an..3 | C532=8395:an..3,8393:an..3
PAT !4279:an..3 | C110=4277:an..17,1131:an..17,3055:an..3,4276:an..35,4276:an..35 | C112=2475:an..3!,2009:an..3,2151:an..3,2152:an..3
PCI 4233:an..3 | C210=7102:an..35!,7102:an..35,7102:an..35,7102:an..35,7102:an..35,7102:an..35,7102:an..35,7102:an..35,7102:an..35,7102:an..35 | 8275:an..3 | C827=7511:an..3!,1131:an..17,3055:an..3
PIA !4347:an..3 | !C212=7140:an..35!,7143:an..3,1131:an..17,3055:an..3 | C212=7140:an..35!,7143:an..3,1131:an..17,3055:an..3*4
PRI C509=5125:an..3!,5118:n..15,5375:an..3,5387:an..3,5284:n..9,6411:an..3 | 5213:an..3
QTY !C186=6063:an..3!,6060:n..35!,6411:an..3
QVR C279=6064:n..15!,6063:an..3 | 4221:an..3 | C960=4295:an..3,1131:an..17,3055:an..3,4294:an..35
RFF !C506=1153:an..3!,1154:an..70,1156:an..6,4000:an..35,1060:an..6
TAX !5283:an..3 | C241=5153:an..3,1131:an..17,3055:an..3,5152:an..35 | C533=5289:an..6!,1131:an..17,3055:an..3 | 5286:an..15 | C243=5279:an..7,1131:an..17,3055:an..3,5278:an..17,5273:an..12,1131:an..17,3055:an..3 | 5305:an..3 | 3446:an..20 | 1227:an..3
TDT !8051:an..3 | 8028:an..17 | C220=8067:an..3,8066:an..17 | C228=8179:an..8,8178:an..17 | C040=3127:an..17,1131:an..17,3055:an..3,3128:an..35 | 8101:an..3 | C401=8457:an..3!,8459:an..3!,7130:an..17 | C222=8213:an..9,1131:an..17,3055:an..3,8212:an..35,8453:an..3 | 8281:an..3
UNS !0081:a1
UCI !0020:an..14 | !S002=0004:an..35!,0007:an..4,0008:an..35,0042:an..35 | !S003=0010:an..35!,0007:an..4,0014:an..35,0046:an..35 | !0083:an..3 | 0085:an..3 | 0013:an..3 | S011=0098:n..3!,0104:n..3,0136:n..6
UCM !0062:an..14 | !S009=0065:an..6!,0052:an..3!,0054:an..3!,0051:an..3!,0057:an..6,0110:an..6,0113:an..6 | !0083:an..3 | 0085:an..3 | 0013:an..3 | S011=0098:n..3!,0104:n..3,0136:n..6
UCS !0096:n..6 | 0085:an..3
UCD !0085:an..3 | !S011=0098:n..3!,0104:n..3,0136:n..6
"""

# Tags of X12 and TRADACOMS envelope segments: inside an EDIFACT message they point to a
# wrongly sniffed or concatenated file.
FOREIGN_ENVELOPE_TAGS = {
    "ISA": "X12 interchange header",
    "IEA": "X12 interchange trailer",
    "GS": "X12 group header",
    "GE": "X12 group trailer",
    "ST": "X12 transaction set header",
    "SE": "X12 transaction set trailer",
    "STX": "TRADACOMS transmission header",
    "END": "TRADACOMS transmission trailer",
    "MHD": "TRADACOMS message header",
    "MTR": "TRADACOMS message trailer",
}

_NUMBER = re.compile(r"-?(?:\d+(?:[.,]\d*)?|[.,]\d+)\Z")


@dataclass(frozen=True)
class Component:
    ref: str
    numeric: bool
    alpha: bool
    max_length: int
    mandatory: bool


@dataclass(frozen=True)
class ElementDef:
    ref: str
    components: tuple[Component, ...]
    mandatory: bool

    @property
    def is_composite(self) -> bool:
        return self.ref[:1] in ("C", "S")


_FORMAT = re.compile(r"(an|a|n)(\.\.)?(\d+)\Z")


def _component(text: str) -> Component:
    mandatory = text.endswith("!")
    ref, fmt = text.rstrip("!").split(":")
    match = _FORMAT.match(fmt)
    if match is None:
        raise ValueError(f"bad format {fmt!r} in the segment directory")
    kind = match.group(1)
    return Component(ref, kind == "n", kind == "a", int(match.group(3)), mandatory)


def _element(text: str) -> list[ElementDef]:
    mandatory = text.startswith("!")
    text, _, repeat = text.lstrip("!").partition("*")
    if "=" in text:
        ref, _, body = text.partition("=")
        comps = tuple(_component(c) for c in body.split(","))
    else:
        comp = _component(text)
        ref, comps = comp.ref, (Component(comp.ref, comp.numeric, comp.alpha, comp.max_length, False),)
    return [ElementDef(ref, comps, mandatory)] * int(repeat or 1)


def _parse(definitions: str) -> dict[str, tuple[ElementDef, ...]]:
    specs: dict[str, tuple[ElementDef, ...]] = {}
    for line in definitions.strip().splitlines():
        tag, _, rest = line.partition(" ")
        elements: list[ElementDef] = []
        for part in rest.split(" | "):
            elements.extend(_element(part.strip()))
        specs[tag] = tuple(elements)
    return specs


SEGMENTS: dict[str, tuple[ElementDef, ...]] = _parse(_DEFINITIONS)


def check_segment(seg: Segment) -> list[tuple[str, str, str, int | None, int | None]]:
    """Syntax problems of one segment: (code, reason, 0085 code, element, component) with
    1-based positions. [] for segments the directory does not define."""
    spec = SEGMENTS.get(seg.tag)
    if spec is None:
        return []
    problems: list[tuple[str, str, str, int | None, int | None]] = []
    elements = seg.elements
    if len(elements) > len(spec):
        problems.append(
            (
                "too_many_elements",
                f"{seg.tag} has {len(elements)} data elements; at most {len(spec)} are defined",
                SyntaxCode.TOO_MANY_CONSTITUENTS,
                len(spec) + 1,
                None,
            )
        )
    for index, definition in enumerate(spec):
        value = elements[index] if index < len(elements) else ""
        components = value if isinstance(value, list) else (value,)
        if len(components) > len(definition.components):
            problems.append(
                (
                    "too_many_components",
                    f"{seg.tag} element {definition.ref} has {len(components)} components; at most "
                    f"{len(definition.components)} are defined (unescaped '{':'}' in a text?)",
                    SyntaxCode.TOO_MANY_CONSTITUENTS,
                    index + 1,
                    len(definition.components) + 1,
                )
            )
        if definition.mandatory and not any(components):
            problems.append(_missing(seg.tag, definition.ref, index, None))
            continue
        if not any(components):
            continue
        for cindex, comp in enumerate(definition.components):
            text = components[cindex] if cindex < len(components) else ""
            problem = _check_value(seg.tag, comp, text, index, cindex if definition.is_composite else None)
            if problem is not None:
                problems.append(problem)
    return problems


def _missing(tag: str, ref: str, index: int, cindex: int | None):
    return ("missing_element", f"{tag} {ref} is mandatory but empty", SyntaxCode.MISSING, index + 1, cindex and cindex + 1)


def _check_value(tag: str, comp: Component, text: str, index: int, cindex: int | None):
    if not text:
        return _missing(tag, comp.ref, index, cindex) if comp.mandatory else None
    where = (index + 1, cindex + 1 if cindex is not None else None)
    if comp.numeric:
        if not _NUMBER.match(text):
            return ("not_numeric", f"{tag} {comp.ref} {shown(text)} is not a number", SyntaxCode.INVALID_CHARACTER_TYPE,
                    *where)
        count = sum(ch in "0123456789" for ch in text)
        if count > comp.max_length:
            # An error, unlike an over-long code: no directory has a longer number, and the
            # hub's own bound is tighter still (edi.common.numbers).
            return ("number_too_long", f"{tag} {comp.ref} {shown(text)} has more than {comp.max_length} digits",
                    SyntaxCode.TOO_LONG, *where)
        return None
    if comp.alpha and not text.isalpha():
        return ("not_alphabetic", f"{tag} {comp.ref} {shown(text)} must be letters only",
                SyntaxCode.INVALID_CHARACTER_TYPE, *where)
    if len(text) > comp.max_length:
        return (
            "too_long",
            f"{tag} {comp.ref} {shown(text)} is longer than {comp.max_length} characters",
            SyntaxCode.TOO_LONG,
            *where,
        )
    return None


@lru_cache(maxsize=16)
def acceptors(delimiters: Delimiters) -> dict[str, re.Pattern[str]]:
    """Per tag, a regex over the raw segment text that matches only segments ``check_segment``
    finds nothing wrong with. The tokenizer runs it while the text is at hand (one C-level
    match instead of a Python walk over every component); segments it rejects get the full
    check, which says what is wrong."""
    sep, csep = re.escape(delimiters.element), re.escape(delimiters.component)
    end = f"(?:{sep}|{csep}|\\Z)"
    return {
        tag: re.compile(re.escape(tag) + _chain([_element_pattern(e, sep, csep, end) for e in spec], sep) + r"\Z")
        for tag, spec in SEGMENTS.items()
    }


def _chain(patterns: list[tuple[str, bool]], sep: str) -> str:
    """Each item preceded by ``sep``; trailing items may be left out unless a later one is
    required (then the separators up to it are required too)."""
    out = ""
    for pattern, required in reversed(patterns):
        piece = f"{sep}{pattern}{out}"
        out = piece if required else f"(?:{piece})?"
    return out


def _element_pattern(definition: ElementDef, sep: str, csep: str, end: str) -> tuple[str, bool]:
    parts = [(_component_pattern(c, sep, csep, end), c.mandatory) for c in definition.components]
    first, first_required = parts[0]
    body = first + _chain(parts[1:], csep)
    if not definition.mandatory:
        return f"(?:{body})?", False
    if not first_required:
        body = f"(?=[^{sep}]*[^{sep}{csep}])(?:{body})"  # a mandatory element holds something
    return body, True


def _component_pattern(comp: Component, sep: str, csep: str, end: str) -> str:
    if comp.numeric:
        pattern = f"(?=[-.,0-9]{{1,{comp.max_length}}}{end})-?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)"
    elif comp.alpha:
        pattern = f"[^\\W\\d_]{{1,{comp.max_length}}}"
    else:
        pattern = f"[^{sep}{csep}]{{1,{comp.max_length}}}"
    return pattern if comp.mandatory else f"(?:{pattern})?"


_WARNINGS = frozenset({"too_long"})


def validate_message(message: ReadMessage, suspects: set[int] | None = None) -> None:
    """Add segment-level diagnostics (UCS/UCD material) to the message. With ``suspects``
    (positions the tokenizer's acceptors did not pass), only those get the full check. The
    same warning at the same element is reported once with a count."""
    seen_sections: dict[str, int] = {}
    repeated: dict[tuple, list] = {}
    segments = message.segments
    indexes: Iterable[int] = range(len(segments))
    if suspects is not None:
        # Only suspects, segments outside the directory and UNS need a look: found in one
        # pass instead of a position and three tests per segment of the message.
        first = message.position_of(0)
        indexes = [i for i, seg in enumerate(segments)
                   if first + i in suspects or seg.tag not in SEGMENTS or seg.tag == "UNS"]
    for index in indexes:
        seg = segments[index]
        tag = seg.tag
        position = message.position_of(index)
        if tag not in SEGMENTS:
            foreign = FOREIGN_ENVELOPE_TAGS.get(tag)
            if foreign is not None:
                message.diagnostics.append(
                    _diag(message, "foreign_segment", f"segment {tag} is the {foreign}, not an EDIFACT segment; kept as message data", "", position, tag, None, None, "warning")
                )
            continue
        for code, reason, ack, element, component in check_segment(seg):
            if code in _WARNINGS:
                tally = repeated.setdefault((code, tag, element, component), [position, reason, ack, 0])
                tally[3] += 1
                continue
            message.diagnostics.append(_diag(message, code, reason, ack, position, tag, element, component))
        if tag == "UNS":
            section = seg.elements[0] if seg.elements and isinstance(seg.elements[0], str) else ""
            if section in seen_sections:
                message.diagnostics.append(
                    _diag(
                        message,
                        "repeated_section",
                        f"UNS+{section} repeats the section control already given at segment {seen_sections[section]}",
                        SyntaxCode.TOO_MANY_SEGMENT_REPETITIONS,
                        position,
                        tag,
                        None,
                        None,
                    )
                )
            else:
                seen_sections[section] = position
    for (code, tag, element, component), (position, reason, ack, count) in repeated.items():
        if count > 1:
            reason += f" ({count} segments; first shown)"
        message.diagnostics.append(_diag(message, code, reason, ack, position, tag, element, component, "warning"))


def _diag(
    message: ReadMessage,
    code: str,
    reason: str,
    ack: str,
    position: int,
    tag: str,
    element: int | None,
    component: int | None,
    severity: str = "error",
) -> Diagnostic:
    return message.finding(severity, code, reason, ack, position=position, tag=tag, element=element,
                           component=component)
