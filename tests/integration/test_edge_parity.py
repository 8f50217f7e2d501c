"""ONNX export + preprocessing as data: the edge runner answers like the served product, family by family."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from mofang.integration.bundle import Bundle
from mofang.integration.edge import check_parity, records_of, write_edge_folder
from mofang.integration.edge_runner import EdgeModel, read_boolean, read_date, read_label, read_number
from mofang.integration.preprocess import NotExportable
from mofang.models.features import coerce_value
from mofang.models.registry import get_trainer
from tests.models import text_fixtures
from tests.models.tabular_fixtures import classification_data, regression_data

EDGE = SimpleNamespace(deployment=SimpleNamespace(target="edge"))  # an edge order: single models, not bags


def _fit(task: str, family: str, train: pd.DataFrame, valid: pd.DataFrame, dataset: dict) -> Bundle:
    candidate, _ = get_trainer(task, family).fit(train, valid, dataset, budget_s=3, order=EDGE)
    schema = {"task": task, "features": dataset["features"], "ignored": []}
    return Bundle(path=Path("."), candidate=candidate, schema=schema, metadata={"product": "p"})


def _parity(bundle: Bundle, test: pd.DataFrame, folder: Path, quantize: bool = False):
    built = write_edge_folder(bundle.candidate, bundle.schema, "# card", folder, quantize=quantize)
    return built, check_parity(bundle, folder, records_of(test, bundle.feature_names), built["quantized"])


@pytest.mark.parametrize("family", ["lightgbm", "linear"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_tabular_classifiers_match_on_the_test_split(tmp_path, family, n_classes) -> None:
    data = classification_data(n=600, n_classes=n_classes)
    bundle = _fit("tabular-classification", family, data["train"], data["valid"], data["dataset"])
    built, parity = _parity(bundle, data["test"], tmp_path, quantize=True)
    assert parity.passed and parity.labels_match and parity.max_abs_diff <= 1e-4, parity.describe()
    assert not built["quantized"]  # a tree ensemble / sklearn linear operator has no weight matrix to quantize
    spec = json.loads((tmp_path / "preprocess.json").read_text("utf-8"))
    assert spec["pipeline"]["mode"] == ("tree" if family == "lightgbm" else "linear")


@pytest.mark.parametrize("family", ["lightgbm", "linear"])
def test_tabular_regressors_match(tmp_path, family) -> None:
    data = regression_data(n=600)
    bundle = _fit("tabular-regression", family, data["train"], data["valid"], data["dataset"])
    _, parity = _parity(bundle, data["test"], tmp_path)
    assert parity.passed, parity.describe()


@pytest.mark.parametrize("multi_label", [False, True])
def test_text_linear_matches_in_fp32_and_int8(tmp_path, multi_label) -> None:
    train, valid, test = text_fixtures.splits(500, multi_label=multi_label)
    bundle = _fit("text-classification", "tfidf-linear", train, valid, text_fixtures.dataset(train, multi_label))
    _, fp32 = _parity(bundle, test, tmp_path / "fp32")
    assert fp32.passed and fp32.max_abs_diff <= 1e-4, fp32.describe()
    built, int8 = _parity(bundle, test, tmp_path / "int8", quantize=True)
    assert built["quantized"] and int8.passed, int8.describe()
    assert (tmp_path / "int8" / "model.onnx").stat().st_size < (tmp_path / "fp32" / "model.onnx").stat().st_size


def test_edge_model_answers_raw_client_values_like_the_product(tmp_path) -> None:
    """Rows as a client writes them (strings, full-width digits, Chinese booleans, other date forms)."""
    data = classification_data(n=600)
    bundle = _fit("tabular-classification", "linear", data["train"], data["valid"], data["dataset"])
    write_edge_folder(bundle.candidate, bundle.schema, "# card", tmp_path, quantize=False)
    rows = [{"x0": "1,234.5", "x1": "-0.3", "x2": "１２", "x3": None, "x4": "12%", "城市": " 上海 ",
             "channel": "NA", "signup": "2021/3/4", "vip": "是"},
            {"x0": None, "x1": 2, "x2": "n/a", "x3": "(1.5)", "x4": 0, "城市": "广州", "channel": "app",
             "signup": "20210701", "vip": "no"},
            {"x1": "0.1", "signup": "2021年7月1日 08:30", "vip": 1.0}]
    assert EdgeModel(tmp_path).predict(rows) == bundle.predict_records(rows)


@pytest.mark.parametrize("value", ["1,234", "12%", "¥3.5万", "(1,234)", "1.2k", "１２３", "12个月", "88.5㎡", "-",
                                   "abc", "1e3", " 7 ", None, 3, 2.5, "inf"])
def test_runner_reads_numbers_like_the_data_workshop(value) -> None:
    expected = coerce_value(value, "numeric")
    got = read_number(value)
    assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected), (value, got, expected)


@pytest.mark.parametrize("value", ["是", "否", "Y", "no", "TRUE", "0", 1, 0.0, 2, "maybe", None, True])
def test_runner_reads_booleans_like_the_data_workshop(value) -> None:
    expected = coerce_value(value, "boolean")
    got = read_boolean(value)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected, (value, got, expected)


@pytest.mark.parametrize("value, dayfirst", [("2023-01-05", None), ("2023/1/5 13:45:10", None), ("20230105", None),
                                              ("05/01/2023", True), ("05/01/2023", False), ("2023年1月5日", None),
                                              ("2023-01-05T08:00:00Z", None), ("31/12/23", None), ("soon", None)])
def test_runner_reads_dates_like_the_data_workshop(value, dayfirst) -> None:
    expected = coerce_value(value, "datetime", dayfirst)
    got = read_date(value, dayfirst)
    assert (got is None) == (expected is None) and (got is None or pd.Timestamp(got) == expected), (value, got)


@pytest.mark.parametrize("value", [" 北京 ", "ＡＢＣ", "a  b", "NULL", "", None, 3.0, float("nan")])
def test_runner_reads_labels_like_the_data_workshop(value) -> None:
    assert read_label(value) == coerce_value(value, "categorical")


def test_a_family_without_an_onnx_form_is_refused_with_the_reason(tmp_path) -> None:
    train, valid, _ = text_fixtures.splits(300)
    bundle = _fit("text-classification", "jieba-linear", train, valid, text_fixtures.dataset(train))
    with pytest.raises(NotExportable, match="jieba"):
        write_edge_folder(bundle.candidate, bundle.schema, "# card", tmp_path, quantize=False)


def test_a_runner_file_imports_nothing_but_numpy_and_onnxruntime() -> None:
    import ast

    import mofang.integration.edge_runner as runner

    tree = ast.parse(Path(runner.__file__).read_text("utf-8"))
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert names - set(sys.stdlib_module_names) == {"numpy", "onnxruntime"}, names


NUMBER_FORMS = ["1,234", "12%", "¥3.5万", "(1,234)", "1.2k", "１２３", "12个月", "88.5㎡", "-", "abc", "1e3", " 7 ",
                "inf", "nan", "1_000", "−5", "+-3", "-¥2.5", "3.5‰", "2万亿", "1.5K%", "(", "()", "(12", "12.", ".5",
                "1e500", "NA", "", "  ", "5 元", "HK$1,000", "m2", "12m2", "1,5", "0.0", "-0", "$-7", "七", "0x10"]


@pytest.mark.parametrize("value", NUMBER_FORMS)
def test_one_served_number_parses_like_the_column_parser(value) -> None:
    """`parse_number_value` (served rows, no pandas) against `parse_numbers` (columns) and the edge runner."""
    from mofang.data.numeric import parse_number_value, parse_numbers

    column = float(parse_numbers(pd.Series([value], dtype=object)).iloc[0])
    for got in (parse_number_value(value), read_number(value)):
        assert (math.isnan(got) and math.isnan(column)) or got == pytest.approx(column), (value, got, column)


def test_lightgbm_over_sparse_tfidf_takes_the_runners_sparse_rows(tmp_path) -> None:
    train, valid, test = text_fixtures.splits(400)
    bundle = _fit("text-classification", "tfidf-lightgbm", train, valid, text_fixtures.dataset(train))
    built, parity = _parity(bundle, test, tmp_path, quantize=True)
    assert parity.passed and parity.max_abs_diff <= 1e-4, parity.describe()
    assert not built["quantized"]  # trees: no weight matrix (the scatter's shape Gather is not one)
    assert [i.name for i in EdgeModel(tmp_path).session.get_inputs()] == ["indices", "values"]
