"""Where the simulated partner finds the hub's orders and leaves its answers, read from the
hub's own configuration — so the simulator exercises the routes, endpoints and channels an
operator configured, not a private shortcut.

- Orders: the endpoint the partner's registry entry names for ``purchase_order``
  (``outbound_endpoints``): a ``file`` endpoint's folder, an ``http`` or ``as2`` endpoint's URL
  on this machine, an ``sftp`` endpoint's folder on its server.
- The hub's acks to the partner: the endpoint named for its 997/999/CONTRL (or ``ack``),
  read and archived so the partner's mailbox does not fill up.
- Answers: back the way the orders came when that way goes back (AS2; an ``sftp`` channel bound
  to the partner), else the file-drop channel bound to the partner (``filedrop: {partner: ID}``),
  else the hub's API with the partner's key.

Files are taken by moving them into ``taken/`` beside them (a partner's translator "downloads"
them), and written under a hidden temporary name then renamed, so the file drop never sees a
partial file.

Over HTTP: when the partner's order endpoint is an ``http`` endpoint on this machine, the
simulator listens at its URL and takes what the hub POSTs (answering 200); when no file-drop
channel is bound to the partner but its entry names an API key (``auth.api_key_env``, the key in
that environment variable: ``hub partners api-key create``), the answers are POSTed to the hub's
inbound API (``HUB_SIMULATOR_API_URL``, default ``http://127.0.0.1:<HUB_API_PORT>``) with the
file name as ``Idempotency-Key``.

Over SFTP (``sftp_mailbox``): an ``sftp`` order endpoint is the partner's mailbox on that server;
the simulator logs in as the route file says (the same host key check and credential variables)
and takes the files the hub uploaded; an ``sftp`` channel bound to the partner is where its
answers go (first choice when its orders come over SFTP).

Over AS2 (``as2_station``): an ``as2`` order endpoint's URL (or the partner's ``as2.url``) on
127.0.0.1 is where the simulator runs the partner's AS2 server, with the partner's key
(``HUB_SIMULATOR_AS2_KEY``); its answers go as AS2 messages to the hub's ``/as2``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, urlsplit

from hub.partners import PartnerConfig
from hub.stubs import StubServer


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


def edi_content_type(data: bytes) -> str:
    return "application/edifact" if data.lstrip().startswith((b"UNA", b"UNB")) else "application/edi-x12"


class PostListener:
    """A server at the partner's URL on 127.0.0.1: every POST goes to ``answer``; what it keeps
    waits until taken. Shared by the HTTP and the AS2 partner."""

    def _listen(self, url: str, name: str) -> None:
        parts = urlsplit(url)
        self.path = parts.path or "/"
        self._received: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    status, headers, content = listener.answer(self.path, self.headers, body)
                except Exception as exc:  # noqa: BLE001 - the hub gets an answer saying why, not a reset
                    status, headers, content = 500, {}, f"{type(exc).__name__}: {exc}\n".encode()
                self.send_response(status)
                for header, value in headers.items():
                    if header.lower() not in ("content-length", "connection"):
                        self.send_header(header, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, *args) -> None:
                pass

        self.server = StubServer((parts.hostname or "127.0.0.1", parts.port or 80), Handler)
        threading.Thread(target=self.server.serve_forever, name=name, daemon=True).start()

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def keep(self, name: str, data: bytes) -> None:
        with self._lock:
            self._received.append((name, data))

    def take(self) -> list[tuple[str, bytes]]:
        with self._lock:
            taken, self._received[:] = list(self._received), []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class HttpInbox(PostListener):
    """Listens where the hub's http endpoint for the partner points, and keeps what it POSTs."""

    url: str

    @property
    def where(self) -> str:
        return self.url

    def __post_init__(self) -> None:
        self._count = 0
        self._listen(self.url, "simulator-http-inbox")

    def answer(self, path: str, headers, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self._count += 1
        self.keep(f"{headers.get('X-Hub-Document-Type') or 'order'}-{headers.get('X-Hub-Delivery-Id') or self._count}",
                  body)
        return 200, {}, b""


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

        answer = httpx.post(f"{self.where}?filename={quote(name)}", content=data, timeout=30,
                            headers={"X-API-Key": self.api_key, "Content-Type": edi_content_type(data),
                                     "Idempotency-Key": name})
        if answer.status_code != 202:
            raise ChannelError(f"{self.where} answered {answer.status_code} for {name}: {answer.text[:300]}")
        return f"{self.where} ({answer.json().get('message_id')})"


@dataclass
class PartnerChannels:
    orders: Inbox
    answers: Outbox
    hub_acks: Inbox | None

    def close(self) -> None:
        """Stop listening (HTTP, AS2) and drop sessions (SFTP)."""
        for channel in (self.orders, self.answers, self.hub_acks):
            close = getattr(channel, "close", None)
            if close is not None:
                close()


def channels_for(hub, partner: PartnerConfig) -> PartnerChannels:
    """The partner's side of the channels its registry entry and the hub's route files bind."""
    name = partner.outbound_endpoints.get("purchase_order")
    if not name:
        raise ChannelError(f"partner {partner.id}: outbound_endpoints.purchase_order names no endpoint, so the hub "
                           "sends it no orders to answer")
    endpoint = _endpoint(hub, partner, name, "purchase_order")
    side = None
    if endpoint.kind == "as2":
        from hub.simulator.as2_station import partner_side

        side = partner_side(hub, partner)
    answers = _answers(hub, partner, endpoint.kind, side)  # before anything listens: a refusal leaves no port taken
    ack_name = next((partner.outbound_endpoints[k] for k in ("997", "999", "CONTRL", "ack")
                     if k in partner.outbound_endpoints), None)
    ack_endpoint = _endpoint(hub, partner, ack_name, "its acknowledgements") if ack_name else None
    orders = _inbox(hub, partner, name, endpoint, "purchase_order", side)
    hub_acks = None
    if ack_endpoint is not None and _address(ack_endpoint) != _address(endpoint):  # else the orders' inbox gets them
        try:
            hub_acks = _inbox(hub, partner, ack_name, ack_endpoint, "its acknowledgements", side)
        except BaseException:
            getattr(orders, "close", lambda: None)()
            raise
    return PartnerChannels(orders, answers, hub_acks)


def _answers(hub, partner: PartnerConfig, orders_kind: str, side=None) -> Outbox:
    """Where the partner's answers go, the way its orders came when that way goes back: AS2 to
    the hub's /as2; else the partner's own SFTP channel (first when its orders come over SFTP) or
    its file-drop channel; else the hub's API with the partner's key."""
    if orders_kind == "as2":
        from hub.simulator.as2_station import As2ToHub

        return As2ToHub(f"{_hub_url(hub)}/as2", side)
    bound = {kind: [(channel_name, getattr(channel, kind)) for channel_name, channel in hub.routes.channels.items()
                    if getattr(channel, kind) is not None and getattr(channel, kind).partner == partner.id]
             for kind in ("filedrop", "sftp")}
    for kind in (("sftp", "filedrop") if orders_kind == "sftp" else ("filedrop", "sftp")):
        if not bound[kind]:
            continue
        channel_name, config = bound[kind][0]
        if kind == "sftp":
            from hub.simulator.sftp_mailbox import SftpMailbox

            return SftpMailbox(config, config.done_suffix, hub.settings.max_message_bytes)
        return Folder(Path(config.path) if config.path else hub.settings.inbox_dir / channel_name)
    key_env = partner.auth.api_key_env if partner.auth else None
    if key_env and os.environ.get(key_env):
        return HubApi(_hub_url(hub), os.environ[key_env])
    raise ChannelError(f"partner {partner.id}: no file-drop or sftp channel is bound to it (filedrop: {{partner: "
                       f"{partner.id}}}) and no API key in {key_env or 'auth.api_key_env'}: its answers would have "
                       "nowhere to go")


def _hub_url(hub) -> str:
    return (os.environ.get("HUB_SIMULATOR_API_URL") or f"http://127.0.0.1:{hub.settings.api_port}").rstrip("/")


def _endpoint(hub, partner: PartnerConfig, name: str, what: str):
    endpoint = hub.routes.endpoints.get(name)
    if endpoint is None:
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) is not defined in any route file")
    if endpoint.as2 is not None and endpoint.as2.partner != partner.id:
        raise ChannelError(f"partner {partner.id}: as2 endpoint {name!r} ({what}) is partner "
                           f"{endpoint.as2.partner}'s: the simulator speaks AS2 only as the partner it plays")
    return endpoint


