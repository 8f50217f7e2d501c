"""Transformer families: base-model catalog, tokenizer coverage, fine-tuned sequence classifiers.

Nothing here downloads: every base model is a local Hugging Face checkpoint folder, named in the
catalog or given by path. torch and transformers are imported only when a model is loaded or trained.
"""

from mofang.models.transformer.catalog import CatalogEntry, load_catalog, resolve, resolve_entry
from mofang.models.transformer.coverage import Coverage, measure_coverage

__all__ = ["CatalogEntry", "Coverage", "load_catalog", "measure_coverage", "resolve", "resolve_entry"]
