"""The task's spec: a valid TaskSpec whose metrics the vision metrics compute."""

from __future__ import annotations

from mofang.tasks.vision import IMAGE_CLASSIFICATION, PLANNED_HOOKS, PLANNED_OVERRIDES, SPECS
from mofang.tasks.vision.metrics import image_metrics


def test_the_spec_declares_the_image_task() -> None:
    assert SPECS == (IMAGE_CLASSIFICATION,) and IMAGE_CLASSIFICATION.name == "image-classification"
    assert IMAGE_CLASSIFICATION.classes and IMAGE_CLASSIFICATION.default_metric == "f1_macro"
    assert IMAGE_CLASSIFICATION.metrics["false_alarm_rate"] == "lower"
    figures = image_metrics(["good", "bad"], ["good", "good"], good_class="good")
    assert set(IMAGE_CLASSIFICATION.metrics) - {"mask_iou"} <= set(figures)
    assert all(key.count(".") == 1 for key in PLANNED_OVERRIDES) and "serving.app" in PLANNED_HOOKS


def test_the_example_order_reads_with_its_vision_section() -> None:
    from pathlib import Path

    from mofang.tasks.vision.order import read_order

    example = Path(__file__).resolve().parents[3] / "examples" / "orders" / "magnetic_tile.yaml"
    order = read_order(example)
    assert order["source"].parts[-3:] == ("datasets", "vision", "magnetic_tile")
    assert order["vision"].good_class == "MT_Free" and order["vision"].duplicates == "remove"
    assert order["budget_s"] == 300 and order["vision"].pretrained.weights is None


def test_a_bad_vision_section_names_the_field(tmp_path) -> None:
    import pytest

    from mofang.core.errors import OrderError
    from mofang.tasks.vision.order import read_order

    (tmp_path / "o.yaml").write_text("task: image-classification\ndata: {path: x}\nvision: {duplicate: group}\n",
                                     encoding="utf-8")
    with pytest.raises(OrderError, match="field 'vision.duplicate': Extra inputs are not permitted"):
        read_order(tmp_path / "o.yaml")
