"""Per-partner EDIFACT settings (``EdifactProfile``): who we are and who they are in UNB, the
syntax identifier and version, the delimiters, the message directory (D96A, D01B ...) with
the EANCOM association code per message, and whether a CONTRL is expected.

The partner registry (``hub.partners.EdifactIdentity``) carries the partner's side;
``EdifactProfile.from_partner`` turns it into a profile, and ``reply_to(interchange)`` derives
one from an inbound interchange (parties swapped, its syntax and delimiters reused) so a
CONTRL answers in the sender's own syntax.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from functools import partial

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from edi.edifact.charsets import CHARSETS, writable
from edi.edifact.tokenizer import Delimiters

if TYPE_CHECKING:
    from edi.edifact.model import ReadInterchange

# EANCOM subset versions most partners use with D96A / D01B (UNH S009 0057); override per partner.
EANCOM_ASSOCIATION = {
    ("D96A", "ORDERS"): "EAN008",
    ("D96A", "ORDRSP"): "EAN005",
    ("D96A", "DESADV"): "EAN005",
    ("D96A", "INVOIC"): "EAN008",
    ("D96A", "RECADV"): "EAN003",
    ("D01B", "ORDERS"): "EAN010",
    ("D01B", "ORDRSP"): "EAN007",
    ("D01B", "DESADV"): "EAN007",
    ("D01B", "INVOIC"): "EAN010",
    ("D01B", "RECADV"): "EAN005",
}


class EdifactProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    STANDARD: ClassVar[str] = "EDIFACT"

    # Our side (UNB S002) and theirs (S003).
    sender_id: str = Field(min_length=1, max_length=35)
    sender_qualifier: str | None = Field(None, max_length=4)
    receiver_id: str = Field(min_length=1, max_length=35)
    receiver_qualifier: str | None = Field(None, max_length=4)
    syntax_id: str = Field("UNOC", description="UNB S001 0001: the character set")
    syntax_version: str = Field("3", pattern=r"^[1-4]$")
    component: str = Field(":", min_length=1, max_length=1)
    element: str = Field("+", min_length=1, max_length=1)
    decimal: str = Field(".", pattern=r"^[.,]$")
    release: str = Field("?", min_length=1, max_length=1)
    repetition: str = Field(" ", min_length=1, max_length=1, description="UNA5: '*' in syntax 4, ' ' before")
    terminator: str = Field("'", min_length=1, max_length=1)
    write_una: bool = True
    line_break: bool = True
    directory: str = Field("D96A", pattern=r"^D[0-9]{2}[A-C]$", description="UNH S009 0052 + 0054")
    agency: str = "UN"
    # UNH S009 0057 per message type; None = EANCOM_ASSOCIATION for the directory, "" = none.
    associations: dict[str, str] = Field(default_factory=dict)
    request_contrl: bool = False  # our outbound UNB 0031
    contrl: bool = False  # the partner expects a CONTRL for what it sends, even without 0031 = 1
    # How long the partner has to send its CONTRL for what the hub sends (registry acks[].within).
    ack_within_seconds: int | None = Field(None, ge=0)
    test: bool = False
    ack_endpoint: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> EdifactProfile:
        if self.syntax_id not in CHARSETS:
            raise ValueError(f"syntax_id {self.syntax_id!r} is not one of {', '.join(CHARSETS)}")
        chars = [self.component, self.element, self.release, self.terminator]
        if self.repetition != " ":
            chars.append(self.repetition)
        if len(set(chars)) != len(chars):
            raise ValueError(f"delimiters must all differ, got {chars}")
        if any(c.isalnum() for c in chars):
            raise ValueError("delimiters must not be letters or digits")
        return self

    @property
    def delimiters(self) -> Delimiters:
        return Delimiters(self.component, self.element, self.decimal, self.release, self.repetition, self.terminator)

    def association(self, message_type: str) -> str:
        if message_type in self.associations:
            return self.associations[message_type]
        return EANCOM_ASSOCIATION.get((self.directory, message_type), "")

    def message_identifier(self, message_type: str) -> list[str]:
        """UNH S009: type, version, release, agency (+ association code)."""
        identifier = [message_type, self.directory[0], self.directory[1:], self.agency]
        association = self.association(message_type)
        return identifier + [association] if association else identifier

    @classmethod
    def reply_to(cls, interchange: ReadInterchange, base: EdifactProfile | None = None) -> EdifactProfile:
        """A profile answering ``interchange``: its recipient becomes our sender, its syntax and
        delimiters are reused; ``base`` (the partner's profile) keeps its other settings."""
        syntax_id = interchange.syntax_id if interchange.syntax_id in CHARSETS else "UNOC"
        # A broken UNA cannot be answered in kind, nor one whose characters the reply's
        # character set cannot encode (a BOM as terminator in UNOC): the CONTRL then uses the
        # defaults.
        d = interchange.delimiters
        if d.problem is not None or not _encodable(d.una, syntax_id):
            d = Delimiters()
        # The parties as the reply can write them: characters outside its syntax become '?'.
        party = partial(writable, syntax_id=syntax_id, escapable=d.escapable())
        values: dict[str, Any] = (base.model_dump() if base else {}) | {
            "sender_id": party(interchange.recipient_id[:35]) or "UNKNOWN",
            "sender_qualifier": _qualifier(party(interchange.recipient_qualifier)),
            "receiver_id": party(interchange.sender_id[:35]) or "UNKNOWN",
            "receiver_qualifier": _qualifier(party(interchange.sender_qualifier)),
            "syntax_id": syntax_id,
            "syntax_version": interchange.syntax_version if interchange.syntax_version in "1234" and
            interchange.syntax_version else "3",
            "component": d.component,
            "element": d.element,
            "decimal": d.decimal if d.decimal in ".," else ".",
            "release": d.release if d.has_release else "?",
            "repetition": d.repetition,
            "terminator": d.terminator,
            "write_una": interchange.has_una_segment or (base.write_una if base else False),
            "test": interchange.test,
        }
        try:
            return cls(**values)
        except ValidationError:
            # Delimiters the reply cannot use (a decimal mark that is also a separator …): the
            # CONTRL answers with the standard ones, in the same syntax, to the same parties.
            for key in ("component", "element", "decimal", "release", "repetition", "terminator"):
                values.pop(key)
            return cls(**values)

    @classmethod
    def from_partner(cls, partner: Any, *, our_id: str, our_qualifier: str | None = None) -> EdifactProfile:
        """A profile for a partner of the registry (``PartnerConfig`` with ``edifact``): its UNB
        id/qualifier as the receiver, syntax identifier and version, decimal mark, delimiters,
        directory, and its ack agreement — ``acks`` naming CONTRL means a CONTRL each way (the
        hub asks for one with UNB 0031 and sends one for what the partner sends) — with the ack
        endpoint from ``outbound_endpoints``."""
        identity = partner.edifact
        if identity is None:
            raise ValueError(f"partner {partner.id} has no EDIFACT identity (edifact: unb_id ...)")
        expectations = {str(getattr(a.kind, "value", a.kind)): a.seconds for a in identity.acks}
        values: dict[str, Any] = {
            "sender_id": our_id,
            "sender_qualifier": our_qualifier,
            "receiver_id": identity.unb_id,
            "receiver_qualifier": identity.unb_qualifier,
            "syntax_id": identity.syntax_id,
            "syntax_version": identity.syntax_version,
            "decimal": identity.decimal_mark,
            "directory": identity.version,
            "contrl": "CONTRL" in expectations,
            "request_contrl": "CONTRL" in expectations,
            "ack_within_seconds": expectations.get("CONTRL"),
            "ack_endpoint": partner.ack_endpoint("CONTRL"),
        }
        if identity.delimiters is not None:
            d = identity.delimiters
            values.update(component=d.component, element=d.element, terminator=d.segment)
            if d.release:
                values["release"] = d.release
            if d.repetition:
                values["repetition"] = d.repetition
        return cls(**values)


def _encodable(text: str, syntax_id: str) -> bool:
    try:
        text.encode(CHARSETS[syntax_id].codec)
    except UnicodeEncodeError:
        return False
    return True


def _qualifier(value: str) -> str | None:
    """An inbound UNB qualifier to echo, when it is one (an..4; longer ones are reported by the
    envelope checks and left out of the answer)."""
    return value if value and len(value) <= 4 else None
