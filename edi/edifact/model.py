"""What the reader returns: pydifact ``Interchange`` and ``Message`` objects, plus what the hub
learned while reading them (segment positions, UNA, groups, diagnostics).

The subclasses keep pydifact's model intact (``interchange.segments``, ``message.segments``,
``message.type``, ``serialize()`` ...) and add envelope facts pydifact does not keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydifact.segmentcollection import Interchange, Message
from pydifact.segments import Segment

from edi.edifact.diagnostics import Diagnostic, Level, Severity
from edi.edifact.tokenizer import Delimiters


def element(seg: Segment | None, index: int, component: int = 0) -> str:
    """Element ``index`` (0-based, after the tag) of a segment, component ``component``;
    '' when absent. Simple elements are their own first component."""
    if seg is None:
        return ""
    elements = seg.elements
    if index >= len(elements):
        return ""
    value = elements[index]
    if isinstance(value, list):
        return value[component] if component < len(value) else ""
    return value if component == 0 else ""


def composite(seg: Segment | None, index: int) -> list[str]:
    """Element ``index`` as a list of components (a simple element gives one)."""
    if seg is None or index >= len(seg.elements):
        return []
    value = seg.elements[index]
    return list(value) if isinstance(value, list) else [value]


class ReadMessage(Message):
    """A UNH..UNT message as read. ``segments`` (pydifact) is the body without UNH/UNT."""

    def __init__(self, header: Segment, position: int, interchange: ReadInterchange, group: ReadGroup | None):
        identifier = composite(header, 1)
        super().__init__(element(header, 0), identifier)
        self.header = header
        self.trailer: Segment | None = None
        self.position = position
        self.end_position = position
        self.interchange = interchange
        self.group = group
        self.diagnostics: list[Diagnostic] = []
        # Documents an earlier route step mapped (ack: auto maps every message for the CONTRL),
        # handed to the next ``map_message`` call instead of mapping and validating again.
        self.premapped: list[dict[str, Any]] | None = None
        # Where the mapping's own diagnostics start in ``diagnostics`` (after reading's).
        self.mapping_start: int | None = None
        # Business problems of a well-formed message found by its mapping (a conditional value
        # the hub needs, a currency the canonical model refuses …): never in the CONTRL, the
        # route records them as business exceptions instead.
        self.business: list[Diagnostic] = []

    @property
    def type(self) -> str:  # pydifact's raises IndexError on an empty S009
        return self.identifier[0] if self.identifier else ""

    @property
    def directory(self) -> str:
        """Version + release, e.g. 'D96A' (S009 0052/0054), '' when absent."""
        version = self.identifier[1] if len(self.identifier) > 1 else ""
        release = self.identifier[2] if len(self.identifier) > 2 else ""
        return f"{version}{release}"

    @property
    def association(self) -> str:
        """S009 0057, e.g. 'EAN008' for EANCOM subsets."""
        return self.identifier[4] if len(self.identifier) > 4 else ""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def rejected(self) -> bool:
        return bool(self.errors) or self.interchange.rejected

    def position_of(self, index: int) -> int:
        """File position of body segment ``index`` (UNH is at ``self.position``)."""
        return self.position + 1 + index

    def finding(
        self,
        severity: str,
        code: str,
        reason: str,
        ack_code: str = "",
        *,
        position: int,
        tag: str,
        element: int | None = None,
        component: int | None = None,
        level: Level = Level.SEGMENT,
    ) -> Diagnostic:
        """A diagnostic about a segment of this message (position = file position)."""
        return locate(
            severity,
            code,
            reason,
            ack_code,
            level=level,
            position=position,
            tag=tag,
            element=element,
            component=component,
            interchange=self.interchange,
            group=self.group,
            message=self,
        )

    def envelope_info(self) -> dict[str, object]:
        """Where a document came from, with the same keys the X12 engine uses."""
        info = self.interchange.envelope_info()
        if self.group is not None:
            info.update(group_control_number=self.group.reference, functional_id=element(self.group.header, 0))
        info.update(
            message_type=self.type,
            message_control_number=self.reference_number,
            message_version=":".join(self.identifier[1:]),
        )
        return info


@dataclass
class ReadGroup:
    """A UNG..UNE functional group."""

    header: Segment
    position: int
    trailer: Segment | None = None
    end_position: int = 0
    messages: list[ReadMessage] = field(default_factory=list)

    @property
    def reference(self) -> str:
        return element(self.header, 4)


class ReadInterchange(Interchange):
    """A UNB..UNZ interchange as read. ``segments`` (pydifact) holds everything between UNB
    and UNZ; ``messages`` and ``groups`` the structure found in it."""

    def __init__(self, header: Segment, position: int, delimiters: Delimiters, has_una: bool):
        syntax = composite(header, 0)
        super().__init__(
            sender=header.elements[1] if len(header.elements) > 1 else "",
            recipient=header.elements[2] if len(header.elements) > 2 else "",
            control_reference=element(header, 4),
            syntax_identifier=(syntax[0] if syntax else "", syntax[1] if len(syntax) > 1 else None),
            characters=delimiters.characters(),
            extra_header_elements=header.elements[5:],
        )
        # pydifact fills in "now" when no timestamp is given; the hub keeps what UNB said.
        self.timestamp: datetime | None = None
        self.has_una_segment = has_una
        self.header = header
        self.trailer: Segment | None = None
        self.position = position
        self.end_position = position
        self.delimiters = delimiters
        self.groups: list[ReadGroup] = []
        self.messages: list[ReadMessage] = []
        self.diagnostics: list[Diagnostic] = []
        # The sender's partner registry entry, once the ack step has identified it.
        self.partner: Any = None

    @property
    def syntax_id(self) -> str:
        return element(self.header, 0, 0)

    @property
    def syntax_version(self) -> str:
        return element(self.header, 0, 1)

    @property
    def sender_id(self) -> str:
        return element(self.header, 1, 0)

    @property
    def sender_qualifier(self) -> str:
        return element(self.header, 1, 1)

    @property
    def recipient_id(self) -> str:
        return element(self.header, 2, 0)

    @property
    def recipient_qualifier(self) -> str:
        return element(self.header, 2, 1)

    @property
    def reference(self) -> str:
        """UNB 0020, the interchange control reference."""
        return element(self.header, 4)

    @property
    def ack_requested(self) -> bool:
        """UNB 0031 = 1: the sender asks for a CONTRL."""
        return element(self.header, 8) == "1"

    @property
    def test(self) -> bool:
        """UNB 0035 = 1: test interchange."""
        return element(self.header, 10) == "1"

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def rejected(self) -> bool:
        return bool(self.errors)

    def envelope_info(self) -> dict[str, object]:
        return {
            "standard": "EDIFACT",
            "sender_qualifier": self.sender_qualifier,
            "sender_id": self.sender_id,
            "receiver_qualifier": self.recipient_qualifier,
            "receiver_id": self.recipient_id,
            "interchange_control_number": self.reference,
            "interchange_version": f"{self.syntax_id}:{self.syntax_version}",
            "interchange_date": element(self.header, 3, 0),
            "interchange_time": element(self.header, 3, 1),
            "test": self.test,
        }


def locate(
    severity: str,
    code: str,
    reason: str,
    ack_code: str = "",
    *,
    level: Level,
    position: int,
    tag: str,
    element: int | None = None,
    component: int | None = None,
    interchange: ReadInterchange | None = None,
    group: ReadGroup | None = None,
    message: ReadMessage | None = None,
) -> Diagnostic:
    """A diagnostic with the references of the interchange / group / message it concerns."""
    refs = {}
    if interchange is not None:
        refs["interchange"] = interchange.reference
    if group is not None:
        refs["group"] = group.reference
    if message is not None:
        refs["message"] = message.reference_number
    return Diagnostic(
        Severity(severity),
        reason,
        level,
        segment_position=position,
        segment_id=tag,
        element_position=element,
        component_position=component,
        set_position=(position - message.position + 1) if message is not None else None,
        code=code,
        ack_code=ack_code,
        extra=refs,
    )


@dataclass
class EdifactFile:
    """Everything read from one input: interchanges in order and every diagnostic."""

    interchanges: list[ReadInterchange]
    segments: list[Segment]
    # Diagnostics that belong to no interchange (decoding, layout recoveries, stray data).
    diagnostics: list[Diagnostic] = field(default_factory=list)
    filename: str | None = None
    encoding: str = ""

    def messages(self) -> Iterator[ReadMessage]:
        for interchange in self.interchanges:
            yield from interchange.messages

    def all_diagnostics(self) -> list[Diagnostic]:
        found = list(self.diagnostics)
        for interchange in self.interchanges:
            found.extend(interchange.diagnostics)
            for message in interchange.messages:
                found.extend(message.diagnostics)
        return sorted(found, key=lambda d: (d.segment_position or 0, not d.is_error))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.all_diagnostics() if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.all_diagnostics() if not d.is_error]