def _address(endpoint) -> str:
    """Where an endpoint delivers (a URL, a folder, a server folder): two endpoints with one
    address share the partner's inbox."""
    config = getattr(endpoint, endpoint.kind)
    if endpoint.kind == "sftp":
        return f"sftp://{config.host}:{config.port}{config.path}"
    return str(getattr(config, "url", None) or getattr(config, "path", None))


def _local_url(partner: PartnerConfig, name: str, what: str, url: str | None) -> str:
    if not url:
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) has no url, nor has the partner's "
                           "as2.url")
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost"):
        raise ChannelError(f"partner {partner.id}: endpoint {name!r} ({what}) posts to {host}; the simulator can "
                           "stand in only for a partner on this machine (127.0.0.1)")
    return url


def _inbox(hub, partner: PartnerConfig, name: str, endpoint, what: str, side=None) -> Inbox:
    """The partner's side of the endpoint: its folder, its HTTP or AS2 server on 127.0.0.1, its
    SFTP mailbox."""
    if endpoint.file is not None:
        return Folder(Path(endpoint.file.path))
    if endpoint.sftp is not None:
        from hub.simulator.sftp_mailbox import SftpMailbox

        return SftpMailbox(endpoint.sftp)
    url = _local_url(partner, name, what, endpoint.http.url if endpoint.http is not None else
                     endpoint.as2.url or (partner.as2.url if partner.as2 else None))
    try:
        if endpoint.as2 is not None:
            from hub.simulator.as2_station import As2Station, partner_side

            return As2Station(url, side or partner_side(hub, partner))
        return HttpInbox(url)
    except OSError as exc:
        raise ChannelError(f"partner {partner.id}: cannot listen at {url} ({exc.strerror or exc})") from None
