"""Wall-clock budgets in tests on a machine that may be shared: the allowance grows with the load.

A budget is planned from measured speeds, but start-up, imports and fixed steps take longer when other
processes hold the cores. A test of a budget therefore allows its slack times how oversubscribed the machine
was (the 1-minute load average per core, at least 1); on a quiet machine the allowance is the plain one.
"""

from __future__ import annotations

import os


def load_factor() -> float:
    """The 1-minute load average per core, at least 1.0."""
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def allowed_s(seconds: float) -> float:
    """`seconds` on a quiet machine, scaled by `load_factor` on a busy one."""
    return seconds * load_factor()
