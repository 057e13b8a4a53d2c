"""``hub flower``: Flower for operators only.

Flower shows every task's arguments, every queue and, through its API, can revoke tasks and
restart pools; it authenticates nobody unless told to. So the hub starts it only with
credentials, and only where it was asked to listen:

- **Authentication is required.** Flower's own variables: ``FLOWER_BASIC_AUTH=user:password``
  (several, comma-separated), or OAuth — ``FLOWER_AUTH`` (the e-mail pattern allowed),
  ``FLOWER_AUTH_PROVIDER`` (e.g. ``flower.views.auth.GithubLoginHandler``),
  ``FLOWER_OAUTH2_KEY``, ``FLOWER_OAUTH2_SECRET``, ``FLOWER_OAUTH2_REDIRECT_URI``. Without one
  of them ``hub flower`` refuses to start (exit 2) and says what to set.
- **It listens on 127.0.0.1** unless ``HUB_FLOWER_ADDRESS`` (or Flower's ``FLOWER_ADDRESS``)
  names another address; the port is ``HUB_FLOWER_PORT`` (5555).
- **The Broker tab shows queue depths**, the dead-letter queues included: Flower gets
  ``--broker_api`` — ``HUB_FLOWER_BROKER_API`` / ``FLOWER_BROKER_API``, else RabbitMQ's
  management API on the broker's host (``http://<user>:<password>@<host>:15672/api/``) — and
  the hub's queues are added to the ones Flower lists (it lists only queues a worker consumes,
  and nobody consumes a dead-letter queue).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit

MANAGEMENT_PORT = 15672
OAUTH_VARIABLES = ("FLOWER_AUTH", "FLOWER_AUTH_PROVIDER", "FLOWER_OAUTH2_KEY", "FLOWER_OAUTH2_SECRET",
                   "FLOWER_OAUTH2_REDIRECT_URI")


class FlowerRefused(Exception):
    """Flower would start unprotected or cannot work here; says what to set."""


@dataclass(frozen=True)
class FlowerPlan:
    address: str
    port: int
    broker_api: str | None
    auth: str  # basic or oauth: how operators sign in

    def arguments(self) -> list[str]:
        args = ["flower", f"--port={self.port}", f"--address={self.address}"]
        if self.broker_api:
            args.append(f"--broker_api={self.broker_api}")
        return args


def authentication(env: Mapping[str, str]) -> str:
    """``basic`` or ``oauth``: the way Flower will authenticate, from its own variables."""
    entries = [e for e in env.get("FLOWER_BASIC_AUTH", "").split(",") if e.strip()]
    if entries:
        bad = [n for n, e in enumerate(entries, 1) if not all(part.strip() for part in e.partition(":")[::2])]
        if bad:
            raise FlowerRefused(f"FLOWER_BASIC_AUTH entry {bad[0]} is not user:password (both parts non-empty)")
        return "basic"
    missing = [name for name in OAUTH_VARIABLES if not env.get(name, "").strip()]
    if len(missing) < len(OAUTH_VARIABLES):
        if missing:
            raise FlowerRefused(f"Flower's OAuth needs {', '.join(missing)} as well")
        return "oauth"
    raise FlowerRefused("Flower shows every task and can revoke them: it does not start without authentication. "
                        "Set FLOWER_BASIC_AUTH=user:password (or Flower's OAuth variables: "
                        f"{', '.join(OAUTH_VARIABLES)})")


def management_api(broker_url: str) -> str | None:
    """RabbitMQ's management API on the broker's host, with the broker's credentials."""
    url = urlsplit(broker_url)
    if url.scheme not in ("amqp", "pyamqp", "amqps") or not url.hostname:
        return None
    # urlsplit keeps the URL's percent-encoding; decode, then encode once for the new URL.
    user, password = (quote(unquote(part or "guest"), safe="") for part in (url.username, url.password))
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    scheme = "https" if url.scheme == "amqps" else "http"
    return f"{scheme}://{user}:{password}@{host}:{MANAGEMENT_PORT}/api/"


def plan(settings, port: int | None = None, env: Mapping[str, str] | None = None) -> FlowerPlan:
    """What ``hub flower`` runs, or ``FlowerRefused``: ``settings`` are the hub's."""
    env = os.environ if env is None else env
    if settings.is_embedded_broker:
        raise FlowerRefused("Flower needs a real broker (HUB_BROKER_URL=amqp://...): the embedded one sends no "
                            "events")
    auth = authentication(env)
    address = settings.flower_address or env.get("FLOWER_ADDRESS") or "127.0.0.1"
    broker_api = (settings.flower_broker_api or env.get("FLOWER_BROKER_API")
                  or management_api(settings.resolved_broker_url))
    return FlowerPlan(address, port or settings.flower_port, broker_api, auth)


def list_hub_queues(names: list[str]) -> None:
    """Make Flower's Broker tab list ``names`` too. Flower lists the queues workers consume
    (else the app's ``task_queues``); the dead-letter queues are consumed by nobody, so without
    this their depth — the first thing an operator wants to see — is never shown."""
    from flower.views import BaseHandler

    consumed = BaseHandler.get_active_queue_names

    def with_hub_queues(self) -> list[str]:
        return sorted(set(consumed(self)) | set(names))

    BaseHandler.get_active_queue_names = with_hub_queues
