"""Endpoints that accept batches (``batch:``), end to end through RabbitMQ, PostgreSQL and a real
worker: an HTTP endpoint on 127.0.0.1 gets JSON arrays with every document's idempotency key,
a failed batch spends a retry of each of its documents and is sent again, a document the
endpoint refuses inside a batch is dead-lettered alone while its batch-mates are delivered; a
file endpoint gets files of many keyed documents, each document in exactly one file."""

from __future__ import annotations

import json

import pytest

from tests.backbone.conftest import HubEnv, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]


def _notes(batch: int, poison: int | None = None) -> bytes:
    return json.dumps([{"document_type": "batch_note", "note": f"{batch}-{i}" + ("-POISON" if i == poison else "")}
                       for i in range(3)]).encode()


def test_batch_endpoints_receive_arrays_and_files_with_each_documents_outcome_recorded(amqp_hub: HubEnv) -> None:
    env = amqp_hub
    env.stub.answer(500)  # the first batch request fails as a whole: each of its documents spends a retry
    env.stub.refuse[b"POISON"] = 422  # one document refused inside its batch, the others taken
    env.start_worker()
    ids = [env.push(_notes(b, poison=1 if b == 2 else None), fmt="json", doctype="batch_note", sender="lab",
                    filename=f"notes-{b}.json") for b in range(3)]
    try:
        wait_for(lambda: all(env.message(m).status in ("delivered", "partially_delivered") for m in ids), 60,
                 what="every message settled")
    except AssertionError as exc:
        states = [(env.message(m).status, [(d.endpoint, d.status, d.attempts) for d in env.deliveries(m)]) for m in ids]
        raise AssertionError(f"{exc}\n{states}\n{env.logs()}") from None

    http = {d.id: d for m in ids for d in env.deliveries(m) if d.endpoint == "erp-batch"}
    assert len(http) == 9
    poison = next(d for d in http.values() if b"POISON" in d.payload)
    assert poison.status == "dead_lettered"
    (letter,) = env.dead_letters(poison.message_id)
    assert letter.reason == "rejected_by_endpoint" and "HTTP 422" in letter.error
    assert all(d.status == "delivered" for d in http.values() if d.id != poison.id)
    # Each delivered document applied once under its own key, with its own body.
    assert set(env.stub.applied) == {d.idempotency_key for d in http.values() if d.id != poison.id}
    for d in http.values():
        if d.id != poison.id:
            assert json.loads(env.stub.applied[d.idempotency_key]) == json.loads(d.payload)

    calls = [r for r in env.stub.requests if r.path.endswith("/batch")]
    for r in calls:
        body, keys = json.loads(r.body), r.headers["X-Hub-Idempotency-Keys"].split(",")
        assert isinstance(body, list) and len(body) == len(keys) == int(r.headers["X-Hub-Batch-Size"]) <= 4
        assert [json.loads(http[_by_key(http, k)].payload) for k in keys] == body  # keys in array order
    assert calls[0].status == 500 and max(len(json.loads(r.body)) for r in calls) >= 3  # a message's 3 go together
    assert len(calls) < sum(len(env.attempts(d)) for d in http)  # fewer calls than documents sent

    # The failed batch: every document in it recorded the 500 as its own failed attempt, then was delivered.
    first_keys = calls[0].headers["X-Hub-Idempotency-Keys"].split(",")
    for key in first_keys:
        d = http[_by_key(http, key)]
        outcomes = [(a.outcome, a.status_code) for a in env.attempts(d.id)]
        assert outcomes[0] == ("retry", 500), outcomes
        assert outcomes[-1] in (("delivered", 200), ("reject", 422))
        failed = next(s for s in env.stages(d.message_id) if s.stage == "failed" and s.delivery_id == d.id)
        assert failed.detail["batch"] == len(first_keys)
    assert [a.outcome for a in env.attempts(poison.id)][-1] == "reject"
    assert env.message(poison.message_id).status == "partially_delivered"
    assert all(env.message(m).status == "delivered" for m in ids if m != poison.message_id)

    # The folder: files of keyed documents; each of the nine documents in exactly one of them.
    folder = {d.idempotency_key: d for m in ids for d in env.deliveries(m) if d.endpoint == "batch-folder"}
    assert len(folder) == 9 and all(d.status == "delivered" for d in folder.values())
    files = sorted((env.warehouse / "batches").glob("notes-*.json"))
    items = [item for f in files for item in json.loads(f.read_bytes())]
    assert sorted(i["idempotency_key"] for i in items) == sorted(folder)
    assert len(files) < 9 and not list((env.warehouse / "batches").glob(".*"))
    for item in items:
        assert item["document"] == json.loads(folder[item["idempotency_key"]].payload)
        assert item["delivery_id"] == folder[item["idempotency_key"]].id
    for f in files:
        assert f.name.startswith(f"notes-{len(json.loads(f.read_bytes()))}-")
        answer = env.attempts(folder[json.loads(f.read_bytes())[0]["idempotency_key"]].id)[-1].response
        assert f.name in answer


def _by_key(deliveries: dict, key: str) -> str:
    return next(d.id for d in deliveries.values() if d.idempotency_key == key)
