"""Fixtures for the evaluation center: a job whose model workshop has run on synthetic data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.models.tabular_fixtures import run_station, stage


@pytest.fixture()
def modelled(make_ctx) -> Callable:
    """A context after the model workshop ran on `data` for `order`."""
    from mofang.models import ModelWorkshop

    def factory(order, data):
        ctx = stage(make_ctx(order, station="model"), data)
        workshop = ModelWorkshop()
        workshop.latency_calls = 30
        run_station(workshop, ctx)
        ctx.station = "evaluation"
        return ctx

    return factory
