"""What to do with each kind of personal data: mask, keyed pseudonym, drop, generalize (or keep)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, field_validator

from mofang.data.pii.names import COMPOUND_SURNAMES
from mofang.data.pii.patterns import _PROVINCE, _UNIT, KINDS

ACTIONS = ("mask", "pseudonym", "drop", "generalize", "keep")
# a column that is wholly one kind keeps a joinable token for identifiers; free text is masked
COLUMN_DEFAULTS = {"id_card": "pseudonym", "mobile": "pseudonym", "landline": "pseudonym", "bank_card": "pseudonym",
                   "email": "pseudonym", "uscc": "pseudonym", "passport": "pseudonym", "licence_plate": "pseudonym",
                   "ip": "generalize", "qq": "pseudonym", "wechat": "pseudonym", "person_name": "pseudonym",
                   "address": "generalize"}
TEXT_DEFAULTS = dict.fromkeys(KINDS, "mask")
TOKEN_PREFIX = {"id_card": "ID", "mobile": "MOB", "landline": "TEL", "bank_card": "CARD", "email": "EMAIL",
                "uscc": "USCC", "passport": "PASS", "licence_plate": "PLATE", "ip": "IP", "qq": "QQ", "wechat": "WX",
                "person_name": "NAME", "address": "ADDR"}
TOKEN_HEX = 12  # 48 bits: collisions stay unlikely up to millions of distinct values, so joins stay exact
ID_PROVINCES = {
    "11": "北京", "12": "天津", "13": "河北", "14": "山西", "15": "内蒙古", "21": "辽宁", "22": "吉林", "23": "黑龙江",
    "31": "上海", "32": "江苏", "33": "浙江", "34": "安徽", "35": "福建", "36": "江西", "37": "山东", "41": "河南",
    "42": "湖北", "43": "湖南", "44": "广东", "45": "广西", "46": "海南", "50": "重庆", "51": "四川", "52": "贵州",
    "53": "云南", "54": "西藏", "61": "陕西", "62": "甘肃", "63": "青海", "64": "宁夏", "65": "新疆", "71": "台湾",
    "81": "香港", "82": "澳门", "83": "台湾", "91": "境外"}
_CITY_LEVEL = re.compile(f"^(?:{_PROVINCE})?(?:{_UNIT})?")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def _check_actions(value: Mapping[str, str]) -> dict[str, str]:
    unknown_kinds = sorted(set(value) - set(KINDS))
    if unknown_kinds:
        raise ValueError(f"unknown PII kind(s) {unknown_kinds} (expected: {', '.join(KINDS)})")
    unknown_actions = sorted({a for a in value.values() if a not in ACTIONS})
    if unknown_actions:
        raise ValueError(f"unknown action(s) {unknown_actions} (expected: {', '.join(ACTIONS)})")
    return dict(value)


class Policy(BaseModel):
    """The action per kind, for columns that are wholly one kind and for spans inside free text."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str] = dict(COLUMN_DEFAULTS)
    text: dict[str, str] = dict(TEXT_DEFAULTS)

    @field_validator("columns")
    @classmethod
    def _complete_columns(cls, value: dict[str, str]) -> dict[str, str]:
        return {**COLUMN_DEFAULTS, **_check_actions(value)}

    @field_validator("text")
    @classmethod
    def _complete_text(cls, value: dict[str, str]) -> dict[str, str]:
        return {**TEXT_DEFAULTS, **_check_actions(value)}

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, str] | None = None) -> Policy:
        """The defaults with `overrides` (kind → action) applied to columns and free text alike."""
        overrides = _check_actions(overrides or {})
        return cls(columns={**COLUMN_DEFAULTS, **overrides}, text={**TEXT_DEFAULTS, **overrides})

    def action(self, kind: str, *, in_text: bool) -> str:
        return (self.text if in_text else self.columns)[kind]


def normalize(kind: str, value: str) -> str:
    """The canonical form a pseudonym is keyed on, so separators and spelling do not change the token."""
    value = value.strip()
    if kind == "licence_plate":
        return value[:1] + _NOT_ALNUM.sub("", value[1:]).upper()
    if kind in ("id_card", "uscc", "passport"):
        return _NOT_ALNUM.sub("", value).upper()
    if kind in ("mobile", "bank_card", "qq"):
        digits = re.sub(r"[^0-9]", "", value)
        return digits[-11:] if kind == "mobile" and len(digits) > 11 else digits
    if kind == "landline":
        return re.sub(r"[^0-9]", "", value)
    if kind in ("email", "wechat"):
        return value.lower()
    if kind == "ip":
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    return re.sub(r"\s+", "", value)


