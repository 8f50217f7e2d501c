"""Old module paths of moved code still import, as the same modules: pickled bundles name them."""

from __future__ import annotations

import importlib
import pickle

from mofang.core.moved import MOVED, new_name
from mofang.tasks.forecast.models.product import ForecastModel, UnknownSeries


def test_a_pickle_naming_an_old_path_loads_the_class_at_the_new_one() -> None:
    found = pickle.loads(b"cmofang.models.timeseries.product\nUnknownSeries\n.")
    assert found is UnknownSeries


def test_an_old_module_is_the_new_module() -> None:
    old = importlib.import_module("mofang.models.timeseries.product")
    assert old.ForecastModel is ForecastModel


def test_every_old_path_leads_to_a_module_that_exists() -> None:
    for old, new in MOVED.items():
        assert new_name(old) == new
        assert importlib.import_module(old) is importlib.import_module(new)


def test_names_that_did_not_move_are_left_alone() -> None:
    assert new_name("mofang.models.saved") is None
    assert new_name("mofang.models.llmx") is None
