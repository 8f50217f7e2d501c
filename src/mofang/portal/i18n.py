"""The portal's languages: one catalog of strings per language (locales/<lang>.yaml), chosen per request."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml

LOCALES = Path(__file__).parent / "locales"
LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT = "en"
LANG_COOKIE = "mofang_lang"


@cache
def catalog(lang: str) -> dict[str, str]:
    """The strings of one language (key -> text with optional {placeholders})."""
    data = yaml.safe_load((LOCALES / f"{lang}.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{LOCALES / f'{lang}.yaml'}: expected a mapping of keys to strings")
    return {str(k): str(v) for k, v in data.items()}


def choose(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's language if known, else the first known one the browser accepts, else English."""
    if cookie in LANGUAGES:
        return cookie
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT


def translator(lang: str):  # noqa: ANN201 - a plain callable for the templates
    """t(key, **values): the key's text in lang (English when missing there, the key itself when unknown)."""
    strings, fallback = catalog(lang), catalog(DEFAULT)

    def t(key: str, **values: Any) -> str:
        text = strings.get(key) or fallback.get(key) or key
        return text.format(**values) if values else text

    return t
