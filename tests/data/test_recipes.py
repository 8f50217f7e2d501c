"""Recipes: built-in defaults per task, order overrides, and errors that name the step and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.core.errors import OrderError
from mofang.data.ops import RecipeError
from mofang.data.recipes import RecipeOverride, build_recipe, default_recipe, load_recipe
from mofang.orders import parse_order

ORDER = """
id: loans
tenant: acme
task: tabular-classification
data: {{path: loans.csv}}
target: default
recipe:
{recipe}
acceptance: none
"""


@pytest.mark.parametrize("task", ["tabular-classification", "tabular-regression", "text-classification",
                                  "text-corpus"])
def test_every_built_in_recipe_builds(task: str) -> None:
    recipe = default_recipe(task)
    ops = recipe.operators()
    assert ops and [op.name for op in ops][0].startswith("normalize.")
    order = ["normalize", "clean", "deduplicate", "desensitize", "quality", "label", "augment", "validate"]
    positions = [order.index(op.process) for op in ops]
    assert positions == sorted(positions)


def test_override_changes_params_adds_and_removes() -> None:
    override = RecipeOverride(params={"clean.outliers": {"action": "clip", "factor": 2.0}},
                              add=[{"op": "augment.smote", "params": {"target_ratio": 0.8}}],
                              remove=["quality.label_noise"])
    recipe = build_recipe("tabular-classification", override)
    names = [s.op for s in recipe.steps]
    assert "quality.label_noise" not in names and names[-1] == "augment.smote"
    outliers = next(op for op in recipe.operators() if op.name == "clean.outliers")
    assert outliers.params.action == "clip" and outliers.params.factor == 2.0
    assert recipe.operators()[-1].name == "augment.smote"  # runs in its process, after quality


@pytest.mark.parametrize("override, field, message", [
    ({"params": {"clean.outliers": {"actoin": "clip"}}}, "params.clean.outliers.actoin", "did you mean 'action'"),
    ({"params": {"clean.outlier": {}}}, "params.clean.outlier", "did you mean 'clean.outliers'"),
    ({"remove": ["dedupe.exakt"]}, "remove[0]", "no such step"),
    ({"add": [{"op": "augment.smoet"}]}, None, "did you mean 'augment.smote'"),
    ({"params": {"augment.smote": {}}}, "params.augment.smote", "not a step of the recipe"),
])
def test_bad_overrides_say_where_and_what(override: dict, field: str | None, message: str) -> None:
    with pytest.raises(RecipeError, match=message) as caught:
        build_recipe("tabular-classification", RecipeOverride.model_validate(override))
    if field:
        assert caught.value.field == field


def test_a_recipe_typo_in_an_order_fails_at_intake_with_the_line() -> None:
    text = ORDER.format(recipe="  params:\n    clean.outliers: {treshold: 3}")
    with pytest.raises(OrderError) as caught:
        parse_order(text, file="loans.yaml")
    assert caught.value.line == 7 and "recipe.params.clean.outliers.treshold" in str(caught.value)
    assert "expected: columns, method, factor, action" in str(caught.value)


def test_an_order_may_name_a_recipe_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("name: mine\nsteps:\n  - op: clean.coerce\n  - op: clean.missing\n", encoding="utf-8")
    order = parse_order(ORDER.format(recipe=f"  base: {path}"))
    recipe = build_recipe(order.task, RecipeOverride.model_validate(order.recipe))
    assert [s.op for s in recipe.steps] == ["clean.coerce", "clean.missing"]
    assert load_recipe(path).name == "mine"


def test_unknown_built_in_lists_the_known_ones() -> None:
    with pytest.raises(RecipeError, match="built-in: .*tabular-classification"):
        default_recipe("tabular")
