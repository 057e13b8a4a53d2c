"""``hub routes reload`` through the real RabbitMQ: a running worker and file drop take a new
channel, route and endpoint without a restart and deliver through them; an invalid set is
refused with file:line and the one in force stays; each reload is recorded and shown."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.console.models import AuditEntry
from hub.console.operators import Principal
from hub.reload.cli import format_status
from hub.reload.command import ACTION, reload_routes
from hub.reload.status import current_status
from tests.backbone.conftest import HubEnv, consumers, wait_for

NEW_FILE = """\
channels:
  reload-drop:
    filedrop:
      pattern: "*.json"
      format: json
      doctype: reload_probe
      sender: legacy-stock

routes:
  - name: reload-probe
    from: {format: json, doctype: reload_probe}
    steps:
      - parse: json
    to: [reload-erp]

endpoints:
  reload-erp:
    http:
      url: ${ERP_INVENTORY_URL}/reloaded
      format: json
"""


def test_reload_reaches_running_worker_and_file_drop_and_watch(amqp_hub: HubEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = amqp_hub
    for name, value in env.env.items():  # route files name ${ERP_INVENTORY_URL}: read them as the processes do
        monkeypatch.setenv(name, value)
    env.env["HUB_ROUTES_FOLLOW_INTERVAL"] = "0.5"
    env.start_worker()
    env.spawn("filedrop", log="filedrop")
    wait_for(lambda: {p["kind"] for p in current_status(env.hub)["processes"]} >= {"worker", "filedrop"}, 60, 0.3,
             "worker and file drop reporting their route generation")
    first = current_status(env.hub)["generation"]["id"]

    # An invalid set: refused, naming file and line; the generation in force stays.
    new_file = env.root / "routes" / "reload-new.yaml"
    new_file.write_text(NEW_FILE.replace("to: [reload-erp]", "to: [no-such-endpoint]"))
    refused = reload_routes(env.hub, Principal("test-operator", "routes", "cli"))
    assert refused.outcome == "refused" and refused.generation.id == first
    assert any(p.startswith(f"{new_file}:14:") and "no-such-endpoint" in p for p in refused.problems), refused.problems
    status = current_status(env.hub)
    assert status["generation"]["id"] == first and "INVALID" in status["folder"]["state"]

    # The valid set: put in force, and taken by both running processes (--wait).
    new_file.write_text(NEW_FILE)
    applied = env.hub_cli("routes", "reload", "--wait", "60")
    assert f"generation {first + 1} in force (was {first})" in applied.stdout, applied.stdout
    assert "taken by 2 running process(es) within" in applied.stdout, applied.stdout
    for added in ("routes: added reload-probe", "endpoints: added reload-erp", "channels: added reload-drop"):
        assert added in applied.stdout

    # The file drop watches the new channel, the worker consumes the new route and endpoint.
    inbox = env.hub.settings.inbox_dir / "reload-drop"
    wait_for(inbox.is_dir, 30, 0.2, "the file drop creating the new channel's folder")
    (inbox / "probe.json").write_text('{"probe": "after-reload"}')
    wait_for(lambda: any(r.path == "/inventory/adjustments/reloaded" and b"after-reload" in r.body
                         for r in list(env.stub.requests)), 60, 0.2, "delivery through the reloaded route")

    # Recorded and visible: who, when, what changed; every process on the new generation.
    status = current_status(env.hub)
    gen = status["generation"]
    assert gen["id"] == first + 1 and gen["by"] == "test-operator" and gen["via"] == "cli"
    assert gen["changes"]["routes"]["added"] == ["reload-probe"]
    assert gen["changes"]["files"]["added"] == ["reload-new.yaml"]
    assert {p["generation"] for p in status["processes"]} == {first + 1}
    assert status["folder"]["state"] == "the generation in force"
    readable = "\n".join(format_status(status))  # what hub routes status prints
    assert f"generation {first + 1} in force since" in readable and "by test-operator via cli" in readable
    assert "added reload-probe" in readable
    with env.hub.db.read() as session:
        audit = [(a.outcome, a.operator, a.reason) for a in
                 session.scalars(select(AuditEntry).where(AuditEntry.action == ACTION).order_by(AuditEntry.id))]
    assert [(o, who) for o, who, _ in audit[-2:]] == [("refused", "test-operator"), ("done", "test-operator")]
    assert "added reload-probe" in audit[-1][2]

    # A watcher (hub routes reload --watch) reloads an edit by itself: the route removed, its
    # queue no longer consumed by the worker once drained.
    env.env["HUB_ROUTES_WATCH_INTERVAL"] = "0.5"
    env.spawn("routes", "reload", "--watch", log="watch")
    wait_for(lambda: "watch" in {p["kind"] for p in current_status(env.hub)["processes"]}, 30, 0.3, "the watcher")
    new_file.unlink()
    wait_for(lambda: current_status(env.hub)["generation"]["id"] == first + 2, 30, 0.3, "the watcher's reload")
    gen = current_status(env.hub)["generation"]
    assert gen["via"] == "watch" and gen["changes"]["routes"]["removed"] == ["reload-probe"]
    queue = env.hub.topology.queue_name("route", "reload-probe")
    wait_for(lambda: consumers(queue) == 0, 30, 0.3, "the worker cancelling the removed route's queue")
