"""Start ``perfgate sim`` as a child process for the duration of a run.

A separate process (not a thread) so the simulated runtime has its own PID
and process tree to sample, as a real runtime does, and so its pacing never
competes with the harness for the GIL.
"""

from __future__ import annotations

import os
import re
import sys

from perfgate.childproc import ChildServer
from perfgate.sim.profile import SimProfile
from perfgate.sim.server import EXIT_WITH_PARENT_ENV

READY_PATTERN = re.compile(r"^perfgate sim listening on (http://\S+)\s*$")


class SimProcess(ChildServer):
    """``perfgate sim`` in a child process; a context manager that never leaves orphans.

    The sim's runner child exits on its own when the sim dies, and the sim
    exits when it notices its launcher is gone (``EXIT_WITH_PARENT_ENV``).
    """

    ready_pattern = READY_PATTERN
    runtime_name = "simulated runtime"
    program_name = "`perfgate sim`"

    def __init__(self, profile: SimProfile, *, port: int = 0, startup_timeout_s: float = 15.0) -> None:
        super().__init__(startup_timeout_s=startup_timeout_s)
        self.profile = profile
        self.port = port

    def argv(self) -> list[str]:
        """The command line of the child."""
        return [sys.executable, "-m", "perfgate", "sim", "--port", str(self.port), *self.profile.to_args()]

    def child_env(self) -> dict[str, str]:
        return {**os.environ, EXIT_WITH_PARENT_ENV: str(os.getpid())}
