"""The fuzz benchmark loop shared by benchmarks/fuzz_x12.py and benchmarks/fuzz_edifact.py.

For ``--seconds`` it mutates seed files (``LARGE`` scale: junk of up to 400 KB, segments
repeated thousands of times) and runs each input through the target, then prints:

- inputs tried and inputs/s, and the outcomes (refused with ``EdiError``, read with located
  errors, clean);
- unexpected exceptions, grouped by where they were raised, each with a reproducer saved to
  ``--out`` (the input, and a .txt with the traceback);
- the slowest input per 100 KB: the CPU seconds of its slowest operation (translate, an
  acknowledgement, the route flow) × 100 KB / size, inputs under 100 KB counted as 100 KB so
  any input must finish within the goal; how many went over the goal (1 s); the slowest is
  saved too;
- peak memory: the largest traced allocation peak of a sample of inputs (every
  ``--memory-every``-th, under tracemalloc, timed apart) and its ratio to the input's size, the
  most one input raised the process's peak RSS, and the process's peak RSS (tracemalloc's own
  bookkeeping included);
- the junk table: 1 MB of each kind of junk (blanks, line breaks, stray bytes, runs of
  delimiters, invalid segments …) inside a real file, translate and acknowledge in MB/s.

Inputs come from ``hypothesis`` (``--engine hypothesis``, the default: ``st.randoms()`` drives
the mutations, as in the tests) or from ``random.Random`` (``--engine random``: no hypothesis
bookkeeping, more inputs per second). An input running past ``--timeout`` seconds, or past the
address-space cap ``--memory-limit-mb``, is a finding like any exception.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import resource
import signal
import sys
import time
import traceback
import tracemalloc
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.fuzzkit.mutate import JUNK_BYTES, LARGE, mutate
from benchmarks.fuzzkit.targets import Target, Unexpected, target

GOAL_SECONDS_PER_100KB = 1.0
PER_100KB = 100_000


class InputTimeout(Exception):
    """The input ran past ``--timeout`` seconds."""


@dataclass
class Finding:
    signature: str
    count: int
    reproducer: Path
    message: str
    note: str  # the traceback, saved beside the reproducer


@dataclass
class Stats:
    out: Path
    suffix: str
    tried: int = 0
    outcomes: Counter = field(default_factory=Counter)
    findings: dict[str, Finding] = field(default_factory=dict)
    slowest: tuple[float, int, float, str] = (0.0, 0, 0.0, "")  # (cost per 100 KB, size, seconds, step)
    over_goal: int = 0
    peak: tuple[int, int] = (0, 0)  # (traced bytes, input size)
    # (traced bytes / size, size) for inputs of 100 KB and more: below, fixed costs (caches,
    # compiled patterns) make the ratio meaningless.
    peak_ratio: tuple[float, int] = (0.0, 0)
    rss_jump: tuple[int, int] = (0, 0)  # (KB the process's peak RSS grew by during one input, its size)
    bytes_in: int = 0

    def save(self, name: str, data: bytes, note: str = "") -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{name}{self.suffix}"
        path.write_bytes(data)
        if note:
            path.with_suffix(path.suffix + ".txt").write_text(note)
        return path


def _signature(exc: BaseException) -> str:
    """Where an exception was raised in the hub's own code (type, file, line)."""
    cause = exc.__cause__ or exc
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if "/edi/" in f.filename or "/hub/" in f.filename]
    frame = frames[-1] if frames else (traceback.extract_tb(cause.__traceback__) or [None])[-1]
    where = f"{Path(frame.filename).name}:{frame.lineno}" if frame else "?"
    return f"{type(cause).__name__} at {where}"


def _on_alarm(signum: int, frame: object) -> None:
    raise InputTimeout()


