"""A short run of the fuzz target (benchmarks/fuzz_x12.py): mutated interchanges never raise
anything but EdiError from reading, translating or acknowledging."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

_spec = importlib.util.spec_from_file_location(
    "fuzz_x12", Path(__file__).resolve().parents[2] / "benchmarks" / "fuzz_x12.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)  # type: ignore[union-attr]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(fuzz.mutated(), st.binary(max_size=200)))
def test_mutated_input_gives_located_diagnostics_only(data: bytes) -> None:
    fuzz.exercise(data)
