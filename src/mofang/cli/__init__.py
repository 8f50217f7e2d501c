"""The `mofang` command line (`mofang.cli:app`): `app.py` assembles the command groups, one module each."""

from mofang.cli.app import app, main

__all__ = ["app", "main"]
