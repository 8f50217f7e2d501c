"""`python -m mofang.cli ...`: the same as the `mofang` command."""

from mofang.cli.app import app

app()
