"""Who may send what: the check every inbound edge that knows its partner runs before storing.

The API knows the partner from its credentials; a file-drop or SFTP channel knows it from its
``partner:`` option. Either way the same rules hold, in this order:

1. **A body is what it looks like.** Bytes that are an X12 or EDIFACT interchange must arrive
   as that format (a ``?format=csv`` on an interchange would route it where no envelope is
   checked).
2. **Every envelope is the partner's** (EDI). The body is read by the hub's EDI engines
   (``connectors.inbound.envelopes``): each interchange sender (ISA05/06, UNB S002) must be
   the partner's in the registry, each group sender (GS02, UNG S006) the partner's own GS/UNB
   id, and nothing may lie outside the interchanges.
3. **The document is agreed.** EDI: the type the message is routed by (its first transaction
   set / message, or the stated one) is in the partner's ``inbound_documents`` or an inbound
   ``documents`` entry for that format (when it lists any); further sets of other types are
   rejected one by one in the acknowledgement by the ``ack: auto`` step. Other formats: the
   document type must be an inbound ``documents`` entry for that format; nothing is allowed
   by default.
4. **A stated document type cannot widen that.** ``?doctype=`` (or a channel's ``doctype``)
   on EDI must be one the envelope holds; on XML both it and the root element must be
   allowed.

A refusal is a ``NotAdmitted`` with the HTTP status the API answers (400 for bytes that cannot
be accounted for, 403 for a sender or document that is not the partner's) and the security
event kind it is recorded under.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from connectors.inbound.envelopes import EDI_FORMATS, Envelope, EnvelopeError, read_envelopes
from hub.partners import PartnerConfig, PartnerRegistry
from hub.sniff import peek


class NotAdmitted(Exception):
    """A message the partner may not send, with the status and security event kind to use."""

    def __init__(self, status: int, reason: str, kind: str, *, claimed: str | None = None,
                 detail: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.status, self.reason, self.kind, self.claimed = status, reason, kind, claimed
        self.detail = detail or {}


@dataclass(frozen=True)
class Admitted:
    """What an admitted message is routed as."""

    format: str
    doctype: str
    sender: str
    receiver: str | None = None
    envelopes: list[Envelope] = field(default_factory=list)


def admit(registry: PartnerRegistry, partner: PartnerConfig, raw: bytes, fmt: str,
          doctype: str | None = None) -> Admitted:
    """Check ``raw`` (posted or dropped as ``fmt``, optionally stated to be ``doctype``) against
    ``partner``'s registry entry; raises ``NotAdmitted``."""
    _same_format(raw, fmt)
    if fmt in EDI_FORMATS:
        return _admit_edi(registry, partner, raw, fmt, doctype)
    stated = doctype or (_xml_root(raw) if fmt == "xml" else None) or "unknown"
    claimed = [stated]
    if fmt == "xml" and doctype:
        root = _xml_root(raw)
        if root and root != doctype:
            claimed.append(root)  # routed as one, read as the other: both must be agreed
    for name in claimed:
        _agreed(partner, fmt, name)
    return Admitted(fmt, stated, partner.id)


def _same_format(raw: bytes, fmt: str) -> None:
    seen = peek(raw).format
    if seen in EDI_FORMATS and fmt != seen:
        raise NotAdmitted(400, f"the body is an {seen.upper()} interchange but was sent as {fmt}: send it as "
                               f"{seen} so its envelope is checked", "format_mismatch", claimed=fmt)


