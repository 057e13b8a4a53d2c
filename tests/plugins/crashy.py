"""Test plugin: a transform that kills its own worker process on a poison message."""

import os
import signal

from hub.registry import transform


@transform("test.crash_on_poison")
def crash_on_poison(body, ex):
    """Kill the process running it when the body contains POISON (simulates a native crash)."""
    if b"POISON" in body:
        os.kill(os.getpid(), signal.SIGKILL)
    return body
