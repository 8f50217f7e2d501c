"""Strip HTML from Arrow string arrays: tags, comments, script/style content, entities."""

from __future__ import annotations

import html

import pyarrow as pa
import pyarrow.compute as pc

from mofang.data.text.utf8 import string_array

SCRIPT_OR_STYLE = r"(?is)<script\b[^>]*>.*?</script\s*>|<style\b[^>]*>.*?</style\s*>"
COMMENT = r"(?s)<!--.*?-->"
BLOCK_TAG = (r"(?i)</?\s*(?:br|p|div|li|ul|ol|tr|td|th|table|h[1-6]|blockquote|pre|section|article|header|footer)"
             r"\b[^>]*>")
OTHER_TAG = r"</?[A-Za-z][^>]*>|<![^>]*>"  # a '<' not followed by a letter, '/' or '!' is text ("a < b")


def strip_html(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Remove markup and decode entities; block tags become line breaks. Only values holding '<' or '&' are
    touched, and only those holding '&' go through Python's `html.unescape`."""
    values = string_array(values)
    marked = pc.fill_null(pc.match_substring_regex(values, "[<&]"), False)
    if not pc.any(marked).as_py():
        return values
    part = values.filter(marked)
    part = pc.replace_substring_regex(part, SCRIPT_OR_STYLE, "")
    part = pc.replace_substring_regex(part, COMMENT, "")
    part = pc.replace_substring_regex(part, BLOCK_TAG, "\n")
    part = pc.replace_substring_regex(part, OTHER_TAG, "")
    part = pa.array([html.unescape(v) if "&" in v else v for v in part.to_pylist()], type=values.type)
    part = pc.replace_substring_regex(part, r"[ \t\p{Zs}]*\n[\s\p{Zs}]*", "\n")
    part = pc.utf8_trim_whitespace(part)
    return pc.replace_with_mask(values, marked, part)
