"""Who speaks AS2: the hub's own identity (``HUB_AS2_*``: a name, a certificate and a private key,
both files) and each partner's (the registry's ``as2`` section), as pyas2lib objects.

Certificates are checked here, before pyas2lib sees them, so a refusal says which file, which
partner and why ("expired on 2026-01-31") instead of a library's generic error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.as2.compat import pyas2lib
from hub.partner_sync import certificate_path, registry_path
from hub.partners import PartnerConfig


class As2Unusable(Exception):
    """An identity or certificate that cannot be used; the message names the file and why."""


class As2Settings(BaseSettings):
    """``HUB_AS2_*``: the hub's AS2 identity. Key and certificate are files (a secrets mount);
    the passphrase, if the key has one, is the only secret taken from the environment."""

    model_config = SettingsConfigDict(env_prefix="HUB_AS2_", extra="ignore")

    id: str = Field("SUPPLYHUB", pattern=r"^[!-~]{1,128}$", description="The hub's AS2 name (AS2-To of what it receives)")
    certificate: Path | None = Field(None, description="PEM file: the hub's certificate (send it to partners)")
    private_key: Path | None = Field(None, description="PEM file: the hub's private key (signs, decrypts)")
    private_key_passphrase: SecretStr | None = Field(None, description="The key's passphrase, if it has one")
    mdn_url: str | None = Field(None, description="The hub's public /as2 URL, where partners post asynchronous MDNs")
    domain: str | None = Field(None, description="Right side of the Message-IDs the hub makes; default from the AS2 name")
    max_bytes: int | None = Field(None, description="Largest AS2 body accepted; default HUB_MAX_MESSAGE_BYTES x 2")


@dataclass(frozen=True)
class Certificate:
    path: Path
    subject: str
    not_before: datetime
    not_after: datetime
    sha256: str

    def problem(self, now: datetime | None = None) -> str | None:
        now = now or datetime.now(UTC)
        if now > self.not_after:
            return f"certificate {self.path} ({self.subject}) expired on {self.not_after:%Y-%m-%d %H:%M} UTC"
        if now < self.not_before:
            return f"certificate {self.path} ({self.subject}) is not valid before {self.not_before:%Y-%m-%d %H:%M} UTC"
        return None


def read_certificate(path: Path) -> Certificate:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise As2Unusable(f"certificate file {path}: {exc.strerror or exc}") from None
    try:
        cert = x509.load_pem_x509_certificate(raw) if b"-----BEGIN" in raw else x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        raise As2Unusable(f"{path} is not an X.509 certificate (PEM or DER): {exc}") from None
    from cryptography.hazmat.primitives import hashes

    return Certificate(path, cert.subject.rfc4514_string(), cert.not_valid_before_utc, cert.not_valid_after_utc,
                       cert.fingerprint(hashes.SHA256()).hex())


def pem(path: Path) -> bytes:
    """A certificate as PEM bytes (pyas2lib wants PEM); DER files are converted."""
    raw = path.read_bytes()
    if b"-----BEGIN" in raw:
        return raw
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(raw).public_bytes(Encoding.PEM)


def hub_organization(settings: As2Settings | None = None, *, mdn_url: str | None = None):
    """The hub as a pyas2lib ``Organization`` (signs and decrypts with its key)."""
    settings = settings or As2Settings()
    if settings.certificate is None or settings.private_key is None:
        raise As2Unusable("the hub has no AS2 identity: set HUB_AS2_CERTIFICATE and HUB_AS2_PRIVATE_KEY "
                          "(files; `hub as2 new-identity` makes a pair)")
    cert = read_certificate(settings.certificate)
    if problem := cert.problem():
        raise As2Unusable(f"the hub's own {problem} (HUB_AS2_CERTIFICATE)")
    try:
        key = settings.private_key.read_bytes()
    except OSError as exc:
        raise As2Unusable(f"HUB_AS2_PRIVATE_KEY {settings.private_key}: {exc.strerror or exc}") from None
    passphrase = settings.private_key_passphrase.get_secret_value() if settings.private_key_passphrase else None
    as2 = pyas2lib()
    try:
        both = key + b"\n" + pem(settings.certificate)
        return as2.Organization(as2_name=settings.id, sign_key=both, sign_key_pass=passphrase, decrypt_key=both,
                                decrypt_key_pass=passphrase, mdn_url=mdn_url or settings.mdn_url,
                                domain=settings.domain or _domain(settings.id))
    except Exception as exc:  # noqa: BLE001 - pyas2lib's AS2Exception / oscrypto errors: say which file
        raise As2Unusable(f"HUB_AS2_PRIVATE_KEY {settings.private_key}: {exc} (a PEM private key matching "
                          f"HUB_AS2_CERTIFICATE; HUB_AS2_PRIVATE_KEY_PASSPHRASE if it is encrypted)") from None


def _domain(as2_id: str) -> str:
    return (re.sub(r"[^a-z0-9-]+", "-", as2_id.lower()).strip("-") or "supply-hub") + ".as2"


def partner_certificates(partner: PartnerConfig, routes_dir: Path,
                         check_dates: bool = True) -> tuple[Certificate, Certificate]:
    """(verification, encryption) certificates of a partner, each checked for dates."""
    if partner.as2 is None:
        raise As2Unusable(f"partner {partner.id} has no as2 section in the partner registry")
    registry = registry_path(routes_dir)
    verify = read_certificate(certificate_path(registry, partner.as2.certificate))
    encrypt = (read_certificate(certificate_path(registry, partner.as2.encryption_certificate))
               if partner.as2.encryption_certificate else verify)
    for cert in {verify.path: verify, encrypt.path: encrypt}.values() if check_dates else ():
        if problem := cert.problem():
            raise As2Unusable(f"partner {partner.id}: {problem}")
    return verify, encrypt


def as2_partner(partner: PartnerConfig, routes_dir: Path, check_dates: bool = True):
    """A registry partner as a pyas2lib ``Partner``: what the hub requires of what it receives
    and does to what it sends. ``check_dates=False`` lets the receiver read (and answer) a
    message signed with an expired certificate before refusing it."""
    verify, encrypt = partner_certificates(partner, routes_dir, check_dates)
    agreement = partner.as2
    mdn_mode = {"sync": "SYNC", "async": "ASYNC", "none": None}[agreement.mdn]
    # validate_certs=False: the dates are checked above with a clear reason; chains are the
    # registry's to pin (AS2 partners exchange self-signed certificates, the usual practice).
    return pyas2lib().Partner(
        as2_name=agreement.as2_id, verify_cert=pem(verify.path), encrypt_cert=pem(encrypt.path),
        validate_certs=False, compress=agreement.compress, sign=agreement.sign, digest_alg=agreement.signature,
        encrypt=agreement.encrypt, enc_alg=agreement.encryption, mdn_mode=mdn_mode,
        mdn_digest_alg=agreement.signature if agreement.mdn_signed and mdn_mode else None)


def by_as2_id(partners: list[PartnerConfig], as2_id: str) -> PartnerConfig | None:
    return next((p for p in partners if p.as2 is not None and p.as2.as2_id == as2_id), None)
