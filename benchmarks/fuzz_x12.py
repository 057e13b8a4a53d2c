"""Fuzz target for the X12 reader, mappings and ack builder (hypothesis).

Inputs are valid interchanges (an 850, an 856 with lots/SSCCs, an 810, a 997) mutated at the
byte level — flips, deletions, duplicated runs, delimiter swaps, truncation, BOM/whitespace
noise — plus raw random bytes. Property: reading, translating and acknowledging never raise
anything but the engine's own ``EdiError`` (which carries a located diagnostic); every
diagnostic renders as text.

    .venv/bin/python benchmarks/fuzz_x12.py --seconds 300

Prints the number of inputs tried, how many were refused with ``EdiError``, translated with
errors, or translated cleanly. A failure prints the smallest input hypothesis found.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edi.common.diagnostics import Diagnostic, EdiError  # noqa: E402
from edi.x12.acks import acknowledge_file  # noqa: E402
from edi.x12.engine import translate  # noqa: E402
from tests.x12.helpers import PO_850, interchange  # noqa: E402

SEEDS = [
    interchange([("850", PO_850)]),
    interchange([("856", ["BSN*00*ASN1*20250312*1205*0001", "HL*1**S", "DTM*011*20250312",
                          "N1*ST*Central*UL*0614141000036", "HL*2*1*O", "PRF*4500012345", "HL*3*2*P",
                          "MAN*GM*000614141234567895", "HL*4*3*I", "LIN**UK*10612345678904*LT*A1234",
                          "SN1*1*2*BX**2*BX**IA", "DTM*036*20270930", "CTT*4"])], functional_id="SH"),
    interchange([("810", ["BIG*20250315*INV1**4500012345", "N1*SU*Acme*92*ACME",
                          "IT1*1*2*BX*45.10**UK*00612345678907", "TDS*9020", "SAC*C*D240***1250", "CTT*1"])],
                functional_id="IN"),
    interchange([("997", ["AK1*PO*5", "AK2*850*0001", "AK3*BEG*2**8", "AK4*5**8*2024", "AK5*R*5",
                          "AK9*R*1*1*0"])], functional_id="FA"),
]
DELIMS = b"*~>^:|\n\r \x15"
stats = {"tried": 0, "refused": 0, "with_errors": 0, "clean": 0}


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "delimiter", "truncate"]))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 20))]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        elif kind == "duplicate":
            data[at:at] = data[at:at + draw(st.integers(1, 60))]
        elif kind == "delimiter":
            data[at] = draw(st.sampled_from(list(DELIMS)))
        else:
            del data[at:]
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf", b"  \r\n", b"\x1a"]))
    return prefix + bytes(data)


def exercise(data: bytes) -> None:
    stats["tried"] += 1
    try:
        items = list(translate(data))
        acknowledge_file(data)
    except EdiError as exc:
        assert str(exc.diagnostic)
        stats["refused"] += 1
        return
    diagnostics = [d for d in items if isinstance(d, Diagnostic)]
    for diag in diagnostics:
        assert str(diag)
    stats["with_errors" if any(d.is_error for d in diagnostics) else "clean"] += 1


def run(examples: int) -> None:
    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.one_of(mutated(), st.binary(max_size=400)))
    def target(data: bytes) -> None:
        exercise(data)

    target()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    start = time.monotonic()
    while time.monotonic() - start < args.seconds:
        run(2000)
    elapsed = time.monotonic() - start
    print(f"fuzzed {stats['tried']} inputs in {elapsed:.0f} s: {stats['refused']} refused with EdiError, "
          f"{stats['with_errors']} read with located errors, {stats['clean']} clean; no other exception")


if __name__ == "__main__":
    main()
