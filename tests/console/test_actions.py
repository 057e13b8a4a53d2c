"""Every action from the console's pages, the operations API and the CLI does its work through
hub.deadletters / hub.review / hub.operations.edits and leaves one audit row with who, how,
what and why; refusals are recorded too and answer with their documented status."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import select

from hub.store import DeadLetter, Message
from tests.conftest import ROOT
from tests.console.conftest import csrf_of, open_exception, park, push

BAD = b"Facility,Location,Item,Counted Qty\nH1,A03,ST-1,four\n"
GOOD = b"Facility,Location,Item,Counted Qty\nH1,A03,ST-1,4\n"


def audit(client: TestClient, **params) -> list[dict]:
    return client.get("/api/v1/ops/audit", params=params).json()["entries"]


def letter_state(hub, letter_id: str) -> str:
    with hub.db.read() as session:
        return session.get(DeadLetter, letter_id).state


def test_replay_from_the_message_page_is_done_and_audited(clients, console_hub) -> None:
    message_id = push(console_hub, BAD)
    letter = park(console_hub, message_id)
    otto = clients["otto"]
    resp = otto.post(f"/messages/{message_id}/replay", data={"csrf": csrf_of(otto), "reason": "fixed the export"})
    assert resp.status_code == 303 and resp.headers["location"] == f"/messages/{message_id}"
    assert "replayed 1 dead letter(s)" in otto.get(resp.headers["location"]).text
    assert letter_state(console_hub, letter) == "replayed"
    (row,) = audit(otto, target=letter)
    assert (row["operator"], row["role"], row["via"], row["action"], row["outcome"], row["reason"]) == (
        "otto", "operator", "console", "replay_dead_letters", "done", "fixed the export")
    again = otto.post(f"/messages/{message_id}/replay", data={"csrf": csrf_of(otto), "reason": "twice"})
    assert "no parked dead letters" in otto.get(again.headers["location"]).text


def test_a_reason_is_required(clients, console_hub) -> None:
    message_id = push(console_hub, BAD)
    letter = park(console_hub, message_id)
    otto = clients["otto"]
    resp = otto.post(f"/messages/{message_id}/discard", data={"csrf": csrf_of(otto), "reason": "  "})
    assert "give a reason" in otto.get(resp.headers["location"]).text
    api = otto.post("/api/v1/ops/dead-letters/discard", json={"ids": [letter], "reason": " "},
                    headers={"X-CSRF-Token": csrf_of(otto)})
    assert api.status_code == 400 and "reason" in api.json()["error"]
    assert letter_state(console_hub, letter) == "parked"


def test_api_statuses_for_unknown_closed_and_changed(clients, console_hub) -> None:
    otto = clients["otto"]
    headers = {"X-CSRF-Token": csrf_of(otto)}
    unknown = otto.post("/api/v1/ops/dead-letters/replay", json={"ids": ["no-such"], "reason": "r"}, headers=headers)
    assert unknown.status_code == 404
    message_id = push(console_hub, BAD, filename="conflict.csv")
    letter = park(console_hub, message_id)
    assert otto.post("/api/v1/ops/dead-letters/discard", json={"ids": [letter], "reason": "r"},
                     headers=headers).status_code == 200
    closed = otto.post("/api/v1/ops/dead-letters/replay", json={"ids": [letter], "reason": "r"}, headers=headers)
    assert closed.status_code == 409 and "not parked" in closed.json()["error"]
    changed = otto.post("/api/v1/ops/dead-letters/bulk-replay", headers=headers, json={
        "filter": {"queue": "cycle-counts", "reason_code": "no_such_reason"}, "expected_count": 3, "reason": "r"})
    assert changed.status_code == 409 and "0 dead letter(s) match now" in changed.json()["error"]
    refused = [r for r in audit(otto, operator="otto") if r["outcome"] == "refused"]
    assert {r["action"] for r in refused} >= {"replay_dead_letters"}


def test_bulk_replay_confirms_the_count_and_acts_on_exactly_the_filter(clients, console_hub) -> None:
    otto = clients["otto"]
    ids = [park(console_hub, push(console_hub, BAD, filename=f"bulk-{n}.csv"), reason="bulk_test") for n in range(3)]
    other = park(console_hub, push(console_hub, BAD), reason="other_reason")
    confirm = otto.get("/dead-letters/confirm", params={"action": "replay", "reason_code": "bulk_test"})
    assert confirm.status_code == 200 and "<strong>3</strong> dead letter(s) match now" in confirm.text
    form = {"csrf": csrf_of(otto), "action": "replay", "expected": "2", "reason_code": "bulk_test",
            "reason": "ERP back"}
    stale = otto.post("/dead-letters/bulk", data=form)  # confirmed 2, but 3 match: asked again, nothing done
    assert "/dead-letters/confirm" in stale.headers["location"] and "changed=2" in stale.headers["location"]
    assert {letter_state(console_hub, i) for i in ids} == {"parked"}
    done = otto.post("/dead-letters/bulk", data={**form, "expected": "3"})
    assert "replayed 3 dead letter(s)" in otto.get(done.headers["location"]).text
    assert {letter_state(console_hub, i) for i in ids} == {"replayed"} and letter_state(console_hub, other) == "parked"
    (row,) = audit(otto, action="bulk_replay_dead_letters", target=ids[0])
    assert row["target_count"] == 3 and row["detail"]["filter"]["reason_code"] == "bulk_test"


def test_edit_and_resubmit_makes_a_new_version(clients, console_hub) -> None:
    otto = clients["otto"]
    original = push(console_hub, BAD, filename="edit-me.csv")
    letter = park(console_hub, original)
    resp = otto.post(f"/messages/{original}/resubmit", data={
        "csrf": csrf_of(otto), "payload": GOOD.decode().replace("\n", "\r\n"), "reason": "quantity typed as a word"})
    new_id = resp.headers["location"].rsplit("/", 1)[1]
    assert new_id != original and "stored version 2" in otto.get(resp.headers["location"]).text
    with console_hub.db.read() as session:
        new = session.get(Message, new_id)
        assert console_hub.store.raw(new) == GOOD  # the browser's CRLF undone: the original had LF
        assert new.headers["hub_edited_from"] == original and new.headers["hub_edited_by"] == "otto"
    assert letter_state(console_hub, letter) == "discarded"
    (row,) = audit(otto, action="edit_and_resubmit", target=original)
    assert row["detail"]["new_message_id"] == new_id and row["reason"] == "quantity typed as a word"


def test_resolving_exceptions_with_a_rerun(clients, console_hub) -> None:
    otto = clients["otto"]
    message_id = push(console_hub, GOOD, filename="held.csv")
    exc_id = open_exception(console_hub, message_id)
    resp = otto.post("/review/resolve", data={"csrf": csrf_of(otto), "id": exc_id, "reason": "credit note agreed",
                                              "rerun": "1"})
    assert "resolved 1 exception(s); re-ran 1 message(s)" in otto.get(resp.headers["location"]).text
    shown = otto.get("/api/v1/ops/exceptions", params={"status": "resolved", "message": message_id}).json()
    assert shown[0]["status"] == "resolved" and "by otto" in shown[0]["resolution"]
    (row,) = audit(otto, action="resolve_exceptions", target=exc_id)
    assert row["detail"]["rerun_messages"] == [message_id]
    twice = otto.post("/api/v1/ops/exceptions/resolve", json={"ids": [exc_id], "reason": "again"},
                      headers={"X-CSRF-Token": csrf_of(otto)})
    assert twice.status_code == 409


def test_admins_manage_keys_and_operators(clients, console_hub) -> None:
    ada, otto = clients["ada"], clients["otto"]
    page = ada.post("/partners/P-0042/keys", data={"csrf": csrf_of(ada), "label": "ERP gateway"})
    assert page.status_code == 200 and 'id="issued-secret">shk_' in page.text  # shown once, on this page
    key_id = page.text.split("API key ")[1].split(" ")[0]
    assert "shk_" not in ada.get("/partners/P-0042").text  # never again
    revoked = ada.post(f"/partners/P-0042/keys/{key_id}/revoke", data={"csrf": csrf_of(ada), "reason": "rotated"})
    assert "revoked API key" in ada.get(revoked.headers["location"]).text
    added = ada.post("/operators", data={"csrf": csrf_of(ada), "name": "night-shift", "role": "operator"})
    assert added.status_code == 200 and 'id="secret-value">' in added.text
    assert otto.post("/operators", data={"csrf": csrf_of(otto), "name": "x", "role": "admin"}).status_code == 403
    self_demote = ada.post("/operators/ada/change", data={"csrf": csrf_of(ada), "change": "role", "role": "viewer"})
    assert "cannot disable or demote themselves" in ada.get(self_demote.headers["location"]).text
    actions = {r["action"] for r in audit(ada, operator="ada")}
    assert {"create_api_key", "revoke_api_key", "add_operator", "operator_role"} <= actions


def test_cli_actions_are_audited_as_the_operator_they_run_as(console_hub, clients) -> None:
    message_id = push(console_hub, BAD, filename="cli.csv")
    letter = park(console_hub, message_id)
    env = {**os.environ, "HUB_DATA_DIR": str(console_hub.settings.data_dir), "HUB_ROUTES_DIR": str(ROOT / "routes"),
           "HUB_NAMESPACE": console_hub.settings.namespace, "HUB_OPERATOR": "night-nurse-ops",
           "HUB_DATABASE_URL": console_hub.settings.resolved_database_url}
    env.pop("HUB_BROKER_URL", None)
    run = subprocess.run([sys.executable, "-m", "hub", "dlq", "discard", letter, "-r", "sender re-sent it"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    (row,) = audit(clients["vera"], target=letter)
    assert (row["operator"], row["via"], row["action"], row["reason"]) == (
        "night-nurse-ops", "cli", "discard_dead_letters", "sender re-sent it")
    listed = subprocess.run([sys.executable, "-m", "hub", "audit", "--target", letter, "--json"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert json.loads(listed.stdout)[0]["operator"] == "night-nurse-ops"
    with console_hub.db.read() as session:
        assert session.scalar(select(DeadLetter.closed_by).where(DeadLetter.id == letter)) == "night-nurse-ops"
    key = subprocess.run([sys.executable, "-m", "hub", "partners", "api-key", "create", "P-0107"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert key.returncode == 0, key.stderr
    (row,) = audit(clients["vera"], action="create_api_key", target="P-0107")
    assert row["operator"] == "night-nurse-ops" and row["via"] == "cli" and "shk_" not in json.dumps(row)