def _max_rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_one(tgt: Target, data: bytes, stats: Stats, timeout: float) -> None:
    stats.tried += 1
    stats.bytes_in += len(data)
    rss_before = _max_rss_kb()
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        stats.outcomes[tgt.exercise(data)] += 1
    except (Unexpected, InputTimeout, MemoryError, RecursionError) as exc:
        signal.setitimer(signal.ITIMER_REAL, 0)
        _record(stats, exc, data)
        return
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    # The process's peak RSS only grows: an input that raises it a lot is kept (tracemalloc
    # sees only a sample of the inputs).
    jump = _max_rss_kb() - rss_before
    if jump > stats.rss_jump[0]:
        stats.rss_jump = (jump, len(data))
        if jump > 50_000:
            stats.save("memory", data, f"peak RSS grew by {jump / 1024:.0f} MB for {len(data):,} bytes")
    # Each operation (translate, an ack, the route) on its own: the goal is per operation, in
    # CPU seconds (the machine is shared; waiting for a core is not the engine's time).
    step, seconds = max(tgt.timings.items(), key=lambda item: item[1], default=("", 0.0))
    cost = seconds * PER_100KB / max(len(data), PER_100KB)
    what = f"{step}: {seconds:.3f} CPU s for {len(data):,} bytes"
    if cost > GOAL_SECONDS_PER_100KB:
        stats.over_goal += 1
        if stats.over_goal <= 20:
            stats.save(f"slow-{stats.over_goal}", data, what)
    if cost > stats.slowest[0]:
        stats.slowest = (cost, len(data), seconds, step)
        stats.save("slowest", data, f"{what} ({cost:.3f} s per 100 KB)")


def _record(stats: Stats, exc: BaseException, data: bytes) -> None:
    signature = "timeout" if isinstance(exc, InputTimeout) else _signature(exc)
    found = stats.findings.get(signature)
    if found is not None:
        found.count += 1
        if len(data) < found.reproducer.stat().st_size:  # keep the smallest reproducer
            stats.save(found.reproducer.stem, data, found.note)
        return
    name = "finding-" + hashlib.sha256(signature.encode()).hexdigest()[:10]
    cause = exc.__cause__ or exc
    note = f"{signature}\n{exc}\n\n" + "".join(traceback.format_exception(cause))
    stats.findings[signature] = Finding(signature, 1, stats.save(name, data, note), str(exc)[:200], note)


def measure_memory(tgt: Target, data: bytes, stats: Stats, timeout: float) -> None:
    """The traced allocation peak of one input (run again under tracemalloc, not timed)."""
    gc.collect()
    tracemalloc.start()
    signal.setitimer(signal.ITIMER_REAL, timeout * 4)
    try:
        tgt.exercise(data)
    except (Unexpected, InputTimeout, MemoryError, RecursionError):
        pass  # recorded by the timed run
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if peak > stats.peak[0]:
        stats.peak = (peak, len(data))
    if len(data) >= PER_100KB and peak / len(data) > stats.peak_ratio[0]:
        stats.peak_ratio = (peak / len(data), len(data))


def inputs_random(tgt: Target, seeds: list[bytes], seed: int):
    rnd = random.Random(seed)
    while True:
        yield mutate(seeds, rnd, tgt.alphabet, LARGE)


