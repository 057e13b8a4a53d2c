"""Route components both EDI engines share, dispatching on the parsed body's type:

- ``split: transaction`` — one part per transaction set (X12 ST) or message (EDIFACT UNH);
- ``ack: auto`` — the envelope checks against the partner registry and the hub's usage
  (domain.md C #4-#6), then the acknowledgement the partner expects (TA1/997/999 or CONTRL),
  appended to ``ex.side_outputs`` for the partner's ack endpoint. Acks report syntax only: a
  well-formed part the mapping cannot use (a business problem) is acknowledged as accepted and
  recorded as a business exception, and the splitter leaves it out;
- ``duplicate_check`` — business-level duplicates (same PO number + purpose, same supplier +
  invoice number, same supplier + ASN number): recorded as ``duplicate_document`` business
  exceptions (domain.md C #9), then held (default) or forwarded.

Each engine registers its body type once with ``register_body``; the components here never
import an engine, so either engine can be installed alone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from edi.common.control_numbers import AllocatedNumbers, ControlNumbers, EnvelopeProfile, NumberSource, PreviewNumbers
from edi.common.diagnostics import UNMAPPABLE_DOCUMENT, Diagnostic, EdiError
from edi.common.interchanges import GroupInfo, Party, register_document, register_inbound
from edi.common.settings import EdiSettings
from hub.canonical.steps import INVALID_IDENTIFIER_LOCATIONS
from hub.exchange import TEST_HEADER, Exchange, SideOutput
from hub.registry import RouteEnv, Step, StepError, StrictModel, splitter, step, transform

Body = TypeVar("Body")
# Exchange header: {"<interchange index>": "<exception kind>"} for interchanges the ack step
# refused; the splitter turns their parts into exceptions instead of parts.
REFUSED_HEADER = "edi_refused_interchanges"
# Exchange header: {"<interchange index>": {"<part index>": {"kind", "location", "message"}}} for
# the parts the sender's agreement does not cover (domain.md C #6) and the well-formed parts
# whose mapping found a business problem (recorded as business exceptions, acknowledged as
# accepted); the splitter leaves them out too. A header rather than the diagnostics alone, so it
# survives ``?ack=sync`` (the route parses the stored message again).
REJECTED_PARTS_HEADER = "edi_rejected_parts"
# Diagnostic codes (and business exception kinds) of the agreement checks, domain.md C #6.
UNSUPPORTED_DOCUMENT, UNSUPPORTED_VERSION = "unsupported_document", "unsupported_version"


# -- parsing -------------------------------------------------------------------------------------


class EnvelopeParseConfig(StrictModel):
    """Options of ``parse: x12`` and ``parse: edifact``: ``fail`` (default) turns the first
    envelope/syntax error into a located StepError; ``keep`` leaves the errors on the body for
    ``ack: auto`` to report (the rejected parts are not split out)."""

    envelope_errors: Literal["fail", "keep"] = "fail"


def parse_checked(ex: Exchange, config: EnvelopeParseConfig | None, read: Callable[[], Body],
                  diagnostics: Callable[[Body], list[Diagnostic]], describe: Callable[[Diagnostic], str],
                  unreadable_code: str, error_code: str) -> Body:
    """Run an engine's reader for ``parse: x12|edifact``: unreadable input and (unless the
    config keeps them) the first envelope/syntax error become a located ``StepError``;
    recovered defects become ``ex.warnings``."""
    keep_errors = config is not None and config.envelope_errors == "keep"
    try:
        body = read()
    except EdiError as exc:
        raise step_error(exc.diagnostic, unreadable_code) from None
    found = diagnostics(body)
    ex.warnings.extend(describe(d) for d in found if not d.is_error)
    errors = [d for d in found if d.is_error]
    if errors and not keep_errors:
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise step_error(errors[0], error_code, more)
    return body


def step_error(diagnostic: Diagnostic, default_code: str, suffix: str = "") -> StepError:
    return StepError(diagnostic.reason + suffix, location=diagnostic.location() or None,
                     code=diagnostic.code or default_code)


# -- what each engine tells the shared steps -------------------------------------------------------


@dataclass
class Part:
    """One transaction set / message of an interchange, as the splitter hands it on."""

    name: str  # "850 0001", "DESADV ME0001"
    body: Any
    error: Diagnostic | None  # the first error that rejects it (its own, its group's or interchange's)


@dataclass
class InterchangeView:
    """An inbound interchange as the shared steps see it; ``source`` is the engine's object
    (it gets the sender's registry entry as ``source.partner``)."""

    sender: Party
    receiver: Party
    control_number: str
    version: str | None
    test: bool
    groups: list[GroupInfo]
    parts: list[Part]
    source: Any
    sender_location: str  # where the sender id stands: "segment 1 (ISA), element 6"
    usage_indicator: str  # as sent: ISA15 "P"/"T"/"I", UNB 0035 "1"/""
    usage_location: str  # where it stands: "segment 1 (ISA), element 15"
    receiver_location: str = ""  # where the receiver id stands: "segment 1 (ISA), element 8"

    @property
    def usage(self) -> str:
        return "test" if self.test else "production"


@dataclass
class Finding:
    """A part of an interchange the sender's registry entry does not cover (domain.md C #6):
    the located error, the diagnostics list it joins so the acknowledgement rejects that part
    (its set's, group's or message's), and the indexes in ``view.parts`` it rejects."""

    diagnostic: Diagnostic
    owner: list[Diagnostic]
    parts: list[int]


@dataclass
class Reply:
    """An acknowledgement to send: bytes, kind (TA1/997/999/CONTRL), key (its control number)
    and how to log it as sent (``register(session, message_id)``)."""

    data: bytes
    kind: str
    key: str
    register: Callable[[Session, str], None]


class EdiAdapter(ABC):
    """An engine's side of the shared route steps. Each engine registers one for its parsed
    body type with ``register_body``; the steps here never import an engine."""

    standard: ClassVar[str]  # "X12" / "EDIFACT": interchange log and counters
    content_type: ClassVar[str]
    part_key: ClassVar[str]  # key naming the part in ex.exceptions entries ("set", "message_ref")
    refusal: ClassVar[str]  # how a duplicate is refused ("TA1 025")

    @abstractmethod
    def interchanges(self, body: Any) -> list[InterchangeView]:
        """The interchanges of a parsed body, in file order."""

    @abstractmethod
    def partner(self, registry: Any, view: InterchangeView) -> Any:
        """The sender's entry in the partner registry (``PartnerConfig``), or None."""

    @abstractmethod
    def agreement(self, view: InterchangeView, partner: Any) -> list[Finding]:
        """What the sender's registry entry does not cover: parts whose type is not in its
        ``inbound_documents`` (``UNSUPPORTED_DOCUMENT``), groups / messages in a version other
        than its own (``UNSUPPORTED_VERSION``). Nothing is attached yet."""

    @abstractmethod
    def inspect(self, view: InterchangeView, partner: Any, ex: Exchange, env: RouteEnv) -> None:
        """Before the ack is built: map the parts (mapping errors go into the ack) and record
        inbound acknowledgements. ``view.parts`` holds only the parts the agreement covers."""

    def business(self, part: Part) -> list[Diagnostic]:
        """The business problems the mapping found in a part (its body's ``business`` list:
        ``TransactionSet.business``, ``ReadMessage.business``), after ``inspect``."""
        return list(getattr(part.body, "business", []))

    @abstractmethod
    def reply(self, view: InterchangeView, partner: Any, config: AckConfig,
              numbers: Callable[[EnvelopeProfile], NumberSource], duplicate: bool,
              now: datetime | None) -> Reply | None:
        """The acknowledgement due for this interchange (dated ``now``, default the current
        time), or None."""


_ADAPTERS: dict[type, EdiAdapter] = {}


def register_body(body_type: type, adapter: EdiAdapter) -> None:
    _ADAPTERS[body_type] = adapter


def _adapter(body: Any, what: str) -> EdiAdapter:
    for body_type, adapter in _ADAPTERS.items():
        if isinstance(body, body_type):
            return adapter
    known = ", ".join(t.__name__ for t in _ADAPTERS) or "none registered"
    raise StepError(f"{what} needs a parsed EDI body (parse: x12 or parse: edifact first), got "
                    f"{type(body).__name__}; known: {known}", code="edi_body")


# -- split: transaction --------------------------------------------------------------------------


@splitter("transaction")
def split_transactions(body: Any, ex: Exchange) -> list[Any]:
    """One part per X12 transaction set / EDIFACT message; each keeps its envelope."""
    adapter = _adapter(body, "split: transaction")
    refused: dict[str, str] = ex.headers.get(REFUSED_HEADER) or {}
    rejected: dict[str, dict[str, dict[str, str]]] = ex.headers.get(REJECTED_PARTS_HEADER) or {}
    parts = []
    for index, view in enumerate(adapter.interchanges(body)):
        kind = refused.get(str(index))
        rejections = rejected.get(str(index)) or {}
        for number, part in enumerate(view.parts):
            rejection = rejections.get(str(number))
            if kind is not None:
                ex.exceptions.append({"kind": _REFUSAL_KINDS.get(kind, kind), adapter.part_key: part.name,
                                      "message": _REFUSALS[kind].format(view=view)})
            elif rejection is not None:
                ex.exceptions.append({**rejection, adapter.part_key: part.name})
            elif part.error is not None:
                ex.exceptions.append({"kind": "syntax_error", adapter.part_key: part.name,
                                      "location": part.error.location(), "message": part.error.reason})
            else:
                parts.append(part.body)
    return parts


# The business exception kind a refusal is (domain.md section C), where it is not its own name.
_REFUSAL_KINDS = {"foreign_receiver": "unknown_partner"}
_REFUSALS = {
    "duplicate_interchange": "interchange {view.control_number} was already received",
    "unknown_partner": "interchange {view.control_number} was refused: its sender {view.sender} is not in the "
                       "partner registry",
    "usage_mismatch": "interchange {view.control_number} was refused: a {view.usage} interchange where the other "
                      "is expected",
    "foreign_receiver": "interchange {view.control_number} was refused: it is addressed to {view.receiver}, not to "
                        "this hub",
}


# -- ack: auto -----------------------------------------------------------------------------------


class AckConfig(StrictModel):
    mode: Literal["auto", "none"] = "auto"
    # Where acks go for a sender whose registry entry names no endpoint for them (the
    # partner's outbound_endpoints[<kind>] / ["ack"] come first).
    endpoint: str | None = None
    # Override the partner's ack kind (997, 999, TA1 for X12; CONTRL for EDIFACT).
    kind: str | None = None
    # A sender the partner registry does not know (domain.md C #4): its interchange is refused
    # and recorded as an unknown_partner business exception; 'accept' only warns.
    unknown_sender: Literal["refuse", "accept"] = "refuse"
    # Test/production (domain.md C #5): what ISA15 / UNB 0035 must say. An interchange of the
    # other kind is refused as a whole, without an acknowledgement, and recorded as a
    # usage_mismatch business exception. Default: the hub's HUB_EDI_USAGE (production unless
    # set, or unless HUB_EDI_TEST marks the hub as a test system); 'any' takes both.
    usage: Literal["production", "test", "any"] | None = None
    # A functional group (GS08) / message (UNH S009 0052+0054) in another version than the
    # sender's registry entry names (x12.version / edifact.version; domain.md C #6): rejected in
    # the ack and recorded as unsupported_version (enforce), or only warned about (warn).
    versions: Literal["enforce", "warn"] = "enforce"
    # The receiver (ISA08 / UNB S003) must be this hub: HUB_EDI_X12_ID / HUB_EDI_EDIFACT_ID, when
    # set (domain.md C #4). An interchange addressed to another party — misrouted by the VAN, or
    # a partner's configuration error — is refused as a whole, without an acknowledgement, and
    # recorded as unknown_partner. 'any' skips the check (a hub receiving under several ids).
    receiver: Literal["check", "any"] = "check"


@step
class AckStep(Step):
    kind = "ack"
    Config = AckConfig
    shorthand = "mode"
    summary = "Build the acknowledgement the partner expects (TA1/997/999 or CONTRL) as a side output"

    def __init__(self, config: AckConfig, env: RouteEnv) -> None:
        super().__init__(config, env)
        # Read once, when the route is built (HUB_EDI_USAGE / HUB_EDI_TEST, HUB_EDI_*_ID).
        settings = EdiSettings()
        self.usage = config.usage or settings.inbound_usage
        self.our_ids = {"X12": settings.x12_id, "EDIFACT": settings.edifact_id} if config.receiver == "check" else {}

    def process(self, ex: Exchange) -> list[Exchange]:
        config: AckConfig = self.config  # type: ignore[assignment]
        if config.mode == "none" or ex.headers.get("ack") == "sync":
            return [ex]  # (sync: the inbound API already answered with the ack, connectors.inbound.syncack)
        ex.side_outputs.extend(acknowledge(_adapter(ex.body, "ack"), ex.body, ex, config, self.env, self.usage,
                                           self.our_ids))
        return [ex]


def acknowledge(adapter: EdiAdapter, body: Any, ex: Exchange, config: AckConfig, env: RouteEnv,
                usage: str, our_ids: dict[str, str | None] | None = None) -> list[SideOutput]:
    """Per interchange: check its usage indicator against ``usage`` (a mismatch → refused and
    recorded), its receiver against our id for the standard in ``our_ids`` (another party →
    refused and recorded), identify the sender in the partner registry (unknown → refused and recorded),
    reject the parts its registry entry does not cover (recorded), log it (a duplicate is
    refused and recorded), build the ack the partner expects and address it to the partner's
    ack endpoint."""
    db = env.services.get("db")
    registry = partner_registry(env)
    clock = env.services.get("clock")  # a fixed clock in `hub routes test`, so acks compare equal
    outputs: list[SideOutput] = []
    refused: dict[str, str] = {}
    rejected: dict[str, dict[str, dict[str, str]]] = {}

    def numbers(profile: EnvelopeProfile) -> NumberSource:
        return AllocatedNumbers(ControlNumbers(db), profile) if db is not None else PreviewNumbers()

    accepted_usages: set[str] = set()
    for index, view in enumerate(adapter.interchanges(body)):
        partner = adapter.partner(registry, view) if registry is not None else None
        # Usage first: a test partner's interchange in production is a routing mistake, and its
        # sender may well be known only to the test system's registry. A partner in testing
        # (the test lane) sends test interchanges only, whatever the hub's own usage.
        expected = "test" if in_testing(partner) else usage
        if expected != "any" and view.usage != expected:
            _usage_mismatch(adapter, expected, db, view, partner, ex, env)
            refused[str(index)] = "usage_mismatch"
            continue
        our_id = (our_ids or {}).get(adapter.standard)
        if our_id and view.receiver.identifier.strip() != our_id.strip():
            _foreign_receiver(adapter, our_id, db, view, partner, ex, env)
            refused[str(index)] = "foreign_receiver"
            continue
        if registry is not None and partner is None and _unknown_sender(adapter, config, db, view, ex, env):
            refused[str(index)] = "unknown_partner"
            continue
        view.source.partner = partner
        numbered = {id(part): str(n) for n, part in enumerate(view.parts)}
        if partner is not None:
            rejected_parts = _check_agreement(adapter, config, db, view, partner, ex, env)
            if rejected_parts:
                rejected[str(index)] = rejected_parts
                view = replace(view, parts=[p for n, p in enumerate(view.parts) if str(n) not in rejected_parts])
        adapter.inspect(view, partner, ex, env)
        duplicate = _log_inbound(adapter, db, view, ex, env) if db is not None else False
        if duplicate:
            refused[str(index)] = "duplicate_interchange"
        else:
            unmapped = _record_business_problems(adapter, db, view, partner, numbered, ex, env)
            if unmapped:
                rejected.setdefault(str(index), {}).update(unmapped)
        if not duplicate:
            accepted_usages.add(view.usage)
        reply = adapter.reply(view, partner, config, numbers, duplicate, clock() if clock else None)
        if reply is None:
            continue
        outputs.append(SideOutput(ack_endpoint(config, partner, reply.kind, env), reply.data, adapter.content_type,
                                  document_type=reply.kind, document_key=reply.key))
        if db is not None:
            with db.session() as session:
                reply.register(session, ex.message_id)
    ex.headers[REFUSED_HEADER] = refused
    ex.headers[REJECTED_PARTS_HEADER] = rejected
    if accepted_usages == {"test"}:
        ex.headers[TEST_HEADER] = True  # its documents go to test endpoints only (hub.processing)
    return outputs


def partner_registry(env: RouteEnv) -> Any:
    """The ``partners`` service, else the registry in the ``db`` service's database; None
    without either (the sender is then not checked)."""
    from hub.partners import PartnerRegistry

    registry = env.services.get("partners")
    if registry is None and env.services.get("db") is not None:
        registry = PartnerRegistry(env.services["db"])
    return registry


def _unknown_sender(adapter: EdiAdapter, config: AckConfig, db: Any, view: InterchangeView, ex: Exchange,
                    env: RouteEnv) -> bool:
    """Report a sender the registry does not know; True when its interchange is refused."""
    from hub.business_exceptions import record_exception

    message = (f"{view.sender_location}: sender {view.sender} of interchange {view.control_number} is not in the "
               f"partner registry")
    if config.unknown_sender == "accept":
        ex.warnings.append(message)
        return False
    message += "; the interchange is refused (no acknowledgement is sent to an unknown party)"
    if db is not None:
        with db.session() as session:
            record_exception(session, kind="unknown_partner", message=message,
                             document_type=f"{adapter.standard.lower()}_interchange",
                             document_key=view.control_number, offending_value=str(view.sender),
                             message_id=ex.message_id, route=env.route_name,
                             detail={"location": view.sender_location, "receiver": str(view.receiver)})
    ex.exceptions.append({"kind": "unknown_partner", "location": view.sender_location, "message": message})
    return True


def in_testing(partner: Any) -> bool:
    """A partner in the test lane (status ONBOARDING): test interchanges only, to test endpoints."""
    return partner is not None and str(getattr(partner, "status", "")) == "ONBOARDING"


def _usage_mismatch(adapter: EdiAdapter, usage: str, db: Any, view: InterchangeView, partner: Any, ex: Exchange,
                    env: RouteEnv) -> None:
    """Record an interchange whose usage indicator is not the one expected (domain.md C #5).

    It is refused as a whole and nothing goes back: TA1 has no note code for it (020 says the
    indicator is invalid, which it is not), CONTRL's 0085 code 25 ("test indicator not
    supported") covers only one direction, and an acknowledgement would itself cross between
    the partner's test and production systems. The interchange is not logged either, so the
    same control number sent again where it belongs (or corrected) is not taken for a
    duplicate. Operations see the business exception and call the partner."""
    from hub.business_exceptions import record_exception

    message = (f"{view.usage_location}: interchange {view.control_number} from {view.sender} is a {view.usage} "
               f"interchange (usage indicator {view.usage_indicator or '(empty)'!r}) but {usage} is expected; "
               "refused, no acknowledgement is sent")
    if in_testing(partner):
        message += (f" (partner {partner.id} is in testing: it sends test interchanges until it is promoted "
                    f"with `hub partners promote {partner.id}`)")
    if db is not None:
        with db.session() as session:
            record_exception(session, kind="usage_mismatch", message=message,
                             document_type=f"{adapter.standard.lower()}_interchange",
                             document_key=view.control_number, offending_value=view.usage_indicator,
                             partner_id=partner.id if partner is not None else None, message_id=ex.message_id,
                             route=env.route_name, detail={"location": view.usage_location, "expected": usage,
                                                           "sender": str(view.sender)})
    ex.exceptions.append({"kind": "usage_mismatch", "location": view.usage_location, "message": message})


def _foreign_receiver(adapter: EdiAdapter, our_id: str, db: Any, view: InterchangeView, partner: Any, ex: Exchange,
                      env: RouteEnv) -> None:
    """Record an interchange addressed to another party (domain.md C #4, the receiver side).
    Nothing goes back, as for an unknown sender: the hub is not the party to acknowledge it."""
    from hub.business_exceptions import record_exception

    message = (f"{view.receiver_location}: interchange {view.control_number} from {view.sender} is addressed to "
               f"{view.receiver}, not to this hub ({our_id}); refused, no acknowledgement is sent")
    if db is not None:
        with db.session() as session:
            record_exception(session, kind="unknown_partner", message=message,
                             document_type=f"{adapter.standard.lower()}_interchange",
                             document_key=view.control_number, offending_value=str(view.receiver),
                             partner_id=partner.id if partner is not None else None, message_id=ex.message_id,
                             route=env.route_name, detail={"location": view.receiver_location, "expected": our_id,
                                                           "sender": str(view.sender)})
    ex.exceptions.append({"kind": "unknown_partner", "location": view.receiver_location, "message": message})


def _check_agreement(adapter: EdiAdapter, config: AckConfig, db: Any, view: InterchangeView, partner: Any,
                     ex: Exchange, env: RouteEnv) -> dict[str, dict[str, str]]:
    """Reject the parts the sender's registry entry does not cover (domain.md C #6): each
    finding joins its set's / group's / message's diagnostics, so the ack rejects it (AK5/IK5 R
    1, AK9 R 2, UCM 4 17), and becomes a business exception; a version finding only warns
    under ``versions: warn``. Returns the rejected parts: {"<part index>": exception entry}."""
    from hub.business_exceptions import record_exception

    rejected: dict[str, dict[str, str]] = {}
    for finding in adapter.agreement(view, partner):
        d = finding.diagnostic
        message = f"{d.location()}: {d.reason}"
        if d.code == UNSUPPORTED_VERSION and config.versions == "warn":
            ex.warnings.append(message)
            continue
        finding.owner.append(d)
        entry = {"kind": d.code, "location": d.location(), "message": message}
        names = [view.parts[n].name for n in finding.parts]
        for n in finding.parts:
            rejected.setdefault(str(n), entry)
        if db is not None:
            with db.session() as session:
                record_exception(session, kind=d.code, message=message,
                                 document_type=f"{adapter.standard.lower()}_interchange",
                                 document_key=view.control_number, offending_value=d.bad_value,
                                 partner_id=partner.id, message_id=ex.message_id, route=env.route_name,
                                 detail={"location": d.location(), "parts": names, "sender": str(view.sender)})
        ex.exceptions.append(entry)
    return rejected


def _record_business_problems(adapter: EdiAdapter, db: Any, view: InterchangeView, partner: Any,
                              numbered: dict[int, str], ex: Exchange, env: RouteEnv) -> dict[str, dict[str, str]]:
    """The well-formed parts whose mapping found a business problem (``inspect`` mapped them):
    each problem becomes a business exception of its kind (``unmappable_document`` unless the
    mapping named a more precise one, e.g. ``totals_do_not_reconcile``), and the part is left
    out by the splitter — its acknowledgement stays positive, acks report syntax only. Returns
    {"<part index in the interchange>": exception entry}."""
    from hub.business_exceptions import record_exception

    unmapped: dict[str, dict[str, str]] = {}
    for part in view.parts:
        for d in adapter.business(part):
            kind = str(d.extra.get("exception_kind") or UNMAPPABLE_DOCUMENT)
            message = f"{d.location()}: {d.reason}" if d.location() else d.reason
            entry = {"kind": kind, "location": d.location(), "message": message}
            unmapped.setdefault(numbered[id(part)], entry)
            if db is not None:
                with db.session() as session:
                    record_exception(session, kind=kind, message=message,
                                     document_type=f"{adapter.standard.lower()}_interchange",
                                     document_key=view.control_number, offending_value=d.bad_value,
                                     partner_id=partner.id if partner is not None else None,
                                     message_id=ex.message_id, route=env.route_name,
                                     detail={"location": d.location(), "part": part.name, "code": d.code,
                                             "sender": str(view.sender)})
            ex.exceptions.append({**entry, adapter.part_key: part.name})
    return unmapped


def mapping_failure(errors: Sequence[Diagnostic], business: Sequence[Diagnostic], default_code: str) -> StepError:
    """Why a transform got no document: the first syntax error, else the first business
    problem (code: its business exception kind). A route with ``ack: auto`` never gets here for
    a business problem — the ack step records it and the splitter leaves the part out; without
    it the message is dead-lettered with the located reason."""
    if errors:
        return step_error(errors[0], default_code)
    if business:
        return step_error(business[0], str(business[0].extra.get("exception_kind") or UNMAPPABLE_DOCUMENT))
    return StepError("the mapping produced no document and gave no reason", code=default_code)


def not_agreed(partner: Any, noun: str, document: str) -> str | None:
    """Why ``document`` (ST01 / UNH 0065) is refused: not in the partner's non-empty
    ``inbound_documents``; None when it is agreed."""
    allowed = partner.inbound_documents
    if not allowed or document in allowed:
        return None
    return f"{noun} {document or '(none)'} is not in partner {partner.id}'s inbound_documents [{', '.join(allowed)}]"


def ack_endpoint(config: AckConfig, partner: Any, kind: str, env: RouteEnv) -> str:
    """The partner's endpoint for ``kind`` (or for acks), else the step's; it must be defined."""
    endpoint = (partner.ack_endpoint(kind) if partner is not None else None) or config.endpoint
    if not endpoint:
        raise StepError(f"no endpoint for the {kind} acknowledgement: set 'ack: {{endpoint: ...}}' or the partner's "
                        f"outbound_endpoints['{kind}'] (or ['ack']) in the partner registry", code="ack_endpoint")
    hub = env.services.get("hub")
    if hub is not None and endpoint not in hub.routes.endpoints:
        whose = f"partner {partner.id}'s" if partner is not None else "the ack step's"
        raise StepError(f"{whose} endpoint {endpoint!r} for the {kind} acknowledgement is not defined in any route "
                        "file", code="ack_endpoint")
    return endpoint


def _log_inbound(adapter: EdiAdapter, db: Any, view: InterchangeView, ex: Exchange, env: RouteEnv) -> bool:
    """Record the interchange in the log; a duplicate becomes a business exception."""
    from hub.business_exceptions import record_exception

    with db.session() as session:
        record = register_inbound(session, standard=adapter.standard, sender=view.sender, receiver=view.receiver,
                                  control_number=view.control_number, version=view.version, test=view.test,
                                  message_id=ex.message_id, groups=view.groups)
        if not record.duplicate:
            return False
        message = (f"interchange {view.control_number} from {view.sender} was already received "
                   f"(record {record.duplicate_of}); refused with {adapter.refusal}")
        record_exception(session, kind="duplicate_interchange", message=message,
                         document_type=f"{adapter.standard.lower()}_interchange", document_key=view.control_number,
                         partner_id=view.sender.identifier, message_id=ex.message_id, route=env.route_name)
    ex.exceptions.append({"kind": "duplicate_interchange", "message": message})
    return True


# -- transforms ----------------------------------------------------------------------------------

Documents = Callable[[Any, Exchange, "tuple[str, ...] | None", str], list[BaseModel]]


def single_document_transform(name: str, kind: str, emits: str, documents: Documents, doc: str) -> Callable:
    """Register a transform mapping one part of type ``kind`` (ST01 / UNH message type) to its
    one canonical document."""

    @transform(name, emits=emits)
    def fn(body: Any, ex: Exchange) -> BaseModel:
        return documents(body, ex, (kind,), name)[0]

    fn.__doc__ = doc
    fn.__name__ = name.replace(".", "_")
    return fn


def note_invalid_identifiers(ex: Exchange, diagnostics: Sequence[Diagnostic]) -> None:
    """Leave the places of identifiers kept although they failed their check (warnings coded
    ``invalid_identifier``) for the ``identifier_check`` step, which records them."""
    places = list(ex.headers.get(INVALID_IDENTIFIER_LOCATIONS) or [])
    for d in diagnostics:
        if d.code == "invalid_identifier" and d.bad_value is not None:
            place = {"value": d.bad_value, "location": d.location()}
            if place not in places:
                places.append(place)
    if places:
        ex.headers[INVALID_IDENTIFIER_LOCATIONS] = places


def one_or_many(documents: Sequence[BaseModel]) -> BaseModel | list[BaseModel]:
    return documents[0] if len(documents) == 1 else list(documents)


class DuplicateCheckConfig(StrictModel):
    on_duplicate: Literal["hold", "forward"] = "hold"


def business_key(document: dict[str, Any]) -> tuple[str, str, str] | None:
    """(document type, partner, key) identifying a business document across resends."""
    kind = document.get("document_type")
    if kind == "purchase_order":
        buyer = (document.get("buyer_org") or {}).get("identifiers") or [{}]
        return kind, str(buyer[0].get("value", "")), f"{document['po_number']}/{document.get('purpose', '')}"
    if kind == "invoice":
        return kind, document["supplier_partner_id"], document["invoice_number"]
    if kind == "ship_notice":
        return kind, document["supplier_partner_id"], document["asn_number"]
    return None


@step
class DuplicateCheckStep(Step):
    kind = "duplicate_check"
    Config = DuplicateCheckConfig
    shorthand = "on_duplicate"
    summary = "Flag resent business documents (PO number + purpose, supplier + invoice / ASN number)"

    def process(self, ex: Exchange) -> list[Exchange]:
        from hub.business_exceptions import record_exception

        document = ex.body.model_dump(mode="json") if isinstance(ex.body, BaseModel) else ex.body
        key = business_key(document) if isinstance(document, dict) else None
        if key is None:
            return [ex]
        kind, partner, value = key
        db = self.env.service("db")
        with db.session() as session:
            earlier = register_document(session, document_type=kind, partner=partner, key=value,
                                        message_id=ex.message_id)
            if earlier is None:
                return [ex]
            message = (f"duplicate {kind} {value} from {partner}: first received in message "
                       f"{earlier.message_id} at {earlier.first_seen_at.isoformat()}")
            record_exception(session, kind="duplicate_document", message=message, document_type=kind,
                             document_key=value, partner_id=partner, message_id=ex.message_id,
                             route=self.env.route_name, detail={"first_message_id": earlier.message_id,
                                                                 "times_seen": earlier.times_seen})
        ex.exceptions.append({"kind": "duplicate_document", "message": message, "document_key": value})
        if self.config.on_duplicate == "hold":  # type: ignore[attr-defined]
            ex.held = True
        return [ex]
