"""Text normalization over Arrow string arrays (vectorized) and the operators that apply it."""

from mofang.data.text.html import strip_html
from mofang.data.text.normalize import (
    CHINESE_PUNCTUATION,
    TextNormalization,
    changed_cells,
    chinese_punctuation_to_ascii,
    collapse_whitespace,
    fullwidth_to_halfwidth,
    lowercase_latin,
    normalize_text,
    remove_control_chars,
)
from mofang.data.text.t2s import traditional_to_simplified

__all__ = ["CHINESE_PUNCTUATION", "TextNormalization", "changed_cells", "chinese_punctuation_to_ascii",
           "collapse_whitespace", "fullwidth_to_halfwidth", "lowercase_latin", "normalize_text",
           "remove_control_chars", "strip_html", "traditional_to_simplified"]
