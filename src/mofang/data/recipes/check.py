"""The data workshop's check of an order's `recipe:` while the order is parsed (registered for the order schema
under the `mofang.order_checks` entry point group): the recipe is built now, so a bad operator name or param
fails at intake with the field it concerns, not mid-run."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from mofang.data.ops import RecipeError
from mofang.data.recipes.recipe import RecipeOverride, build_recipe


def check_recipe(task: str, recipe: dict[str, Any]) -> None:
    """Raise ValueError naming the recipe field when the order's recipe does not build for its task."""
    try:
        build_recipe(task, RecipeOverride.model_validate(recipe))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"recipe.{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
    except RecipeError as exc:
        raise ValueError(f"recipe.{exc.field}: {exc.reason}" if exc.field else f"recipe: {exc.reason}") from None
