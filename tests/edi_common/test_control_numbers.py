"""Control-number allocation on the real PostgreSQL (and SQLite): atomic, gap-free, wrapping."""

from __future__ import annotations

import secrets
import threading

import pytest

from edi.common.control_numbers import INTERCHANGE, ControlNumbers, CounterKey
from hub.db import Database


def _key(kind: str = INTERCHANGE) -> CounterKey:
    return CounterKey("X12", kind, f"ZZ:HOSP{secrets.token_hex(3)}", "ZZ:SUPPLIER")


@pytest.mark.postgres
def test_eight_concurrent_allocators_get_1000_distinct_numbers_without_gaps(pg_schema_url: str, pg_db: Database) -> None:
    key = _key()
    results: list[list[int]] = [[] for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def work(slot: int) -> None:
        # Each thread has its own Database, hence its own engine and connections.
        db = Database(pg_schema_url)
        allocator = ControlNumbers(db)
        try:
            start.wait()
            # Mix ranges and single numbers: 10 x 9 + 35 x 1 = 125 numbers per thread.
            for i in range(45):
                results[slot].extend(allocator.allocate(key, 9 if i % 4 == 0 and i < 40 else 1))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = [n for chunk in results for n in chunk]
    assert len(numbers) == 1000
    assert sorted(numbers) == list(range(1, 1001))
    assert ControlNumbers(pg_db).peek(key) == 1001


@pytest.mark.postgres
def test_ranges_are_contiguous_and_counters_are_separate(pg_db: Database) -> None:
    allocator = ControlNumbers(pg_db)
    key = _key()
    assert allocator.allocate(key, 3) == [1, 2, 3]
    assert allocator.allocate(_key("group")) == [1]
    assert allocator.next(key) == 4


def test_wraps_after_the_maximum(sqlite_db: Database) -> None:
    allocator = ControlNumbers(sqlite_db)
    key = _key()
    allocator.set_next(key, 999_999_998)
    assert allocator.allocate(key, 4) == [999_999_998, 999_999_999, 1, 2]
    assert allocator.next(key) == 3


def test_small_maximum_wraps_and_rejects_oversized_requests(sqlite_db: Database) -> None:
    allocator = ControlNumbers(sqlite_db, maximum=5)
    key = _key()
    assert allocator.allocate(key, 5) == [1, 2, 3, 4, 5]
    assert allocator.allocate(key, 2) == [1, 2]
    with pytest.raises(ValueError):
        allocator.allocate(key, 6)
