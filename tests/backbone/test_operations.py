"""Operations from the CLI, on the embedded default with a real worker: find messages by status,
route, partner, time, file name and business key; read what came in, what the hub made of it and
what it sent; list dead letters as JSON; discard and replay them one by one or by filter; and
resubmit a corrected file as a new version of a message."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.backbone.conftest import HubEnv, wait_for
from tests.conftest import ROOT

EXAMPLE = (ROOT / "examples/cycle-counts/counts-2026-11-20.csv").read_bytes()
BAD = (ROOT / "examples/cycle-counts/bad-counts.csv").read_bytes()


def _json(env: HubEnv, *args: str):
    return json.loads(env.hub_cli(*args, "--json").stdout)


def test_find_and_read_messages(embedded_hub: HubEnv) -> None:
    env = embedded_hub
    env.start_worker()
    before = datetime.now(UTC) - timedelta(seconds=1)
    good = env.push(EXAMPLE, filename="counts-2026-11-20.csv")
    bad = env.push(BAD, filename="bad-counts.csv")
    spoof = env.push(EXAMPLE, filename="x\r\nFORGED LINE\u202ecsv.exe")
    env.wait_status(good, "delivered", 60)
    env.wait_status(bad, "dead_lettered", 60)
    env.wait_status(spoof, "delivered", 60)

    table = env.hub_cli("messages").stdout.splitlines()
    assert table[0].split()[:3] == ["MESSAGE", "RECEIVED", "(UTC)"]
    assert [ln.split()[0] for ln in table[1:4]] == [spoof, bad, good]  # newest first
    assert "\\r\\nFORGED LINE\\u202ecsv.exe" in table[1] and not any(ln.startswith("FORGED") for ln in table)

    listed = _json(env, "messages", "--status", "delivered")
    assert {m["message_id"] for m in listed} == {good, spoof}
    first = next(m for m in listed if m["message_id"] == good)
    assert first["route"] == "cycle-counts" and first["partner"] == "legacy-stock"
    assert first["filename"] == "counts-2026-11-20.csv" and first["documents"]["emitted"] == 3
    assert first["deliveries"] == {"total": 6, "delivered": 6}
    assert {m["message_id"] for m in _json(env, "messages", "--file", "*counts*.csv")} == {good, bad}
    key = next(d.document_key for d in env.deliveries(good) if d.endpoint == "erp-inventory")
    assert good in {m["message_id"] for m in _json(env, "messages", "--key", key)}
    assert bad not in {m["message_id"] for m in _json(env, "messages", "--key", key)}
    assert _json(env, "messages", "--partner", "nobody") == []
    assert len(_json(env, "messages", "--since", before.isoformat(), "--limit", "2")) == 2
    assert _json(env, "messages", "--until", before.isoformat()) == []
    assert {m["message_id"] for m in _json(env, "messages", "--route", "cycle-counts")} == {good, bad, spoof}
    refused = env.hub_cli("messages", "--status", "nonsense", check=False)
    assert refused.returncode == 1 and "unknown status 'nonsense'" in refused.stderr

    raw = env.hub_cli_bytes("messages", "show", good, "--raw")
    assert raw == EXAMPLE  # byte for byte
    documents = json.loads(env.hub_cli("messages", "show", good, "--canonical").stdout)
    assert [d["document"]["item_ids"][0]["value"] for d in documents] == ["ST-10022", "ST-10023", "IMP-55001"]
    assert {d["status"] for d in documents} == {"emitted"}
    sent = env.hub_cli_bytes("messages", "show", good, "--sent", "erp-inventory")
    erp = [d for d in env.deliveries(good) if d.endpoint == "erp-inventory"]
    assert sent == b"\n".join(d.payload for d in erp)
    assert set(env.stub.applied.values()) >= {d.payload for d in erp}  # what the ERP got, exactly
    missing = env.hub_cli("messages", "show", good, "--sent", "nowhere", check=False)
    assert missing.returncode == 1 and "has no delivery to 'nowhere'" in missing.stderr

    # A corrected version of a delivered message would reach the ERP again under new keys.
    fixed = env.root / "again.csv"
    fixed.write_bytes(EXAMPLE)
    refused_edit = env.hub_cli("replay", good, "--edited", str(fixed), "-r", "x", check=False)
    assert refused_edit.returncode == 1 and "already delivered document(s) to erp-inventory (3)" in refused_edit.stderr


def test_dead_letters_listed_discarded_and_replayed_by_filter(embedded_hub: HubEnv) -> None:
    env = embedded_hub
    env.start_worker()
    bad = [env.push(BAD, filename=f"bad-{i}.csv") for i in range(3)]
    for message_id in bad:
        env.wait_status(message_id, "dead_lettered", 60)
    letters = _json(env, "dlq", "list")
    assert {dl["message_id"] for dl in letters} == set(bad)
    assert set(letters[0]) >= {"id", "queue", "route", "endpoint", "reason", "message_id", "parked_at"}
    assert {dl["reason"] for dl in letters} == {"bad_csv"}

    one = next(dl for dl in letters if dl["message_id"] == bad[0])
    env.hub_cli("dlq", "discard", one["id"], "--reason", "the sender re-sent it corrected")
    env.wait_status(bad[0], "discarded")
    assert env.hub.store.raw(env.message(bad[0])) == BAD  # the raw message stays
    closed = next(dl for dl in _json(env, "dlq", "list", "--all") if dl["id"] == one["id"])
    assert (closed["state"], closed["closed_by"], closed["closed_reason"]) == (
        "discarded", "test-operator", "the sender re-sent it corrected")
    again = env.hub_cli("dlq", "discard", one["id"], "--reason", "twice", check=False)
    assert again.returncode == 1 and "not parked any more" in again.stderr

    bulk = env.hub_cli("dlq", "discard", "--reason-code", "bad_csv", "--queue", "cycle-counts", "--reason", "old")
    assert "discarded 2 dead letter(s)" in bulk.stdout
    assert _json(env, "dlq", "list") == []
    for message_id in bad:
        assert "discarded" in [s.stage for s in env.stages(message_id)]


def test_a_corrected_file_is_resubmitted_as_a_new_version(embedded_hub: HubEnv) -> None:
    env = embedded_hub
    env.start_worker()
    original = env.push(BAD, filename="bad-counts.csv")
    (dl,) = wait_for(lambda: env.dead_letters(original), 60, what="the dead letter")
    fixed = env.root / "fixed.csv"
    fixed.write_bytes(BAD.replace(b"2027-09-31", b"2027-09-30").replace(b"fourteen", b"14"))
    out = env.hub_cli("replay", dl.id, "--edited", str(fixed), "--reason", "dates and quantities fixed").stdout
    new_id = out.split()[1]
    assert f"is version 2 of {original}" in out and dl.id in out
    env.wait_status(new_id, "delivered", 60)
    assert env.hub.store.raw(env.message(original)) == BAD  # the original is kept as received
    assert env.message(original).status == "discarded"
    assert env.message(new_id).headers["hub_edited_from"] == original
    assert new_id in env.hub_cli("trace", original).stdout
    assert f"edited version of message {original}" in env.hub_cli("trace", new_id).stdout
