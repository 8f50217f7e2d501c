"""The dataset's series tables (original column names) as the long table the forecasters read."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mofang.tasks.forecast.models.metrics import ID, TIME, VALUE


def to_panel(frame: pd.DataFrame, info: dict[str, Any]) -> pd.DataFrame:
    """unique_id (str), ds, y and the covariate columns, sorted by series and time."""
    covariates = [*info["known"], *info["past"]]
    panel = pd.DataFrame({ID: frame[info["series"]].astype(str).to_numpy(),
                          TIME: pd.to_datetime(frame[info["time"]]).to_numpy(),
                          VALUE: frame[info["target"]].to_numpy(dtype=float)})
    for column in covariates:
        panel[column] = frame[column].to_numpy(dtype=float)
    return panel.sort_values([ID, TIME], kind="stable").reset_index(drop=True)


def history_and_test(parts: dict[str, pd.DataFrame], info: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train + valid, test) as panels: what a model is fitted on before the test window, and the window."""
    history = to_panel(pd.concat([parts["train"], parts["valid"]], ignore_index=True), info)
    return history, to_panel(parts["test"], info)
