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
partial file.

Over HTTP: when the partner's order endpoint is an ``http`` endpoint on this machine, the
simulator listens at its URL and takes what the hub POSTs (answering 200); when no file-drop
channel is bound to the partner but its entry names an API key (``auth.api_key_env``, the key in
that environment variable: ``hub partners api-key create``), the answers are POSTed to the hub's
inbound API (``HUB_SIMULATOR_API_URL``, default ``http://127.0.0.1:<HUB_API_PORT>``) with the
file name as ``Idempotency-Key``. SFTP and AS2 endpoints are refused with the endpoint's name.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from hub.partners import PartnerConfig


class ChannelError(ValueError):
    """The partner's channels cannot be used by the simulator; names the entry at fault."""


@dataclass
class Folder:
    """A mailbox folder: take what is there, put a file atomically."""

    path: Path

    @property
    def where(self) -> str:
        return str(self.path)

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


class Inbox(Protocol):
    where: str

    def take(self) -> list[tuple[str, bytes]]: ...


class Outbox(Protocol):
    where: str

    def put(self, name: str, data: bytes) -> object: ...


@dataclass
class HttpInbox:
    """Listens where the hub's http endpoint for the partner points, and keeps what it POSTs."""

    url: str
    received: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.url

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.path = parts.path or "/"
        inbox, lock = self, threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                name = f"{self.headers.get('X-Hub-Document-Type') or 'order'}-{self.headers.get('X-Hub-Delivery-Id') or len(inbox.received)}"
                with lock:
                    inbox.received.append((name, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
        threading.Thread(target=self.server.serve_forever, name="simulator-http-inbox", daemon=True).start()
        self._lock = lock

    def take(self) -> list[tuple[str, bytes]]:
        with self._lock:
            taken, self.received[:] = list(self.received), []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class HubApi:
    """The hub's inbound HTTP API, as the partner posts to it with its API key."""

    base_url: str
    api_key: str = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.base_url}/api/v1/messages"

    def put(self, name: str, data: bytes) -> str:
        import httpx

        content_type = "application/edifact" if data.lstrip().startswith((b"UNA", b"UNB")) else "application/edi-x12"
        answer = httpx.post(f"{self.where}?filename={quote(name)}", content=data, timeout=30,
                            headers={"X-API-Key": self.api_key, "Content-Type": content_type, "Idempotency-Key": name})
        if answer.status_code != 202:
            raise ChannelError(f"{self.where} answered {answer.status_code} for {name}: {answer.text[:300]}")
        return f"{self.where} ({answer.json().get('message_id')})"


@dataclass
class PartnerChannels:
    orders: Inbox
    answers: Outbox
    hub_acks: Inbox | None


def channels_for(hub, partner: PartnerConfig) -> PartnerChannels:
    """The partner's folders, from its registry entry and the hub's route files."""
    name = partner.outbound_endpoints.get("purchase_order")
    if not name:
        raise ChannelError(f"partner {partner.id}: outbound_endpoints.purchase_order names no endpoint, so the hub "
                           "sends it no orders to answer")
    answers = _answers(hub, partner)  # before anything listens: a refusal leaves no port taken
    orders = _endpoint_folder(hub, partner, name, "purchase_order")
    ack_name = next((partner.outbound_endpoints[k] for k in ("997", "999", "CONTRL", "ack")
                     if k in partner.outbound_endpoints), None)
    hub_acks = _endpoint_folder(hub, partner, ack_name, "its acknowledgements") if ack_name else None
    return PartnerChannels(orders, answers, hub_acks)


def _answers(hub, partner: PartnerConfig) -> Outbox:
    """The file-drop channel bound to the partner, else the hub's API with the partner's key."""
    bound = [(channel_name, channel.filedrop) for channel_name, channel in hub.routes.channels.items()
             if channel.filedrop is not None and channel.filedrop.partner == partner.id]
    if bound:
        channel_name, drop = bound[0]
        return Folder(Path(drop.path) if drop.path else hub.settings.inbox_dir / channel_name)
    key_env = partner.auth.api_key_env if partner.auth else None
    if key_env and os.environ.get(key_env):
        base = os.environ.get("HUB_SIMULATOR_API_URL") or f"http://127.0.0.1:{hub.settings.api_port}"
        return HubApi(base.rstrip("/"), os.environ[key_env])
    raise ChannelError(f"partner {partner.id}: no file-drop channel is bound to it (filedrop: {{partner: {partner.id}}}) "
                       f"and no API key in {key_env or 'auth.api_key_env'}: its answers would have nowhere to go")


def _endpoint_folder(hub, partner: PartnerConfig, name: str, what: str) -> Inbox:
    endpoint = hub.routes.endpoints.get(name)
    if endpoint is None:
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) is not defined in any route file")
    if endpoint.file is not None:
        return Folder(Path(endpoint.file.path))
    if endpoint.http is not None:
        host = urlsplit(endpoint.http.url).hostname
        if host not in ("127.0.0.1", "localhost"):
            raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) posts to {host}; the simulator can "
                               "stand in only for a partner on this machine (127.0.0.1)")
        try:
            return HttpInbox(endpoint.http.url)
        except OSError as exc:
            raise ChannelError(f"partner {partner.id}: cannot listen at {endpoint.http.url} ({exc.strerror or exc})") from None
    kind = next((k for k in ("sftp", "as2") if getattr(endpoint, k, None) is not None), "unknown")
    raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) is a {kind} endpoint; the simulator takes "
                       "orders from a folder (file endpoint) or at a local URL (http endpoint)")
