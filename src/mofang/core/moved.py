"""Old module paths of moved code, kept importable: a delivered bundle pickles its model's classes by module path
(`mofang.models.timeseries.product.ForecastModel`), and a product delivered before a module moved must still load.

`install()` adds a finder that answers an old path with the module now at the new one (the same module object,
so classes compare equal). Only names listed here are redirected; anything else is left to the normal import.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

# old package or module → where it lives now (one task, one package: the task modules left the units)
MOVED = {
    "mofang.models.llm.templates": "mofang.models.transformer.chat_templates",
    "mofang.models.llm": "mofang.tasks.llm.models",
    "mofang.models.retrieval": "mofang.tasks.retrieval.models",
    "mofang.models.timeseries": "mofang.tasks.forecast.models",
    "mofang.models.anomaly": "mofang.tasks.anomaly.models",
    "mofang.data.conversations": "mofang.tasks.llm.preparation",
    "mofang.data.instructions": "mofang.tasks.llm.instructions",
    "mofang.evaluation.generation": "mofang.tasks.llm.generation",
    "mofang.evaluation.judge": "mofang.tasks.llm.judge",
    "mofang.evaluation.forecast": "mofang.tasks.forecast.scoring",
    "mofang.evaluation.anomaly_plots": "mofang.tasks.anomaly.plots",
    "mofang.evaluation.anomaly": "mofang.tasks.anomaly.scoring",
    "mofang.products.llm": "mofang.tasks.llm.product",
    "mofang.products.rag_source": "mofang.tasks.llm.rag_source",
    "mofang.products.forecast": "mofang.tasks.forecast.product",
    "mofang.products.anomaly": "mofang.tasks.anomaly.product",
    "mofang.products.drift": "mofang.core.metrics.drift",
}


def new_name(name: str) -> str | None:
    """Where the module once called `name` lives now (None: it did not move)."""
    for old in sorted(MOVED, key=len, reverse=True):
        if name == old or name.startswith(old + "."):
            return MOVED[old] + name[len(old):]
    return None


class _Redirect(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old path as the module at its new one."""

    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if new_name(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = new_name(spec.name)
        assert target is not None  # find_spec answered only moved names
        return importlib.import_module(target)

    def exec_module(self, module: ModuleType) -> None:
        """The module ran when it was imported under its new name."""


_REDIRECT = _Redirect()


def install() -> None:
    """Make the old paths importable (idempotent)."""
    if _REDIRECT not in sys.meta_path:
        sys.meta_path.insert(0, _REDIRECT)
