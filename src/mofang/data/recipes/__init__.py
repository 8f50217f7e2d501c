"""Recipes: the ordered operator steps a data job runs — a default per task, overridable by the order."""

from mofang.data.recipes.recipe import Recipe, RecipeOverride, Step, build_recipe, default_recipe, load_recipe

__all__ = ["Recipe", "RecipeOverride", "Step", "build_recipe", "default_recipe", "load_recipe"]
