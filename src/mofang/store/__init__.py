"""The store service: metadata in SQL (MetaStore) and content-addressed files (ArtifactStore)."""

from mofang.store.artifacts import ArtifactStore, file_digest, tree_digest
from mofang.store.meta import MetaStore

__all__ = ["ArtifactStore", "MetaStore", "file_digest", "tree_digest"]