def _admit_edi(registry: PartnerRegistry, partner: PartnerConfig, raw: bytes, fmt: str,
               doctype: str | None) -> Admitted:
    try:
        envelopes = read_envelopes(raw, fmt)
    except EnvelopeError as exc:
        raise NotAdmitted(400, f"{fmt} envelope: {exc}", "envelope_unaccounted") from None
    for envelope in envelopes:
        _owned(registry, partner, envelope)
    types = list(dict.fromkeys(t for e in envelopes for t in e.documents))
    if doctype and doctype not in types:
        raise NotAdmitted(403, f"document type {doctype!r} was stated, but the envelope holds "
                               f"{', '.join(types) or 'no documents'}", "doctype_not_allowed", claimed=doctype)
    routed = doctype or (types[0] if types else "unknown")
    # The type the message is routed by must be agreed. Further sets/messages of another type are
    # the ``ack: auto`` step's to judge: it rejects each one the partner may not send in the
    # 997/999/CONTRL (AK5 R 1, UCM 4/17) and leaves it out, as EDI expects, instead of refusing the file.
    if types:
        _agreed(partner, fmt, routed)
    first = envelopes[0]
    return Admitted(fmt, routed, first.identifier, first.receiver or None, envelopes)


def _owned(registry: PartnerRegistry, partner: PartnerConfig, envelope: Envelope) -> None:
    owner = (registry.by_isa(envelope.qualifier, envelope.identifier) if envelope.standard == "X12"
             else registry.by_unb(envelope.identifier, envelope.qualifier or None))
    if owner is None or owner.id != partner.id:
        whose = f"partner {owner.id}" if owner else "no registered partner"
        raise NotAdmitted(403, f"{envelope.where}: interchange sender {envelope} belongs to {whose}, not to the "
                               f"authenticated partner {partner.id}", "sender_not_owned",
                          claimed=f"{envelope.standard} {envelope}", detail={"owner": owner.id if owner else None})
    own = _group_ids(partner, envelope.standard)
    for group in envelope.groups:
        if group.identifier not in own:
            holder = registry.by_gs(group.identifier) if envelope.standard == "X12" else None
            whose = f"partner {holder.id}" if holder else "no registered partner"
            raise NotAdmitted(403, f"segment {group.position} ({group.segment}): group sender {group} belongs to "
                                   f"{whose}, not to the authenticated partner {partner.id} (expected "
                                   f"{' or '.join(sorted(own)) or 'none'})", "sender_not_owned",
                              claimed=f"{envelope.standard} group {group}",
                              detail={"owner": holder.id if holder else None})


def _group_ids(partner: PartnerConfig, standard: str) -> set[str]:
    """The group sender ids a partner may use: its GS id (else its ISA id) for X12; its UNB id
    or one of its registered identifiers (a GLN) for EDIFACT's optional UNG."""
    if standard == "X12":
        return {partner.x12.gs_id or partner.x12.isa_id} if partner.x12 else set()
    ids = {i.value for i in partner.identifiers}
    if partner.edifact is not None:
        ids.add(partner.edifact.unb_id)
    return ids


def agreement_problem(partner: PartnerConfig, fmt: str, doctype: str) -> str | None:
    """Why ``partner`` may not send ``doctype`` as ``fmt``, or None when it may."""
    entries = [d for d in partner.documents if d.format == fmt]
    inbound = {d.doctype for d in entries if d.direction == "inbound"}
    edi = fmt in EDI_FORMATS
    listed = set(partner.inbound_documents) | inbound if edi else inbound
    # EDI with no list at all: the envelope check already binds the file to the partner.
    if doctype in listed or (edi and not listed):
        return None
    if any(d.doctype == doctype for d in entries):
        return (f"partner {partner.id} may not send document type {doctype!r} as {fmt}: it is agreed outbound "
                "only (the hub sends it to the partner)")
    return (f"partner {partner.id} may not send document type {doctype!r} as {fmt} (allowed: "
            f"{', '.join(sorted(listed)) or 'none'})")


def _agreed(partner: PartnerConfig, fmt: str, doctype: str) -> None:
    problem = agreement_problem(partner, fmt, doctype)
    if problem is not None:
        raise NotAdmitted(403, problem, "doctype_not_allowed", claimed=doctype)


def _xml_root(raw: bytes) -> str | None:
    from connectors.formats.xmlin import root_name

    return root_name(raw)
