"""``hub simulate order-to-invoice``: one purchase order's whole cycle through the real routes,
against a simulated supplier playing a scenario.

Why end to end: each step of the cycle checks something only the one before makes possible —
the 855 is matched against the PO the route kept, the dock scan against the ASN, the invoice
against the PO and the receipts — so the flow is proven only when it runs in order, through the
broker, the store and the routes an operator would deploy. Nothing is called directly: the
ERP's order is a file in the ERP's inbox channel, the supplier's answers are files in the
partner's channel, the receiving clerk's scan a file in the dock channel.

The steps: the example ERP releases a PO (a fresh number) for the partner; the route renders it
(850 / ORDERS) into the partner's mailbox; the simulated supplier reads it and answers on the
scenario's schedule (compressed: ``day`` real seconds per business day), each file waited for
until the hub has processed it; when the scenario's delivery arrives, the dock scan of what
arrived goes in; at the end the SLA clocks of the PO are judged as they stand a week of business
time after the order (``hub.sla``), and the summary is read from the hub's records.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.partners import PartnerRegistry
from hub.simulator import answers
from hub.simulator.channels import ChannelError, Folder
from hub.simulator.hub_processes import HubProcesses, loopback_ports
from hub.simulator.scenarios import Scenario
from hub.simulator.summary import summarize
from hub.simulator.supplier import Event, SimulatedSupplier
from hub.store import Message

EXAMPLE_ORDER = Path(__file__).parent / "example-order.json"
# Where the routes' documents go over HTTP: started as the demo ERP when nothing answers there.
ERP_ENDPOINTS = ["erp-supplier-documents", "erp-goods-receipts"]
SLA_HORIZON = 7 * 86400.0  # business seconds after the order at which the PO's clocks are judged
UNSETTLED = ("received", "routing")


class CycleError(RuntimeError):
    """The cycle could not run to its end; says which step and what the hub's records show."""


