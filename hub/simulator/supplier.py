"""The simulated supplier (``hub simulate supplier``): takes the orders the hub sends the
partner, and answers each as its scenario says, on the scenario's (compressed) schedule.

Why a loop of its own rather than a route: it is the other side of the wire. It knows only
what a partner knows — the bytes in its mailbox, its registry identity, its control numbers —
and the hub learns what it did only from the files it sends. Running it beside ``hub run``
shows a trading partner answering; ``hub simulate order-to-invoice`` drives it step by step.

For every order: the functional ack (997/999 or CONTRL, accepted or rejected), then the
acknowledgement (855 / ORDRSP), the ship notice (856 / DESADV) and the invoice (810 / INVOIC,
``copies`` times), each in an interchange of its own, each at its business time. The hub's
own acks to the partner are read and archived as they come. An order it cannot read is moved
to ``rejected/`` with a ``.reason`` file and reported; the simulator goes on.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.partners import PartnerConfig, PartnerRegistry
from hub.simulator import answers, wire
from hub.simulator.channels import ChannelError, Folder, PartnerChannels, channels_for
from hub.simulator.numbers import PartnerNumbers
from hub.simulator.scenarios import Scenario
from hub.simulator.schedule import DAY, Timeline

# The order of a stage's documents when two fall due at the same business time.
STAGES = ("functional_ack", "acknowledgement", "ship_notice", "invoice")
WIRE_NAMES = {"X12": {"functional_ack": "997", "acknowledgement": "855", "ship_notice": "856", "invoice": "810"},
              "EDIFACT": {"functional_ack": "CONTRL", "acknowledgement": "ORDRSP", "ship_notice": "DESADV",
                          "invoice": "INVOIC"}}


@dataclass(order=True)
class Event:
    """One file the partner will send, at ``offset`` business seconds after the order arrived."""

    offset: float
    rank: int
    stage: str = field(compare=False)
    order: wire.ReceivedOrder = field(compare=False)
    document: dict[str, Any] | None = field(compare=False, default=None)  # None for a functional ack
    copy: int = field(compare=False, default=1)


@dataclass
class Sent:
    stage: str
    wire_name: str
    po_number: str
    name: str  # the file name (the hub's message keeps it)
    where: str  # the folder file or the API answer it went to
    control_number: str
    warnings: list[str]


class SimulatorError(ValueError):
    """The simulator cannot act for the partner (not in the registry, no channels); names why."""


class SimulatedSupplier:
    def __init__(self, hub, partner_id: str, scenario: Scenario, *, day: float = DAY,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.hub, self.scenario, self.day, self.log = hub, scenario, day, log
        self.partner: PartnerConfig = registered_partner(hub, partner_id, log)
        self.channels: PartnerChannels = channels_for(hub, self.partner)
        self.numbers = PartnerNumbers(hub.settings.data_dir / "simulator" / f"{self.partner.id}.numbers.json")
        self._queue: list[Event] = []
        self._ranks = itertools.count()
        self.timelines: dict[str, Timeline] = {}
        self._failing = False

    # -- orders in ------------------------------------------------------------------------------

    def take_orders(self) -> list[wire.ReceivedOrder]:
        """Read every order in the partner's mailbox; unreadable ones go to ``rejected/``. The
        hub's own acknowledgements, when they arrive at the same address, are noted."""
        orders = []
        for name, data in self.channels.orders.take():
            if (kind := wire.acknowledgement_kind(data)) is not None:
                self.log(f"{self.partner.id}: the hub sent its {kind} ({name})")
                continue
            try:
                order = wire.read_order(data, name)
            except wire.WireError as exc:
                if isinstance(self.channels.orders, Folder):  # kept aside with the reason
                    rejected = self.channels.orders.path / "rejected"
                    rejected.mkdir(exist_ok=True)
                    (rejected / name).write_bytes(data)
                    (rejected / f"{name}.reason").write_text(f"{exc}\n")
                self.log(f"{self.partner.id}: cannot read {name}: {exc}")
                continue
            self.log(f"{self.partner.id}: received {_po_name(order)} {order.po_number} ({name})")
            orders.append(order)
        for reason in getattr(self.channels.orders, "refusals", list)():  # AS2: answered with a negative MDN
            self.log(f"{self.partner.id}: refused a message from the hub: {reason}")
        for name, data in self.channels.hub_acks.take() if self.channels.hub_acks else []:
            self.log(f"{self.partner.id}: the hub acknowledged an answer ({name})")
        return orders

    # -- planning -------------------------------------------------------------------------------

    def plan(self, order: wire.ReceivedOrder, arrived: datetime | None = None) -> list[Event]:
        """Queue the order's answers; returns them in the order they fall due."""
        timeline = Timeline(arrived or datetime.now(UTC), self.day)
        self.timelines[order.po_number] = timeline
        scenario, po, pid = self.scenario, order.po, self.partner.id
        steps = answers.plan(po, scenario)
        events: list[Event] = []
        if scenario.functional_ack is not None:
            events.append(self._event(scenario.functional_ack.after, "functional_ack", order))
        if scenario.acknowledgement is not None and steps.acknowledged is not None:
            at = timeline.at(scenario.acknowledgement.after)
            events.append(self._event(scenario.acknowledgement.after, "acknowledgement", order,
                                      answers.acknowledgement(po, scenario, steps.acknowledged, at, pid,
                                                              order.standard)))
        asn = None
        if scenario.ship_notice is not None and steps.shipped:
            at = timeline.at(scenario.ship_notice.after)
            asn = answers.ship_notice(po, scenario, steps.shipped, at, pid)
            events.append(self._event(scenario.ship_notice.after, "ship_notice", order, asn))
        if scenario.invoice is not None and steps.invoiced:
            at = timeline.at(scenario.invoice.after)
            document = answers.invoice(po, steps.invoiced, at, pid, asn["ship_date"] if asn else None)
            if order.standard == "X12":
                for line in document["lines"]:  # an 810 line has no extended amount (IT1)
                    line.pop("line_amount", None)
            events += [self._event(scenario.invoice.after, "invoice", order, document, copy)
                       for copy in range(1, scenario.invoice.copies + 1)]
        for event in events:
            heapq.heappush(self._queue, event)
        return sorted(events)

    def _event(self, offset: float, stage: str, order: wire.ReceivedOrder, document: dict | None = None,
               copy: int = 1) -> Event:
        return Event(offset, next(self._ranks), stage, order, document, copy)

    # -- answers out ----------------------------------------------------------------------------

    def send(self, event: Event) -> Sent:
        """Write the event's interchange into the hub's inbox for the partner."""
        order, timeline = event.order, self.timelines[event.order.po_number]
        now = timeline.at(event.offset)
        if event.stage == "functional_ack":
            ack = self.scenario.functional_ack
            assert ack is not None
            out = wire.functional_ack(self.partner, order, self.numbers, rejected=ack.status == "rejected",
                                      code=ack.contrl_code if order.standard == "EDIFACT" else ack.code, now=now)
        else:
            out = wire.business_documents(self.partner, order, [event.document], self.numbers, now)
        name = WIRE_NAMES[order.standard][event.stage]
        sender = self.partner.x12.isa_id if order.standard == "X12" and self.partner.x12 else (
            self.partner.edifact.unb_id if self.partner.edifact else self.partner.id)
        extension = "x12" if order.standard == "X12" else "edi"
        filename = f"{sender}-{name}-{out.control_number}.{extension}"
        where = str(self.channels.answers.put(filename, out.data))
        what = name + (" (rejecting)" if event.stage == "functional_ack" and self.scenario.functional_ack
                       and self.scenario.functional_ack.status == "rejected" else "")
        self.log(f"{self.partner.id}: sent {what} for {order.po_number}"
                 f"{f' (copy {event.copy})' if event.copy > 1 else ''} → {where}")
        return Sent(event.stage, name, order.po_number, filename, where, out.control_number, out.warnings)

    def due(self) -> list[Event]:
        """Events whose (compressed) time has come, removed from the queue."""
        out = []
        while self._queue:
            head = self._queue[0]
            if self.timelines[head.order.po_number].due(head.offset) > time.monotonic():
                break
            out.append(heapq.heappop(self._queue))
        return out

    def run(self, *, once: bool = False, poll: float = 0.5, stop: threading.Event | None = None) -> list[Sent]:
        """Answer orders until ``stop`` is set; ``once``: the orders waiting now, every answer
        sent (on schedule), then return. A channel that fails (an SFTP server down, the hub's
        API or /as2 not answering) stops ``once`` with its reason; a long run says so, keeps the
        answer and tries again every ``poll`` seconds — nothing planned is lost."""
        stop = stop or threading.Event()
        sent: list[Sent] = []
        for order in self.take_orders():  # a channel that cannot be reached is said at once
            self.plan(order)
        while not stop.is_set():
            troubled = False
            for event in self.due():
                try:
                    sent.append(self.send(event))
                except ChannelError as exc:
                    if once:
                        raise
                    heapq.heappush(self._queue, event)  # sent again on the next pass
                    troubled = self._trouble(exc)
                    break
            if once and not self._queue:
                break
            if not once and not troubled:
                try:
                    for order in self.take_orders():
                        self.plan(order)
                    troubled = False
                except ChannelError as exc:
                    troubled = self._trouble(exc)
            if not troubled and self._failing:
                self._failing = False
                self.log(f"{self.partner.id}: its channels answer again")
            wait = poll
            if self._queue and not troubled:
                head = self._queue[0]
                wait = max(0.0, min(poll, self.timelines[head.order.po_number].due(head.offset) - time.monotonic()))
            stop.wait(wait)
        return sent

    def _trouble(self, exc: ChannelError) -> bool:
        if not self._failing:  # once per outage, not once per pass
            self.log(f"{self.partner.id}: {exc}; trying again")
        self._failing = True
        return True


def registered_partner(hub, partner_id: str, log: Callable[[str], None] = lambda line: None) -> PartnerConfig:
    """The partner from the store's registry; on a data dir that has none yet, the routes'
    registry file is loaded first, as ``hub run`` does when it starts."""
    registry = PartnerRegistry(hub.db)
    partner = registry.by_id(partner_id)
    file = hub.settings.routes_dir / "partners.yaml"
    if partner is None and file.exists():
        registry.load_file(file)
        log(f"loaded the partner registry {file} (hub partners load)")
        partner = registry.by_id(partner_id)
    if partner is None:
        raise SimulatorError(f"partner {partner_id} is not in the partner registry ({file}; hub partners load)")
    return partner


def _po_name(order: wire.ReceivedOrder) -> str:
    return "850" if order.standard == "X12" else "ORDERS"
