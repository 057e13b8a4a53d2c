"""A bounded run of the X12 fuzz target (benchmarks/fuzzkit, run long by benchmarks/fuzz_x12.py):
mutated real files — byte flips, delimiter swaps, huge numbers, repeated segments, truncations,
junk padding — never raise anything but EdiError from translating, acknowledging or the route's
ack flow, and every error names its place. Deterministic (derandomized), a few seconds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks.fuzzkit.mutate import SMALL, bounded_run, mutate
from benchmarks.fuzzkit.targets import Unexpected, target

TARGET = target("x12")
SEEDS = TARGET.seeds()


@bounded_run(250)
@given(st.randoms(use_true_random=False))
def test_mutated_x12_gives_documents_or_located_diagnostics_only(rnd) -> None:
    TARGET.exercise(mutate(SEEDS, rnd, TARGET.alphabet, SMALL))


@bounded_run(100)
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_or_read(data: bytes) -> None:
    TARGET.exercise(b"ISA*" + data)


def test_the_target_fails_on_an_escaping_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """The property can fail: an engine raising anything but EdiError is a finding."""
    import edi.x12.engine

    def broken(data: bytes, source: str | None = None):
        raise IndexError("list index out of range")

    monkeypatch.setattr(edi.x12.engine, "translate", broken)
    with pytest.raises(Unexpected, match="IndexError"):
        target("x12").exercise(SEEDS[0])


def test_seeds_come_from_examples_and_route_tests() -> None:
    assert len(SEEDS) >= 8  # examples/supplier-x12 and routes/tests/supplier-x12, more with the corpus
