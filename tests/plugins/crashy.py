"""Test plugin: a transform that kills its own worker process on a poison message."""

import os
import signal

from hub.registry import Step, StrictModel, step, transform


@transform("test.crash_on_poison")
def crash_on_poison(body, ex):
    """Kill the process running it when the body contains POISON (simulates a native crash)."""
    if b"POISON" in body:
        os.kill(os.getpid(), signal.SIGKILL)
    return body


class BrokenConfig(StrictModel):
    pass


@step
class BrokenStep(Step):
    """A step that fails unexpectedly every time (not a StepError, which would be final): what
    a route's retry policy is for — a lookup service down, a bug fixed by a redeploy."""

    kind = "test_broken"
    Config = BrokenConfig

    def process(self, ex):
        raise RuntimeError("the lookup service this step needs is broken")
