"""Chinese-first personal data: find it in columns and inside free text, and desensitize it by policy."""

from __future__ import annotations

from mofang.data.pii.columns import SHARE, PiiFinding, find_pii
from mofang.data.pii.patterns import KINDS, LABELS
from mofang.data.pii.policy import ACTIONS, Policy
from mofang.data.pii.scan import scan_table
from mofang.data.pii.spans import Span, find_spans, find_spans_many
from mofang.data.pii.validators import luhn_valid, valid_id_card, valid_id_card_15, valid_uscc

__all__ = ["ACTIONS", "KINDS", "LABELS", "SHARE", "PiiFinding", "Policy", "Span", "find_pii", "find_spans",
           "find_spans_many", "luhn_valid", "scan_table", "valid_id_card", "valid_id_card_15", "valid_uscc"]