def pseudonym(kind: str, value: str, key: bytes) -> str:
    """A stable token for a value under the tenant's key: HMAC-SHA256 of the kind and the normalized value."""
    digest = hmac.new(key, f"{kind}\x1f{normalize(kind, value)}".encode(), hashlib.sha256).hexdigest()
    return f"{TOKEN_PREFIX[kind]}_{digest[:TOKEN_HEX]}"


def _keep_ends(value: str, head: int, tail: int) -> str:
    if len(value) <= head + tail:
        return value[:1] + "*" * (len(value) - 1)
    return value[:head] + "*" * (len(value) - head - tail) + (value[-tail:] if tail else "")


def _surname_length(name: str) -> int:
    return 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1


def mask(kind: str, value: str) -> str:
    """The value with most characters starred, keeping a few that help a reader (138****5678, 张*, a***@x.com)."""
    value = value.strip()
    if not value:
        return value
    if kind in ("mobile", "bank_card", "id_card"):
        digits = normalize(kind, value)
        head, tail = {"mobile": (3, 4), "bank_card": (4, 4), "id_card": (3, 4)}[kind]
        return _keep_ends(digits, head, tail)
    if kind == "email" and "@" in value:
        local, domain = value.rsplit("@", 1)
        return f"{local[:1]}***@{domain}"
    if kind == "person_name":
        keep = _surname_length(value)
        return value[:keep] + "*" * max(len(value) - keep, 1)
    if kind == "landline":
        digits = normalize(kind, value)
        area = 3 if digits[:2] in ("01", "02") else 4
        return _keep_ends(digits, area, 4)
    if kind == "ip":
        return ".".join(value.split(".")[:2] + ["*", "*"]) if ":" not in value else value.split(":")[0] + ":****"
    if kind == "address":
        city = generalize(kind, value)
        return city + "****" if city and city != value else _keep_ends(value, 2, 0)
    if kind == "licence_plate":
        return _keep_ends(normalize(kind, value), 2, 1)
    return _keep_ends(value, 2 if len(value) > 6 else 1, 2 if len(value) > 6 else 1)


def generalize(kind: str, value: str) -> str:
    """A coarser value: birth decade + province for ID cards, city level for addresses, prefixes for numbers."""
    value = value.strip()
    if kind == "id_card":
        digits = normalize(kind, value)
        year = digits[6:10] if len(digits) == 18 else "19" + digits[6:8]
        province = ID_PROVINCES.get(digits[:2], "未知")
        return f"{province} {year[:3]}0s" if year.isdigit() else province
    if kind == "address":
        city = _CITY_LEVEL.match(value)
        return city.group(0) if city and city.group(0) else value[:2]
    if kind == "mobile":
        return normalize(kind, value)[:3]
    if kind == "bank_card":
        return normalize(kind, value)[:6]
    if kind == "landline":
        digits = normalize(kind, value)
        return digits[:3] if digits[:2] in ("01", "02") else digits[:4]
    if kind == "email" and "@" in value:
        return "*@" + value.rsplit("@", 1)[1].lower()
    if kind == "uscc":
        return normalize(kind, value)[:8]
    if kind == "ip":
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            return mask("qq", value)
        prefix = 24 if address.version == 4 else 48
        return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    if kind == "licence_plate":
        return normalize(kind, value)[:2]
    if kind == "person_name":
        return value[:_surname_length(value)] + "某"
    if kind == "passport":
        return value[:1]
    return mask(kind, value)  # QQ and WeChat ids have no coarser form


def apply(kind: str, action: str, value: str, key: bytes | None) -> str:
    """The replacement of one value under one action ('' for drop)."""
    if action == "keep":
        return value
    if action == "drop":
        return ""
    if action == "pseudonym":
        if key is None:
            raise ValueError("a pseudonym needs the tenant's key")
        return pseudonym(kind, value, key)
    if action == "generalize":
        return generalize(kind, value)
    return mask(kind, value)
