"""Text to retrieval terms: character n-grams inside runs of CJK text, lower-cased words for everything else."""

from __future__ import annotations

import re
import unicodedata

# Han (incl. extension A and compatibility), kana and Hangul: scripts written without spaces
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af"
_RUNS = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_CHAR = re.compile(rf"[{_CJK}]")


class TermAnalyzer:
    """Callable analyzer (picklable, for scikit-learn vectorizers): NFKC + lower case, then character n-grams
    of length `ngram_range` within each run of CJK characters and whole words for Latin/digit runs.

    N-grams never cross punctuation or a change of script, so "高血压，DNA检查" gives
    高 血 压 高血 血压 dna 检 查 检查 with the default (1, 2).
    """

    def __init__(self, ngram_range: tuple[int, int] = (1, 2)) -> None:
        low, high = ngram_range
        if not 1 <= low <= high:
            raise ValueError(f"ngram_range must be (low, high) with 1 <= low <= high, got {ngram_range}")
        self.ngram_range = (int(low), int(high))

    def __call__(self, text: str) -> list[str]:
        low, high = self.ngram_range
        terms: list[str] = []
        for run in _RUNS.findall(unicodedata.normalize("NFKC", text or "").lower()):
            if not _CJK_CHAR.match(run):
                terms.append(run)
                continue
            for n in range(low, min(high, len(run)) + 1):
                terms.extend(run[i:i + n] for i in range(len(run) - n + 1))
            if len(run) < low:  # a lone character in a run shorter than the smallest n-gram still counts
                terms.append(run)
        return terms

    def __repr__(self) -> str:
        return f"TermAnalyzer(ngram_range={self.ngram_range})"
