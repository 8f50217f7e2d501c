"""`mofang bundle verify` and `mofang products export`: the customer's copies of a product.

    mofang products export loan-default@2 --edge --out loan-default.tar.gz   # signed edge archive
    mofang products export loan-default@2 --mlflow --out loan-default-mlflow  # MLflow pyfunc model
    mofang bundle verify loan-default.tar.gz [--public-key factory.pem]
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from mofang.cli.common import EXIT_REJECTED, err, fail, open_meta, out, product_version
from mofang.core.errors import MofangError

bundle_app = typer.Typer(help="Signed edge bundles: verify an archive before running it.", no_args_is_help=True)
WRITE_CHUNK = 1 << 20  # an exported archive is written (and its bar moved) a MiB at a time



def register(app: typer.Typer, products_app: typer.Typer) -> None:
    """Add `bundle verify` and `products export` to the CLI."""
    app.add_typer(bundle_app, name="bundle")
    products_app.command("export")(products_export)


@bundle_app.command("verify")
def bundle_verify(archive: Annotated[Path, typer.Argument(help="The edge archive (.tar.gz)")],
                  public_key: Annotated[Path | None, typer.Option(
                      help="The factory's public key (PEM); default: this installation's factory key")] = None
                  ) -> None:
    """Check an edge archive's signature and every file's checksum; names the first bad file."""
    from mofang.integration.archive import ArchiveRefused, verify_archive
    try:
        pem = public_key.read_text("utf-8") if public_key else _factory_public_pem()
        if not archive.is_file():
            raise MofangError(f"{archive}: no such file")
        manifest = verify_archive(archive, pem)
    except ArchiveRefused as exc:
        err.print(f"[bold red]refused:[/] {exc}")
        raise typer.Exit(EXIT_REJECTED) from None
    except (MofangError, OSError) as exc:
        raise fail(exc) from None
    parity = manifest.get("parity") or {}
    out.print(f"[bold green]verified[/] {archive}: {len(manifest['files'])} files, signed by factory key "
                  f"{manifest['factory_key_id']} on {manifest.get('signed_at')}")
    if parity:
        out.print(f"product {manifest.get('product')} ({manifest.get('family')}): parity on {parity['rows']} "
                      f"test rows, max |Δ| {parity['max_abs_diff']:.2e}; {manifest.get('quantization')}")


def _factory_public_pem() -> str:
    """This installation's factory public key; without one (a customer machine), --public-key is needed."""
    import os

    from mofang.core.config import settings
    from mofang.security.signing import KEY_ENV, KEY_FILE, load_factory_key

    home = settings().home
    if not os.environ.get(KEY_ENV) and not (home / KEY_FILE).exists():
        raise MofangError("this installation has no factory key to verify with; pass --public-key with the "
                          "factory's public key (written next to the archive by `mofang products export --edge`)")
    return load_factory_key(home).public_pem()


def _write_in_chunks(data: bytes, out_path: Path, bar: Any) -> None:
    """Write `data` to `out_path` a chunk at a time, the bar counting the bytes written."""
    view = memoryview(data)
    bar.update(0, len(data), f"bytes written to {out_path.name}")
    with open(out_path, "wb") as fh:
        for start in range(0, len(data), WRITE_CHUNK):
            fh.write(view[start:start + WRITE_CHUNK])
            bar.update(min(len(data), start + WRITE_CHUNK))


def products_export(ref: Annotated[str, typer.Argument(help="PRODUCT or PRODUCT@VERSION")],
                    out_path: Annotated[Path, typer.Option("--out", help="The archive (--edge) or folder (--mlflow)")],
                    edge: Annotated[bool, typer.Option("--edge", help="The signed edge archive")] = False,
                    mlflow: Annotated[bool, typer.Option("--mlflow", help="An MLflow pyfunc model folder")] = False,
                    tenant: Annotated[str | None, typer.Option()] = None) -> None:
    """Decrypt a product version for the customer: its signed edge archive, or an MLflow model folder."""
    from mofang.core.config import settings
    from mofang.core.terminal import progress_bar
    from mofang.integration.edge import EDGE_ARCHIVE
    from mofang.security.vault import open_vault
    if edge == mlflow:
        raise fail(MofangError("choose one of --edge or --mlflow"))
    try:
        meta = open_meta()
        name, version, _ = product_version(meta, ref, tenant, "product.read")
        owner, folder = version.product.tenant_id, Path(version.bundle_path)
        vault = open_vault(meta, settings().home)
        if edge:
            source = folder / EDGE_ARCHIVE
            if not source.exists():
                raise MofangError(f"{name}@{version.version} has no edge bundle (see `mofang orders show "
                                  f"{version.product.name}` for the reason its family has none)")
            with progress_bar(err, None, f"export {name}@{version.version}", indent="  ",
                              note=f"decrypting {EDGE_ARCHIVE}") as bar:
                _write_in_chunks(vault.read_any(owner, source), out_path, bar)
            key_file = out_path.with_name(out_path.name + ".factory.pem")
            key_file.write_text(_factory_public_pem(), "utf-8")
        else:
            from mofang.integration.mlflow_export import export_mlflow

            with progress_bar(err, None, f"export {name}@{version.version}", indent="  ") as bar:
                export_mlflow(lambda p: vault.read_any(owner, p), sorted(folder.iterdir()), out_path,
                              on_step=bar.update)
    except (MofangError, OSError) as exc:  # OSError: --out is a folder, unwritable, the disk is full
        raise fail(exc) from None
    what = "edge archive" if edge else "MLflow model"
    out.print(f"{what} of {name}@{version.version} written to {out_path}")
    if edge:
        out.print(f"factory public key: {key_file}; check the archive with: "
                      f"mofang bundle verify {out_path} --public-key {key_file}")
