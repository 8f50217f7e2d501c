"""Deduplication: exact duplicate rows and near-duplicate texts (MinHash + LSH, verified by exact Jaccard)."""

from mofang.data.dedup.exact import duplicate_of
from mofang.data.dedup.near import (
    MinHashSettings,
    NearDuplicates,
    find_near_duplicates,
    near_duplicates_across,
    similar_contents,
)
from mofang.data.dedup.shingles import comparable_text, content_text

__all__ = ["MinHashSettings", "NearDuplicates", "comparable_text", "content_text", "duplicate_of",
           "find_near_duplicates", "near_duplicates_across", "similar_contents"]
