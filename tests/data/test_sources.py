"""check_sources: the intake preflight over all sources, column grants and the target."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.core.errors import DataError
from mofang.data import check_sources
from mofang.data.sources import read_granted
from tests.data.helpers import order_for


def _csv(path: Path, header: str, rows: int = 5) -> Path:
    path.write_text(header + "\n" + "".join(f"{i},{i % 2},x{i}\n" for i in range(rows)), encoding="utf-8")
    return path


def test_passes_and_stacks(tmp_path: Path) -> None:
    a, b = _csv(tmp_path / "a.csv", "id,default,note"), _csv(tmp_path / "b.csv", "note,id,default")
    order = order_for([a, b], id_column="id")
    check_sources(order)
    data, reads = read_granted(order)
    assert len(data) == 10 and list(data.columns) == ["id", "default", "note"] and len(reads) == 2


def test_differing_columns(tmp_path: Path) -> None:
    a, b = _csv(tmp_path / "a.csv", "id,default,note"), _csv(tmp_path / "b.csv", "id,default,memo")
    with pytest.raises(DataError, match="memo"):
        check_sources(order_for([a, b]))


def test_target_missing_with_suggestion(tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "id,defaults,note")
    with pytest.raises(DataError, match="did you mean 'defaults'") as err:
        check_sources(order_for(a))
    assert err.value.column == "default" and "id, defaults, note" in str(err.value)


def test_id_column_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="id_column 'uid'"):
        check_sources(order_for(_csv(tmp_path / "a.csv", "id,default,note"), id_column="uid"))


def test_allow_lists_absent_columns(tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "id,default,note")
    with pytest.raises(DataError, match="'notes' \\(did you mean 'note'\\?\\)"):
        check_sources(order_for(a, columns={"allow": ["notes", "default"]}))


def test_denied_columns_are_not_read(tmp_path: Path) -> None:
    a = _csv(tmp_path / "a.csv", "id,default,note")
    data, reads = read_granted(order_for(a, columns={"deny": ["note"]}))
    assert "note" not in data.columns and reads[0].denied == ["note"]
    data, _ = read_granted(order_for(a, columns={"allow": ["id", "default"]}))
    assert list(data.columns) == ["id", "default"]


def test_target_needs_two_values(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("x,default\n1,是\n2,是\n3,\n", encoding="utf-8")
    with pytest.raises(DataError, match="at least 2 distinct values"):
        check_sources(order_for(path))


def test_unreadable_source_fails_preflight(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        check_sources(order_for(tmp_path / "absent.csv"))


def _joined_order(tmp_path: Path, join: dict, loans: str | None = None, **fields: object):
    from mofang.orders import Order

    customers = tmp_path / "customers.csv"
    customers.write_text("客户编号,default,city\nC1,是,北京\nC2,否,上海\nC3,否,广州\n", encoding="utf-8")
    detail = tmp_path / "loans.csv"
    detail.write_text(loans or "客户编号,amount,city\nC1,100,北京\nC2,200,\nC9,900,深圳\n", encoding="utf-8")
    return Order.model_validate({"id": "j", "tenant": "acme", "task": "tabular-classification", "target": "default",
                                 "data": [{"path": str(customers)}, {"path": str(detail), "join": join}], **fields})


def test_left_join_with_suffix_and_read_info(tmp_path: Path) -> None:
    data, reads = read_granted(_joined_order(tmp_path, {"on": "客户编号"}))
    assert list(data.columns) == ["客户编号", "default", "city", "amount", "city_loans"]
    assert data["amount"].tolist() == ["100", "200", None] and data["city_loans"].tolist() == ["北京", None, None]
    assert reads[1].join == {"on": ["客户编号"], "how": "left", "rows_before": 3, "rows_after": 3,
                             "unmatched_keys": 1, "unmatched_rows": 1, "renamed": {"city": "city_loans"},
                             "dropped_missing_keys": 0}
    inner, reads = read_granted(_joined_order(tmp_path, {"on": ["客户编号"], "how": "inner"}))
    assert inner["客户编号"].tolist() == ["C1", "C2"] and reads[1].join["rows_after"] == 2


def test_join_key_must_exist_on_both_sides(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="join key '客户号' is not in the sources before it — did you mean '客户编号'"):
        read_granted(_joined_order(tmp_path, {"on": "客户号"}))
    order = _joined_order(tmp_path, {"on": "客户编号"}, loans="客户id,amount\nC1,1\n")
    with pytest.raises(DataError, match="loans.csv, column '客户编号': join key '客户编号' is not in this source"):
        read_granted(order)


def test_join_on_repeated_key_needs_many(tmp_path: Path) -> None:
    loans = "客户编号,amount\nC1,1\nC1,2\nC1,3\nC2,4\nC2,5\nC3,6\n"
    with pytest.raises(DataError, match=r"2 keys appear more than once \(e.g. 'C1' ×3\)"):
        read_granted(_joined_order(tmp_path, {"on": "客户编号"}, loans=loans))
    data, reads = read_granted(_joined_order(tmp_path, {"on": "客户编号", "many": True}, loans=loans))
    assert len(data) == 6 and reads[1].join["rows_after"] == 6


def test_join_key_must_be_granted_and_first_source_cannot_join(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="join key '客户编号' is not granted"):
        read_granted(_joined_order(tmp_path, {"on": "客户编号"}, columns={"deny": ["客户编号"]}))
    order = _joined_order(tmp_path, {"on": "客户编号"})
    order.data[0].join, order.data[1].join = order.data[1].join, None
    with pytest.raises(DataError, match="the first source has a join"):
        read_granted(order)


def test_allow_spans_joined_sources(tmp_path: Path) -> None:
    order = _joined_order(tmp_path, {"on": "客户编号"}, columns={"allow": ["客户编号", "default", "amount"]})
    data, reads = read_granted(order)
    assert list(data.columns) == ["客户编号", "default", "amount"] and reads[1].denied == ["city"]
    with pytest.raises(DataError, match="'amout' \\(did you mean 'amount'\\?\\)"):
        read_granted(_joined_order(tmp_path, {"on": "客户编号"}, columns={"allow": ["客户编号", "default", "amout"]}))
