"""Batches for endpoints that accept many documents per call (``batch:`` on an endpoint).

Why: an ERP import API that takes a JSON array, or a partner who wants one file of the day's
invoices, is called once for fifty documents instead of fifty times; the hub still keeps
every document's own delivery, idempotency key and outcome.

The body of a batch is built from the documents' rendered payloads as they are — never parsed
and serialised again:
- ``json``: a JSON array. ``items: documents`` holds the documents themselves, their
  idempotency keys in the ``X-Hub-Idempotency-Keys`` header (comma-separated, array order);
  ``items: keyed`` wraps each as ``{"idempotency_key", "delivery_id", "message_id",
  "document_type", "document"}``.
- ``raw``: the payloads joined by ``separator`` (a file of X12 interchanges, CSV lines).

What an answer means for each document (``outcomes``): an endpoint may name each document's
result in a JSON body ``{"results": [{"idempotency_key": K, "status": 201}, …]}`` (a bare list
is taken too; ``error`` or ``message`` in an item is kept as that document's answer). A
document it names gets the outcome of its own status, classified as a single call's status
would be; a document it does not name gets the outcome of the whole answer — so a 2xx without
results delivers every document, a 503 makes every document wait, a 500 spends a retry of
each, and a 4xx rejects each.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hub.delivery.sending import MAX_RESPONSE, DeliveryResult, Payload
from hub.ids import stable_id
from hub.routes.model import BatchPolicy

KEYS_HEADER = "X-Hub-Idempotency-Keys"


def batch_id(payloads: list[Payload]) -> str:
    """Stable for the same documents in the same order: a batch sent again after a failure (or a
    crash before its outcome was recorded) carries the same key and, for a file, the same name."""
    return stable_id("batch", *(p.delivery_id for p in payloads))


def body(policy: BatchPolicy, payload_format: str, payloads: list[Payload]) -> bytes:
    """The request body or file content of a batch (see the module docstring)."""
    if payload_format == "raw":
        return policy.separator.encode("utf-8").join(p.body for p in payloads)
    if policy.items == "documents":
        return b"[" + b",".join(p.body for p in payloads) + b"]"
    return b"[" + b",".join(_keyed(p) for p in payloads) + b"]"


def _keyed(p: Payload) -> bytes:
    head = json.dumps({"idempotency_key": p.idempotency_key, "delivery_id": p.delivery_id,
                       "message_id": p.message_id, "document_type": p.document_type})
    return head[:-1].encode() + b', "document": ' + p.body + b"}"


def common_type(payloads: list[Payload]) -> str | None:
    """The batch's document type when every document has the same one."""
    types = {p.document_type for p in payloads}
    return types.pop() if len(types) == 1 else None


def outcomes(whole: DeliveryResult, text: str | None, payloads: list[Payload],
             classify: Callable[[int, str], DeliveryResult]) -> list[DeliveryResult]:
    """Each document's result from the answer to its batch (see the module docstring);
    ``classify(status, text)`` is the connector's reading of one status."""
    named = _results(text) if whole.status_code is not None else {}
    out = []
    for p in payloads:
        own = named.get(p.idempotency_key)
        if own is None:
            result = DeliveryResult(whole.outcome, whole.status_code, whole.response, whole.error, whole.retry_after,
                                    whole.called)
        else:
            status, answer = own
            result = classify(status, answer)
        result.batch = len(payloads)
        out.append(result)
    return out


def _results(text: str | None) -> dict[str, tuple[int, str]]:
    """idempotency key → (status, answer) for each document the answer names; {} when it names none."""
    try:
        data: Any = json.loads(text or "")
    except ValueError:
        return {}
    items = data.get("results") if isinstance(data, dict) else data
    if not isinstance(items, list):
        return {}
    named: dict[str, tuple[int, str]] = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        key, status = item.get("idempotency_key"), item.get("status")
        if isinstance(key, str) and isinstance(status, int) and not isinstance(status, bool) and 100 <= status < 600:
            answer = item.get("error") or item.get("message") or json.dumps(item)
            named[key] = (status, str(answer)[:MAX_RESPONSE])
    return named
