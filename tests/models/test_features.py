"""FeaturePipeline: typed frames in, model matrices out; unknown categories, missing columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mofang.core.errors import DataError
from mofang.models.features import DATE_PARTS, FeaturePipeline
from tests.models.tabular_fixtures import classification_data


@pytest.fixture(scope="module")
def data():
    return classification_data(n=300)


def test_tree_mode_keeps_nan_and_codes_categories(data):
    features = data["dataset"]["features"]
    pipe = FeaturePipeline(features, "tree").fit(data["train"])
    X = pipe.transform(data["valid"])
    n_numeric = 5 + len(DATE_PARTS) + 1  # x0..x4, signup parts, vip
    assert X.shape == (len(data["valid"]), n_numeric + 2)
    assert np.isnan(X[:, 0]).any()  # x0 has missing values, left for the trees
    assert pipe.categorical_indices_ == [n_numeric, n_numeric + 1]
    assert set(pipe.sources_) == {f["name"] for f in features}


def test_unknown_category_becomes_nan(data):
    pipe = FeaturePipeline(data["dataset"]["features"], "tree").fit(data["train"])
    row = data["valid"].head(1).copy()
    row["城市"] = "火星"
    assert np.isnan(pipe.transform(row)[0, pipe.categorical_indices_[0]])


def test_linear_mode_is_dense_finite_and_ignores_unknowns(data):
    pipe = FeaturePipeline(data["dataset"]["features"], "linear").fit(data["train"])
    X = pipe.transform(data["train"])
    assert np.isfinite(X).all()
    assert len(pipe.sources_) == X.shape[1]
    numeric = X[:, :5]
    assert np.allclose(numeric.mean(axis=0), 0, atol=1e-6)
    row = data["valid"].head(1).copy()
    row["channel"] = "never-seen"
    assert np.isfinite(pipe.transform(row)).all()


def test_datetime_parts(data):
    features = [{"name": "signup", "kind": "datetime"}]
    frame = pd.DataFrame({"signup": pd.to_datetime(["2024-03-01", None])})
    X = FeaturePipeline(features, "tree").fit(frame).transform(frame)
    assert X[0, :4].tolist() == [2024, 3, 4, 61]  # year, month, Friday, day of year
    assert X[0, 4] == (pd.Timestamp("2024-03-01") - pd.Timestamp("1970-01-01")).days
    assert np.isnan(X[1]).all()


def test_missing_columns_named_and_extra_columns_ignored(data):
    pipe = FeaturePipeline(data["dataset"]["features"], "tree").fit(data["train"])
    with pytest.raises(DataError, match="missing required columns: x3, 城市"):
        pipe.transform(data["valid"].drop(columns=["x3", "城市"]))
    extra = data["valid"].assign(unexpected=1)
    assert np.array_equal(pipe.transform(extra), pipe.transform(data["valid"]), equal_nan=True)


def test_served_dates_follow_the_training_date_order():
    pytest.importorskip("mofang.data", reason="mofang.data (coerce) has not landed yet")
    features = [{"name": "d", "kind": "datetime", "dayfirst": True}]
    train = pd.DataFrame({"d": pd.to_datetime(["2023-05-01", "2023-06-01"])})
    pipe = FeaturePipeline(features, "tree").fit(train)
    X = pipe.transform(pd.DataFrame({"d": ["05/01/2023"]}))  # 5 January, read day-first
    assert X[0, :2].tolist() == [2023, 1]


@pytest.mark.parametrize("mode", ["tree", "linear"])
def test_row_by_row_path_gives_the_same_numbers_as_the_column_path(data, mode):
    """Served requests (≤ SMALL_BATCH rows) take the value-by-value path; it must not change answers."""
    features = data["dataset"]["features"]
    pipe = FeaturePipeline(features, mode).fit(data["train"])
    rows = data["valid"].head(12).copy()
    rows.iloc[0, rows.columns.get_loc("城市")] = "从未见过的城市"  # unknown category
    for f in features:  # raw strings, as a JSON client would send them
        rows[f["name"]] = rows[f["name"]].astype(object).where(rows[f["name"]].notna(), None)
        if f["kind"] == "numeric":
            rows.loc[rows.index[1], f["name"]] = "1,234"
            rows.loc[rows.index[2], f["name"]] = None
    small = pipe.transform(rows)
    wide = pipe._transform_frame(rows)
    assert small.shape == wide.shape
    assert np.allclose(small, wide, equal_nan=True)


def test_linear_mode_clips_inputs_to_the_training_range():
    features = [{"name": "x", "kind": "numeric"}]
    train = pd.DataFrame({"x": np.linspace(0, 100, 1001)})
    pipe = FeaturePipeline(features, "linear").fit(train)
    far, edge = pipe.transform(pd.DataFrame({"x": [1e9, -1e9]})), pipe.transform(pd.DataFrame({"x": [99.5, 0.5]}))
    assert np.allclose(far, edge)


def test_date_parts_in_numpy_match_the_pandas_accessors():
    from mofang.models.features import _date_parts, date_parts

    stamps = pd.Series(pd.to_datetime(["2023-01-05 13:45:10", "1969-12-31", "2024-02-29", None,
                                       "1900-03-01 00:00:01"], format="mixed"))
    parts = date_parts(stamps.to_numpy(dtype="datetime64[ns]"))
    expected = {"year": stamps.dt.year, "month": stamps.dt.month, "dayofweek": stamps.dt.dayofweek,
                "dayofyear": stamps.dt.dayofyear,
                "days": (stamps - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400}
    for name, values in expected.items():
        assert np.allclose(parts[name], values.astype(float), equal_nan=True), name
    one = _date_parts(stamps.iloc[0])
    assert np.allclose(one, [parts[p][0] for p in ("year", "month", "dayofweek", "dayofyear", "days")])


def test_served_rows_read_with_the_training_formats_answer_like_the_general_parsers():
    features = [{"name": "amount", "kind": "numeric", "number_format": ",¥"},
                {"name": "month", "kind": "datetime", "date_format": "%b-%Y"},
                {"name": "plain", "kind": "numeric"}]
    train = pd.DataFrame({"amount": [1200.0, 30.5, 99.0], "month": pd.to_datetime(["2018-03-01", "2019-12-01",
                                                                                   "2020-01-01"]),
                          "plain": [1.0, 2.0, 3.0]})
    raw = pd.DataFrame({"amount": ["¥1,200", "¥3.5万", None] * 10, "month": ["Mar-2018", "2019-12-01", "x"] * 10,
                        "plain": ["1", "2", "3"] * 10})
    with_formats = FeaturePipeline(features, "tree").fit(train)
    without = FeaturePipeline([{"name": f["name"], "kind": f["kind"]} for f in features], "tree").fit(train)
    batch = with_formats.transform(raw)
    assert np.allclose(batch, without.transform(raw), equal_nan=True)
    assert np.allclose(with_formats.transform(raw.head(3)), batch[:3], equal_nan=True)  # the one-row path
