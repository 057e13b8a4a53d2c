"""Byte-level mutations of EDI files, driven by a ``random.Random``-like source.

Every mutation works on bytes, so the engines see what a partner, a broken VAN or an attacker
could send: not only well-formed variations but cut, padded and corrupted files. The
``Scale`` bounds how big one mutation may make the input, so a test run stays fast while the
benchmark also tries files of hundreds of kilobytes of junk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Source(Protocol):
    """What the mutations draw from: ``random.Random`` or hypothesis's ``st.randoms()``."""

    def randrange(self, start: int, stop: int | None = None) -> int: ...
    def randint(self, a: int, b: int) -> int: ...
    def choice(self, seq):
        ...


@dataclass(frozen=True)
class Scale:
    """How far one input may grow: the most mutations applied, the largest run of junk, the
    most repetitions of a segment, and the largest input (cut there: the hub takes at most
    HUB_MAX_MESSAGE_BYTES anyway, and a mutation repeating a 60 KB "segment" thousands of
    times would test the machine's memory, not the engine)."""

    mutations: int
    junk: int
    repeats: int
    max_size: int


SMALL = Scale(mutations=6, junk=4_000, repeats=200, max_size=300_000)  # tests: a few seconds per standard
LARGE = Scale(mutations=10, junk=400_000, repeats=5_000, max_size=2_000_000)  # benchmark: up to 2 MB


@dataclass(frozen=True)
class Alphabet:
    """What matters to one standard: its delimiters (and alternatives partners use), the
    segment terminator, the tags that change the structure, and the numbers that hurt."""

    delimiters: bytes
    terminator: bytes
    element: bytes
    tags: tuple[bytes, ...]


HUGE_NUMBERS = (
    b"9" * 19, b"9" * 400, b"9" * 5_000, b"0" * 5_000 + b"1", b"1E-999999999", b"1E999999999", b"0E-999999999",
    b"-1E+18", b"1.5E-19", b"12345678901234567890.123", b"0.0000000000000000001", b"-0", b"1e5", b"NaN", b"Infinity",
    b"\xd9\xa3",  # an Arabic-Indic digit: isdigit() says yes, int() of bytes read as latin-1 says no
)
# Blanks, line breaks, control characters and stray bytes: what "junk" is made of.
JUNK_BYTES = b"    \t\t\r\n\n\x00\x0b\x0c\x1a\x1c\x1d\x1f\x7f\x80\xa0\xc3\xff"


def mutate(seeds: list[bytes], rnd: Source, alphabet: Alphabet, scale: Scale = SMALL) -> bytes:
    """A mutated copy of one of ``seeds``: one to ``scale.mutations`` mutations in a row."""
    data = bytearray(rnd.choice(seeds))
    for _ in range(rnd.randint(1, scale.mutations)):
        operation = rnd.choice(_OPERATIONS)
        operation(data, seeds, rnd, alphabet, scale)
        del data[scale.max_size:]
    return bytes(data)


def _at(data: bytearray, rnd: Source) -> int:
    return rnd.randrange(len(data) + 1)


def _flip(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    if data:
        data[rnd.randrange(len(data))] = rnd.randrange(256)


def _delete(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    at = _at(data, rnd)
    del data[at:at + rnd.randint(1, 64)]


def _insert(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    at = _at(data, rnd)
    data[at:at] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))


def _duplicate(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    start = _at(data, rnd)
    run = bytes(data[start:start + rnd.randint(1, 400)])
    at = _at(data, rnd)
    data[at:at] = run


def _delimiter(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """One byte becomes a delimiter, or one delimiter is swapped for another everywhere."""
    if not data:
        return
    if rnd.randint(0, 1):
        data[rnd.randrange(len(data))] = rnd.choice(alphabet.delimiters)
        return
    old, new = rnd.choice(alphabet.delimiters), rnd.choice(alphabet.delimiters)
    data[:] = data.replace(bytes([old]), bytes([new]))


def _huge_number(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """A number no element should take, right after an element separator (replacing the value
    there, or inserted before it)."""
    starts = [i + 1 for i in _positions(data, alphabet.element, rnd)]
    at = rnd.choice(starts) if starts else _at(data, rnd)
    number = rnd.choice(HUGE_NUMBERS)
    if rnd.randint(0, 1):
        end = at
        while end < len(data) and data[end] not in alphabet.delimiters:
            end += 1
        data[at:end] = number
    else:
        data[at:at] = number


def _repeat_segment(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """One segment (terminator to terminator) repeated many times in place."""
    ends = _positions(data, alphabet.terminator, rnd)
    if len(ends) < 2:
        return
    k = rnd.randrange(len(ends) - 1)
    start, end = ends[k] + 1, ends[k + 1] + 1
    room = max(1, (scale.max_size - len(data)) // (end - start))
    data[start:start] = bytes(data[start:end]) * min(rnd.randint(1, scale.repeats), room)


def _truncate(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    del data[_at(data, rnd):]


def _junk(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """Blanks and stray bytes at the head, the tail or inside: one byte repeated (a run of
    blanks, of terminators …) or a mix."""
    size = rnd.randint(1, scale.junk)
    if rnd.randint(0, 1):
        junk = bytes([rnd.choice(JUNK_BYTES + alphabet.delimiters)]) * size
    else:
        pool = JUNK_BYTES + alphabet.delimiters + b"azAZ09"
        pattern = bytes(rnd.choice(pool) for _ in range(rnd.randint(1, 64)))
        junk = (pattern * (size // len(pattern) + 1))[:size]
    where = rnd.randint(0, 2)
    at = 0 if where == 0 else len(data) if where == 1 else _at(data, rnd)
    data[at:at] = junk


def _tag(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """An envelope or structure tag where none belongs (a second ISA, a UNA mid-segment …)."""
    at = _at(data, rnd)
    data[at:at] = rnd.choice(alphabet.tags)


def _splice(data: bytearray, seeds, rnd: Source, alphabet: Alphabet, scale: Scale) -> None:
    """The head of this input and the tail of another seed."""
    other = rnd.choice(seeds)
    data[_at(data, rnd):] = other[rnd.randrange(len(other) + 1):]


def _positions(data: bytearray, byte: bytes, rnd: Source, limit: int = 64) -> list[int]:
    """Up to ``limit`` positions of ``byte`` in ``data``, from a random starting point (a
    full scan of a large input per mutation would make the fuzzer, not the engine, slow)."""
    found: list[int] = []
    at = data.find(byte, _at(data, rnd)) if data else -1
    while at >= 0 and len(found) < limit:
        found.append(at)
        at = data.find(byte, at + 1)
    return found or ([data.find(byte)] if data.find(byte) >= 0 else [])


_OPERATIONS = (_flip, _delete, _insert, _duplicate, _delimiter, _huge_number, _repeat_segment, _truncate, _junk,
               _tag, _splice)


def bounded_run(examples: int):
    """Hypothesis settings for a fuzz run inside the test suite: ``examples`` inputs,
    derandomized (the same inputs every run), no deadline, no example database."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
