"""The simulated partner on the channels a real supplier uses, end to end through the real
RabbitMQ and PostgreSQL: a worker process routes and delivers, the hub's API server (``/as2``)
and the SFTP poller of the answers' channel run in the test's process:

- AS2 (Nordmed, P-0107, the shipped ``nordmed-as2`` endpoint and example certificates): the hub
  signs and encrypts the ORDERS to the simulator's AS2 server on 127.0.0.1, which decrypts,
  verifies and answers a signed MDN the hub checks (delivered, MIC matched); the simulator's
  CONTRL, ORDRSP, DESADV and INVOIC go to the hub's ``/as2`` signed and encrypted with the
  partner's key, each answered by a signed MDN the simulator verifies, stored, routed, and
  acknowledged with a CONTRL back to Nordmed.
- SFTP (Acme, P-0042, the shipped ``acme-sftp`` endpoint) against a real OpenSSH server: the hub
  uploads the 850 into Acme's mailbox, the simulator logs in with the route file's credentials,
  takes it and uploads its 997/855/856/810 into the folder the hub's ``sftp`` channel bound to
  Acme polls; the hub stores and routes them and sends its 997 to Acme.

The routes are the shipped ones (``po-to-nordmed`` and ``supplier-edifact``, ``po-to-acme`` and
``supplier-x12``); only Acme's answer channel is the test's (a poller of Acme's example server
would fail on every start of ``hub run``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.as2.store import As2Message
from connectors.inbound.sftp import start_pollers
from hub.partners import PartnerRegistry
from hub.simulator.as2_station import As2Station, As2ToHub
from hub.simulator.cycle import EXAMPLE_ORDER
from hub.simulator.scenarios import load_scenario
from hub.simulator.sftp_mailbox import SftpMailbox
from hub.simulator.supplier import SimulatedSupplier
from hub.simulator.wire import acknowledgement_kind
from hub.store import Message
from tests.backbone.conftest import HubEnv, erp_stub, wait_for  # noqa: F401 - fixtures
from tests.conftest import ROOT
from tests.connectors.opensshd import OpenSsh, free_port, start_sshd
from tests.edi_e2e.conftest import edi_hub  # noqa: F401 - fixture
from tests.simulator.test_channels import serve_api

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres]

AS2_KEYS = ROOT / "examples" / "as2"  # NOT FOR PRODUCTION: their private keys are in the repository

ACME_ANSWERS = """\
channels:
  acme-answers:
    description: Acme's outbound folder on its SFTP server (the test's)
    sftp:
      host: 127.0.0.1
      port: {port}
      path: {path}
      known_hosts: {known_hosts}
      auth: {{username_env: ACME_SFTP_USER, private_key_env: ACME_SFTP_KEY}}
      poll_interval: 0.3
      stable_seconds: 0.3
      partner: P-0042
"""


@pytest.fixture
def sshd(tmp_path: Path):
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


@pytest.fixture
def channel_hub(request: pytest.FixtureRequest, tmp_path: Path, sshd: OpenSsh,
                monkeypatch: pytest.MonkeyPatch) -> HubEnv:
    """The supplier EDI end-to-end hub with Nordmed's AS2 and Acme's SFTP pointed at this
    machine: the variables the route files read, the hub's example AS2 identity and the
    simulator's partner key."""
    mailbox = tmp_path / "acme-sftp"
    (mailbox / "outbound").mkdir(parents=True)
    (tmp_path / "known_hosts").write_text(sshd.known_hosts_line("ed25519"))
    variables = {
        "NORDMED_AS2_URL": f"http://127.0.0.1:{free_port()}/as2",
        "ACME_SFTP_HOST": "127.0.0.1",
        "ACME_SFTP_KNOWN_HOSTS": str(tmp_path / "known_hosts"), "ACME_SFTP_USER": sshd.user,
        "ACME_SFTP_KEY": str(sshd.client_key),
    }
    hub_variables = {
        "HUB_AS2_ID": "SUPPLYHUB", "HUB_AS2_CERTIFICATE": str(AS2_KEYS / "hub-example.crt"),
        "HUB_AS2_PRIVATE_KEY": str(AS2_KEYS / "hub-example.key"), "HUB_EDI_X12_ID": "GENHOSP",
    }
    for name, value in {**variables, **hub_variables,
                        "HUB_SIMULATOR_AS2_KEY": str(AS2_KEYS / "nordmed-example.key")}.items():
        monkeypatch.setenv(name, value)
    env: HubEnv = request.getfixturevalue("edi_hub")
    # The acme-sftp endpoint names port 22 and a folder of Acme's server: this server's port, and its
    # folder under the test's (paths are absolute on an OpenSSH server without chroot).
    connectors = env.root / "routes" / "connectors.yaml"
    connectors.write_text(connectors.read_text().replace("port: 22\n      path: /inbound/orders",
                                                         f"port: {sshd.port}\n      path: {mailbox / 'inbound'}"))
    (env.root / "routes" / "test-acme-answers.yaml").write_text(ACME_ANSWERS.format(
        port=sshd.port, path=mailbox / "outbound", known_hosts=tmp_path / "known_hosts"))
    env.env.update(variables | hub_variables)
    for name, value in env.env.items():  # this process sees what the hub's processes see
        monkeypatch.setenv(name, value)
    for cached in ("routes", "topology", "compiled"):  # the in-process hub reads the routes as they are now
        env.hub.__dict__.pop(cached, None)
    PartnerRegistry(env.hub.db).load_file(env.root / "routes" / "partners.yaml")
    return env


