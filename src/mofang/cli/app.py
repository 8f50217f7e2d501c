"""The `mofang` command line: thin views over each unit's public entries, one module per command group."""

from __future__ import annotations

import typer

from mofang.cli import bundle, db, devices, label, portal, products, scheduling, security
from mofang.cli.data import data_app
from mofang.cli.orders import orders_app
from mofang.cli.reproduce import reproduce
from mofang.cli.runs import demo, resume, run_order
from mofang.cli.whoami import whoami

app = typer.Typer(help="Mofang (模坊): an AI model factory — one order in, a served model product out.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.command("run")(run_order)
app.command()(resume)
app.command()(demo)
app.command()(reproduce)  # rerun a reproducible product from its build manifest and compare
app.command()(whoami)  # who the CLI acts as, and where its key came from
app.add_typer(orders_app, name="orders")
app.add_typer(data_app, name="data")
products.register(app)  # serve, improve, products list|show|report|promote|rollback, market list|publish|unpublish
bundle.register(app, products.products_app)  # bundle verify, products export --edge|--mlflow
security.register(app)  # tenants, keys, audit, destroy
scheduling.register(app)  # submit, worker, jobs list|cancel|retry|quota
app.add_typer(label.label_app, name="label")
app.add_typer(devices.devices_app, name="devices")
app.add_typer(db.db_app, name="db")  # db current|upgrade: the metadata store's schema revision
portal.register(app)  # portal: REST API + web pages


def main() -> None:  # pragma: no cover - console entry
    app()
