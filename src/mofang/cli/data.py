"""`mofang data`: inspect sources, run data recipes, list operators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mofang.cli.common import err, fail, out
from mofang.core.errors import MofangError

data_app = typer.Typer(help="The data workshop: inspect sources, run data recipes, list operators.",
                       no_args_is_help=True)


@data_app.command("run")
def data_run(recipe_file: Annotated[Path, typer.Argument(help="A data job: sources, recipe steps, output")]) -> None:
    """Run a data recipe over its sources and publish a dataset version with its data card."""
    from mofang.core.config import settings
    from mofang.data.job import load_data_job, run_data_job
    from mofang.station import ConsoleProgress

    try:
        job = load_data_job(recipe_file)
        result = run_data_job(job, home=settings().home, progress=ConsoleProgress())
    except MofangError as exc:
        raise fail(exc) from None
    out.print(f"\n[bold green]dataset {result['digest'][:12]}[/]: {result['rows']:,} rows in {result['output']}")
    out.print(f"data card: {result['card']}")


@data_app.command("inspect")
def data_inspect(target: Annotated[str, typer.Argument(help="A file, folder, archive or SQLAlchemy URL")],
                 table: Annotated[str | None, typer.Option(help="Table to read (with a URL)")] = None,
                 query: Annotated[str | None, typer.Option(help="SELECT to read (with a URL)")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False) -> None:
    """Profile a source and scan it for personal data; writes nothing."""
    from mofang.core.terminal import progress_bar
    from mofang.data.inspect import inspect_target

    try:
        if as_json:  # for a program: nothing but the JSON
            report = inspect_target(target, table=table, query=query)
        else:
            what = Path(target).name if "://" not in target else "database"
            with progress_bar(err, None, f"inspect {what}") as bar:
                report = inspect_target(target, table=table, query=query, on_read=bar.update)
    except MofangError as exc:
        raise fail(exc) from None
    if as_json:
        out.print_json(json.dumps(report, ensure_ascii=False, default=str))
        return
    how = ", ".join(f"{k} {v!r}" for k, v in (("encoding", report["encoding"]), ("separator", report["separator"]))
                    if v)
    out.print(f"[bold]{report['target']}[/]: {report['format']}{' (' + how + ')' if how else ''}, "
              f"{report['rows']:,} rows × {len(report['columns'])} columns")
    table_view = Table("column", "kind", "missing", "distinct", "samples", "personal data")
    for column in report["columns"]:
        found = report["pii"].get(column["name"])
        if found is None:
            pii = ""
        elif found["scope"] == "column":
            pii = f"{found['kind']} ({found['share']:.0%} of values)"
        else:
            pii = ", ".join(f"{k} ×{v['found']}" for k, v in found["kinds"].items())
        table_view.add_row(column["name"], column["kind"], f"{column['missing_ratio']:.1%}",
                           f"{column['distinct']:,}", " | ".join(map(str, column["samples"])), pii)
    out.print(table_view)


@data_app.command("ops")
def data_ops() -> None:
    """List the registered data operators with their process and params."""
    from mofang.data.ops import operators

    table = Table("operator", "process", "what it does", "params (default)")
    for name, cls in operators().items():
        params = ", ".join(f"{k}={f.default!r}" for k, f in cls.Params.model_fields.items())
        table.add_row(name, cls.process, cls.description, params)
    out.print(table)
