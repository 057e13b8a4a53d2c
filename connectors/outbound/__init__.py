"""Outbound connectors: deliver one rendered payload to one endpoint and classify the answer
in the core's vocabulary (``hub.delivery.sending``: delivered, retry, unavailable, busy,
reject). Each kind registers its sender factory here; the delivery core finds it by kind."""

from __future__ import annotations

from hub.delivery.sending import MAX_RESPONSE, DeliveryResult, Outcome, Payload, Sender, sender_for, sender_kind

__all__ = ["MAX_RESPONSE", "DeliveryResult", "Outcome", "Payload", "Sender", "sender_for"]


@sender_kind("http")
def _http(name: str, config, db) -> Sender:
    from connectors.outbound.guards import DatabaseGuards, LocalGuards
    from connectors.outbound.http import HttpSender

    return HttpSender(name, config, DatabaseGuards(db) if db is not None else LocalGuards())


@sender_kind("file")
def _file(name: str, config, db) -> Sender:
    from connectors.outbound.file import FileSender

    return FileSender(name, config)


@sender_kind("sftp")
def _sftp(name: str, config, db) -> Sender:
    from connectors.outbound.sftp import SftpSender

    return SftpSender(name, config)
