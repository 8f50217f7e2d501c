"""Joining Ray: the scheduling unit's Ray executor and the data unit's Ray Data operators share one way in."""

from __future__ import annotations

import os
from typing import Any

from mofang.core.errors import MofangError

RAY_ENV = "MOFANG_RAY_ADDRESS"


def connect(address: str | None = None) -> Any:
    """Join the Ray cluster at `address` (or MOFANG_RAY_ADDRESS), reuse the Ray this process already started,
    or start a local one; returns the `ray` module."""
    try:
        import ray  # optional and heavy: `pip install 'mofang[ray]'`
    except ImportError:
        raise MofangError("the Ray executor needs Ray: pip install 'mofang[ray]'") from None
    if not ray.is_initialized():
        target = address or os.environ.get(RAY_ENV) or None
        ray.init(address=target, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    return ray
