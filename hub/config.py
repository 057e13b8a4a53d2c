"""Hub settings, read from the environment (``HUB_*``).

Every default is embedded: SQLite under ``HUB_DATA_DIR`` and the embedded kombu transport
(``hubdb://``), so a fresh checkout runs with no server. Setting ``HUB_BROKER_URL`` and
``HUB_DATABASE_URL`` moves the same code onto RabbitMQ and PostgreSQL.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Field(default=Path(".hub"), description="Where SQLite files, blobs and folders live.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    broker_url: str | None = Field(default=None, description="kombu URL; default the embedded hubdb:// transport.")
    routes_dir: Path = Field(default=Path("routes"), description="Folder of route, endpoint and partner YAML.")
    namespace: str = Field(default="hub", description="Prefix of every exchange and queue name.")

    inline_max_bytes: int = Field(default=64 * 1024, description="Raw messages above this go to blob files.")
    max_message_bytes: int = Field(default=50 * 1024 * 1024, description="Larger inbound messages are refused.")

    worker_concurrency: int = Field(default=2, description="Celery prefork processes per worker.")
    prefetch_multiplier: int | None = Field(default=None, ge=1, description="Unacked messages per worker process; "
                                            "by default 1.5 × batch_size (room for a batch being processed and the "
                                            "next one filling).")
    batch_size: int = Field(default=100, ge=1, le=1000, description="Messages a worker processes as one batch: one "
                            "pool job, one database transaction (hub.batches).")
    batch_linger: float = Field(default=0.05, ge=0.0, le=5.0, description="Seconds a worker waits for a batch to fill "
                                "before it processes what it has.")
    send_concurrency: int = Field(default=8, ge=1, le=64, description="Calls one worker process has in flight at "
                                  "once to one endpoint while it answers (ordered endpoints: one).")
    delivery_limit: int = Field(default=5, description="RabbitMQ quorum-queue x-delivery-limit.")
    task_events: bool = Field(default=True, description="Send Celery task events (needed by Flower).")
    confirm_window: int = Field(default=256, description="Unconfirmed publishes in flight on RabbitMQ.")

    relay_interval: float = Field(default=2.0, description="Seconds between outbox relay sweeps.")
    relay_grace: float = Field(default=5.0, description="Age before the relay republishes an outbox row.")
    stuck_after: float = Field(default=300.0, description="A message a route has not processed this long after "
                               "it arrived, while the route's queue is idle, is sent to the route again.")

    inbox_poll_interval: float = Field(default=0.5, description="File-drop folder scan interval, seconds.")
    inbox_stable_seconds: float = Field(default=1.0, description="A file is complete when its size holds this long.")

    plugins: str = Field(default="", description="Extra plugin modules to import, comma-separated "
                         "(site-specific transforms and steps that are not packaged)")

    flower_port: int = 5555
    flower_address: str | None = Field(default=None, description="Address Flower listens on; default "
                                       "FLOWER_ADDRESS, else 127.0.0.1")
    flower_broker_api: str | None = Field(default=None, description="RabbitMQ management API for Flower's Broker "
                                          "tab; default FLOWER_BROKER_API, else http://<broker host>:15672/api/")
    api_port: int = 8080

    @field_validator("namespace")
    @classmethod
    def _namespace_is_a_word(cls, value: str) -> str:
        if not value or not all(ch.isalnum() or ch in "-_" for ch in value):
            raise ValueError("namespace may hold only letters, digits, '-' and '_'")
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'hub.sqlite3').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"hubdb://{(self.data_dir / 'broker.sqlite3').resolve()}"

    @property
    def worker_prefetch(self) -> int:
        """Unacked messages per worker process. A worker with C processes holds C × this: with the
        default, a batch in each process and half a batch more filling, so a process that finishes
        finds its next batch (nearly) buffered instead of waiting for the broker to refill."""
        return self.prefetch_multiplier or -(-3 * self.batch_size // 2)

    @property
    def is_embedded_broker(self) -> bool:
        return self.resolved_broker_url.startswith("hubdb://")

    @property
    def is_amqp(self) -> bool:
        return self.resolved_broker_url.split("://", 1)[0] in {"amqp", "pyamqp", "amqps"}

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings. Tests call ``get_settings.cache_clear()`` after changing the env."""
    return Settings()