class Cycle:
    def __init__(self, hub, scenario: Scenario, partner_id: str, *, day: float = 2.0, timeout: float = 90.0,
                 dock_location: str = "CENTRAL-DOCK", log: Callable[[str], None] = lambda line: None) -> None:
        self.hub, self.scenario, self.partner_id, self.day = hub, scenario, partner_id, day
        self.timeout, self.dock_location, self.log = timeout, dock_location, log
        self.processes = HubProcesses(hub.settings.data_dir)
        self.stubs: list[Any] = []
        self.messages: list[str] = []

    # -- the cycle --------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self.hub.setup()
        supplier = SimulatedSupplier(  # loads the routes' partner registry when the partner is not in the store
            self.hub, self.partner_id, self.scenario, day=self.day, log=self.log)
        erp_inbox, dock = self._channel("purchase_order"), self._channel("dock_scan")
        try:
            self._demo_erp()
            po = self._release(erp_inbox)
            order = self._order_out(supplier, po["po_number"])
            events = supplier.plan(order)
            timeline = supplier.timelines[order.po_number]
            steps = answers.plan(order.po, self.scenario)
            scan_at = self._dock_event(events, steps)
            for event in events:
                if scan_at is not None and scan_at <= event.offset:
                    self._scan(dock, order.po, events, steps, timeline, scan_at)
                    scan_at = None
                timeline.wait(event.offset)
                sent = supplier.send(event)
                self._processed(sent.name, f"{sent.wire_name} {sent.control_number}")
            if scan_at is not None:
                timeline.wait(scan_at)
                self._scan(dock, order.po, events, steps, timeline, scan_at)
            self._settle()
            self._judge_clocks(po["po_number"], timeline.start)
            summary = summarize(self.hub.db, po["po_number"], messages=self.messages)
        finally:
            supplier.channels.close()
            self.processes.stop()
            for stub in self.stubs:
                stub.stop()
        expected = list(self.scenario.raises)
        summary = {"scenario": self.scenario.name, "partner": self.partner_id, **summary, "expected": expected}
        summary["as_expected"] = set(summary["exceptions"]) == set(expected) and (
            summary["matched"] if not expected else not summary["matched"])
        return summary

    # -- steps ------------------------------------------------------------------------------------

    def _channel(self, doctype: str) -> Folder:
        for name, channel in self.hub.routes.channels.items():
            drop = channel.filedrop
            if drop is not None and drop.doctype == doctype:
                return Folder(Path(drop.path) if drop.path else self.hub.settings.inbox_dir / name)
        raise ChannelError(f"no file-drop channel takes {doctype} documents (routes/connectors.yaml: erp-orders, "
                           "routes/order-to-invoice.yaml: dock-scans)")

    def _demo_erp(self) -> None:
        from hub.stubs import ErpStub

        for port in sorted(loopback_ports(self.hub, ERP_ENDPOINTS)):
            self.stubs.append(ErpStub(port=port, folder=self.hub.settings.data_dir / "demo-erp").start())
            self.log(f"nothing answered on 127.0.0.1:{port}: started the demo ERP there for the cycle")

    def _release(self, inbox: Folder) -> dict[str, Any]:
        """The example ERP releases a purchase order for the partner, as a file in its channel."""
        partner = PartnerRegistry(self.hub.db).by_id(self.partner_id)
        today = datetime.now(UTC).date()
        po = json.loads(EXAMPLE_ORDER.read_text())
        po.update(po_number=self._fresh_number(), order_date=today.isoformat(),
                  requested_delivery_date=(today + timedelta(days=5)).isoformat(), supplier_partner_id=self.partner_id,
                  currency=(partner.default_currency if partner and partner.default_currency else po["currency"]))
        name = f"po-{po['po_number']}.json"
        path = inbox.put(name, json.dumps(po, indent=2).encode())
        self.log(f"ERP released purchase order {po['po_number']} for {self.partner_id} → {path}")
        if not self._taken(path):
            self.log("no file drop took it: starting a file drop and a worker for the cycle "
                     f"(logs in {self.processes.logs})")
            self.processes.start("filedrop")
            self.processes.start("worker", "--concurrency", "1")
        elif not self._routed(name, 15.0):
            self.log(f"a file drop took it, but no route ran it: starting a worker (log in {self.processes.logs})")
            self.processes.start("worker", "--concurrency", "1")
        self._processed(name, f"purchase order {po['po_number']}")
        return po

    def _fresh_number(self) -> str:
        from hub.documents import latest_document

        number = int(time.time() * 100) % 10**8
        while latest_document(self.hub.db, "purchase_order", f"45{number:08d}") is not None:
            number = (number + 1) % 10**8
        return f"45{number:08d}"

    def _taken(self, path: Path) -> bool:
        """Whether a running file drop claims the file within a few of its scan intervals."""
        settings = self.hub.settings
        deadline = time.monotonic() + max(4.0, 3 * (settings.inbox_stable_seconds + settings.inbox_poll_interval))
        while time.monotonic() < deadline:
            if not path.exists():
                return True
            time.sleep(0.1)
        return False

    def _order_out(self, supplier: SimulatedSupplier, po_number: str):
        """The rendered 850 / ORDERS in the partner's mailbox, as the supplier reads it."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for order in supplier.take_orders():
                if order.po_number == po_number:
                    return order
            time.sleep(0.2)
        raise CycleError(f"purchase order {po_number} never reached {self.partner_id}'s mailbox "
                         f"({supplier.channels.orders.where}) within {self.timeout:.0f}s: {self._trace_hint(po_number)}")

    def _dock_event(self, events: list[Event], steps: answers.Plan) -> float | None:
        """When the delivery is scanned at the dock: not before it arrives (shipped + transit)."""
        ship, receipt = self.scenario.ship_notice, self.scenario.receipt
        if ship is None or receipt is None or not steps.received:
            return None
        return max(receipt.after, ship.after + ship.delivery_after)

    def _scan(self, dock: Folder, po: dict[str, Any], events: list[Event], steps: answers.Plan, timeline,
              offset: float) -> None:
        asn = next((e.document for e in events if e.stage == "ship_notice"), None)
        if asn is None or not steps.received:
            return
        timeline.wait(offset)
        rows = answers.dock_scans(po, asn, steps.received, timeline.at(offset), self.partner_id, self.dock_location)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        name = f"dock-{asn['asn_number']}-{int(time.time() * 1000)}.csv"
        path = dock.put(name, out.getvalue().encode())
        self.log(f"dock: scanned the delivery of {asn['asn_number']} ({len(rows)} barcode(s)) → {path}")
        self._processed(name, f"dock scan of {asn['asn_number']}")

    def _status(self, filename: str):
        with self.hub.db.read() as session:
            return session.execute(select(Message.id, Message.status).where(Message.filename == filename)
                                   .order_by(Message.received_at.desc())).first()

    def _routed(self, filename: str, wait: float) -> bool:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            row = self._status(filename)
            if row is not None and row.status not in UNSETTLED:
                return True
            time.sleep(0.2)
        return False

    def _processed(self, filename: str, what: str) -> str:
        """Wait until the hub stored the file and its routes ran; the message id."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            row = self._status(filename)
            if row is not None and row.status not in UNSETTLED:
                self.messages.append(row.id)
                self.log(f"hub: {what} → message {row.id} {row.status}")
                return row.id
            time.sleep(0.2)
        raise CycleError(f"{what} ({filename}) was not processed within {self.timeout:.0f}s"
                         + (f": message {row.id} is {row.status}" if row is not None else ": never stored"))

    def _settle(self, grace: float = 15.0) -> None:
        """Give the cycle's deliveries a moment to finish (the summary does not depend on them)."""
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with self.hub.db.read() as session:
                waiting = session.scalar(select(Message.id).where(Message.id.in_(self.messages),
                                                                  Message.status == "delivering").limit(1))
            if waiting is None:
                return
            time.sleep(0.2)

    def _judge_clocks(self, po_number: str, start: datetime) -> None:
        from hub.sla import record_clocks

        at = start + timedelta(seconds=max(SLA_HORIZON, self._last_offset() + 86400))
        recorded = record_clocks(self.hub.db, now=at, only=po_number)
        for clock in recorded:
            self.log(f"SLA: {clock}")

    def _last_offset(self) -> float:
        stages = [self.scenario.functional_ack, self.scenario.acknowledgement, self.scenario.ship_notice,
                  self.scenario.receipt, self.scenario.invoice]
        return max((s.after for s in stages if s is not None), default=0.0)

    def _trace_hint(self, po_number: str) -> str:
        with self.hub.db.read() as session:
            row = session.execute(select(Message.id, Message.status).where(
                Message.filename == f"po-{po_number}.json")).first()
        return f"message {row.id} is {row.status} (hub trace {row.id})" if row else "the PO was never stored"
