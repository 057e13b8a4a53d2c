"""Whatever bytes arrive, reading and translating end in documents and located diagnostics or
an EdifactError — never another exception (the CLI promises no tracebacks)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi.common.diagnostics import Diagnostic
from edi.edifact.contrl import acknowledge_file
from edi.edifact.diagnostics import EdifactError
from edi.edifact.engine import translate
from edi.edifact.profile import EdifactProfile
from tests.edifact.test_mapping import HEALTHCARE_DESADV

_AGREED = EdifactProfile(sender_id="-", receiver_id="-", contrl=True)
# Bytes that matter to EDIFACT: delimiters, release, layout, digits, letters, non-ASCII.
_pieces = st.sampled_from([b"'", b"+", b":", b"?", b"\n", b"\r", b" ", b"\t", b"UNH", b"UNT", b"UNB", b"UNZ",
                           b"UNA", b"UNG", b"UNE", b"LIN", b"QTY", b"1", b"0", b"12,5", b"A", b"\xc3\xbc", b"\xff"])


def _run(data: bytes) -> None:
    try:
        items = list(translate(data))
        acknowledge_file(data, _AGREED)
    except EdifactError as exc:
        assert exc.diagnostic.reason
        return
    for item in items:
        assert isinstance(item, dict | Diagnostic)
        if isinstance(item, Diagnostic):
            assert item.reason and item.segment_position is not None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_pieces, max_size=60))
def test_random_edifact_like_input(pieces: list[bytes]) -> None:
    _run(b"UNB+UNOC:3+S+R+240101:1200+1'" + b"".join(pieces))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(HEALTHCARE_DESADV) - 1), _pieces)
def test_a_real_message_with_one_piece_changed(position: int, piece: bytes) -> None:
    _run(HEALTHCARE_DESADV[:position] + piece + HEALTHCARE_DESADV[position + 1 :])


# -- the fuzz target (benchmarks/fuzzkit, run long by benchmarks/fuzz_edifact.py) -------------

from benchmarks.fuzzkit.mutate import SMALL, bounded_run, mutate
from benchmarks.fuzzkit.targets import Unexpected, target

TARGET = target("edifact")
SEEDS = TARGET.seeds()


@bounded_run(250)
@given(st.randoms(use_true_random=False))
def test_mutated_edifact_gives_documents_or_located_diagnostics_only(rnd) -> None:
    """Real files with byte flips, delimiter swaps, huge numbers, repeated segments, truncations
    and junk: translate, CONTRL and the route's ack flow end in documents and located
    diagnostics or an EdiError. Deterministic, a few seconds."""
    TARGET.exercise(mutate(SEEDS, rnd, TARGET.alphabet, SMALL))


def test_the_target_fails_on_an_escaping_exception(monkeypatch) -> None:
    import edi.edifact.contrl

    def broken(data: bytes, profile=None, **kw):
        raise KeyError("UCI")

    monkeypatch.setattr(edi.edifact.contrl, "acknowledge_file", broken)
    with pytest.raises(Unexpected, match="KeyError"):
        target("edifact").exercise(SEEDS[0])
