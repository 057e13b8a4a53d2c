"""Per-partner X12 settings (``X12Profile``): who we are and who they are in the envelope,
which version and delimiters they want, and which acknowledgement they expect.

The partner registry (``hub.partners``) carries these settings in its EDI identities;
``X12Profile.from_partner`` turns a registry entry into this model, which the X12 writer and
ack builder consume. ``X12Profile.reply_to(interchange)``
derives a profile from an inbound interchange (parties swapped, its delimiters and version),
used when no partner profile is configured and to make an ack follow the inbound file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

if TYPE_CHECKING:
    from edi.x12.reader import Interchange

from edi.common.text import digits
from edi.x12.tokenizer import Delimiters

AckKind = Literal["997", "999", "TA1", "none"]


class X12Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    STANDARD: ClassVar[str] = "X12"

    # Our side (ISA05/06, GS02) and theirs (ISA07/08, GS03).
    sender_qualifier: str = Field("ZZ", min_length=2, max_length=2)
    sender_id: str = Field(min_length=1, max_length=15)
    receiver_qualifier: str = Field("ZZ", min_length=2, max_length=2)
    receiver_id: str = Field(min_length=1, max_length=15)
    gs_sender_id: str | None = Field(None, max_length=15)
    gs_receiver_id: str | None = Field(None, max_length=15)
    # GS08 of business documents, e.g. 004010 (healthcare default) or 005010; ISA12 follows it.
    version: str = Field("004010", pattern=r"^00[2-8]0[0-9]0[A-Z0-9]*$")
    # ISA12 when it must differ from the first five digits of ``version`` (acks echo the inbound ISA12).
    interchange_version: str | None = Field(None, pattern=r"^[0-9]{5}$")
    element_separator: str = Field("*", min_length=1, max_length=1)
    component_separator: str = Field(">", min_length=1, max_length=1)
    repetition_separator: str = Field("^", min_length=1, max_length=1)
    segment_terminator: str = Field("~", min_length=1, max_length=1)
    line_break: bool = True
    ack_kind: AckKind = "997"
    # Send a TA1 for every interchange (besides the ones ISA14=1 asks for and rejections).
    always_ta1: bool = False
    request_ta1: bool = False  # our outbound ISA14
    # How long the partner has to acknowledge what the hub sends (partner registry acks[].within).
    ack_within_seconds: int | None = Field(None, ge=0)
    test: bool = False
    ack_endpoint: str | None = None

    @model_validator(mode="after")
    def _delimiters_differ(self) -> X12Profile:
        chars = [self.element_separator, self.component_separator, self.segment_terminator]
        if self.isa_version >= "00402":
            chars.append(self.repetition_separator)
        if len(set(chars)) != len(chars):
            raise ValueError(f"delimiters must all differ, got {chars}")
        if any(c.isalnum() or c == " " for c in chars):
            raise ValueError("delimiters must not be letters, digits or spaces")
        return self

    @property
    def isa_version(self) -> str:
        return self.interchange_version or self.version[:5]

    @property
    def delimiters(self) -> Delimiters:
        return Delimiters(self.element_separator, self.component_separator,
                          self.repetition_separator if self.isa_version >= "00402" else "",
                          self.segment_terminator, "\n" if self.line_break else "")

    @property
    def group_sender(self) -> str:
        return self.gs_sender_id or self.sender_id

    @property
    def group_receiver(self) -> str:
        return self.gs_receiver_id or self.receiver_id

    @classmethod
    def from_partner(cls, partner: Any, *, our_id: str, our_qualifier: str = "ZZ",
                     our_gs_id: str | None = None) -> X12Profile:
        """The profile for a partner of the registry (``hub.partners.PartnerConfig`` with ``x12``):
        its ISA qualifier/ID and GS ID as the receiver, its version and delimiters, and its ack
        agreement — ``acks`` naming 997 or 999 sets the functional ack the hub sends and expects
        (997 when neither is named), TA1 asks for a TA1 each way — with the ack endpoint from
        ``outbound_endpoints``."""
        identity = partner.x12
        if identity is None:
            raise ValueError(f"partner {partner.id} has no X12 identity (x12: isa_qualifier, isa_id ...)")
        expectations = {str(getattr(a.kind, "value", a.kind)): a.seconds for a in identity.acks}
        functional = next((k for k in expectations if k in ("997", "999")), "997")
        values: dict[str, Any] = {
            "sender_qualifier": our_qualifier, "sender_id": our_id, "gs_sender_id": our_gs_id,
            "receiver_qualifier": identity.isa_qualifier, "receiver_id": identity.isa_id,
            "gs_receiver_id": identity.gs_id, "version": identity.version, "ack_kind": functional,
            "always_ta1": "TA1" in expectations, "request_ta1": "TA1" in expectations,
            "ack_within_seconds": expectations.get(functional), "ack_endpoint": partner.ack_endpoint(functional),
        }
        if identity.delimiters is not None:
            d = identity.delimiters
            values.update(element_separator=d.element, component_separator=d.component,
                          segment_terminator=d.segment)
            if d.repetition:
                values["repetition_separator"] = d.repetition
        return cls(**values)

    @classmethod
    def reply_to(cls, interchange: Interchange, base: X12Profile | None = None) -> X12Profile:
        """A profile for answering ``interchange``: its receiver becomes our sender, its
        delimiters and version are reused; ``base`` (the partner's profile) keeps its ack
        preferences."""
        d = interchange.delimiters
        first_group = interchange.groups[0] if interchange.groups else None
        version = (first_group.version[:6] if first_group and len(first_group.version) >= 6
                   else f"{interchange.version}0")
        repetition = d.repetition or (base.repetition_separator if base else "^")
        values = (base.model_dump() if base else {}) | {
            "sender_qualifier": _isa_qualifier(interchange.receiver_qualifier),
            "sender_id": _fit(interchange.receiver_id, 15, "UNKNOWN"),
            "receiver_qualifier": _isa_qualifier(interchange.sender_qualifier),
            "receiver_id": _fit(interchange.sender_id, 15, "UNKNOWN"),
            "gs_sender_id": _fit(first_group.receiver_id, 15, None) if first_group else None,
            "gs_receiver_id": _fit(first_group.sender_id, 15, None) if first_group else None,
            "version": version if digits(version[:6]) else "004010",
            "interchange_version": interchange.version if len(interchange.version) == 5
            and digits(interchange.version) else None,
            "element_separator": d.element, "component_separator": d.component or ">",
            "segment_terminator": d.segment, "line_break": bool(d.suffix), "test": interchange.is_test,
        }
        if repetition in (d.element, d.component, d.segment):
            repetition = next(c for c in "^|{}!" if c not in (d.element, d.component, d.segment))
        values["repetition_separator"] = repetition
        if values["component_separator"] in (d.element, d.segment):
            values["component_separator"] = next(c for c in ">:^|" if c not in (d.element, d.segment, repetition))
        delimiters = {d.element, d.segment, values["component_separator"], repetition, "*", "~", ">", "^"}
        for key in ("sender_id", "receiver_id", "gs_sender_id", "gs_receiver_id"):
            if values[key]:
                values[key] = "".join(c for c in values[key] if c not in delimiters) or "UNKNOWN"
        try:
            return cls(**values)
        except ValidationError:
            # The inbound envelope is too broken to mirror (that is what the TA1 will say):
            # answer with standard delimiters and version, to the parties as far as readable.
            for key in ("element_separator", "component_separator", "repetition_separator", "segment_terminator",
                        "version", "interchange_version"):
                values.pop(key, None)
            return cls(**values)


def _isa_qualifier(value: str) -> str:
    """An inbound ISA05/07 to echo when it is a code of the list (else ZZ, mutually defined):
    the reply must pass the write checks even when the inbound envelope is garbled."""
    from edi.x12.grammar import CODES

    fitted = _fit(value, 2, "ZZ")
    return fitted if fitted in CODES["ISA_QUALIFIER"] else "ZZ"


def _fit(value: str, width: int, default: str | None) -> str | None:
    """An envelope value as the reply can carry it: printable ASCII, at most ``width`` long."""
    text = "".join(c for c in value if c.isascii() and c.isprintable()).strip()[:width]
    return text if text and (width != 2 or len(text) == 2) else default