def inputs_hypothesis(tgt: Target, seeds: list[bytes], seed: int, sink) -> None:
    """Feed ``sink`` with hypothesis-driven inputs until it raises ``StopIteration``-like
    ``_Done`` (time is up). Shrinking is off: findings are recorded, never raised."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed
    from hypothesis import strategies as st

    round_ = 0
    while True:
        @settings(max_examples=1_000, database=None, deadline=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @hseed(seed + round_)
        @given(st.randoms(use_true_random=False))
        def one(rnd) -> None:
            sink(mutate(seeds, rnd, tgt.alphabet, LARGE))

        try:
            one()
        except _Done:
            return
        round_ += 1


class _Done(Exception):
    """Time is up (raised through hypothesis, which lets it propagate)."""


JUNK_KINDS: dict[str, bytes] = {
    "blanks": b" ",
    "line breaks": b"\r\n",
    "blanks, tabs, NULs, Ctrl-Z": b" \t\x00\x1a",
    "stray bytes": JUNK_BYTES,
    "element separators": b"*+",
    "component separators": b":>",
    "segment terminators": b"~'",
    "release characters": b"?",
    "delimiters mixed": b"*+:>~'?^",
    "invalid segments": b"ab*1~ab+1'",
    "unknown segments": b"ZZZ*1~ZZZ+1'",
    "long digits": b"9",
}


def junk_table(tgt: Target, seeds: list[bytes], megabytes: float) -> list[tuple[str, float, float]]:
    """(kind, translate MB/s, acknowledge MB/s) for ``megabytes`` of each junk kind inside the
    first seed, cut after a segment terminator in its middle."""
    base = seeds[0]
    cut = base.find(tgt.alphabet.terminator, len(base) // 2) + 1
    size = int(megabytes * 1_000_000)
    rows = []
    for kind, unit in JUNK_KINDS.items():
        rnd = random.Random(kind)
        junk = bytes(rnd.choice(unit) for _ in range(size)) if len(unit) > 4 and kind != "invalid segments" \
            else (unit * (size // len(unit) + 1))[:size]
        data = base[:cut] + junk + base[cut:]
        speeds = []
        for fn in (tgt.translate, tgt.acknowledge):
            gc.collect()
            started = time.process_time()
            with suppress(Exception):  # speed only here: the fuzz loop reports failures
                fn(data)
            speeds.append(len(data) / (time.process_time() - started) / 1e6)
        rows.append((kind, *speeds))
    return rows


def main(name: str, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=f"Fuzz the {name} engine with mutated real files (see "
                                                 "benchmarks/fuzzkit/run.py).")
    parser.add_argument("--seconds", type=float, default=60, help="how long to fuzz (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--engine", choices=("hypothesis", "random"), default="hypothesis")
    parser.add_argument("--out", type=Path, default=Path(f".fuzz/{name}"), help="folder for reproducers")
    parser.add_argument("--timeout", type=float, default=30, help="seconds one input may take before it is a finding")
    parser.add_argument("--memory-every", type=int, default=25, help="trace the allocations of every Nth input")
    parser.add_argument("--memory-limit-mb", type=int, default=3_000, help="address-space cap of the process")
    parser.add_argument("--junk-mb", type=float, default=1.0, help="size of each junk run in the table (0: none)")
    args = parser.parse_args(argv)

    limit = args.memory_limit_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _on_alarm)
    sys.setrecursionlimit(10_000)
    tgt = target(name)
    seeds = tgt.seeds()
    stats = Stats(args.out, tgt.suffix)
    print(f"{name}: {len(seeds)} seed files, engine {args.engine}, seed {args.seed}, {args.seconds:.0f} s; "
          f"reproducers in {args.out}/", flush=True)

    started = time.monotonic()
    deadline = started + args.seconds

    def sink(data: bytes) -> None:
        if time.monotonic() >= deadline:
            raise _Done()
        run_one(tgt, data, stats, args.timeout)
        if args.memory_every and stats.tried % args.memory_every == 0:
            measure_memory(tgt, data, stats, args.timeout)

    if args.engine == "hypothesis":
        inputs_hypothesis(tgt, seeds, args.seed, sink)
    else:
        try:
            for data in inputs_random(tgt, seeds, args.seed):
                sink(data)
        except _Done:
            pass
    elapsed = time.monotonic() - started
    report(name, stats, elapsed)
    if args.junk_mb:
        print(f"\njunk speed ({args.junk_mb:g} MB of each kind inside a real file, per CPU second; goal ≥ 1 MB/s):")
        print(f"  {'junk':28} {'translate':>12} {'acknowledge':>12}")
        for kind, translate_speed, ack_speed in junk_table(tgt, seeds, args.junk_mb):
            print(f"  {kind:28} {translate_speed:9.2f} MB/s {ack_speed:9.2f} MB/s")
    return 1 if stats.findings else 0


def report(name: str, stats: Stats, elapsed: float) -> None:
    outcomes = ", ".join(f"{n:,} {k}" for k, n in sorted(stats.outcomes.items()))
    print(f"\n{name}: {stats.tried:,} inputs in {elapsed:.0f} s ({stats.tried / elapsed:,.0f} inputs/s, "
          f"{stats.bytes_in / elapsed / 1e6:.2f} MB/s); outcomes: {outcomes}")
    print(f"unexpected exceptions: {sum(f.count for f in stats.findings.values())} "
          f"({len(stats.findings)} distinct)")
    for found in stats.findings.values():
        print(f"  {found.count:6,} × {found.signature}: {found.message}\n           reproducer {found.reproducer}")
    cost, size, seconds, step = stats.slowest
    print(f"slowest input per 100 KB: {cost:.3f} CPU s ({step}: {seconds:.3f} s for {size:,} bytes); "
          f"inputs over {GOAL_SECONDS_PER_100KB:g} s per 100 KB: {stats.over_goal}")
    peak, peak_size = stats.peak
    ratio, ratio_size = stats.peak_ratio
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jump, jump_size = stats.rss_jump
    print(f"peak memory: {peak / 1e6:.1f} MB traced for a {peak_size:,}-byte input; largest ratio "
          f"{ratio:.0f}× the input among inputs of 100 KB or more ({ratio_size:,} bytes); process peak RSS {rss:.0f} MB, raised at most by "
          f"{jump / 1024:.0f} MB by one input ({jump_size:,} bytes)")
