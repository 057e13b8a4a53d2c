"""Who holds a delivery's claim — precisely enough that another worker on the same machine can
tell that the holder died, and take the claim over at once instead of waiting for its lease.

Why so precise: a killed worker's message is redelivered by the broker within a second, but its
claim's lease lasts longer than any call may take (a minute or more). Only a holder that is
certainly gone may be overtaken: same host name (in full: container replicas share prefixes),
same PID namespace (containers on one host share the host name but not their process ids), and
that process id either gone or now a different process (its start time changed). Anything less
certain is left to the lease.
"""

from __future__ import annotations

import os
import socket
import uuid

HOST = socket.gethostname()


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return ""  # no /proc: never judge (the lease decides)


def _started(pid: int) -> str | None:
    """A live process's start time in clock ticks since boot (/proc/<pid>/stat, field 22);
    None when there is no such process, or only its zombie (killed, not yet reaped: an orphan
    in a container whose init does not reap)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()  # the command name may hold spaces and parentheses
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


_process: tuple[int, str] = (-1, "")  # (pid, "host/pid-namespace/pid/start") of this process


def new_holder() -> str:
    """``host/pid-namespace/pid/start/random`` for this process. The process part is read from
    /proc once per process (every route batch asks: it showed in the hot path's profile)."""
    global _process
    pid = os.getpid()
    if _process[0] != pid:
        _process = (pid, f"{HOST}/{_pid_namespace()}/{pid}/{_started(pid) or ''}")
    return f"{_process[1]}/{uuid.uuid4().hex[:8]}"


def holder_is_dead(holder: str | None) -> bool:
    """True only when the holder ran here and its process is certainly gone."""
    parts = (holder or "").split("/")
    if len(parts) != 5:
        return False
    host, namespace, pid, started, _ = parts
    if host != HOST or not namespace or namespace != _pid_namespace() or not pid.isdigit() or not started:
        return False
    return _started(int(pid)) != started
