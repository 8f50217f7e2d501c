"""Admission: bad input gives one clear error through the CLI and registers nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mofang.cli import app

ORDER = """\
id: bad-input
tenant: t1
task: tabular-classification
data:
  - path: {path}
target: {target}
acceptance: none
budget:
  minutes: 0.2
"""

GOOD_CSV = "age,income,label\n" + "".join(f"{20 + i % 40},{1000 + 37 * i},{i % 2}\n" for i in range(60))


def _write(tmp: Path, csv: bytes | str | None, target: str = "label", order_text: str | None = None) -> Path:
    data = tmp / "data.csv"
    if csv is not None:
        data.write_bytes(csv.encode("utf-8") if isinstance(csv, str) else csv)
    order = tmp / "order.yaml"
    order.write_text(order_text or ORDER.format(path=data.name, target=target), encoding="utf-8")
    return order


@pytest.mark.parametrize(
    ("csv", "target", "order_text", "needle"),
    [
        (GOOD_CSV, "label", ORDER.replace("target:", "traget:").format(path="data.csv", target="label"),
         "did you mean 'target'"),
        (None, "label", None, "data.csv"),
        (GOOD_CSV, "lable", None, "lable"),
        (GOOD_CSV.replace("21,1037,1\n", "21,1037,1,oops\n"), "label", None, "row 3"),
        (b"", "label", None, "data.csv"),
        ("age,income,label\n", "label", None, "no data rows"),
        (GOOD_CSV, "label", ORDER.replace("acceptance: none\n", "").format(path="data.csv", target="label"),
         "or write 'acceptance: none'"),
    ],
    ids=["misspelled-key", "missing-file", "absent-target", "broken-row", "empty-file", "header-only",
         "no-acceptance"],
)
def test_bad_input_is_one_clear_error_and_registers_nothing(tmp_path, home, csv, target, order_text,
                                                            needle) -> None:
    order = _write(tmp_path, csv, target, order_text)
    result = CliRunner().invoke(app, ["run", str(order)])
    assert result.exit_code == 2, result.output
    flat = " ".join(result.output.split())  # the console wraps long paths at the terminal's width
    assert "error:" in flat and needle in flat, result.output
    assert "Traceback" not in result.output
    from mofang.store import MetaStore

    meta = MetaStore()
    assert meta.orders() == [] and meta.products() == []
    meta.dispose()
    assert not (home / "tenants").exists()


def test_instruction_tuning_without_a_base_model_is_refused_at_intake(tmp_path, home) -> None:
    order = _write(tmp_path, GOOD_CSV, order_text=ORDER.replace("tabular-classification", "instruction-tuning")
                   .format(path="data.csv", target="label"))
    result = CliRunner().invoke(app, ["run", str(order)])
    assert result.exit_code == 2 and "needs 'base_model'" in result.output
    assert not (home / "tenants").exists()  # nothing read, nothing written


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["resume", "999"], "no job 999"), (["serve", "nope"], "no product 'nope'"),
     (["serve", "nope@x!"], "neither a version number nor an alias"), (["orders", "show", "nope"], "no order 'nope'"),
     (["products", "show", "nope@2"], "no product 'nope'")],
)
def test_unknown_ids_are_one_clear_error(home, args, needle) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in result.output and "Traceback" not in result.output
