"""Fuzzing the EDI engines with hostile input (benchmarks/fuzz_x12.py, benchmarks/fuzz_edifact.py,
and their bounded runs in tests/x12/test_fuzz_smoke.py and tests/edifact/test_fuzz.py).

- ``mutate``: byte-level mutations of real files (flips, deletions, insertions, duplicated runs,
  delimiter swaps, huge numbers in digits and exponents, repeated segments, truncations, junk
  padding, splices of two files), driven by any ``random.Random``-like source — hypothesis's
  ``st.randoms()`` in the tests (deterministic, shrinkable), ``random.Random(seed)`` in the
  benchmarks (fast).
- ``targets``: per standard, the seeds (examples/, routes/tests/, ../shared/corpus when present)
  and ``exercise(data)``: translate (with the CLI's JSON), acknowledge, and the route's parse →
  ack: auto → split flow. Only ``EdiError`` (and the parse step's ``StepError`` for unreadable
  input) may escape; every error diagnostic must name its place.
- ``run``: the timed benchmark loop: inputs/s, unexpected exceptions with reproducers saved to a
  folder, the slowest input per 100 KB, peak memory, and a junk-speed table.
"""
