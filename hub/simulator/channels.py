"""Where the simulated partner finds the hub's orders and leaves its answers, read from the
hub's own configuration — so the simulator exercises the routes, endpoints and channels an
operator configured, not a private shortcut.

- Orders: the endpoint the partner's registry entry names for ``purchase_order``
  (``outbound_endpoints``), a ``file`` endpoint: the folder the hub delivers 850s / ORDERS to.
- The hub's acks to the partner: the endpoint named for its 997/999/CONTRL (or ``ack``),
  read and archived so the partner's mailbox does not fill up.
- Answers: the file-drop channel bound to the partner (``filedrop: {partner: ID}``), the folder
  the hub's file drop takes the partner's files from.

Files are taken by moving them into ``taken/`` beside them (a partner's translator "downloads"
them), and written under a hidden temporary name then renamed, so the file drop never sees a
partial file. Endpoints of another kind (SFTP, HTTP, AS2) are refused with the endpoint's name:
point the example partner's endpoints at folders to simulate it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from hub.partners import PartnerConfig


class ChannelError(ValueError):
    """The partner's channels cannot be used by the simulator; names the entry at fault."""


@dataclass
class Folder:
    """A mailbox folder: take what is there, put a file atomically."""

    path: Path

    def take(self) -> list[tuple[str, bytes]]:
        """Every complete file, oldest first, moved into ``taken/`` once read."""
        if not self.path.is_dir():
            return []
        files = sorted((p for p in self.path.iterdir() if p.is_file() and not p.name.startswith(".")
                        and not p.name.endswith((".tmp", ".part"))), key=lambda p: (p.stat().st_mtime, p.name))
        taken = self.path / "taken"
        out = []
        for file in files:
            data = file.read_bytes()
            taken.mkdir(exist_ok=True)
            os.replace(file, taken / file.name)
            out.append((file.name, data))
        return out

    def put(self, name: str, data: bytes) -> Path:
        self.path.mkdir(parents=True, exist_ok=True)
        staging = self.path / f".{name}.tmp"
        staging.write_bytes(data)
        target = self.path / name
        os.replace(staging, target)
        return target


@dataclass
class PartnerChannels:
    orders: Folder
    answers: Folder
    hub_acks: Folder | None


def channels_for(hub, partner: PartnerConfig) -> PartnerChannels:
    """The partner's folders, from its registry entry and the hub's route files."""
    name = partner.outbound_endpoints.get("purchase_order")
    if not name:
        raise ChannelError(f"partner {partner.id}: outbound_endpoints.purchase_order names no endpoint, so the hub "
                           "sends it no orders to answer")
    orders = _endpoint_folder(hub, partner, name, "purchase_order")
    ack_name = next((partner.outbound_endpoints[k] for k in ("997", "999", "CONTRL", "ack")
                     if k in partner.outbound_endpoints), None)
    hub_acks = _endpoint_folder(hub, partner, ack_name, "its acknowledgements") if ack_name else None
    bound = [(channel_name, channel.filedrop) for channel_name, channel in hub.routes.channels.items()
             if channel.filedrop is not None and channel.filedrop.partner == partner.id]
    if not bound:
        raise ChannelError(f"partner {partner.id}: no file-drop channel is bound to it (filedrop: {{partner: "
                           f"{partner.id}}}): its answers would have nowhere to go")
    channel_name, drop = bound[0]
    answers = Path(drop.path) if drop.path else hub.settings.inbox_dir / channel_name
    return PartnerChannels(orders, Folder(answers), hub_acks)


def _endpoint_folder(hub, partner: PartnerConfig, name: str, what: str) -> Folder:
    endpoint = hub.routes.endpoints.get(name)
    if endpoint is None:
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) is not defined in any route file")
    if endpoint.file is None:
        kind = next((k for k in ("http", "sftp", "as2") if getattr(endpoint, k, None) is not None), "unknown")
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) is a {kind} endpoint; the simulator "
                           "answers over folders (a file endpoint)")
    return Folder(Path(endpoint.file.path))
