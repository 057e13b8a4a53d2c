"""Instructions one mapping run costs, counted by valgrind's callgrind: a figure the load of a
shared machine does not move, for comparing two versions of a mapping.

    .venv/bin/python benchmarks/mapping_instructions.py              # both mappings
    .venv/bin/python benchmarks/mapping_instructions.py --only x12   # the 856 mapping alone

CPU-time benchmarks (``x12.py``, ``edifact.py``) on this shared 2-vCPU machine moved by up to
±7 % between runs of the same code while other agents worked, more than many mapping changes
gain. Here each mapping runs under callgrind on the inputs those benchmarks generate (10,000
segments: a 856 interchange, a DESADV), with the canonical model's validation replaced by
returning the mapped dict, so only the mapping (with its envelope/directory work done
beforehand) is counted. The count is taken twice in fresh interpreters — once after setup and
one warm-up run, once after two further runs — and the difference halved: setup and interpreter
start cancel out. Instructions are not seconds (pydantic-core, C and Python differ in cost per
instruction), so compare a mapping with itself across versions, never with another stage.
Needs ``valgrind`` on the PATH; takes a few minutes per mapping.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = 10_000


def _x12_run():
    """The 856 mapping over every set of the X12 benchmark's interchange (sets read beforehand)."""
    import x12 as bench

    import edi.x12.mapping.asn856 as asn856
    from edi.x12.engine import map_set
    from edi.x12.reader import read_x12

    sets = list(read_x12(bench.build(SEGMENTS)).transactions())
    asn856.validate = lambda view, model, mapped, index_of: mapped

    def run() -> None:
        for ts in sets:
            ts.summary.diagnostics.clear()
            map_set(ts)

    return run


def _edifact_run():
    """The DESADV mapping of the EDIFACT benchmark's message (read beforehand)."""
    import edifact as bench

    from edi.edifact.mapping import base
    from edi.edifact.mapping.desadv import map_desadv
    from edi.edifact.reader import gc_paused, read

    message = read(bench.generate_desadv(SEGMENTS).encode("latin-1")).interchanges[0].messages[0]
    base.MessageView.validated = lambda self, model, data, index_of: data

    def run() -> None:
        with gc_paused():  # as translate maps: no collections counted that translate does not make
            map_desadv(base.MessageView(message))

    return run


MAPPINGS = {"x12": _x12_run, "edifact": _edifact_run}


def child(which: str, runs: int) -> None:
    """In the interpreter valgrind watches: set up, one warm-up run, then ``runs`` runs."""
    sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
    run = MAPPINGS[which]()
    run()  # caches (decimals, dates, check digits) filled alike in both counts
    for _ in range(runs):
        run()


def instructions(which: str, runs: int) -> int:
    out = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
         "--child", which, str(runs)],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": "0"}).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise RuntimeError(f"callgrind printed no instruction count:\n{out[-2000:]}")
    return int(found.group(1))


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=sorted(MAPPINGS))
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    for which in [args.only] if args.only else list(MAPPINGS):
        per_run = (instructions(which, 2) - instructions(which, 0)) / 2
        print(f"{which} mapping, {SEGMENTS:,} segments: {per_run / 1e6:.1f} M instructions per run "
              f"({per_run / SEGMENTS:,.0f} per segment)")


if __name__ == "__main__":
    main()
