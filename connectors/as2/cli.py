"""``hub as2``: certificates (``certs``), AS2 messages and their MDNs (``messages``), and a new
key pair for the hub (``new-identity``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from hub.operations.terminal import printable

as2_app = typer.Typer(help="AS2: certificates, messages and MDNs (docs/as2.md).", no_args_is_help=True)

WARN_BEFORE = timedelta(days=30)


def _hub():
    from hub.app import Hub

    return Hub()


@as2_app.command("certs")
def certs(fail: Annotated[bool, typer.Option("--fail", help="Exit 1 when one is expired or expires within 30 "
                                              "days (cron, monitoring)")] = False) -> None:
    """The hub's certificate and every partner's (from the registry file), with their expiry
    dates; a warning 30 days ahead, an error once expired."""
    from connectors.as2.identity import As2Settings, As2Unusable, read_certificate
    from hub.config import get_settings
    from hub.partner_sync import certificate_path, registry_path
    from hub.partners import read_partners_file
    from hub.yamlfile import DataFileError

    rows: list[tuple[str, Path]] = []
    settings = As2Settings()
    if settings.certificate:
        rows.append((f"hub {settings.id}", settings.certificate))
    registry = registry_path(get_settings().routes_dir)
    try:
        partners = read_partners_file(registry) if registry.is_file() else []
    except DataFileError as exc:
        typer.echo("\n".join(exc.problems), err=True)
        raise typer.Exit(2) from None
    for partner in partners:
        if partner.as2 is not None:
            rows += [(f"{partner.id} {partner.as2.as2_id} ({name})", certificate_path(registry, value))
                     for name, value in partner.as2.certificate_files()]
    now, bad = datetime.now(UTC), 0
    if not rows:
        typer.echo("no AS2 certificates (HUB_AS2_CERTIFICATE unset, no partner with an as2 section)")
    for who, path in rows:
        try:
            cert = read_certificate(path)
        except As2Unusable as exc:
            typer.echo(f"ERROR   {who}: {exc}")
            bad += 1
            continue
        left = cert.not_after - now
        state = "EXPIRED" if left.total_seconds() < 0 else "WARNING" if left < WARN_BEFORE else "ok"
        bad += state != "ok"
        typer.echo(f"{state:<7} {who}: {path}  expires {cert.not_after:%Y-%m-%d} ({left.days} days)  "
                   f"subject {printable(cert.subject)}  sha256 {cert.sha256[:16]}…")
    if fail and bad:
        raise typer.Exit(1)


@as2_app.command("messages")
def messages(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only sent messages whose asynchronous MDN is late")] = False,
    fail: Annotated[bool, typer.Option("--fail", help="With --overdue: exit 1 when any is late")] = False,
    limit: int = 50,
) -> None:
    """AS2 messages, newest first: direction, partner, Message-ID, hub message, MDN status, MIC."""
    from connectors.as2.store import listing

    hub = _hub()
    rows = listing(hub.db, overdue_at=datetime.now(UTC) if overdue else None, limit=limit)
    if not rows:
        typer.echo("no overdue MDNs" if overdue else "no AS2 messages")
    for row in rows:
        due = f" due {row.due_at:%Y-%m-%d %H:%M}" if row.due_at and row.mdn_status == "pending" else ""
        typer.echo(f"{row.created_at:%Y-%m-%d %H:%M:%S}  {row.direction:<3} {row.partner_id:<12} "
                   f"{printable(row.as2_message_id)}  message {row.message_id or '-'}  MDN {row.mdn_mode}/"
                   f"{row.mdn_status}{due}: {printable((row.mdn_detail or '-')[:120])}  MIC {row.mic or '-'}")
    if overdue and fail and rows:
        raise typer.Exit(1)


@as2_app.command("new-identity")
def new_identity(
    as2_id: Annotated[str, typer.Argument(help="The AS2 name the certificate is for (HUB_AS2_ID)")],
    out: Annotated[Path, typer.Option("--out", help="Folder for <name>.crt and <name>.key")] = Path("."),
    days: Annotated[int, typer.Option(help="Validity in days")] = 730,
) -> None:
    """A self-signed RSA 2048 / SHA-256 certificate and its private key (mode 0600), the usual
    AS2 practice: send the .crt to partners, keep the .key on the hub (HUB_AS2_PRIVATE_KEY)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, as2_id)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    out.mkdir(parents=True, exist_ok=True)
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in as2_id)
    crt, pem_key = out / f"{stem}.crt", out / f"{stem}.key"
    if crt.exists() or pem_key.exists():
        typer.echo(f"{crt} or {pem_key} exists: not overwritten", err=True)
        raise typer.Exit(1)
    pem_key.touch(mode=0o600)
    pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    typer.echo(f"{crt} (send it to partners)\n{pem_key} (keep it here: HUB_AS2_PRIVATE_KEY={pem_key}, "
               f"HUB_AS2_CERTIFICATE={crt}, HUB_AS2_ID={as2_id})")
