"""The partner registry follows its file: checked with the route files it refers to, and loaded
into the store when a hub process starts (``hub run``, ``hub worker``, ``hub filedrop``,
``hub api``).

Why at start, in every process: the store is what the API, the channels and the ``ack: auto``
step read, so a registry file that nothing loads makes every supplier "unknown". Loading is
idempotent (an unchanged file writes nothing) and each process prints what changed.

``registry_problems`` is what ``hub partners validate`` and the start-up check report, each as
``file:line: reason``: the file's own rules (``hub.partners.read_partners_file``) and the
references between the registry and the route files — an ``outbound_endpoints`` entry naming
no endpoint, a channel or an ``as2`` endpoint bound to a partner the registry does not hold, an
``as2`` endpoint whose partner has no ``as2`` section, and a certificate file that is missing
or is not a certificate.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError

from hub.partners import PartnerConfig, PartnerRegistry, RegistryChange, read_partners_file
from hub.yamlfile import DataFileError, Problem, line_of, load_data, load_yaml

log = logging.getLogger(__name__)

REGISTRY_FILE = "partners.yaml"
EXPIRY_WARNING = timedelta(days=30)


def registry_path(routes_dir: Path) -> Path:
    return Path(routes_dir) / REGISTRY_FILE


def certificate_path(registry_file: Path, value: str) -> Path:
    """A certificate named in the registry: absolute, or relative to the registry file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else Path(registry_file).parent / path


@dataclass
class RegistryCheck:
    partners: list[PartnerConfig] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_registry(path: Path, routes) -> RegistryCheck:
    """The registry file checked on its own and against ``routes`` (a ``RouteSet``)."""
    check = RegistryCheck()
    try:
        check.partners = read_partners_file(path)
    except DataFileError as exc:
        check.problems = list(exc.problems)
        return check
    data = load_data(path)
    ids = {p.id: p for p in check.partners}
    for index, partner in enumerate(check.partners):
        for kind, endpoint in partner.outbound_endpoints.items():
            if endpoint not in routes.endpoints:
                line = line_of(data, ("partners", index, "outbound_endpoints", kind))
                check.problems.append(f"{path}:{line}: partners.{index}.outbound_endpoints.{kind}: endpoint "
                                      f"{endpoint!r} is not defined in any route file of {routes.directory}")
        if partner.as2 is not None:
            for name, value in partner.as2.certificate_files():
                where = f"{path}:{line_of(data, ('partners', index, 'as2', name))}: partners.{index}.as2.{name}"
                problem, warning = _certificate(certificate_path(path, value))
                if problem:
                    check.problems.append(f"{where}: {problem}")
                if warning:
                    check.warnings.append(f"{where}: {warning}")
    check.problems += [str(p) for p in _route_references(routes.directory, ids)]
    return check


def _certificate(path: Path) -> tuple[str | None, str | None]:
    """(problem, warning) about one certificate file."""
    from cryptography import x509

    try:
        raw = path.read_bytes()
    except OSError as exc:
        return f"certificate file {path}: {exc.strerror or exc}", None
    try:
        cert = x509.load_pem_x509_certificate(raw) if b"-----BEGIN" in raw else x509.load_der_x509_certificate(raw)
    except ValueError as exc:
        return f"{path} is not an X.509 certificate (PEM or DER): {exc}", None
    now = datetime.now(UTC)
    if cert.not_valid_after_utc < now:
        return None, f"certificate {path} expired on {cert.not_valid_after_utc:%Y-%m-%d}: messages signed with it are refused"
    if cert.not_valid_after_utc < now + EXPIRY_WARNING:
        return None, f"certificate {path} expires on {cert.not_valid_after_utc:%Y-%m-%d} (within 30 days)"
    return None, None


