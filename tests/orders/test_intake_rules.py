"""What a placed order must say up front: an acceptance section with a criterion (or `acceptance: none`),
task-specific fields only on the tasks that declare them (TaskSpec), and a leakage guard within range."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from mofang.core.errors import OrderError
from mofang.core.tasks import TaskSpec, register, unregister
from mofang.demo import ORDER_TEMPLATE
from mofang.orders import Order, load_order, parse_order

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "orders").glob("*.yaml"))


def order_text(extra: str = "acceptance:\n  metrics: {roc_auc: '>= 0.7'}\n",
               task: str = "tabular-classification") -> str:
    return f"id: o1\ntenant: t1\ntask: {task}\ndata:\n  - path: x.csv\ntarget: y\n{extra}"


def refusal(text: str) -> OrderError:
    with pytest.raises(OrderError) as caught:
        parse_order(text)
    return caught.value


# -- acceptance ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("section", ["acceptance:\n  metrics: {}\n", "acceptance: {}\n"])
def test_an_acceptance_without_any_criterion_is_refused_at_its_line(section: str) -> None:
    error = refusal(order_text(section))
    assert error.line == 7 and error.field == "acceptance"
    assert "states no criterion" in str(error) and "roc_auc: '>= 0.70'" in str(error)  # the wizard's criterion
    assert "acceptance: none" in str(error)


def test_the_example_criterion_follows_the_metrics_direction() -> None:
    error = refusal(order_text("acceptance: {}\n", task="time-series-forecast") + "time_column: t\n"
                    "forecast: {horizon: 7}\n")
    assert "mase: '<= 0.20'" in str(error)  # no wizard criterion: the first metric, lower is better


@pytest.mark.parametrize("word", ["none", "None", "NONE"])
def test_acceptance_none_waives_the_gate_explicitly_and_survives_a_round_trip(word: str) -> None:
    order = parse_order(order_text(f"acceptance: {word}\n"))
    assert order.acceptance.is_waived and order.acceptance.criteria == 0
    dumped = order.model_dump(mode="json")
    assert dumped["acceptance"] == "none"
    assert Order.model_validate(dumped).acceptance.is_waived


def test_acceptance_is_a_mapping_or_none() -> None:
    error = refusal(order_text("acceptance: nothing\n"))
    assert error.field == "acceptance" and "or 'none', not 'nothing'" in str(error)
    assert "is not allowed" not in str(error)


def test_a_latency_or_size_limit_alone_is_a_criterion() -> None:
    # documents without questions, unlabelled sensor data: no metric can be measured, a limit still decides
    order = parse_order(order_text("acceptance:\n  p95_latency_ms: 200\n"))
    assert order.acceptance.criteria == 1 and not order.acceptance.is_waived


def test_an_order_without_the_section_is_refused_saying_what_to_write(tmp_path: Path) -> None:
    error = refusal(order_text(""))
    assert error.field == "acceptance" and "\n" not in str(error)
    assert "the order has no acceptance section" in str(error)
    assert "acceptance: {metrics: {roc_auc: '>= 0.70'}}" in str(error)  # a metric threshold of the order's task
    assert "or write 'acceptance: none'" in str(error)
    (tmp_path / "order.yaml").write_text(order_text(""), encoding="utf-8")
    with pytest.raises(OrderError, match=r"order\.yaml:1: field 'acceptance': the order has no acceptance section"):
        load_order(tmp_path / "order.yaml")
    (tmp_path / "order.yaml").write_text(order_text("acceptance: none\n"), encoding="utf-8")
    assert load_order(tmp_path / "order.yaml").acceptance.is_waived


def test_stored_specs_are_re_read_without_the_intake_rules() -> None:
    spec = parse_order(order_text("acceptance: none\n")).model_dump(mode="json")
    del spec["acceptance"]  # a job's spec stored before the rule: re-read by the line, never re-judged
    order = Order.model_validate(spec)
    assert order.acceptance.criteria == 0 and not order.acceptance.is_waived
    assert Order.model_validate({**spec, "acceptance": {}}).acceptance.criteria == 0


# -- task-specific fields ----------------------------------------------------------------------------------------
def test_a_checkpoint_base_model_is_refused_on_a_tabular_order() -> None:
    error = refusal(order_text("base_model: bert-base-chinese\nacceptance: none\n"))
    assert error.field == "base_model" and error.line == 7
    assert ("'base_model' naming a checkpoint (a model-catalog name or a local checkpoint folder) applies to "
            "instruction-tuning and text-classification orders only, not tabular-classification") in str(error)
    assert "market:NAME@V" in str(error)  # what a tabular order may name instead


def test_a_published_model_is_a_base_of_tabular_and_text_orders_only() -> None:
    assert parse_order(order_text("base_model: market:churn@2\nacceptance: none\n")).base_model == "market:churn@2"
    error = refusal("id: o1\ntenant: t1\ntask: instruction-tuning\ndata: [{path: law.json}]\n"
                    "base_model: market:churn@2\nacceptance: none\n")
    assert "published model (market:NAME@V) applies to tabular-classification, tabular-regression and " \
           "text-classification orders only, not instruction-tuning" in str(error)


def test_base_model_on_a_task_that_reads_none() -> None:
    error = refusal(order_text("text: q\nbase_model: bge-small\nacceptance: none\n", task="retrieval-qa"))
    assert str(error).endswith("not retrieval-qa")


def test_text_classification_takes_both_kinds_of_base() -> None:
    for base in ("bert-tiny", "market:reviews@1"):
        order = parse_order(order_text(f"text: review\nbase_model: {base}\nacceptance: none\n",
                                       task="text-classification"))
        assert order.base_model == base


def test_a_robustness_drop_only_where_the_task_measures_one() -> None:
    error = refusal(order_text("acceptance:\n  metrics: {f1: '>= 0.7'}\n  max_robustness_drop: 0.05\n",
                               task="anomaly-detection"))
    assert error.field == "acceptance"
    assert ("'max_robustness_drop' applies to image-classification, retrieval-qa, tabular-classification, "
            "tabular-regression and text-classification orders only") in str(error)
    assert str(error).endswith("not anomaly-detection")
    tabular = order_text("acceptance:\n  metrics: {roc_auc: '>= 0.7'}\n  max_robustness_drop: 0.05\n")
    assert parse_order(tabular).acceptance.max_robustness_drop == 0.05
    text = order_text("text: t\nacceptance:\n  metrics: {f1_macro: '>= 0.7'}\n  max_robustness_drop: 0.05\n",
                      task="text-classification")
    assert parse_order(text).acceptance.max_robustness_drop == 0.05


def test_refit_on_all_rows_only_where_the_task_refits() -> None:
    error = refusal(order_text("deployment: {refit_on_all_rows: true}\nacceptance: none\n",
                               task="tabular-regression"))
    assert error.field == "deployment"
    assert "'refit_on_all_rows' applies to tabular-classification and text-classification orders only, " \
           "not tabular-regression" in str(error)
    refit = order_text("deployment: {refit_on_all_rows: true}\nacceptance: none\n")
    assert parse_order(refit).deployment.refit_on_all_rows


@pytest.mark.parametrize(("section", "owner"), [("forecast:\n  horizon: 7\n", "time-series-forecast"),
                                                ("anomaly:\n  window: 8\n", "anomaly-detection"),
                                                ("llm:\n  epochs: 1\n", "instruction-tuning")])
def test_another_tasks_section_is_refused(section: str, owner: str) -> None:
    error = refusal(order_text(section + "acceptance: none\n"))
    assert f"'{section.split(':')[0]}' applies to {owner} orders only, not tabular-classification" in str(error)


@pytest.fixture()
def toy_task() -> Iterator[TaskSpec]:
    spec = TaskSpec(name="toy-checkpoints", description="a task reading a checkpoint", metrics={"accuracy": "higher"},
                    base_model=("checkpoint",))
    register(spec)
    yield spec
    unregister(spec.name)


def test_who_may_say_base_model_comes_from_the_task_specs(toy_task: TaskSpec) -> None:
    error = refusal(order_text("base_model: bert-tiny\nacceptance: none\n"))
    assert "applies to instruction-tuning, text-classification and toy-checkpoints orders only" in str(error)
    assert parse_order(order_text("base_model: bert-tiny\nacceptance: none\n", task=toy_task.name)).base_model


def test_a_task_spec_names_only_known_kinds_of_base() -> None:
    with pytest.raises(ValueError, match="base_model may name checkpoint and market"):
        TaskSpec(name="odd", description="", metrics={"accuracy": "higher"}, base_model=("hub",))


def test_no_task_name_is_compared_outside_the_task_packages() -> None:
    names = {"tabular-classification", "tabular-regression", "text-classification", "retrieval-qa",
             "anomaly-detection", "time-series-forecast", "instruction-tuning", "image-classification"}
    source = (ROOT / "src" / "mofang" / "orders" / "schema.py").read_text(encoding="utf-8")
    compared = [name for name in names if re.search(rf"[=!]=\s*['\"]{name}['\"]|['\"]{name}['\"]\s*[=!]=", source)]
    assert compared == []


# -- the leakage guard's settings -------------------------------------------------------------------------------
def test_the_leakage_guard_defaults_and_per_order_settings() -> None:
    assert parse_order(order_text()).leakage.model_dump() == {"threshold": 0.95, "min_rows": 200}
    order = parse_order(order_text() + "leakage:\n  threshold: 0.9\n  min_rows: 50\n")
    assert (order.leakage.threshold, order.leakage.min_rows) == (0.9, 50)
    assert Order.model_validate(order.model_dump(mode="json")).leakage == order.leakage


@pytest.mark.parametrize(("setting", "message"), [("threshold: 0.5", "greater than 0.5"),
                                                  ("threshold: 1.2", "less than or equal to 1"),
                                                  ("min_rows: 5", "greater than or equal to 10"),
                                                  ("rows: 5", "unknown key 'rows'")])
def test_leakage_settings_out_of_range_are_refused(setting: str, message: str) -> None:
    error = refusal(order_text() + f"leakage:\n  {setting}\n")
    assert message in str(error) and error.field.startswith("leakage.")


# -- every order the repository ships ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_order_validates(path: Path) -> None:
    order = load_order(path)
    assert order.acceptance.metrics, "an example shows an acceptance gate"


def test_the_demo_order_validates() -> None:
    order = parse_order(ORDER_TEMPLATE.format(minutes=1.0))
    assert set(order.acceptance.metrics) == {"roc_auc", "f1_macro"}


def test_the_readmes_full_orders_validate() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    orders = [block for block in re.findall(r"```yaml\n(.*?)```", text, re.S) if block.startswith("id:")]
    assert orders
    for block in orders:
        parse_order(block)
