"""The portal's languages: both catalogs hold the same keys, and every key a template or page uses exists."""

from __future__ import annotations

import re
from pathlib import Path

from mofang.portal import i18n

PORTAL = Path(i18n.__file__).parent


def test_catalogs_hold_the_same_keys() -> None:
    english, chinese = i18n.catalog("en"), i18n.catalog("zh-CN")
    assert set(english) == set(chinese), sorted(set(english) ^ set(chinese))
    for key, text in english.items():  # the same {placeholders} in both
        assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", chinese[key])), key


def test_every_key_used_is_in_the_catalog() -> None:
    used = set()
    for path in [*PORTAL.glob("templates/*.j2"), PORTAL / "pages.py"]:
        used |= set(re.findall(r'\bt\("([a-z_.-]+)"', path.read_text(encoding="utf-8")))
        used |= set(re.findall(r'error="([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    missing = {k for k in used if not k.endswith(".")} - set(i18n.catalog("en"))
    assert not missing, sorted(missing)


def test_the_language_comes_from_the_cookie_then_the_browser() -> None:
    assert i18n.choose("zh-CN", "en-US") == "zh-CN"
    assert i18n.choose(None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert i18n.choose("fr", "de-DE") == "en"
    t = i18n.translator("zh-CN")
    assert t("order.title", order="o1") == "订单 o1" and t("no.such.key") == "no.such.key"