def _route_references(directory: Path, partners: dict[str, PartnerConfig]) -> list[Problem]:
    """Channels and as2 endpoints of the route files that name a partner the registry lacks."""
    problems: list[Problem] = []
    files = sorted(Path(directory).glob("*.yaml")) + sorted(Path(directory).glob("*.yml"))
    for file in files:
        if file.name == REGISTRY_FILE:
            continue
        doc, _ = load_yaml(file)  # a file's own problems are hub routes validate's to report
        if doc is None or not isinstance(doc.data, dict):
            continue
        for name, channel in _mapping(doc.data.get("channels")).items():
            for kind in ("filedrop", "sftp"):
                partner = _mapping(_mapping(channel).get(kind)).get("partner")
                if partner is not None and partner not in partners:
                    problems.append(doc.problem(("channels", name, kind, "partner"),
                                                f"channel {name} is bound to partner {partner!r}, which is not in "
                                                f"the partner registry ({REGISTRY_FILE})"))
        for name, endpoint in _mapping(doc.data.get("endpoints")).items():
            partner = _mapping(_mapping(endpoint).get("as2")).get("partner")
            if partner is None:
                continue
            if partner not in partners:
                problems.append(doc.problem(("endpoints", name, "as2", "partner"),
                                            f"as2 endpoint {name} names partner {partner!r}, which is not in the "
                                            f"partner registry ({REGISTRY_FILE})"))
            elif partners[partner].as2 is None:
                problems.append(doc.problem(("endpoints", name, "as2", "partner"),
                                            f"as2 endpoint {name}: partner {partner} has no as2 section in the "
                                            f"partner registry (AS2 name, certificate)"))
    return problems


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


class RegistryInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def sync_partners(hub, routes=None) -> RegistryChange | None:
    """Load ``<routes_dir>/partners.yaml`` into the hub's store (None when there is no such
    file), checked against ``routes`` (default the hub's: a route reload passes the set it is
    about to put in force); raises ``RegistryInvalid`` naming every problem, and then changes
    nothing."""
    path = registry_path(hub.settings.routes_dir)
    if not path.is_file():
        return None
    check = check_registry(path, routes if routes is not None else hub.routes)
    if check.problems:
        raise RegistryInvalid(check.problems)
    for warning in check.warnings:
        log.warning("%s", warning)
    registry = PartnerRegistry(hub.db)
    try:
        return registry.sync(check.partners, str(path))
    except IntegrityError:
        pass  # another process started at the same moment and wrote the same rows first: read again
    try:
        return registry.sync(check.partners, str(path))
    except IntegrityError as exc:  # an identifier of the file's held by a partner stored without a file
        raise RegistryInvalid([f"{path}: cannot be loaded: an identifier is held by another stored partner "
                               f"({type(exc.orig).__name__}: {str(exc.orig).splitlines()[0][:200]})"]) from None


def record_change(hub, change: RegistryChange, how: str) -> None:
    """The registry change in the audit trail (who: the file's owner; what: the partners)."""
    if not change.any:
        return
    import pwd

    from hub.console.audit import record
    from hub.console.operators import Principal

    try:
        owner = pwd.getpwuid(Path(change.source).stat().st_uid).pw_name
    except (KeyError, OSError):
        owner = "unknown"
    try:
        record(hub.db, Principal(owner, "registry", how), "partner_registry_loaded", target_type="partner",
               targets=[*change.added, *change.changed, *change.removed], reason=change.summary(),
               detail={"file": change.source, "added": change.added, "changed": change.changed,
                       "removed": change.removed})
    except Exception:  # noqa: BLE001 - the registry is loaded; a missing audit row must not stop the hub
        log.warning("partner registry change not recorded in the audit trail", exc_info=True)


class RegistryWatcher(threading.Thread):
    """Loads the registry file again when it changes, in a running process: a partner added,
    changed or removed needs no restart. An invalid file is refused with each problem's
    file:line and the store keeps the registry it had. Every process may run one: the load is
    idempotent, so the first to see a change writes it and the others find it done."""

    def __init__(self, hub, interval: float | None = None) -> None:
        super().__init__(name="partner-registry-watch", daemon=True)
        self.hub = hub
        self.interval = interval if interval is not None else float(os.environ.get("HUB_REGISTRY_WATCH_INTERVAL", "5"))
        self.path = registry_path(hub.settings.routes_dir)
        self.stopping = threading.Event()
        self.seen = self._stamp()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            stamp = self._stamp()
            if stamp == self.seen or stamp is None:
                continue
            self.seen = stamp
            self.check_now()

    def check_now(self) -> RegistryChange | None:
        try:
            change = sync_partners(self.hub)
        except RegistryInvalid as exc:
            log.error("partner registry %s changed but is invalid; the registry in force is unchanged:\n  %s",
                      self.path, "\n  ".join(exc.problems))
            return None
        except Exception:  # noqa: BLE001 - the store away: the next change (or a restart) loads it
            log.exception("partner registry %s changed but could not be loaded", self.path)
            return None
        if change is not None:
            log.info("%s", change.summary())
            record_change(self.hub, change, "watch")
        return change

    def stop(self) -> None:
        self.stopping.set()
