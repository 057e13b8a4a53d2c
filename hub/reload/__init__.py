"""Route configuration changed without a restart (``hub routes reload``; docs/routes.md).

- ``generations``: the route sets put in force, numbered, as the texts that were checked;
- ``command``: the reload itself — check, load the registry, declare, record, unbind;
- ``follow``: every running process notices a new generation and takes it (``RoutesFollower``),
  and reports which one it runs;
- ``worker``, ``dispatch``, ``pool``: a Celery worker takes it between batches — new queues
  consumed, removed ones drained then cancelled, tasks registered, each batch on one generation;
- the file drop and the SFTP pollers follow the channels in connectors.inbound.channels_follow;
- ``upkeep``: what a reload may leave behind (an unbind refused, a drain cut by a restart),
  looked after by every worker at its start and every half minute;
- ``status``, ``cli``: ``hub routes status`` and ``hub routes reload`` (mounted by hub.cli);
- ``models``: the tables (migration 0008).

Kept light: ``hub.batches`` imports ``hub.reload.dispatch``.
"""