def release_order(env: HubEnv, partner_id: str, po_number: str, currency: str) -> None:
    """The ERP's purchase order, taken in as the erp-orders channel would."""
    po = json.loads(EXAMPLE_ORDER.read_text())
    po.update(po_number=po_number, supplier_partner_id=partner_id, currency=currency)
    env.push(json.dumps(po).encode(), fmt="json", doctype="purchase_order", sender="erp",
             filename=f"po-{po_number}.json")


def answer_order(supplier: SimulatedSupplier, po_number: str) -> list:
    """Wait for the order in the partner's mailbox, then send every answer the scenario plans."""
    order = wait_for(lambda: next((o for o in supplier.take_orders() if o.po_number == po_number), None), 60, 0.2,
                     f"PO {po_number} in {supplier.channels.orders.where}")
    return [supplier.send(event) for event in supplier.plan(order)]


def arrived(env: HubEnv, sent: list) -> dict[str, tuple]:
    """(sender, channel) of each answer once the hub stored it and finished with it: the
    functional ack matched (processed), the business documents delivered to the ERP."""
    expected = {s.name: "processed" if s.stage == "functional_ack" else "delivered" for s in sent}

    def look():
        with env.hub.db.read() as session:
            rows = {r.filename: (r.sender, r.channel, r.status) for r in session.execute(
                select(Message.filename, Message.sender, Message.channel, Message.status)
                .where(Message.filename.in_(expected)))}
        return {name: row[2] for name, row in rows.items()} == expected and rows

    try:
        return {name: row[:2] for name, row in wait_for(look, 60, 0.2, f"the hub to finish {sorted(expected)}").items()}
    except AssertionError as exc:
        raise AssertionError(f"{exc}: saw {_statuses(env, expected)}\n{env.logs()}") from None


def _statuses(env: HubEnv, names) -> dict[str, str]:
    with env.hub.db.read() as session:
        return dict(session.execute(select(Message.filename, Message.status).where(Message.filename.in_(names))).all())


def test_the_partner_answers_over_as2_and_sftp_and_the_hub_stores_and_acknowledges(
        channel_hub: HubEnv, sshd: OpenSsh, monkeypatch: pytest.MonkeyPatch) -> None:
    env, hub = channel_hub, channel_hub.hub
    env.start_worker()
    # The API server (/as2) and the SFTP poller of the answers' channel: the hub's own, run here.
    api, api_port = serve_api(hub)
    pollers = start_pollers(hub, ["acme-answers"])
    monkeypatch.setenv("HUB_SIMULATOR_API_URL", f"http://127.0.0.1:{api_port}")
    lines: list[str] = []
    clean = load_scenario("clean")
    nordmed = SimulatedSupplier(hub, "P-0107", clean, day=0, log=lines.append)
    acme = SimulatedSupplier(hub, "P-0042", clean, day=0, log=lines.append)
    try:
        assert isinstance(nordmed.channels.orders, As2Station) and isinstance(nordmed.channels.answers, As2ToHub)
        assert isinstance(acme.channels.orders, SftpMailbox) and isinstance(acme.channels.answers, SftpMailbox)
        assert nordmed.channels.answers.where == f"http://127.0.0.1:{api_port}/as2"
        release_order(env, "P-0107", "4500077001", "EUR")
        release_order(env, "P-0042", "4500077002", "USD")
        as2_sent = answer_order(nordmed, "4500077001")
        sftp_sent = answer_order(acme, "4500077002")
        assert [s.wire_name for s in as2_sent] == ["CONTRL", "ORDRSP", "DESADV", "INVOIC"]
        assert [s.wire_name for s in sftp_sent] == ["997", "855", "856", "810"]
        assert all("signed MDN processed" in s.where for s in as2_sent), [s.where for s in as2_sent]
        assert all(s.where.startswith(f"sftp://127.0.0.1:{sshd.port}/") for s in sftp_sent)

        assert set(arrived(env, as2_sent).values()) == {("4012345000009", "as2")}
        assert set(arrived(env, sftp_sent).values()) == {("ACMEMED", "sftp:acme-answers")}

        # The hub's side of AS2: its ORDERS delivered on the partner's signed MDN, every answer
        # received with the MDN the simulator verified.
        with hub.db.read() as session:
            as2 = session.execute(select(As2Message.direction, As2Message.mdn_status)).all()
        assert sorted(as2) == sorted([("out", "processed")] + [("in", "processed")] * 4), as2
        # Acknowledged: the hub's CONTRL and 997 reach the partners' ack mailboxes.
        acks: list[str] = []

        def acknowledged() -> bool:
            for supplier in (nordmed, acme):
                acks.extend(acknowledgement_kind(data) or name for name, data in supplier.channels.hub_acks.take())
            return {"CONTRL", "997"} <= set(acks)

        wait_for(acknowledged, 30, 0.3, "the hub's CONTRL to Nordmed and 997 to Acme")
        # Nothing left in the SFTP answer folder: the hub's poller took every file.
        leftover = [p.name for p in (Path(acme.channels.answers.config.path)).iterdir() if p.is_file()]
        assert leftover == []
        assert "P-0107: received ORDERS 4500077001" in "\n".join(lines)
    finally:
        nordmed.channels.close()
        acme.channels.close()
        api.should_exit = True
        for poller in pollers:
            poller.stop()
