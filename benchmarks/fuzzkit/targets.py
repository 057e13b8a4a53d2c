"""The fuzz targets: what one input goes through, per standard, and what may come out.

``exercise(data)`` runs an input through everything the hub does with a received file:
``hub edi translate`` (documents, diagnostics and the CLI's JSON), ``hub edi ack`` (997, 999
and TA1; CONTRL), and a route's ``parse`` → ``ack: auto`` → ``split: transaction`` →
``transform`` (as ``?ack=sync`` and the worker run them, without a database). The property:
reading ends in documents and located diagnostics, or an ``EdiError`` naming its reason;
nothing else escapes, and every error diagnostic names its place.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fuzzkit.mutate import Alphabet
from edi.common.diagnostics import Diagnostic, EdiError, error
from edi.detect import sniff
from hub.exchange import Exchange
from hub.registry import RouteEnv, StepError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus"
# Seeds larger than this are left out: the mutations make their own large inputs.
MAX_SEED = 200_000


class Unexpected(AssertionError):
    """An input broke the property; ``cause`` is the exception (or None for a broken rule)."""


Step = tuple[str, Callable[[bytes], "str | None"]]


@dataclass(frozen=True)
class Target:
    """``steps``: what one input goes through, in order, each named; the first returns the
    outcome ("errors" | "clean"). ``timings`` holds each step's CPU seconds for the last input."""

    name: str  # "x12" / "edifact"
    alphabet: Alphabet
    suffix: str  # reproducer file suffix
    steps: tuple[Step, ...]
    translate: Callable[[bytes], list]
    acknowledge: Callable[[bytes], bytes]
    timings: dict[str, float] = field(default_factory=dict)

    def seeds(self) -> list[bytes]:
        return seed_files(self.name)

    def exercise(self, data: bytes) -> str:
        """The outcome of one input: "refused" (EdiError), "errors" or "clean"; anything else
        that escapes is ``Unexpected``."""
        self.timings.clear()
        outcome = "clean"
        try:
            for name, step in self.steps:
                started = time.process_time()
                try:
                    outcome = step(data) or outcome
                finally:
                    self.timings[name] = time.process_time() - started
        except EdiError as exc:
            if not exc.diagnostic.reason:
                raise Unexpected("EdiError without a reason") from exc
            return "refused"
        except Unexpected:
            raise
        except Exception as exc:
            raise Unexpected(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
        return outcome


def seed_files(standard: str) -> list[bytes]:
    """The example files of examples/ and routes/tests/ and, when present, ../shared/corpus
    (valid and malformed files) of one standard, as bytes; files that cannot be sniffed (EBCDIC)
    go to both standards, they exercise the refusals."""
    folders = [ROOT / "examples", ROOT / "routes" / "tests", CORPUS]
    found: list[bytes] = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            data = path.read_bytes()
            if not data or len(data) > MAX_SEED or path.suffix in (".md", ".json", ".yaml", ".csv", ".xml", ".sh"):
                continue
            try:
                kind = sniff(data[:256])
            except EdiError:
                kind = standard
            if kind == standard:
                found.append(data)
    return found


def check_diagnostics(items: list) -> str:
    """Every diagnostic renders; every error names its place. Returns the outcome."""
    errors = False
    for item in items:
        if isinstance(item, Diagnostic):
            if not str(item):
                raise Unexpected(f"a diagnostic without text: {item!r}")
            if item.is_error:
                errors = True
                if not item.location():
                    raise Unexpected(f"an error without a place: {item}")
        elif not isinstance(item, dict):
            raise Unexpected(f"translate yielded {type(item).__name__}, not a document or a diagnostic")
        else:
            json.dumps(item, ensure_ascii=False, default=str)  # what `hub edi translate` prints
    return "errors" if errors else "clean"


def route_flow(data: bytes, fmt: str, kind: str) -> None:
    """parse (envelope errors kept, as ``?ack=sync`` parses) → ack: auto → split → transform,
    without services: the sender is not looked up, nothing is logged."""
    from edi.common.route_steps import (
        AckConfig,
        _adapter,
        acknowledge,
        split_transactions,
    )
    from hub.registry import PARSERS, TRANSFORMS, load_plugins

    load_plugins()
    parser = PARSERS[fmt]
    ex = Exchange(message_id="fuzz", body=data, format=fmt, doctype="", sender="", headers={})
    try:
        ex.body = parser.fn(data, parser.Config.model_validate({"envelope_errors": "keep"}), ex)
    except StepError as exc:
        # With envelope errors kept, the parse step refuses only what the reader cannot read.
        raise EdiError(error(str(exc), code=exc.code)) from None
    env = RouteEnv("fuzz", {})
    acknowledge(_adapter(ex.body, "ack"), ex.body, ex, AckConfig(endpoint="acks", kind=kind), env, "any")
    for part in split_transactions(ex.body, ex):
        if getattr(part, "type", "") == "APERAK":
            continue  # a route hands APERAK to edifact_ack_log (the interchange log), not to a transform
        TRANSFORMS[f"{fmt}.to_canonical"].fn(part, ex.derive(part))


def _x12_target() -> Target:
    from edi.x12.acks import acknowledge_file
    from edi.x12.engine import translate
    from edi.x12.profile import X12Profile

    ack_999 = X12Profile(sender_id="HUB", receiver_id="PARTNER", ack_kind="999", always_ta1=True)
    steps: tuple[Step, ...] = (
        ("translate", lambda data: check_diagnostics(list(translate(data)))),
        ("997", lambda data: acknowledge_file(data) and None),
        ("999 + TA1", lambda data: acknowledge_file(data, ack_999) and None),
        ("route", lambda data: route_flow(data, "x12", "999" if len(data) % 2 else "997")),
    )
    return Target("x12", X12_ALPHABET, ".x12", steps, lambda d: list(translate(d)), acknowledge_file)


def _edifact_target() -> Target:
    from edi.edifact.contrl import acknowledge_file
    from edi.edifact.engine import translate
    from edi.edifact.profile import EdifactProfile

    agreed = EdifactProfile(sender_id="HUB", receiver_id="PARTNER", contrl=True)
    steps: tuple[Step, ...] = (
        ("translate", lambda data: check_diagnostics(list(translate(data)))),
        ("CONTRL", lambda data: acknowledge_file(data, agreed) and None),
        ("route", lambda data: route_flow(data, "edifact", "CONTRL")),
    )
    return Target("edifact", EDIFACT_ALPHABET, ".edi", steps, lambda d: list(translate(d)),
                  lambda d: acknowledge_file(d, agreed))


X12_ALPHABET = Alphabet(delimiters=b"*~>^:|!\n\r \x1d\x1c\x1f\x85", terminator=b"~", element=b"*",
                        tags=(b"ISA*", b"IEA*1*", b"GS*PO*", b"GE*1*", b"ST*850*", b"SE*2*", b"TA1*", b"HL*",
                              b"~ISA*00*", b"\x1a", b"\xef\xbb\xbf"))
EDIFACT_ALPHABET = Alphabet(delimiters=b"+:'?* \n\r\x1d\x1c\x1f.,", terminator=b"'", element=b"+",
                            tags=(b"UNA", b"UNA:+.? '", b"UNA:+", b"UNB+UNOC:3+", b"UNH+1+", b"UNT+2+", b"UNZ+1+",
                                  b"UNG+", b"UNE+1+", b"LIN+", b"CNT+2:", b"?", b"\xef\xbb\xbf"))
TARGETS: dict[str, Callable[[], Target]] = {"x12": _x12_target, "edifact": _edifact_target}


def target(name: str) -> Target:
    return TARGETS[name]()
