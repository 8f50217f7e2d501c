"""`mofang label export|import`: active-learning labeling queues over a file of texts and a CSV of labels.

    mofang label export reviews.csv --labels labels.csv --count 50 --out to_label.csv
    # people fill the `label` column in Excel (the CSV is UTF-8 with BOM), then:
    mofang label import to_label.csv --source reviews.csv --labels labels.csv --allowed 正面,负面

The texts file is anything the data workshop reads (CSV in any encoding, xlsx, parquet, json); ids come
from `--id-column` (default: a column named `id`, else the data row number from 1). The labels file (id,
label) is the labeled pool: export leaves out its ids and, once it holds two classes, fits the built-in
character TF-IDF model on it to suggest labels and pick the rows it is least sure about; import validates
the filled queue (all or nothing) and merges it into the labels file. Thin views over mofang.models.active.

Over an order's own data — the SOURCE is the order YAML — the rows whose target is empty are the pool, the
labelled ones train the suggestions, ids are the order's id_column (else data row numbers), and import writes
to the order's `labels:` file (or --labels), which the next run of the order merges into its target:

    mofang label export order.yaml --count 200 --out to_label.csv
    mofang label import to_label.csv --source order.yaml      # the order names `labels: labels.csv`
    mofang run order.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mofang.cli.common import allow, fail, open_meta
from mofang.cli.common import out as stdout  # `out` is export's --out option here
from mofang.core.errors import DataError, MofangError

label_app = typer.Typer(help="Active learning: queues of texts for people to label, and their labels back.",
                        no_args_is_help=True)

ORDER_SUFFIXES = (".yaml", ".yml")



def _pool(source: Path, text_column: str | None, id_column: str | None) -> tuple[list[str], list[str], str]:
    """(ids, texts, text column) of the texts file."""
    import pandas as pd

    from mofang.data.connectors import read_source
    from mofang.orders.schema import Source

    frame = read_source(Source(path=source))
    columns = list(frame.columns)
    if id_column is None and "id" in columns:
        id_column = "id"
    for name, what in ((id_column, "--id-column"), (text_column, "--text-column")):
        if name is not None and name not in columns:
            raise DataError(f"no column '{name}' ({what}); columns: {', '.join(columns)}", source=str(source))
    if text_column is None:
        candidates = [c for c in columns if c != id_column]
        if not candidates:
            raise DataError("no text column", source=str(source))
        text_column = "text" if "text" in candidates else max(
            candidates, key=lambda c: frame[c].fillna("").astype(str).str.len().mean())
    ids = (frame[id_column].fillna("").astype(str).str.strip().tolist() if id_column
           else [str(k + 1) for k in range(len(frame))])
    if id_column and "" in ids:
        raise DataError(f"a row has no id (data row {ids.index('') + 1})", source=str(source), column=id_column)
    texts = frame[text_column].where(pd.notna(frame[text_column]), "").astype(str).tolist()
    return ids, texts, text_column


def _order_pool(order_file: Path):
    """(order, pool) of an order's own data, read as the line reads it (granted columns, labels file merged);
    the caller must be allowed to place the order."""
    from mofang.data.label.pool import order_pool
    from mofang.data.sources import read_granted
    from mofang.orders import load_order
    order = load_order(order_file)
    if order.target is None:
        raise DataError("the order names no target to label", source=str(order_file))
    meta = open_meta()
    try:
        allow(meta, "order.submit", order.tenant, what=f"tenant '{order.tenant}'")
    finally:
        meta.dispose()
    # before anyone has labelled, the order's labels file does not exist yet: export reads the data alone
    reading = order if order.labels is None or order.labels.exists() else order.model_copy(update={"labels": None})
    frame, _ = read_granted(reading)
    return order, order_pool(order, frame)


def _queue(source: Path, labels: Path | None, allowed: str | None, text_column: str | None,
           id_column: str | None, multi_label: bool, separator: str):
    """(queue, text column, labels file, labels the file holds): over a data file, or over an order's data
    (its labelled rows train the suggestions; `labels` defaults to the order's labels file)."""
    from mofang.models.active import LabelingQueue

    given: dict[str, str] = {}
    if source.suffix.lower() in ORDER_SUFFIXES:
        order, pool = _order_pool(source)
        ids, texts, column = pool.ids, pool.texts, ", ".join(pool.text_columns)
        labels = labels or order.labels
        multi_label, separator = order.multi_label, order.label_separator
        given = LabelingQueue.read_labels(labels) if labels is not None and labels.exists() else {}
        known = {**pool.labels, **{k: v for k, v in given.items() if k not in pool.labels}}
        queue = LabelingQueue(ids, texts, _allowed(allowed, known, multi_label, separator), labels=known,
                              multi_label=multi_label, separator=separator)
        return queue, column, labels, given
    ids, texts, column = _pool(source, text_column, id_column)
    known = LabelingQueue.read_labels(labels) if labels is not None and labels.exists() else {}
    queue = LabelingQueue(ids, texts, _allowed(allowed, known, multi_label, separator), labels=known,
                          multi_label=multi_label, separator=separator)
    return queue, column, labels, known


def _allowed(allowed: str | None, known: dict[str, str], multi_label: bool, separator: str) -> list[str]:
    """The label set: --allowed, then every label seen so far."""
    wanted = [a.strip() for a in allowed.split(",")] if allowed else []
    seen = [part.strip() for label in known.values() for part in (label.split(separator) if multi_label else [label])]
    return list(dict.fromkeys(wanted + seen))


TextColumn = Annotated[str | None, typer.Option(help="Column holding the text (default: 'text', else the "
                                                     "longest column)")]
IdColumn = Annotated[str | None, typer.Option(help="Column holding the row id (default: 'id', else the row "
                                                   "number from 1)")]
MultiLabel = Annotated[bool, typer.Option(help="A row may carry several labels, joined by --separator")]
Separator = Annotated[str, typer.Option(help="Separator of labels in a multi-label cell")]


@label_app.command("export")
def export(source: Annotated[Path, typer.Argument(help="The texts: a data file (CSV, xlsx, parquet, json) or an "
                                                       "order YAML (its own data)")],
           labels: Annotated[Path | None, typer.Option(help="The labeled pool (CSV id,label); its ids are "
                                                            "left out and train the suggestions")] = None,
           out: Annotated[Path | None, typer.Option(help="Queue to write (default: SOURCE.to_label.csv)")] = None,
           count: Annotated[int, typer.Option("--count", "-k", min=1, help="Rows to label")] = 50,
           strategy: Annotated[str, typer.Option(help="margin, entropy or least_confident")] = "margin",
           seed: Annotated[int, typer.Option(help="Seed of the random choices")] = 0,
           text_column: TextColumn = None, id_column: IdColumn = None,
           multi_label: MultiLabel = False, separator: Separator = "|") -> None:
    """Write the next rows to label as a CSV (UTF-8 with BOM, opens in Excel), most uncertain first."""
    from mofang.models.active import STRATEGIES
    try:
        if strategy not in STRATEGIES:
            raise DataError(f"unknown strategy '{strategy}' (expected: {', '.join(STRATEGIES)})")
        queue, column, _, _ = _queue(source, labels, None, text_column, id_column, multi_label, separator)
        rows = queue.propose(count, strategy=strategy, seed=seed)
        target = out or source.with_name(f"{source.stem}.to_label.csv")
        queue.export(target, rows)
    except MofangError as exc:
        raise fail(exc) from None
    how = (f"by {strategy} uncertainty of a model trained on {len(queue.labels):,} labels"
           if rows and rows[0]["suggestion"] else "at random (suggestions start once two classes are labeled)")
    stdout.print(f"[bold]{len(rows):,}[/] of {len(queue.unlabeled):,} unlabeled rows (text column "
                  f"'{column}'), chosen {how} → {target}")


@label_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="A filled queue CSV (columns id and label)")],
            source: Annotated[Path, typer.Option(help="The texts file the queue came from")],
            labels: Annotated[Path | None, typer.Option(help="The labeled pool (CSV id,label) to merge into; "
                                                             "created when absent (default for an order: its "
                                                             "'labels' file)")] = None,
            allowed: Annotated[str | None, typer.Option(help="Allowed labels, comma-separated (default: the "
                                                             "labels already in --labels)")] = None,
            text_column: TextColumn = None, id_column: IdColumn = None,
            multi_label: MultiLabel = False, separator: Separator = "|") -> None:
    """Check a filled queue (unknown ids, labels outside the allowed set) and merge it into the labels file."""
    try:
        queue, _, labels, given = _queue(source, labels, allowed, text_column, id_column, multi_label, separator)
        if labels is None:
            raise DataError("no labels file: pass --labels, or name one in the order's 'labels'", source=str(source))
        if not queue.allowed:
            raise DataError("no allowed labels: pass --allowed (e.g. --allowed 正面,负面)", source=str(labels))
        before = dict(queue.labels)
        summary = queue.import_csv(file)
        # the labels file keeps what people gave (an order's own labels stay in its data)
        kept = {k: v for k, v in queue.labels.items() if k in given or before.get(k) != v}
        type(queue)(queue.ids, [queue.texts[i] for i in queue.ids], queue.allowed, labels=kept,
                    multi_label=queue.multi_label, separator=queue.separator).save_labels(labels)
    except MofangError as exc:
        raise fail(exc) from None
    stdout.print(f"{summary.file}: {summary.added:,} labels added, {summary.changed:,} changed, "
                  f"{summary.unchanged:,} unchanged, {summary.blank:,} blank rows skipped → {labels} "
                  f"({len(queue.labels):,} labeled, {len(queue.unlabeled):,} to go)")
