"""Tabular perturbations: each changes what it should (and only that), seeded and deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.tasks.tabular.perturbations import (
    MISSING_RATE,
    NOISE_SIGMA,
    PERTURBATIONS,
    SHIFT_SIGMA,
    UNSEEN,
    UNSEEN_RATE,
    rng_for,
)

N = 400


@pytest.fixture()
def table() -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """Typed rows (numeric with gaps, a numeric column spelled as text, categorical, datetime, boolean, text),
    an id and a target, as the data workshop hands them over."""
    rng = np.random.default_rng(0)
    income = rng.normal(8000, 2000, N)
    income[rng.random(N) < 0.05] = np.nan
    frame = pd.DataFrame({
        "id": [f"R{i:04d}" for i in range(N)], "income": income, "age": rng.integers(20, 65, N),
        "amount": [f"{v:.1f}" for v in rng.uniform(100, 900, N)],  # raw spelling: read as a number
        "city": pd.Series(rng.choice(["北京", "上海", None], N), dtype=object),
        "applied": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, N), unit="D"),
        "vip": rng.integers(0, 2, N).astype(float), "note": rng.choice(["老客户", "转介绍"], N),
        "label": rng.choice(["yes", "no"], N)})
    features = [{"name": "income", "kind": "numeric"}, {"name": "age", "kind": "numeric"},
                {"name": "amount", "kind": "numeric"}, {"name": "city", "kind": "categorical"},
                {"name": "applied", "kind": "datetime"}, {"name": "vip", "kind": "boolean"},
                {"name": "note", "kind": "text"}]
    return frame, features


def _run(name: str, table, seed: int = 7):
    frame, features = table
    return PERTURBATIONS[name](frame, features, rng_for(seed, name))


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    return (a == b) | (a.isna() & b.isna())


def test_registry_order_is_the_report_order() -> None:
    assert list(PERTURBATIONS) == ["noise", "missing", "unseen_category", "shift"]


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_input_untouched_and_only_feature_columns_change(name: str, table) -> None:
    frame, _ = table
    before = frame.copy()
    out = _run(name, table).frame
    pd.testing.assert_frame_equal(frame, before)  # the test split itself is never edited
    assert list(out.columns) == list(frame.columns) and len(out) == len(frame)
    for column in ("id", "label"):
        pd.testing.assert_series_equal(out[column], frame[column])


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_same_seed_same_copy_other_seed_other_copy(name: str, table) -> None:
    first, again, other = _run(name, table, 7), _run(name, table, 7), _run(name, table, 8)
    pd.testing.assert_frame_equal(first.frame, again.frame)
    pd.testing.assert_frame_equal(first.changed, again.changed)
    if name != "shift":  # the shift is the same everywhere; the others draw cells or noise
        assert not first.frame.equals(other.frame)


def test_noise_moves_present_numeric_cells_by_a_tenth_sigma(table) -> None:
    frame, _ = table
    result = _run("noise", table)
    assert result.columns == ["income", "age", "amount"]
    for column in ("city", "applied", "vip", "note"):
        pd.testing.assert_series_equal(result.frame[column], frame[column])
    clean = pd.to_numeric(frame["income"])
    delta = result.frame["income"] - clean
    assert result.frame["income"][clean.isna()].isna().all()  # a gap stays a gap
    assert (delta[clean.notna()] != 0).all() and result.changed["income"].sum() == clean.notna().sum()
    ratio = float(delta.std() / clean.std())
    assert ratio == pytest.approx(NOISE_SIGMA, rel=0.15)
    amount = result.frame["amount"] - pd.to_numeric(frame["amount"])  # the spelled column read as numbers
    assert amount.abs().mean() > 0 and result.changed_share == 1.0


def test_shift_moves_every_present_numeric_cell_by_half_a_sigma(table) -> None:
    frame, _ = table
    result = _run("shift", table)
    assert result.columns == ["income", "age", "amount"]
    for column in ("income", "age"):
        clean = pd.to_numeric(frame[column]).astype(float)
        delta = (result.frame[column] - clean).dropna()
        assert np.allclose(delta, SHIFT_SIGMA * np.nanstd(clean.to_numpy()))
    assert "+0.5 σ" in result.detail
    for column in ("city", "applied", "vip", "note"):
        pd.testing.assert_series_equal(result.frame[column], frame[column])


def test_missing_empties_a_tenth_of_each_feature_and_nothing_else(table) -> None:
    frame, features = table
    result = _run("missing", table)
    assert result.columns == [f["name"] for f in features]
    for name in result.columns:
        emptied = frame[name].notna() & result.frame[name].isna()
        assert emptied.sum() == round(MISSING_RATE * N)
        assert emptied.equals(result.changed[name])
        kept = ~result.changed[name]
        assert _same(result.frame[name][kept], frame[name][kept]).all()  # every other cell as it was
    assert result.frame["applied"].dtype == frame["applied"].dtype  # NaT in a datetime column


def test_unseen_category_replaces_a_tenth_of_categorical_cells(table) -> None:
    frame, _ = table
    result = _run("unseen_category", table)
    assert result.columns == ["city"]
    changed = result.changed["city"]
    assert changed.sum() == round(UNSEEN_RATE * N) and (result.frame["city"][changed] == UNSEEN).all()
    assert frame["city"][changed].notna().all()  # drawn among present cells: a gap stays a gap
    assert _same(result.frame["city"][~changed], frame["city"][~changed]).all()
    for column in ("income", "age", "amount", "applied", "vip", "note"):
        pd.testing.assert_series_equal(result.frame[column], frame[column])
    assert result.examples and result.examples[0]["perturbed"] == f"city = {UNSEEN}"


def test_a_perturbation_with_nothing_to_touch_changes_nothing(table) -> None:
    frame, _ = table
    only_text = [{"name": "note", "kind": "text"}]
    for name in ("noise", "unseen_category", "shift"):
        result = PERTURBATIONS[name](frame, only_text, rng_for(0, name))
        assert result.columns == [] and result.changed_share == 0.0 and result.detail == ""
        pd.testing.assert_frame_equal(result.frame, frame)
    constant = frame.assign(income=5.0)  # no spread: no σ to scale by
    assert PERTURBATIONS["noise"](constant, [{"name": "income", "kind": "numeric"}], rng_for(0, "noise")).columns == []
