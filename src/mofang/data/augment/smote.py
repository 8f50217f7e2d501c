"""augment.smote: oversample minority classes with SMOTE-NC (SMOTE without categorical columns)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
from imblearn.over_sampling import SMOTE, SMOTENC
from pydantic import Field

from mofang.data.augment.lineage import append_derived, real_positions, with_lineage
from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, register
from mofang.data.quality.balance import class_counts
from mofang.data.quality.features import category_codes, numeric_and_categorical, numeric_values


class _SeedRecorder:
    """Remembers, per class, which of the class's rows seeded each generated sample (imblearn does not say)."""

    def _generate_samples(self, X, nn_data, nn_num, rows, cols, steps, y_type=None, y=None):  # noqa: N803
        self.seeds_.append((y_type, np.asarray(rows).copy()))
        return super()._generate_samples(X, nn_data, nn_num, rows, cols, steps, y_type, y)


class _SeededSMOTENC(_SeedRecorder, SMOTENC):
    pass


class _SeededSMOTE(_SeedRecorder, SMOTE):
    pass


@register
class Smote(Operator):
    name = "augment.smote"
    process = "augment"
    description = "Oversample minority classes with SMOTE-NC over numeric and categorical columns"

    class Params(OpParams):
        target_ratio: float = Field(0.5, gt=0, le=1)  # every class grows to at least this share of the largest
        k_neighbors: int = Field(5, ge=1)
        max_new_rows: int | None = Field(None, ge=1)

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        p = self.params
        if not ctx.classes or not ctx.target or ctx.target not in table.column_names:
            trace.details["note"] = f"skipped: SMOTE needs a classification task with a target (task {ctx.task})"
            return table
        numeric, categorical = numeric_and_categorical(
            table, ctx.kinds, self.target_columns(table, ctx, ("numeric", "categorical", "boolean")))
        counts = class_counts(table, ctx.target)
        largest = max(counts.values(), default=0)
        wanted = math.ceil(p.target_ratio * largest)
        need = {c: wanted - n for c, n in counts.items() if n < wanted}
        trace.details["counts_before"] = counts
        if not need:
            smallest = min(counts.values(), default=0)
            trace.details["note"] = (f"skipped: already balanced enough (smallest/largest "
                                     f"{smallest / max(largest, 1):.2f} ≥ target_ratio {p.target_ratio})")
            return table
        if not numeric:
            trace.details["note"] = "skipped: SMOTE needs at least one numeric column"
            return table
        table = with_lineage(table)
        real = real_positions(table)
        labels = np.array(table.column(ctx.target).cast(pa.string()).to_pylist(), dtype=object)[real]
        real_counts = {c: int((labels == c).sum()) for c in need}
        too_small = [c for c, n in real_counts.items() if n < 2]
        need = {c: n for c, n in need.items() if c not in too_small}
        if p.max_new_rows is not None and sum(need.values()) > p.max_new_rows:
            scale = p.max_new_rows / sum(need.values())
            need = {c: int(n * scale) for c, n in need.items()}
        need = {c: n for c, n in need.items() if n > 0}
        if not need:
            trace.details["note"] = "skipped: the minority classes have fewer than 2 real rows to interpolate"
            return table
        labelled = np.flatnonzero(labels != None)  # noqa: E711 - elementwise test for missing labels
        y = labels[labelled].astype(str)
        features, restore = _feature_matrix(table.take(pa.array(real[labelled])), numeric, categorical)
        k = min(p.k_neighbors, min(real_counts[c] for c in need) - 1)
        strategy = {c: real_counts[c] + n for c, n in need.items()}
        cat_index = list(range(len(numeric), len(numeric) + len(categorical)))
        sampler = (_SeededSMOTENC(categorical_features=cat_index, k_neighbors=k, random_state=ctx.seed,
                                  sampling_strategy=strategy) if categorical else
                   _SeededSMOTE(k_neighbors=k, random_state=ctx.seed, sampling_strategy=strategy))
        sampler.seeds_ = []
        generated, new_labels = sampler.fit_resample(features, y)
        generated, new_labels = generated[len(y):], new_labels[len(y):]
        seeds = np.concatenate([np.flatnonzero(y == c)[rows] for c, rows in sampler.seeds_])
        if seeds.size != len(new_labels):
            raise RuntimeError("imbalanced-learn's SMOTE internals changed: the seed rows could not be recorded")
        values = restore(generated, seeds)
        values[ctx.target] = new_labels.tolist()
        blank = (ctx.id_column,) if ctx.id_column in table.column_names else ()
        out = append_derived(table, real[labelled][seeds], values, blank=blank)
        after = class_counts(out, ctx.target)
        trace.details.update({
            "method": "SMOTE-NC" if categorical else "SMOTE", "k_neighbors": k, "added": int(seeds.size),
            "added_per_class": {c: int((new_labels == c).sum()) for c in need}, "counts_after": after,
            "numeric_columns": numeric, "categorical_columns": categorical,
            "note": f"added {seeds.size:,} synthetic rows to {len(need)} classes"
                    + (f"; {', '.join(too_small)} left alone (fewer than 2 real rows)" if too_small else "")})
        return out


def _feature_matrix(table: pa.Table, numeric: list[str], categorical: list[str]):
    """Numerics (median-imputed for the neighbour search) then categorical codes, and a function that turns
    generated rows back into column values: a numeric value is missing where its seed's was and whole where the
    column's real values all are; codes map back to their values."""
    raw = np.column_stack([numeric_values(table.column(c)) for c in numeric])
    medians = np.array([np.nanmedian(col) if np.isfinite(col).any() else 0.0 for col in raw.T])
    imputed = np.where(np.isfinite(raw), raw, medians)
    whole = [bool(np.all(np.mod(col[np.isfinite(col)], 1) == 0)) for col in raw.T]
    coded = [category_codes(table.column(c)) for c in categorical]
    codes = np.column_stack([c for c, _ in coded]) if coded else np.zeros((table.num_rows, 0))
    features = np.hstack([imputed, codes.astype(np.float64)])

    def restore(generated: np.ndarray, seeds: np.ndarray) -> dict[str, list | np.ndarray]:
        out: dict[str, list | np.ndarray] = {}
        for i, name in enumerate(numeric):
            values = generated[:, i].astype(np.float64)
            out[name] = np.where(np.isfinite(raw[seeds, i]), np.round(values) if whole[i] else values, np.nan)
        for j, (name, (_, uniques)) in enumerate(zip(categorical, coded, strict=True)):
            out[name] = [uniques[int(code)] for code in generated[:, len(numeric) + j]]
        return out

    return features, restore
