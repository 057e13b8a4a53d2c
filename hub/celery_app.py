"""The Celery application, configured from the hub's settings.

Choices measured on this machine (see DEVELOPERS.md): prefork pool (solo and threads stall
with late acks on Celery 5.6/5.7), late acks with reject-on-worker-lost, and our own
publisher with a confirm window instead of kombu's one-confirm-at-a-time publishing for the
hot path. Celery's own publishes (retries) use confirm_publish, which is fine for rare events.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu.serialization import dumps

from hub.broker.publisher import OutMessage
from hub.config import Settings


def make_celery(settings: Settings) -> Celery:
    app = Celery("hub", broker=settings.resolved_broker_url, set_as_current=False)
    embedded = settings.is_embedded_broker
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # An exception escaping a task is a bug; on RabbitMQ rejecting dead-letters it.
        task_acks_on_failure_or_timeout=False,
        worker_prefetch_multiplier=settings.worker_prefetch,
        worker_concurrency=settings.worker_concurrency,
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        worker_send_task_events=settings.task_events and not embedded,
        task_send_sent_event=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"polling_interval": 0.05} if embedded else {"confirm_publish": True},
        task_create_missing_queues=False,
        task_default_queue=f"{settings.namespace}.default",
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        enable_utc=True,
        timezone="UTC",
    )
    return app


def task_message(app: Celery, name: str, args: list[Any], *, task_id: str, exchange: str, routing_key: str,
                 headers: dict[str, Any] | None = None, kwargs: dict[str, Any] | None = None) -> OutMessage:
    """A Celery protocol-2 task message, ready for our publisher or the outbox."""
    msg = app.amqp.as_task_v2(task_id, name, args=args, kwargs=kwargs or {})
    content_type, encoding, body = dumps(msg.body, serializer="json")
    all_headers = dict(msg.headers)
    all_headers.update(headers or {})
    return OutMessage(
        exchange=exchange,
        routing_key=routing_key,
        body=body.encode("utf-8") if isinstance(body, str) else body,
        headers=all_headers,
        properties={"correlation_id": task_id},
        content_type=content_type,
        content_encoding=encoding,
    )
