"""Operations: what the people who run the hub need to find, read and act on — one module per
feature, each usable from the CLI (``hub.operations.cli``) and, later, the console and API.

- ``trace``: a message's stages, attempts, replays and the circuits its deliveries wait on;
- ``messages``: finding messages by status, route, partner, time, file name and business key,
  and reading what came in, what the hub made of it and what it sent;
- ``letters``: dead letters by queue, reason and time; replay and discard, one or in bulk;
- ``edits``: a corrected payload resubmitted as a new version of a message;
- ``terminal``: partner-supplied text made safe to print.
"""
