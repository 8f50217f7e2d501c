"""check_sources: the intake preflight over all sources, column grants and the target."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.data import check_sources
from mofang.data.sources import read_granted
from mofang.errors import DataError
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
