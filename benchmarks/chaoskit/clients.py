"""The documents a scenario sends, and the two ways in: the file drop and the HTTP API.

Document ``i`` of ``n`` has a unique reference ``D00042`` (``-POISON`` appended for a poison
document), a business key ``K0012`` (``adjustment_id``) shared by ``versions`` documents, and
its version as ``qty``. Versions of one key are spread evenly over the sending window (all v1,
then all v2 …), always through the same channel, so "v2 arrived before v1" is a real
reordering by the hub, not by the senders.

API clients behave as a careful partner: each document gets one ``Idempotency-Key`` (a UUID)
for all its attempts; connection errors, timeouts and 5xx are retried with backoff until the
document is accepted (202) or ``give_up`` seconds have passed.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.chaoskit.hubproc import DOCTYPE


@dataclass
class Doc:
    ref: str
    bkey: str
    version: int
    channel: str  # api | filedrop
    poison: bool = False
    idem_key: str = field(default_factory=lambda: str(uuid.uuid4()))
    sent_at: float | None = None  # first attempt
    accepted_at: float | None = None  # 202, or the file in the drop folder
    attempts: int = 0
    statuses: list[str] = field(default_factory=list)  # one per attempt: 202, 500, conn, timeout …
    message_ids: list[str] = field(default_factory=list)  # from every 202

    def body(self) -> bytes:
        return json.dumps({
            "document_type": "inventory_adjustment", "adjustment_id": self.bkey, "type": "CYCLE_COUNT",
            "item_ids": [{"scheme": "GTIN", "value": "00614141000012"}], "qty": str(self.version), "uom": "EA",
            "location_id": "CHAOS-A01", "reason_code": "CYCLE_COUNT", "reference": self.ref,
            "occurred_at": "2026-11-20T10:00:00+00:00",
        }, indent=1).encode()


def make_docs(n: int, channels: str, poison: int = 0, versions: int = 3, seed: int = 7) -> list[Doc]:
    """``channels``: api, filedrop, or mixed (by business key: a key's versions share a channel)."""
    keys = max(1, n // versions)
    rng = random.Random(seed)
    poisoned = set(rng.sample(range(n), poison)) if poison else set()
    docs = []
    for i in range(n):
        k = i % keys
        channel = channels if channels != "mixed" else ("api" if k % 2 == 0 else "filedrop")
        ref = f"D{i:05d}" + ("-POISON" if i in poisoned else "")
        docs.append(Doc(ref, f"K{k:04d}", i // keys + 1, channel, poison=i in poisoned))
    return docs


class Sender:
    """Sends the documents at an even pace over ``seconds``; API posts run on a thread pool so
    a document whose client is retrying does not hold up the next ones."""

    def __init__(self, docs: list[Doc], inbox: Path, api_url: str, api_key: str, *, seconds: float,
                 give_up: float = 240.0, threads: int = 8) -> None:
        self.docs, self.inbox, self.api_url, self.api_key = docs, inbox, api_url, api_key
        self.seconds, self.give_up = seconds, give_up
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="api-client")
        self.started = self.finished = 0.0
        # Beside the inbox, not in it (the file drop watches every folder under the inbox), on
        # the same file system so the rename into the drop folder is atomic.
        self.tmp = inbox.parent.parent / "chaos-staging"
        self.tmp.mkdir(exist_ok=True)

    def run(self) -> None:
        self.started = time.time()
        gap = self.seconds / max(1, len(self.docs))
        futures = []
        for i, doc in enumerate(self.docs):
            pause = self.started + i * gap - time.time()
            if pause > 0:
                time.sleep(pause)
            if doc.channel == "filedrop":
                self._drop(doc)
            else:
                futures.append(self.pool.submit(self._post, doc))
        for f in futures:
            f.result()
        self.pool.shutdown()
        self.finished = time.time()

    def _drop(self, doc: Doc) -> None:
        # Written elsewhere, then renamed in: the file drop only ever sees complete files.
        staged = self.tmp / f"{doc.ref}.json"
        staged.write_bytes(doc.body())
        doc.sent_at = time.time()
        staged.rename(self.inbox / f"{doc.ref}.json")
        doc.accepted_at = time.time()
        doc.attempts = 1
        doc.statuses.append("dropped")

    def _post(self, doc: Doc) -> None:
        body = doc.body()
        headers = {"X-API-Key": self.api_key, "Content-Type": "application/json", "Idempotency-Key": doc.idem_key}
        doc.sent_at = time.time()
        delay = 0.5
        with httpx.Client(timeout=httpx.Timeout(15.0, connect=3.0)) as client:
            while True:
                doc.attempts += 1
                try:
                    resp = client.post(f"{self.api_url}/api/v1/messages", params={"format": "json", "doctype": DOCTYPE},
                                       content=body, headers=headers)
                    doc.statuses.append(str(resp.status_code))
                    if resp.status_code == 202:
                        doc.message_ids.append(resp.json().get("message_id", "?"))
                        doc.accepted_at = doc.accepted_at or time.time()
                        return
                    if resp.status_code < 500:
                        return  # a refusal the client cannot fix by retrying (4xx)
                except httpx.TimeoutException:
                    doc.statuses.append("timeout")
                except httpx.TransportError:
                    doc.statuses.append("conn")
                if time.time() - doc.sent_at > self.give_up:
                    return
                time.sleep(delay * (0.8 + 0.4 * random.random()))
                delay = min(delay * 2, 5.0)
