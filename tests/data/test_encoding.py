"""Encoding detection: UTF-8, UTF-8 with BOM, GBK and GB18030 files read without flags."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.data import read_source
from mofang.data.encoding import decode_text
from mofang.errors import DataError
from tests.data.helpers import source

TABLE = "姓名,城市,金额\n张三,北京,1\n李四,上海,2\n王五,广州,3\n"


@pytest.mark.parametrize("codec, name", [("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8-BOM"), ("gbk", "GBK"),
                                         ("gb18030", "GB18030")])
def test_detects_encoding(tmp_path: Path, codec: str, name: str) -> None:
    text = TABLE + ("㐀,𠀀,4\n" if codec == "gb18030" else "")  # characters GBK lacks
    path = tmp_path / f"{codec}.csv"
    path.write_bytes(text.encode(codec))
    frame = read_source(source(path))
    assert list(frame.columns) == ["姓名", "城市", "金额"]
    assert frame["城市"].tolist()[:3] == ["北京", "上海", "广州"]
    assert frame.attrs["source"]["encoding"] == name


def test_explicit_wrong_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes(TABLE.encode("gbk"))
    with pytest.raises(DataError) as err:
        read_source(source(path, encoding="utf-8"))
    assert err.value.row == 1 and "utf-8" in str(err.value)


def test_binary_is_rejected() -> None:
    with pytest.raises(DataError, match="binary"):
        decode_text(bytes(range(256)) * 4, source="x.csv")


def test_undecodable_text_raises() -> None:
    with pytest.raises(DataError, match="encoding"):
        decode_text(b"\x81\xff\xfe\x80" * 3, source="x.csv")
