"""PII detection: ID card checksums, mobiles, emails, Luhn bank cards and person-name headers."""

from __future__ import annotations

import pandas as pd
import pytest

from mofang.data.pii import find_pii, luhn_valid, valid_id_card
from tests.data.helpers import id_card

VALID = id_card("11010519491231002")


def test_id_card_checksum() -> None:
    assert VALID == "11010519491231002X"
    assert valid_id_card(VALID)
    assert not valid_id_card(VALID[:-1] + "1")
    assert not valid_id_card("123456789012345678")


def test_id_card_column_needs_valid_checksums() -> None:
    good = [id_card(f"4403011990{m:02d}15{i:03d}") for m in range(1, 13) for i in range(5)]
    assert find_pii("证件", pd.Series(good)).kind == "id_card"
    broken = [g[:-1] + ("0" if g[-1] != "0" else "1") for g in good]
    assert find_pii("证件", pd.Series(broken)) is None


@pytest.mark.parametrize("values, kind", [
    (["13812345678", "15900001111", "+86 18600002222"], "mobile"),
    (["a@b.com", "zhang.san@example.cn", None], "email"),
    (["4111111111111111", "6222 0212 3456 7897"], "bank_card"),
])
def test_value_patterns(values: list, kind: str) -> None:
    assert find_pii("x", pd.Series(values, dtype=object)).kind == kind


@pytest.mark.parametrize("header", ["姓名", "客户姓名", "name", "Customer Name", "first_name", "联系人"])
def test_name_headers(header: str) -> None:
    assert find_pii(header, pd.Series(["x"])).kind == "person_name"


@pytest.mark.parametrize("header", ["Product Name", "城市", "Sub-Category"])
def test_not_name_headers(header: str) -> None:
    assert find_pii(header, pd.Series(["x", "y"])) is None


def test_luhn() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_plain_numbers_are_not_pii() -> None:
    assert find_pii("amount", pd.Series([str(i * 37) for i in range(200)])) is None
