"""Is the hub working: database, broker, workers, the outbox — checked in parallel with short
timeouts and remembered for a few seconds.

Why cached and bounded: the overview refreshes itself every few seconds in every open browser;
without a cache each refresh would open a broker connection and ping the workers, and a broker
that hangs would hang the page. Each check gets at most ``TIMEOUT`` seconds, after which it is
reported as not answering.

Workers: on RabbitMQ a Celery ping names every worker that consumes (as ``hub health
--worker`` does); the embedded broker has no remote control, so there the console can only
say that it runs inside ``hub run`` next to its worker, or that it cannot tell.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from sqlalchemy import func, select, text

TIMEOUT = 3.0
CACHE_SECONDS = 10.0
_cache: dict[int, tuple[float, dict[str, Any]]] = {}
_lock = threading.Lock()
_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="console-health")


def _database(hub) -> dict[str, Any]:
    from hub.store import OutboxEntry

    started = time.perf_counter()
    with hub.db.read() as session:
        session.execute(text("SELECT 1"))
        pending = session.scalar(select(func.count()).select_from(OutboxEntry).where(OutboxEntry.published_at.is_(None)))
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1), "outbox_pending": pending}


def _broker(hub) -> dict[str, Any]:
    started = time.perf_counter()
    with hub.connection() as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT)
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1),
            "kind": "RabbitMQ" if hub.settings.is_amqp else "embedded (hubdb)"}


def _workers(hub, in_process_worker: bool) -> dict[str, Any]:
    if not hub.settings.is_amqp:
        if in_process_worker:
            return {"status": "ok", "detail": "runs in this process (hub run)", "names": []}
        return {"status": "unknown", "detail": "the embedded broker has no remote control; run `hub health --worker` "
                                               "on the worker's host", "names": []}
    prefix = f"{hub.settings.namespace}-"
    replies = hub.celery.control.ping(timeout=1.0)
    names = sorted(name for reply in replies for name in reply if name.startswith(prefix))
    return {"status": "ok" if names else "down", "detail": f"{len(names)} answered a ping", "names": names}


def check(hub, in_process_worker: bool = False) -> dict[str, Any]:
    """{"database": {...}, "broker": {...}, "workers": {...}}; each with a ``status`` of ok, down
    or unknown, and ``error`` when it failed."""
    key = id(hub)
    with _lock:
        cached = _cache.get(key)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
    jobs = {"database": _pool.submit(_database, hub), "broker": _pool.submit(_broker, hub),
            "workers": _pool.submit(_workers, hub, in_process_worker)}
    out: dict[str, Any] = {}
    deadline = time.monotonic() + TIMEOUT + 1
    for name, job in jobs.items():
        try:
            out[name] = job.result(timeout=max(0.1, deadline - time.monotonic()))
        except FutureTimeout:
            out[name] = {"status": "down", "error": f"no answer within {TIMEOUT:g}s"}
        except Exception as exc:  # noqa: BLE001 - whatever failed, the page reports it
            out[name] = {"status": "down", "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    with _lock:
        _cache[key] = (time.monotonic(), out)
    return out
