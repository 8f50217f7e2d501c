"""Order loading: valid orders parse; every kind of mistake names the file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.core.errors import OrderError
from mofang.orders import load_order, parse_order

VALID = """\
id: loan-default
tenant: bank-a
task: tabular-classification
data:
  - path: loans.csv
target: 是否违约
id_column: 借款编号
columns:
  deny: [备注]
acceptance:
  metrics:
    roc_auc: ">= 0.80"
  p95_latency_ms: 20
  max_model_mb: 50
deployment:
  target: edge
budget:
  minutes: 5
"""


def test_valid_order_parses_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "order.yaml"
    path.write_text(VALID, encoding="utf-8")
    order = load_order(path)
    assert order.task == "tabular-classification"
    assert order.data[0].path == tmp_path / "loans.csv"  # relative to the order file
    assert order.acceptance.metrics["roc_auc"].holds(0.81)
    assert not order.acceptance.metrics["roc_auc"].holds(0.79)
    assert str(order.acceptance.metrics["roc_auc"]) == ">= 0.8"
    assert order.model_dump(mode="json")["acceptance"]["metrics"] == {"roc_auc": ">= 0.8"}
    assert type(order).model_validate(order.model_dump(mode="json")) == order
    assert order.deployment.target == "edge" and order.budget.minutes == 5
    assert not order.is_granted("备注") and order.is_granted("收入")


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (VALID.replace("target: 是否违约", "traget: 是否违约"), 6,
         "unknown key 'traget' — did you mean 'target'?"),
        (VALID.replace("  - path: loans.csv", "  - path: loans.csv\n    sheeet: 2"), 6,
         "did you mean 'sheet'?"),
        (VALID.replace("tabular-classification", "tabular-clasification"), 3,
         "did you mean 'tabular-classification'?"),
        (VALID.replace('roc_auc: ">= 0.80"', 'roc_auc: "about 0.8"'), 12, "is not a comparison"),
        (VALID.replace('roc_auc: ">= 0.80"', 'rocauc: ">= 0.80"'), None, "did you mean 'roc_auc'?"),
        (VALID.replace("target: edge", "target: moon"), 16, "'cloud' or 'edge'"),
        (VALID.replace("minutes: 5", "minutes: -1"), 18, "greater than 0"),
        (VALID.replace("id: loan-default", "id: 'bad id!'"), 1, "should match pattern"),
        (VALID.replace("target: 是否违约\n", ""), None, "needs a 'target'"),
        (VALID.replace("  deny: [备注]", "  deny: [是否违约]"), None, "listed in columns.deny"),
        (VALID + "rework:\n  rounds: 5\n", 20, "less than or equal to 3"),
        (VALID + "rework:\n  reserve: 0.9\n", 20, "less than or equal to 0.5"),
        (VALID + "rework:\n  rouns: 1\n", 20, "did you mean 'rounds'?"),
        ("id: [unclosed\n", None, "not valid YAML"),
        ("- just\n- a list\n", 1, "an order is a YAML mapping"),
    ],
)
def test_bad_orders_say_what_and_where(text: str, line: int | None, needle: str) -> None:
    with pytest.raises(OrderError) as info:
        parse_order(text, file="order.yaml")
    message = str(info.value)
    assert needle in message, message
    assert message.startswith("order.yaml")
    if line is not None:
        assert info.value.line == line, message


def test_missing_and_non_utf8_order_files(tmp_path: Path) -> None:
    with pytest.raises(OrderError, match="order file not found"):
        load_order(tmp_path / "nope.yaml")
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes(VALID.encode("gbk"))
    with pytest.raises(OrderError, match="not UTF-8"):
        load_order(gbk)


def test_source_must_be_file_or_database() -> None:
    text = VALID.replace("  - path: loans.csv", "  - url: sqlite:///x.db")
    with pytest.raises(OrderError, match="exactly one of 'table' or 'query'"):
        parse_order(text)
    both = VALID.replace("  - path: loans.csv", "  - path: a.csv\n    url: sqlite:///x.db\n    table: t")
    with pytest.raises(OrderError, match="exactly one of 'path'"):
        parse_order(both)


@pytest.mark.parametrize(("criterion", "why"), [
    ('roc_auc: ">= 1.8"', r"1\.8 is outside the range of roc_auc, \[0, 1\]"),
    ('roc_auc: ">= -3"', r"-3 is outside the range of roc_auc"),
    ('roc_auc: "> 1"', r"no roc_auc is > 1"),
    ('log_loss: "<= -0.1"', r"outside the range of log_loss, \[0, ∞\]"),
])
def test_a_criterion_no_model_can_meet_is_refused_when_the_order_is_read(criterion: str, why: str) -> None:
    text = ("id: impossible\ntenant: acme\ntask: tabular-classification\ntarget: y\ndata:\n  - path: x.csv\n"
            f"acceptance:\n  metrics:\n    {criterion}\n")
    with pytest.raises(OrderError, match=why):
        parse_order(text)
    assert parse_order(text.replace(criterion, 'roc_auc: ">= 0.8"')).acceptance.metrics["roc_auc"].value == 0.8
