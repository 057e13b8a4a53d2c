"""Batched tasks: many broker messages, one pool job, one database transaction.

Why: a document used to cost two Celery tasks and a dozen database round trips of its own; the
hub drained 0.04× the rate of an empty Celery task. Here the worker's consumer buffers the
messages of one task name (up to ``HUB_BATCH_SIZE``, waiting at most ``HUB_BATCH_LINGER``
seconds for more) and hands the whole buffer to a pool process as one job, whose work commits
the batch's outcomes together (hub.processing.run_routes, hub.delivery.deliver.deliver_many).

The same guarantees as one message per task:
- late acks: each message is acked only after its batch's work is committed and returned;
- a pool process that dies mid-batch (WorkerLostError), or a batch that fails as a whole, does
  not condemn its batch-mates: each message is run again *alone*, so a poison message only
  fails itself — and is rejected back to its queue, where the broker's delivery limit (quorum
  queues) parks it after repeated deaths, as before; a batch that asks to go back as a whole
  (``Reject(requeue=True)``: the database away for long, a route generation the pool process
  cannot build) goes back to its queue without being run again;
- per-message isolation inside the work: one message's bad input or unexpected error is that
  message's outcome only (the batch work catches per message);
- task events: Flower still sees one task per message (``task-received`` when buffered,
  ``task-succeeded`` with its result), and one ``hub.deliver.<endpoint>`` task per delivery made
  inline by a route batch.

``celery-batches`` (PyPI) was the first candidate and was not taken: version 0.11 requires
Celery < 5.7 (the hub pins 5.7.0), and with late acks it acknowledges a batch only from its
success callback, so a pool process dying mid-batch — or an exception escaping the batch
function — leaves every message of the batch unacknowledged until the connection closes or
RabbitMQ's consumer timeout (30 minutes) returns them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Task
from celery.exceptions import Reject

from hub.reload.dispatch import generation_for

log = logging.getLogger(__name__)


@dataclass
class Item:
    """One message of a batch, as the pool process sees it (picklable)."""

    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    replay: str | None = None  # the hub_replay header: an operator's replay


@dataclass
class Event:
    """A task event the main process sends for work done inline (a delivery made by a route)."""

    name: str
    uuid: str
    args: list[Any]
    result: str


@dataclass
class Done:
    """One message's outcome: its result line and the inline work to show in Flower."""

    result: str
    events: list[Event] = field(default_factory=list)


class BatchTask(Task):
    """A task whose messages are processed in batches (``run_batch``). Calling it directly (tests,
    ``apply``) runs a batch of one."""

    abstract = True
    typing = False
    Strategy = "hub.batches:batch_strategy"
    batch_size = 100  # the worker sets HUB_BATCH_SIZE (hub.worker)
    batch_linger = 0.05

    def run_batch(self, items: list[Item]) -> list[Done]:
        raise NotImplementedError

    def run(self, *args: Any, **kwargs: Any) -> str:
        return self.run_batch([Item(self.request.id or "", list(args), dict(kwargs),
                                    getattr(self.request, "hub_replay", None))])[0].result


def execute(task_name: str, items: list[Item], generation: int | None = None) -> list[Done]:
    """The pool job: the batch's work, in a pool process, on the route generation the main
    process dispatched it with (hub.reload.dispatch: a batch runs on one set from start to end)."""
    from hub.reload.pool import running

    with running(generation) as hub:
        return hub.celery.tasks[task_name].run_batch(items)


def _decode(message) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """A protocol-2 task message → (args, kwargs, headers)."""
    body = message.decode()
    args, kwargs = (body[0], body[1]) if isinstance(body, (list, tuple)) else (body.get("args", []), body.get("kwargs", {}))
    return list(args or []), dict(kwargs or {}), dict(message.headers or {})


def _cause(failure: Any) -> BaseException:
    """The exception a pool job failed with: billiard hands it over wrapped (an ExceptionInfo, or
    an ExceptionWithTraceback for a worker lost)."""
    for attribute in ("exception", "exc"):
        inner = getattr(failure, attribute, None)
        if isinstance(inner, BaseException):
            return _cause(inner)
    return failure


def batch_strategy(task: BatchTask, app, consumer, **kwargs):
    """Celery's per-task message handler for batch tasks (runs in the worker's main process)."""
    pool, timer = consumer.pool, consumer.timer
    errors = consumer.connection_errors
    eventer = consumer.event_dispatcher
    send = eventer.send if eventer is not None and eventer.enabled and task.send_events else None
    pending: list[tuple[Item, Any, Any]] = []
    flush_timer: list[Any] = []

    def handler(message, body, ack, reject, callbacks, **kw):
        args, kwargs_, headers = _decode(message)
        item = Item(str(headers.get("id") or message.properties.get("correlation_id") or ""), args, kwargs_,
                    headers.get("hub_replay"))
        pending.append((item, ack, reject))
        if send:
            send("task-received", uuid=item.task_id, name=task.name, args=repr(args), kwargs=repr(kwargs_),
                 retries=0, eta=None, root_id=item.task_id, parent_id=None)
        if len(pending) >= task.batch_size:
            flush()
        elif not flush_timer:
            flush_timer.append(timer.call_after(task.batch_linger, flush))

    def flush():
        while flush_timer:
            flush_timer.pop().cancel()
        batch = list(pending)
        pending.clear()
        if batch:
            dispatch(batch)

    def dispatch(batch: list[tuple[Item, Any, Any]]):
        def done(results: list[Done]) -> None:
            for (item, ack, _reject), outcome in zip(batch, results, strict=True):
                ack(log, errors)
                if send:
                    send("task-succeeded", uuid=item.task_id, result=outcome.result, runtime=0.0)
                    for ev in outcome.events:
                        send("task-received", uuid=ev.uuid, name=ev.name, args=repr(ev.args), kwargs="{}",
                             retries=0, eta=None, root_id=ev.uuid, parent_id=item.task_id)
                        send("task-succeeded", uuid=ev.uuid, result=ev.result, runtime=0.0)

        def failed(exc_info) -> None:
            exc = _cause(exc_info)
            if len(batch) > 1 and isinstance(exc, Reject) and exc.requeue:
                # Not one message's fault (the database away for long, a route generation this
                # pool process cannot build): the whole batch goes back, none is run again alone.
                log.warning("%s: a batch of %d goes back to its queue: %s", task.name, len(batch), exc)
                for item, _ack, reject in batch:
                    reject(log, errors, True)
                    if send:
                        send("task-failed", uuid=item.task_id, exception=repr(exc), traceback="")
                return
            if len(batch) > 1:
                # Which message was it? Run each alone: the others succeed, the culprit fails alone.
                log.warning("%s: a batch of %d failed (%s); running each message alone", task.name, len(batch),
                            type(exc).__name__)
                for one in batch:
                    dispatch([one])
                return
            item, _ack, reject = batch[0]
            requeue = isinstance(exc, WorkerLostError) or (isinstance(exc, Reject) and exc.requeue)
            log.error("%s[%s] failed: %s: %s (%s)", task.name, item.task_id, type(exc).__name__, exc,
                      "back to its queue" if requeue else "rejected")
            reject(log, errors, requeue)
            if send:
                send("task-failed", uuid=item.task_id, exception=repr(exc), traceback="")

        pool.apply_async(execute, (task.name, [b[0] for b in batch], generation_for(task.name)), callback=done,
                         error_callback=failed)

    return handler
