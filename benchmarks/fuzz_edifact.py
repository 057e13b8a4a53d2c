"""Fuzz the EDIFACT engine for ``--seconds``: mutated real EDIFACT files (examples/,
routes/tests/ and ../shared/corpus when present) through translate, CONTRL and the route's ack
flow.

    .venv/bin/python benchmarks/fuzz_edifact.py --seconds 600

Prints inputs and inputs/s, unexpected exceptions with reproducers saved to ``--out``
(default .fuzz/edifact/), the slowest input per 100 KB, peak memory and the junk-speed table;
exits 1 when anything unexpected escaped. See benchmarks/fuzzkit/run.py for every option.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.fuzzkit.run import main

if __name__ == "__main__":
    raise SystemExit(main("edifact"))
