"""`mofang portal`: the customer service center (REST API + web portal) with embedded scheduling workers.

Registered on the main app by `register(app)`. Starting it is a factory action: operators only (or the
bootstrap operator of a fresh install), like `mofang worker`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mofang.cli.common import err, fail, open_meta, out
from mofang.core.errors import MofangError


def portal(host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
           port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
           workers: Annotated[int, typer.Option("-n", "--workers", help="Local scheduling workers run beside the "
                                                                       "API (0: jobs wait for `mofang worker`)")] = 1,
           max_upload_mb: Annotated[float, typer.Option(help="Largest data file one upload may send")] = 200.0
           ) -> None:
    """Serve the REST API (/api/v1, docs at /docs) and the web portal, and run N workers for placed orders."""
    import uvicorn

    from mofang.cli.scheduling import operator_identity
    from mofang.core.config import settings
    from mofang.portal import create_app
    from mofang.portal.workers import EmbeddedWorkers

    try:
        if workers < 0 or not 0 < port < 65536 or max_upload_mb <= 0:
            raise MofangError("--workers must be ≥ 0, --port in 1..65535 and --max-upload-mb > 0")
        meta = open_meta()
        starter = operator_identity(meta, "portal.run")
        application = create_app(meta, settings().home, max_upload_mb=max_upload_mb)
    except MofangError as exc:
        raise fail(exc) from None
    if starter.bootstrap:
        err.print("[yellow]no API keys exist yet: nobody can sign in; create one with "
                      "`mofang keys create --user NAME --role owner --tenant TENANT`[/]")
    embedded = EmbeddedWorkers(workers)
    embedded.start()
    out.print(f"portal on http://{host}:{port}  (API docs: /docs); {workers} embedded "
                  f"worker{'s' if workers != 1 else ''}")
    try:
        uvicorn.run(application, host=host, port=port, log_level="info")
    finally:
        embedded.stop()


def register(app: typer.Typer) -> None:
    """Add `portal` to the main `mofang` app."""
    app.command("portal")(portal)
