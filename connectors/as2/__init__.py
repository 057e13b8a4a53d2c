"""AS2 (RFC 4130): EDI over HTTP, signed and encrypted S/MIME, with signed receipts (MDNs).

- ``inbound``: ``POST /as2`` on the API server (mounted by ``connectors.inbound.api.create_app``);
- ``outbound``: the sender of ``as2:`` endpoints, registered here as kind ``as2``;
- ``store``: AS2 messages and their MDNs, both directions (table ``as2_messages``);
- ``identity``: the hub's identity (``HUB_AS2_*``) and the partners' (registry ``as2``);
- ``cli``: ``hub as2 certs | messages | new-identity``;
- ``compat``: the pyas2lib import on this OpenSSL.

Set-up and interoperability: docs/as2.md.
"""

from __future__ import annotations

from hub.delivery.sending import Sender, sender_kind


@sender_kind("as2")
def _as2(name: str, config, db) -> Sender:
    from connectors.as2.outbound import As2Sender
    from hub.config import get_settings

    return As2Sender(name, config, db, get_settings().routes_dir)
