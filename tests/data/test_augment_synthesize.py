"""Gaussian-copula synthesis: counts, lineage, realistic values, and the DCR privacy check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from mofang.data.augment.lineage import PARENT, SYNTHETIC
from mofang.data.augment.privacy import check_distance_to_real
from mofang.data.augment.synthesize import Synthesize
from mofang.data.ops import ROW, OpContext
from tests.conftest import shared_dataset

KINDS = {"CreditScore": "numeric", "Age": "numeric", "Balance": "numeric", "Tenure": "numeric",
         "Geography": "categorical", "Gender": "categorical", "Surname": "text"}


def _churn(rows: int = 600) -> pa.Table:
    frame = pd.read_csv(shared_dataset("tabular/bank_churn_with_missing.csv")).head(rows)
    return pa.table({ROW: frame.RowNumber.astype("int64"), "CustomerId": frame.CustomerId.astype(str),
                     "Surname": frame.Surname, **{c: frame[c].astype(float) for c in KINDS if KINDS[c] == "numeric"},
                     "Geography": frame.Geography.astype(object).where(frame.Geography.notna(), None).tolist(),
                     "Gender": frame.Gender.astype(object).where(frame.Gender.notna(), None).tolist(),
                     "Exited": frame.Exited.astype(str)})


def test_synthetic_rows_look_real_keep_the_schema_and_name_a_parent():
    table = _churn()
    ctx = OpContext(task="tabular-classification", target="Exited", id_column="CustomerId", kinds=KINDS, seed=4)
    out, trace = Synthesize({"rows": 400})(table, ctx)
    assert out.schema.field(SYNTHETIC).type == pa.bool_() and out.schema.field(PARENT).type == pa.int64()
    assert out.select(table.column_names).schema == table.schema
    frame = out.to_pandas()
    real, synthetic = frame[~frame[SYNTHETIC]], frame[frame[SYNTHETIC]]
    privacy = trace.details["privacy"]
    assert len(synthetic) == 400 - privacy["dropped_too_close"] == trace.details["added"]
    assert set(synthetic[PARENT]) <= set(real[ROW]) and synthetic["CustomerId"].isna().all()
    assert synthetic[ROW].min() > real[ROW].max()
    share = synthetic.Exited.value_counts(normalize=True)["1"]
    assert abs(share - (real.Exited == "1").mean()) < 0.05  # classes in proportion
    assert abs(synthetic.Age.median() - real.Age.median()) < 3 and (synthetic.Age.dropna() % 1 == 0).all()
    assert set(synthetic.Geography.dropna()) <= set(real.Geography.dropna())
    assert not synthetic[list(KINDS)[:4]].merge(real[list(KINDS)[:4]]).shape[0]  # no exact copy of a real row
    assert sum(privacy["dcr"]["counts"]) == 400 and privacy["dcr_threshold"] > 0
    again, _ = Synthesize({"rows": 400})(table, ctx)
    assert again.equals(out)


def test_dcr_flags_a_planted_copy_of_a_real_row():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(500, 4))
    synthetic = np.vstack([rng.normal(size=(50, 4)), real[123] + 1e-4, real[7]])
    check = check_distance_to_real(real, synthetic, quantile=0.05)
    assert check.too_close[-2:].all() and check.nearest[-2:].tolist() == [123, 7]
    assert check.too_close[:-2].mean() < 0.2
    repeated = np.vstack([real, real])  # many real duplicates must not lower the bar to zero
    assert check_distance_to_real(repeated, synthetic).threshold == check.threshold


def test_skips_without_modelled_columns():
    table = pa.table({ROW: [1, 2, 3], "text": ["a", "b", "c"]})
    out, trace = Synthesize()(table, OpContext(kinds={"text": "text"}))
    assert out is table and trace.details["note"].startswith("skipped")
