"""`mofang label export|import`: active-learning labeling queues over a file of texts and a CSV of labels.

    mofang label export reviews.csv --labels labels.csv --count 50 --out to_label.csv
    # people fill the `label` column in Excel (the CSV is UTF-8 with BOM), then:
    mofang label import to_label.csv --source reviews.csv --labels labels.csv --allowed 正面,负面

The texts file is anything the data workshop reads (CSV in any encoding, xlsx, parquet, json); ids come
from `--id-column` (default: a column named `id`, else the data row number from 1). The labels file (id,
label) is the labeled pool: export leaves out its ids and, once it holds two classes, fits the built-in
character TF-IDF model on it to suggest labels and pick the rows it is least sure about; import validates
the filled queue (all or nothing) and merges it into the labels file. Thin views over mofang.models.active.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mofang.errors import DataError, MofangError

label_app = typer.Typer(help="Active learning: queues of texts for people to label, and their labels back.",
                        no_args_is_help=True)

ORDER_SUFFIXES = (".yaml", ".yml")


def _cli():  # the main CLI module: its consoles and error exit
    from mofang import cli

    return cli


def _pool(source: Path, text_column: str | None, id_column: str | None) -> tuple[list[str], list[str], str]:
    """(ids, texts, text column) of the texts file."""
    import pandas as pd

    from mofang.data.connectors import read_source
    from mofang.orders.schema import Source

    if source.suffix.lower() in ORDER_SUFFIXES:
        raise DataError("labeling an order's data is not wired to the line yet; pass the data file itself",
                        source=str(source))
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


def _queue(source: Path, labels: Path | None, allowed: str | None, text_column: str | None,
           id_column: str | None, multi_label: bool, separator: str):
    from mofang.models.active import LabelingQueue

    ids, texts, column = _pool(source, text_column, id_column)
    known = LabelingQueue.read_labels(labels) if labels is not None and labels.exists() else {}
    wanted = [a.strip() for a in allowed.split(",")] if allowed else []
    seen = [part.strip() for label in known.values() for part in (label.split(separator) if multi_label else [label])]
    queue = LabelingQueue(ids, texts, list(dict.fromkeys(wanted + seen)), labels=known, multi_label=multi_label,
                          separator=separator)
    return queue, column


TextColumn = Annotated[str | None, typer.Option(help="Column holding the text (default: 'text', else the "
                                                     "longest column)")]
IdColumn = Annotated[str | None, typer.Option(help="Column holding the row id (default: 'id', else the row "
                                                   "number from 1)")]
MultiLabel = Annotated[bool, typer.Option(help="A row may carry several labels, joined by --separator")]
Separator = Annotated[str, typer.Option(help="Separator of labels in a multi-label cell")]


@label_app.command("export")
def export(source: Annotated[Path, typer.Argument(help="The texts: a data file (CSV, xlsx, parquet, json)")],
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

    cli = _cli()
    try:
        if strategy not in STRATEGIES:
            raise DataError(f"unknown strategy '{strategy}' (expected: {', '.join(STRATEGIES)})")
        queue, column = _queue(source, labels, None, text_column, id_column, multi_label, separator)
        rows = queue.propose(count, strategy=strategy, seed=seed)
        target = out or source.with_name(f"{source.stem}.to_label.csv")
        queue.export(target, rows)
    except MofangError as exc:
        raise cli._fail(exc) from None
    how = (f"by {strategy} uncertainty of a model trained on {len(queue.labels):,} labels"
           if rows and rows[0]["suggestion"] else "at random (suggestions start once two classes are labeled)")
    cli.out.print(f"[bold]{len(rows):,}[/] of {len(queue.unlabeled):,} unlabeled rows (text column "
                  f"'{column}'), chosen {how} → {target}")


@label_app.command("import")
def import_(file: Annotated[Path, typer.Argument(help="A filled queue CSV (columns id and label)")],
            source: Annotated[Path, typer.Option(help="The texts file the queue came from")],
            labels: Annotated[Path, typer.Option(help="The labeled pool (CSV id,label) to merge into; "
                                                      "created when absent")],
            allowed: Annotated[str | None, typer.Option(help="Allowed labels, comma-separated (default: the "
                                                             "labels already in --labels)")] = None,
            text_column: TextColumn = None, id_column: IdColumn = None,
            multi_label: MultiLabel = False, separator: Separator = "|") -> None:
    """Check a filled queue (unknown ids, labels outside the allowed set) and merge it into the labels file."""
    cli = _cli()
    try:
        queue, _ = _queue(source, labels, allowed, text_column, id_column, multi_label, separator)
        if not queue.allowed:
            raise DataError("no allowed labels: pass --allowed (e.g. --allowed 正面,负面)", source=str(labels))
        summary = queue.import_csv(file)
        queue.save_labels(labels)
    except MofangError as exc:
        raise cli._fail(exc) from None
    cli.out.print(f"{summary.file}: {summary.added:,} labels added, {summary.changed:,} changed, "
                  f"{summary.unchanged:,} unchanged, {summary.blank:,} blank rows skipped → {labels} "
                  f"({len(queue.labels):,} labeled, {len(queue.unlabeled):,} to go)")
