"""Recipe files and order overrides, validated against the operator registry before anything runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mofang.core.tasks import spec as task_spec
from mofang.data.ops import PROCESSES, Operator, RecipeError, operator_class

DEFAULTS = Path(__file__).parent / "defaults"


class Step(BaseModel):
    """One recipe step: a registered operator and its params."""

    model_config = ConfigDict(extra="forbid")

    op: str
    params: dict[str, Any] = Field(default_factory=dict)


class RecipeOverride(BaseModel):
    """What an order may change in its task's default recipe."""

    model_config = ConfigDict(extra="forbid")

    base: str | None = Field(None, description="A named default recipe or a recipe file path")
    params: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Params per operator name")
    add: list[Step] = Field(default_factory=list, description="Steps to add; each runs in its process")
    remove: list[str] = Field(default_factory=list, description="Operator names to take out")


class Recipe(BaseModel):
    """A named list of steps; `operators()` builds them, ordered by process, validated."""

    model_config = ConfigDict(extra="forbid")

    name: str
    description: str = ""
    steps: list[Step] = Field(default_factory=list)

    def operators(self) -> list[Operator]:
        """Build every step's operator (params validated), in process order, stable within a process."""
        built = []
        for i, step in enumerate(self.steps):
            cls = operator_class(step.op, where=f"steps[{i}].op")
            built.append((PROCESSES.index(cls.process), i, cls(step.params, where=f"steps[{i}].params")))
        return [op for _, _, op in sorted(built, key=lambda t: (t[0], t[1]))]

    def for_process(self, process: str) -> list[Operator]:
        return [op for op in self.operators() if op.process == process]


def load_recipe(path: str | Path) -> Recipe:
    """Read a recipe YAML file: `name`, `steps: [{op, params}]`."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc}") from None
    return _validated(raw, str(path))


def default_recipe(name: str) -> Recipe:
    """The built-in recipe called `name` (a task's name, or a recipe's own name)."""
    path = DEFAULTS / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in DEFAULTS.glob("*.yaml")))
        raise RecipeError(f"no built-in recipe '{name}' (built-in: {known})", field="base")
    return load_recipe(path)


def build_recipe(task: str, override: RecipeOverride | None = None) -> Recipe:
    """The task's default recipe (its spec's `recipe`, else the recipe named like the task) with the order's
    override applied; raises RecipeError on any bad name."""
    override = override or RecipeOverride()
    base = override.base or task_spec(task).recipe or task
    recipe = load_recipe(base) if base.endswith((".yaml", ".yml")) else default_recipe(base)
    names = [s.op for s in recipe.steps]
    for i, name in enumerate(override.remove):
        if name not in names:
            raise RecipeError(f"cannot remove '{name}': the recipe has no such step (steps: {', '.join(names)})",
                              field=f"remove[{i}]")
    steps = [s.model_copy(deep=True) for s in recipe.steps if s.op not in override.remove]
    steps += [s.model_copy(deep=True) for s in override.add]
    present = {s.op for s in steps}
    for name, params in override.params.items():
        operator_class(name, where=f"params.{name}")
        if name not in present:
            raise RecipeError(f"params given for '{name}', which is not a step of the recipe; add it with "
                              f"'add: [{{op: {name}}}]'", field=f"params.{name}")
        for step in steps:
            if step.op == name:
                step.params = {**step.params, **params}
    _keep_unlabeled_rows_for_label_steps(steps)
    result = Recipe(name=f"{recipe.name}+order" if override != RecipeOverride() else recipe.name,
                    description=recipe.description, steps=steps)
    for i, step in enumerate(result.steps):  # validate every step's params now, not mid-run
        where = f"params.{step.op}" if step.op in override.params else f"steps[{i}]"
        operator_class(step.op, where=where)(step.params, where=where)
    return result


def _keep_unlabeled_rows_for_label_steps(steps: list[Step]) -> None:
    """Label steps run after clean and fill missing targets, so clean.missing must not drop those rows
    first (unless the recipe says so explicitly); validate drops whatever is still unlabeled."""
    if not any(operator_class(s.op).process == "label" for s in steps):
        return
    for step in steps:
        if step.op == "clean.missing" and "drop_target_missing" not in step.params:
            step.params = {**step.params, "drop_target_missing": False}


def _validated(raw: Any, label: str) -> Recipe:
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {label} must be a mapping with 'name' and 'steps'")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise RecipeError(f"recipe {label}: {first['msg']}",
                          field=".".join(str(p) for p in first["loc"])) from None
    recipe.operators()  # unknown operators and bad params fail here, naming the step
    return recipe
