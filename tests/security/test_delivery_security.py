"""File and SFTP delivery never overwrite. Purchase orders numbered ``COLL/1``, ``COLL_1``,
``COLL:1`` and ``COLL 1`` sanitise to one name; each must still land in a file of its own, the
trace naming the file actually written, and a retry must find its own file rather than write a
second. Keys longer than a name allows are never cut silently. A name whose every candidate holds
other bytes is refused, not overwritten. End to end through the example XML order route on the
embedded hub, and at the senders on a local folder and a real SFTP server on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.outbound import Payload
from connectors.outbound.file import FileSender, clash_name
from connectors.outbound.sftp import SftpSender
from hub.routes.model import FileConfig, SftpEndpointConfig
from tests.backbone.conftest import HubEnv, wait_for
from tests.connectors.conftest import sftp_settings
from tests.connectors.sftpserver import SftpTestServer

COLLIDING = ["COLL/1", "COLL_1", "COLL:1", "COLL 1"]


def file_of(response: str) -> str:
    """The file a delivery's response names: "written <name> in <folder>" or "already there ... <name> in <folder>"."""
    return response.rsplit(" in ", 1)[0].rsplit(" ", 1)[-1]
TEMPLATE = "{document_type}-{document_key}.{ext}"


def payload(key: str, n: int, body: bytes | None = None) -> Payload:
    return Payload(delivery_id=f"d-{n}", message_id="m-1", route="r", endpoint="out", seq=n,
                   body=body if body is not None else f"<po>{key}</po>".encode(),
                   content_type="application/xml", idempotency_key=f"key-{n}", document_type="purchase_order",
                   document_key=key)


def test_colliding_keys_each_get_their_own_file_and_a_retry_finds_its_own(tmp_path: Path) -> None:
    folder = tmp_path / "order-desk"
    sender = FileSender("order-desk", FileConfig(path=str(folder), format="xml", filename=TEMPLATE))
    results = [sender.send(payload(key, n)) for n, key in enumerate(COLLIDING)]
    assert [r.outcome for r in results] == ["delivered"] * 4
    assert all(r.response.startswith("written ") and r.response.endswith(f" in {folder}") for r in results)
    written = [file_of(r.response) for r in results]
    assert len(set(written)) == 4
    assert [(folder / w).read_bytes() for w in written] == [f"<po>{k}</po>".encode() for k in COLLIDING]
    assert sorted(p.name for p in folder.iterdir()) == sorted(written)
    assert written[0] == "purchase_order-COLL_1.xml"
    assert written[2] == clash_name("purchase_order-COLL_1.xml", "key-2")
    again = [sender.send(payload(key, n)) for n, key in enumerate(COLLIDING)]  # retries of the same deliveries
    assert [file_of(r.response) for r in again] == written
    assert all(r.response.startswith("already there with the same bytes: ") for r in again)
    assert len(list(folder.iterdir())) == 4  # no temporary file left either


def test_long_keys_are_never_cut_silently(tmp_path: Path) -> None:
    sender = FileSender("out", FileConfig(path=str(tmp_path), format="xml", filename=TEMPLATE))
    keys = ["K" * 299 + "A", "K" * 299 + "B"]  # the same first 120 characters
    names = [file_of(sender.send(payload(k, n)).response) for n, k in enumerate(keys)]
    assert names[0] != names[1] and all(len(n.encode()) <= 255 for n in names)
    assert all(n.startswith("purchase_order-KKKK") and n.endswith(".xml") for n in names)
    assert not any(n == clash_name(names[0], "key-1") for n in names)  # distinct by the key's hash, not a clash


def test_a_name_whose_every_candidate_is_taken_is_refused_not_overwritten(tmp_path: Path) -> None:
    sender = FileSender("out", FileConfig(path=str(tmp_path), format="xml", filename=TEMPLATE))
    base = tmp_path / "purchase_order-PO-1.xml"
    base.write_bytes(b"someone else's")
    (tmp_path / clash_name(base.name, "key-7")).write_bytes(b"someone else's too")
    result = sender.send(payload("PO-1", 7))
    assert result.outcome == "reject" and "nothing was overwritten" in result.error
    assert base.read_bytes() == b"someone else's" and len(list(tmp_path.iterdir())) == 2


def test_sftp_delivery_never_overwrites(sftp_server: SftpTestServer) -> None:
    config = SftpEndpointConfig.model_validate(sftp_settings(sftp_server, "/outbound/orders", filename=TEMPLATE))
    sender = SftpSender("acme-sftp", config)
    results = [sender.send(payload(key, n)) for n, key in enumerate(COLLIDING)]
    assert [r.outcome for r in results] == ["delivered"] * 4, [r.error for r in results]
    folder = sftp_server.options.root / "outbound" / "orders"
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert sorted(files.values()) == sorted(f"<po>{k}</po>".encode() for k in COLLIDING)
    assert {file_of(r.response) for r in results} == set(files)
    again = sender.send(payload(COLLIDING[3], 3))
    assert again.response.startswith("already there with the same bytes: ") and len(list(folder.iterdir())) == 4
    assert not any(name.endswith(".tmp") for name in os.listdir(folder))


ORDERS = """<?xml version="1.0" encoding="UTF-8"?>
<Orders xmlns="urn:example:legacy-erp:orders:1">{orders}</Orders>"""
ORDER = """<Order number="{number}" date="2026-11-20" currency="USD">
  <Buyer gln="0614141000012">General Hospital</Buyer><ShipTo account="778812">Central Receiving</ShipTo>
  <Supplier id="P-0042">Acme Medical Distribution</Supplier>
  <Line no="1"><VendorPart>12345</VendorPart><Qty uom="BX">{n}</Qty><Price>45.10</Price></Line></Order>"""


def test_four_colliding_orders_end_to_end_are_four_files_named_in_the_trace(embedded_hub: HubEnv,
                                                                            tmp_path: Path) -> None:
    desk = tmp_path / "order-desk"
    embedded_hub.env["ORDER_DESK_DIR"] = str(desk)
    body = ORDERS.format(orders="".join(ORDER.format(number=k, n=n + 1) for n, k in enumerate(COLLIDING)))
    message_id = embedded_hub.push(body.encode(), fmt="xml", doctype="Orders", sender="legacy-erp",
                                   filename="orders.xml")
    embedded_hub.start_worker("--route", "xml-orders", "--endpoint", "order-desk")
    embedded_hub.wait_status(message_id, "delivered", timeout=90)
    files = sorted(desk.iterdir())
    assert len(files) == 4
    assert {key for key in COLLIDING if any(f'number="{key}"'.encode() in f.read_bytes()
                                            or f"<po_number>{key}</po_number>".encode() in f.read_bytes()
                                            for f in files)} == set(COLLIDING)
    trace = embedded_hub.hub_cli("trace", message_id).stdout
    for f in files:
        assert f"written {f.name} in " in trace, trace
    wait_for(lambda: len(list(desk.iterdir())) == 4, 5, what="no fifth file")
