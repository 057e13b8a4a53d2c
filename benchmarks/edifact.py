"""EDIFACT reading speed: pydifact's own parser vs the hub, measured in the same run.

Generates one DESADV interchange of about 50 000 segments (5 000 packed lines: CPS, PAC, PCI,
GIN+BJ SSCC, LIN GTIN, PIA batch with a release-escaped '+', QTY, DTM+36 expiry, RFF ON/LI;
all GTIN/GLN/SSCC check digits valid) and times (CPU time of the process), interleaved and best of
``--repeat`` runs:

- ``plain``: a plain tokenizer that honours the release character and builds lists of
  strings (the floor for pure-Python tokenizing);
- ``pydifact``: ``Interchange.from_str`` + ``get_messages`` (pydifact 0.2.3's raw parse);
- ``hub read``: the hub's reader (decode, tokenizer → pydifact Segments, envelope checks,
  segment directory checks);
- ``hub translate``: the full translate to canonical documents (read + mapping + pydantic
  validation of the ShipNotice + its canonical JSON form);
- ``validation + JSON``: that validation and JSON form alone, on the mapped document. With
  the faster reader it bounds what any mapping could reach (printed as ``bound``);
- ``hub write``: the ShipNotice written back as a DESADV interchange as the hub sends it
  (builder, write-time grammar and character-set checks, serialisation).

Goals (issue 11): translate >= 4x pydifact's raw parse, writing >= 50,000 segments/s.

Ratios are against pydifact in the same run. Usage: ``python benchmarks/edifact.py [--segments
N] [--repeat R] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import re
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydifact.segmentcollection import Interchange  # noqa: E402

from edi.edifact.engine import translate  # noqa: E402
from edi.edifact.reader import gc_paused, read  # noqa: E402
from hub.canonical.identifiers import gs1_check_digit  # noqa: E402


def gs1(body: str) -> str:
    return body + str(gs1_check_digit(body))


def generate_desadv(target_segments: int = 50_000) -> str:
    head = [
        "UNA:+.? '",
        f"UNB+UNOC:3+{gs1('541234500001')}:14+{gs1('541073800000')}:14+20240101:1200+IC1'",
        "UNH+1+DESADV:D:96A:UN:EAN005'",
        "BGM+351+ASN1+9'",
        "DTM+137:20240101:102'",
        "DTM+11:20240102:102'",
        "RFF+ON:PO123'",
        f"NAD+SU+{gs1('541073800000')}::9'",
        f"NAD+BY+{gs1('541234500001')}::9'",
        f"NAD+DP+{gs1('541234500002')}::9'",
        "CPS+1'",
    ]
    body: list[str] = []
    line = 0
    while len(head) + len(body) < target_segments - 3:
        line += 1
        body += [
            f"CPS+{line + 1}+1'",
            "PAC+1++201::9'",
            "PCI+33E'",
            f"GIN+BJ+{gs1(f'35410738{line:09d}')}'",
            f"LIN+{line}++{gs1(f'054107380{line % 10000:04d}')}:SRV'",
            f"PIA+1+LOT?+{line}:NB::91'",
            f"QTY+12:{line % 50 + 1}'",
            "DTM+36:20271231:102'",
            f"RFF+ON:PO{line % 7}'",
            f"RFF+LI:{line}'",
        ]
    segments = head + body + [f"CNT+2:{line}'"]
    count = len(segments) - 2 + 1  # UNH..UNT
    return "\n".join(segments + [f"UNT+{count}+1'", "UNZ+1+IC1'"]) + "\n"


def plain_tokenize(text: str) -> list[list]:
    """Protect release escapes, split on the delimiters, restore the escaped characters."""
    marker = "\x00"
    if text.startswith("UNA"):
        text = text[9:]
    protected = re.sub(r"\?(.)", lambda m: marker + str("?':+".index(m.group(1))), text, flags=re.S)
    out: list[list] = []
    for raw in protected.split("'"):
        raw = raw.strip()
        if not raw:
            continue
        elements = []
        for value in raw.split("+"):
            parts = [_restore(p, marker) for p in value.split(":")]
            elements.append(parts if len(parts) > 1 else parts[0])
        out.append(elements)
    return out


def _restore(value: str, marker: str) -> str:
    if marker not in value:
        return value
    for code, ch in enumerate("?':+"):
        value = value.replace(marker + str(code), ch)
    return value


def pydifact_parse(text: str) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interchange = Interchange.from_str(text)
        return sum(len(m.segments) for m in interchange.get_messages())


def hub_read(data: bytes) -> int:
    file = read(data)
    assert not file.errors, file.errors[:3]
    return len(file.segments)


def hub_translate(data: bytes) -> int:
    docs = [item for item in translate(data) if isinstance(item, dict)]
    assert len(docs) == 1 and docs[0]["document_type"] == "ship_notice"
    return len(docs[0]["lines"])


def validation_input(data: bytes) -> dict:
    """The ShipNotice as translate maps it (its JSON form, envelope removed): the input of
    the validation-only row."""
    docs = [item for item in translate(data) if isinstance(item, dict)]
    return {k: v for k, v in docs[0].items() if k != "envelope"}


def validate_and_dump(document: dict) -> int:
    """Only what the canonical model costs in translate: validation and the JSON form."""
    from hub.canonical import ShipNotice

    with gc_paused():  # as in translate, so the row is not charged for collections translate avoids
        return len(ShipNotice.model_validate(document).model_dump(mode="json", exclude_none=True)["lines"])


def write_back(document: dict) -> Callable[[], int]:
    """Write the ShipNotice back as a DESADV interchange the way the hub sends it (``hub edi
    write``, the edifact.* renderers): builder, uncarried-field warnings, the write-time
    grammar and character-set checks, serialisation. Returns the segments written."""
    from datetime import datetime

    from edi.common.control_numbers import PreviewNumbers
    from edi.edifact.profile import EdifactProfile
    from edi.edifact.writer import write_documents

    profile = EdifactProfile(sender_id=gs1("541073800000"), sender_qualifier="14",
                             receiver_id=gs1("541234500001"), receiver_qualifier="14")
    now = datetime(2024, 1, 1, 12, 0)

    def write() -> int:
        written = write_documents([document], profile, PreviewNumbers(), now=now)
        return written.data.count(profile.terminator.encode()) - profile.write_una

    return write


def bound_line(pydifact: float, plain: float, hub_read: float, validation: float) -> str:
    """The fastest translate possible while the canonical pydantic model validates and dumps
    the document, with mapping at zero cost: after the hub's reader (pydifact Segments and
    envelope checks, as the issue requires), and after the plain tokenizer (no checks at all)."""
    with_hub = pydifact / (hub_read + validation)
    with_plain = pydifact / (plain + validation)
    return (f"bound (mapping at zero cost): hub read + validation + JSON = {with_hub:.1f}x pydifact, "
            f"plain tokenizer + validation + JSON = {with_plain:.1f}x")


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.process_time()  # CPU time: waiting for a core others hold does not count
        fn()
        times.append(time.process_time() - start)
        gc.collect()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--segments", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the hub translate")
    args = parser.parse_args()

    text = generate_desadv(args.segments)
    data = text.encode("latin-1")
    segments = text.count("'") - 1  # terminators, minus the one inside UNA
    megabytes = len(data) / 1e6
    document = validation_input(data)
    runs: dict[str, Callable[[], object]] = {
        "plain tokenizer": lambda: plain_tokenize(text),
        "pydifact raw parse": lambda: pydifact_parse(text),
        "hub read": lambda: hub_read(data),
        "hub translate": lambda: hub_translate(data),
        "  validation + JSON": lambda: validate_and_dump(document),
        "hub write (checked)": write_back(document),
    }
    for fn in runs.values():  # warm-up: imports, regex compilation, pydantic schema build
        fn()
    results = {name: [] for name in runs}
    for _ in range(args.repeat):  # interleaved, so load changes hit every method alike
        for name, fn in runs.items():
            results[name].append(best_of(fn, 1))
    base = min(results["pydifact raw parse"])
    print(f"DESADV: {segments} segments, {megabytes:.2f} MB, best of {args.repeat} (interleaved)")
    print(f"{'method':<20} {'seconds':>8} {'seg/s':>10} {'MB/s':>7} {'vs pydifact':>11}")
    for name, times in results.items():
        best = min(times)
        print(f"{name:<20} {best:8.3f} {segments / best:10,.0f} {megabytes / best:7.2f} {base / best:10.1f}x")
    print(bound_line(base, min(results["plain tokenizer"]), min(results["hub read"]),
                     min(results["  validation + JSON"])))
    print(f"translate: {base / min(results['hub translate']):.1f}x pydifact (goal 4x); writing: "
          f"{runs['hub write (checked)']() / min(results['hub write (checked)']):,.0f} segments/s (goal >= 50,000)")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        hub_translate(data)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
        print(out.getvalue())


if __name__ == "__main__":
    main()
