"""The knowledge base of a RAG order: a retrieval-qa product of the same tenant, opened from the registry."""

from __future__ import annotations

from typing import Any

from mofang.core.errors import MofangError
from mofang.integration.bundle import open_bundle
from mofang.products.registry import resolve


def open_retriever(ctx: Any, ref: str) -> tuple[Any, dict[str, Any]]:
    """(the product's retrieval model, {product, version, retriever_path}); the model is saved into the job's
    models folder so the integration workshop packages the same knowledge base with the generator."""
    version = resolve(ctx.meta, ref, ctx.tenant)  # another tenant's product is not found, as if absent
    bundle = open_bundle(version.bundle_path, ctx.tenant, ctx.meta)
    if not bundle.is_retrieval:
        raise MofangError(f"llm.rag.product {ref!r} is a {bundle.schema['task']} product; RAG needs a "
                          "retrieval-qa product (its knowledge base)")
    folder = ctx.path("models")
    folder.mkdir(parents=True, exist_ok=True)
    path = bundle.candidate.save(folder / "rag-retriever.joblib")
    return bundle.candidate, {"product": version.product.name, "version": version.version,
                              "retriever_path": str(path)}
