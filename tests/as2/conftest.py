"""AS2 test kit: certificates made with the ``openssl`` command line, a hub on PostgreSQL with the
API server on 127.0.0.1 (``POST /as2``), and S/MIME built and checked by ``openssl cms`` — an
implementation that is not pyas2lib — in both directions."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from connectors.as2.identity import As2Settings
from hub.app import Hub
from tests.connectors.conftest import drop_schema, make_hub, new_schema
from tests.conftest import free_port

HUB_AS2 = "SUPPLYHUB-TEST"


def openssl(*args: str | Path, data: bytes | None = None) -> bytes:
    result = subprocess.run(["openssl", *map(str, args)], input=data, capture_output=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(map(str, args))}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def make_identity(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed RSA certificate and key, by ``openssl req``."""
    crt, key = folder / f"{name}.crt", folder / f"{name}.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-sha256", "-nodes", "-keyout", key, "-out", crt, "-days", "30",
            "-subj", f"/CN={name}")
    return crt, key


def make_expired_identity(folder: Path, name: str) -> tuple[Path, Path]:
    """A certificate that expired yesterday (OpenSSL 3.0's ``req`` cannot back-date one)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=400))
            .not_valid_after(now - timedelta(days=1)).sign(key, hashes.SHA256()))
    crt, pem = folder / f"{name}.crt", folder / f"{name}.key"
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return crt, pem


def mic_of(entity: bytes) -> str:
    """The MIC of a signed MIME entity (RFC 4130 7.3.1): base64 of its SHA-256."""
    return base64.b64encode(hashlib.sha256(entity).digest()).decode()


def mime_entity(content: bytes, content_type: str = "application/edi-x12", filename: str = "doc.x12") -> bytes:
    return (f"Content-Type: {content_type}\r\nContent-Disposition: attachment; filename=\"{filename}\"\r\n\r\n"
            .encode() + content)


def smime_sign(entity: bytes, crt: Path, key: Path, work: Path) -> bytes:
    """``openssl cms -sign``: a multipart/signed MIME entity (headers, blank line, body), CRLF."""
    (work / "entity.mime").write_bytes(entity)
    return openssl("cms", "-sign", "-binary", "-crlfeol", "-in", work / "entity.mime", "-signer", crt,
                   "-inkey", key, "-md", "sha256")


def smime_encrypt(entity: bytes, recipient: Path, work: Path) -> bytes:
    """``openssl cms -encrypt`` (AES-256-CBC) of a MIME entity: DER enveloped-data, as AS2 posts it."""
    (work / "plain.mime").write_bytes(entity)
    return openssl("cms", "-encrypt", "-binary", "-aes256", "-in", work / "plain.mime", "-outform", "DER", recipient)


def split_entity(entity: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = entity.partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    return headers, body


def verify_smime(headers: dict[str, str], body: bytes, ca: Path, work: Path) -> bytes:
    """``openssl cms -verify`` of a signed answer (its Content-Type and body); the signed content."""
    (work / "answer.smime").write_bytes(f"Content-Type: {headers['content-type']}\r\n\r\n".encode() + body)
    return openssl("cms", "-verify", "-in", work / "answer.smime", "-CAfile", ca, "-purpose", "any")


@dataclass
class As2Env:
    hub: Hub
    base: str  # the API server, http://127.0.0.1:<port>
    folder: Path
    hub_crt: Path
    hub_key: Path
    partner_crt: Path
    partner_key: Path
    old_crt: Path
    old_key: Path

    def post(self, body: bytes, *, as2_from: str, message_id: str, content_type: str, mdn: bool = True,
             path: str = "/as2", extra: dict[str, str] | None = None) -> httpx.Response:
        headers = {"AS2-Version": "1.2", "AS2-From": as2_from, "AS2-To": HUB_AS2, "Message-ID": f"<{message_id}>",
                   "Content-Type": content_type, **(extra or {})}
        if mdn:
            headers.update({"Disposition-Notification-To": "edi@partner.example",
                            "Disposition-Notification-Options":
                                "signed-receipt-protocol=required, pkcs7-signature; signed-receipt-micalg=optional, sha256"})
        return httpx.post(self.base + path, content=body, headers=headers, timeout=30)


PARTNERS = """\
partners:
  - id: P-AS2
    name: Acme over AS2
    roles: [SUPPLIER]
    x12: {{isa_qualifier: ZZ, isa_id: ACMEAS2, gs_id: ACMEAS2}}
    inbound_documents: ["855", "856", "810"]
    as2:
      as2_id: ACME-AS2
      certificate: {partner_crt}
      mdn: {mdn}
      mdn_within: 1h
  - id: P-ASYNC
    name: Acme's second AS2 station, asynchronous MDNs
    roles: [SUPPLIER]
    as2:
      as2_id: ACME-ASYNC
      certificate: {partner_crt}
      mdn: async
      mdn_within: 1h
  - id: P-OLD
    name: Oldco with an expired certificate
    roles: [SUPPLIER]
    x12: {{isa_qualifier: ZZ, isa_id: OLDCO}}
    as2:
      as2_id: OLD-AS2
      certificate: {old_crt}
"""

ENDPOINTS = """\
endpoints:
  acme-as2:
    as2: {partner: P-AS2, url: "${ACME_AS2_URL}", timeout: 10s, mdn_wait: 3s}
"""


def write_routes(folder: Path, env: As2Env | dict, mdn: str = "sync") -> Path:
    routes = folder / "routes"
    routes.mkdir(exist_ok=True)
    (routes / "partners.yaml").write_text(PARTNERS.format(mdn=mdn, partner_crt=env["partner_crt"],
                                                           old_crt=env["old_crt"]))
    (routes / "endpoints.yaml").write_text(ENDPOINTS)
    return routes


@pytest.fixture(scope="module")
def as2_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[As2Env]:
    from connectors.inbound.api import ApiSettings, create_app
    from connectors.inbound.httpserver import api_server
    from hub.partner_sync import sync_partners

    folder = tmp_path_factory.mktemp("as2")
    hub_crt, hub_key = make_identity(folder, "hub")
    partner_crt, partner_key = make_identity(folder, "partner")
    old_crt, old_key = make_expired_identity(folder, "old")
    os.environ.setdefault("ACME_AS2_URL", "http://127.0.0.1:9/unset")
    routes = write_routes(folder, {"partner_crt": partner_crt, "old_crt": old_crt})
    schema, url = new_schema()
    hub = make_hub(folder / "data", url, routes_dir=routes)
    sync_partners(hub)
    settings = As2Settings(id=HUB_AS2, certificate=hub_crt, private_key=hub_key)
    app = create_app(hub, ApiSettings(relay=False))
    app.state.as2.settings = settings
    port = free_port()
    server = api_server(app, ApiSettings(), host="127.0.0.1", port=port, log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield As2Env(hub, f"http://127.0.0.1:{port}", folder, hub_crt, hub_key, partner_crt, partner_key, old_crt, old_key)
    server.should_exit = True
    thread.join(timeout=10)
    hub.db.dispose()
    drop_schema(schema)
