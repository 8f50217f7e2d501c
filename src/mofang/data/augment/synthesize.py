"""augment.synthesize: expand small tables with Gaussian-copula rows, minus near-copies of real rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from pydantic import Field

from mofang.data.augment.copula import fit_copula, sample_copula
from mofang.data.augment.lineage import append_derived, real_positions, with_lineage
from mofang.data.augment.privacy import check_distance_to_real
from mofang.data.ops import OpContext, Operator, OpParams, OpTrace, register
from mofang.data.quality.features import category_codes, numeric_and_categorical, numeric_values, tabular_matrix
from mofang.data.quality.text_metrics import histogram


@register
class Synthesize(Operator):
    name = "augment.synthesize"
    process = "augment"
    description = ("Generate synthetic rows from a per-class Gaussian copula; drop those closer to a real row "
                   "than real rows are to each other")

    class Params(OpParams):
        rows: int | None = Field(None, ge=1)  # synthetic rows to generate; None: factor × real rows
        factor: float = Field(1.0, gt=0, le=100)
        dcr_quantile: float = Field(0.05, ge=0, lt=1)  # of real-to-real nearest distances; closer rows are dropped

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        p = self.params
        numeric, categorical = numeric_and_categorical(
            table, ctx.kinds, self.target_columns(table, ctx, ("numeric", "categorical", "boolean")))
        classify = ctx.classes and ctx.target in table.column_names
        if ctx.target in table.column_names and not classify and ctx.target not in numeric:
            numeric.append(ctx.target)  # a regression target is modelled with the features
        if not numeric and not categorical:
            trace.details["note"] = "skipped: no numeric or categorical columns to model"
            return table
        table = with_lineage(table)
        real = real_positions(table)
        if real.size < 2:
            trace.details["note"] = "skipped: fewer than 2 real rows"
            return table
        source = table.take(pa.array(real))
        groups = (np.array(source.column(ctx.target).cast(pa.string()).to_pylist(), dtype=object) if classify
                  else np.full(real.size, None, dtype=object))
        wanted = p.rows if p.rows is not None else max(1, round(p.factor * real.size))
        rng = np.random.default_rng(ctx.seed)
        values, labels = _generate(source, numeric, categorical, groups, wanted, rng)
        columns = numeric + categorical
        synthetic = pa.table({c: pa.array(values[c], from_pandas=True).cast(source.schema.field(c).type)
                              for c in columns})
        features = tabular_matrix(pa.concat_tables([source.select(columns), synthetic]), numeric, categorical,
                                  standardize=True)
        check = check_distance_to_real(features[:real.size], features[real.size:], quantile=p.dcr_quantile,
                                       seed=ctx.seed)
        keep = np.flatnonzero(~check.too_close)
        kept = {c: [values[c][i] for i in keep] for c in columns}
        if classify:
            kept[ctx.target] = [labels[i] for i in keep]
        blank = (ctx.id_column,) if ctx.id_column in table.column_names else ()
        # the closest real row is the parent: the split drops a synthetic row whose look-alike went to valid/test
        out = append_derived(table, real[check.nearest[keep]], kept, blank=blank)
        trace.details.update({
            "generated": int(wanted), "added": int(keep.size), "model": "gaussian copula" + (
                " per class" if classify else ""), "numeric_columns": numeric, "categorical_columns": categorical,
            "privacy": {"dcr_threshold": round(check.threshold, 6), "dcr_quantile": p.dcr_quantile,
                        "dropped_too_close": int(check.too_close.sum()),
                        "dcr_median": round(float(np.median(check.distances)), 6),
                        "dcr": histogram(check.distances, upper=float(np.quantile(check.distances, 0.99)) or 1.0)},
            "note": f"added {keep.size:,} synthetic rows; {int(check.too_close.sum()):,} dropped as too close "
                    f"to a real row (DCR < {check.threshold:.3g})"})
        return out


def _generate(source: pa.Table, numeric: list[str], categorical: list[str], groups: np.ndarray, wanted: int,
              rng: np.random.Generator) -> tuple[dict[str, list], list]:
    """`wanted` rows shared among the groups (classes) in proportion to their size, one copula per group."""
    raw = np.column_stack([numeric_values(source.column(c)) for c in numeric]) if numeric else np.zeros(
        (source.num_rows, 0))
    coded = [category_codes(source.column(c)) for c in categorical]
    codes = np.column_stack([c for c, _ in coded]) if coded else np.zeros((source.num_rows, 0), dtype=np.int64)
    keys = list(dict.fromkeys(g for g in groups if g is not None)) or [None]
    sizes = np.array([(groups == k).sum() if k is not None else (groups == None).sum()  # noqa: E711
                      for k in keys], dtype=float)
    shares = sizes / sizes.sum() * wanted
    counts = np.floor(shares).astype(int)
    counts[np.argsort(-(shares - counts), kind="stable")[:wanted - counts.sum()]] += 1
    values: dict[str, list] = {c: [] for c in numeric + categorical}
    labels: list = []
    for key, n in zip(keys, counts, strict=True):
        if n == 0:
            continue
        rows = np.flatnonzero(groups == key) if key is not None else np.flatnonzero(groups == None)  # noqa: E711
        model = fit_copula(raw[rows], codes[rows], rng)
        new_numeric, new_codes = sample_copula(model, int(n), rng)
        for i, name in enumerate(numeric):
            values[name].extend(new_numeric[:, i].tolist())
        for j, name in enumerate(categorical):
            uniques = coded[j][1]
            values[name].extend(uniques[int(c)] for c in new_codes[:, j])
        labels.extend([key] * int(n))
    return values, labels
