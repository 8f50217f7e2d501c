"""The `desensitize.pii` operator: personal data in whole columns and inside free text, replaced by policy."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from pydantic import field_validator

from mofang.data.ops import Operator, register
from mofang.data.ops.base import ROW, OpContext, OpParams, OpTrace, RecipeError
from mofang.data.pii.columns import find_pii
from mofang.data.pii.desensitize import desensitize_texts, desensitize_values
from mofang.data.pii.patterns import KINDS
from mofang.data.pii.policy import ACTIONS, Policy


@register
class DesensitizePii(Operator):
    """Find personal data (whole columns, spans in text) and mask, pseudonymize, drop or generalize it."""

    name = "desensitize.pii"
    process = "desensitize"
    description = ("Chinese ID cards, phones, bank cards, emails, credit codes, passports, plates, IPs, QQ/WeChat, "
                   "names and addresses: masked, keyed pseudonyms, dropped or generalized per kind")

    class Params(OpParams):
        policy: dict[str, str] = {}  # kind → action, over the defaults (columns: pseudonym ids; text: mask)
        kinds: list[str] | None = None  # the kinds to look for; None: all

        @field_validator("policy")
        @classmethod
        def _known_policy(cls, value: dict[str, str]) -> dict[str, str]:
            Policy.with_overrides(value)
            return value

        @field_validator("kinds")
        @classmethod
        def _known_kinds(cls, value: list[str] | None) -> list[str] | None:
            unknown = sorted(set(value or ()) - set(KINDS))
            if unknown:
                raise ValueError(f"unknown PII kind(s) {unknown} (expected: {', '.join(KINDS)})")
            return value

    def transform(self, table: pa.Table, ctx: OpContext, trace: OpTrace) -> pa.Table:
        policy = Policy.with_overrides(self.params.policy)
        kinds = tuple(self.params.kinds or KINDS)
        self._require_key(policy, kinds, ctx)
        texts = set(self.target_columns(table, ctx, kinds=("text", "categorical")))  # free text hides in short columns
        candidates = self.params.columns or [n for n in table.column_names if n not in (ROW, ctx.id_column, ctx.target)]
        report: dict[str, Any] = {}
        for column in candidates:
            values = table.column(column)
            finding = find_pii(column, values.to_pandas()) if values.null_count < len(values) else None
            if finding is not None and finding.kind in kinds:
                table = self._replace_column(table, column, finding.kind, policy, ctx, trace, report)
            elif column in texts and (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
                table = self._replace_spans(table, column, kinds, policy, ctx, trace, report)
        trace.details["pii"] = report
        return table

    def _require_key(self, policy: Policy, kinds: tuple[str, ...], ctx: OpContext) -> None:
        pseudonymized = sorted({k for k in kinds if "pseudonym" in (policy.columns[k], policy.text[k])})
        if pseudonymized and ctx.secret is None:
            raise RecipeError(f"operator '{self.name}': the policy makes keyed pseudonyms of {', '.join(pseudonymized)}"
                              f" but the job has no tenant key; give the tenant a key or choose another action "
                              f"({', '.join(a for a in ACTIONS if a != 'pseudonym')}) for those kinds", field="policy")

    def _replace_column(self, table: pa.Table, column: str, kind: str, policy: Policy, ctx: OpContext,
                        trace: OpTrace, report: dict[str, Any]) -> pa.Table:
        action = policy.action(kind, in_text=False)
        values = [None if v is None else str(v) for v in table.column(column).to_pylist()]
        out, found = desensitize_values(values, kind, action, ctx.secret)
        report[column] = {"scope": "column", "kinds": {kind: found.as_dict()}}
        if action == "keep":
            return table
        position = table.column_names.index(column)
        if action == "drop":
            trace.change(column, found.found)
            return table.remove_column(position)
        trace.change(column, sum(a != b for a, b in zip(values, out, strict=True)))
        if out == values:  # e.g. a column of bare city names generalized to city level: nothing to hide
            return table
        return table.set_column(position, column, pa.array(out, type=pa.string()))

    def _replace_spans(self, table: pa.Table, column: str, kinds: tuple[str, ...], policy: Policy, ctx: OpContext,
                       trace: OpTrace, report: dict[str, Any]) -> pa.Table:
        values = table.column(column)
        out, changed, found = desensitize_texts(values.to_pylist(), policy, ctx.secret, kinds)
        if not found:
            return table
        report[column] = {"scope": "text", "kinds": {k: r.as_dict() for k, r in sorted(found.items())}}
        trace.change(column, changed)
        position = table.column_names.index(column)
        return table.set_column(position, column, pa.array(out, type=values.type))
