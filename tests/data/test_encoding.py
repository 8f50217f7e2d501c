"""Encoding detection: UTF-8, UTF-8 with BOM, GBK, GB18030 and Big5 read without flags; clear errors otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from mofang.core.errors import DataError
from mofang.data import read_source
from mofang.data.encoding import decode_text
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


TRADITIONAL = ["我們今天去台北看電影", "臺灣", "資料庫連線失敗，請檢查網路設定。", "這個產品的價格太貴了，服務也不好。",
               "客戶資料已經更新，請於三個工作天內確認帳戶餘額。"]
SIMPLIFIED = ["我们今天去北京看电影", "不错", "数据库连接失败，请检查网络设置。", "这个产品的价格太贵了，服务也不好。",
              "客户资料已经更新，请于三个工作日内确认账户余额。"]


@pytest.mark.parametrize("text", TRADITIONAL + ["\n".join(TRADITIONAL * 40), "id,評論\n1,很好\n2," + TRADITIONAL[3]])
def test_big5_is_not_read_as_gbk(text: str) -> None:
    assert decode_text(text.encode("big5"), source="x.txt") == (text, "Big5")


@pytest.mark.parametrize("text", SIMPLIFIED + ["\n".join(SIMPLIFIED * 40), "id,评论\n1,很好\n2," + SIMPLIFIED[3]])
@pytest.mark.parametrize("codec, name", [("gbk", "GBK"), ("gb18030", "GBK")])
def test_simplified_is_gbk(text: str, codec: str, name: str) -> None:
    assert decode_text(text.encode(codec), source="x.txt") == (text, name)


def test_big5_table_reads(tmp_path: Path) -> None:
    path = tmp_path / "big5.csv"
    path.write_bytes("客戶,城市,評論\n陳大文,臺北,服務很好\n林小美,高雄,價格太貴\n".encode("big5"))
    frame = read_source(source(path))
    assert frame.attrs["source"]["encoding"] == "Big5" and frame["城市"].tolist() == ["臺北", "高雄"]


def test_unreadable_encoding_names_file_offset_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"a,b\n1,2\n3," + bytes(range(0x80, 0x100)) * 4 + b"\n")
    with pytest.raises(DataError, match=r"bad.csv, row 3: cannot detect the text encoding: byte 10 \(0x80\)"):
        read_source(source(path))


@pytest.mark.parametrize("codec, name", [("utf-8", "UTF-8"), ("gbk", "GBK"), ("gb18030", "GBK")])
def test_a_character_cut_off_at_the_end_is_dropped_and_flagged(codec: str, name: str) -> None:
    from mofang.data.encoding import decode

    whole = TABLE.encode(codec)
    decoded = decode(whole + "中".encode(codec)[:1], source="x.csv")
    assert (decoded.text, decoded.encoding, decoded.cut) == (TABLE, name, True)
    assert not decode(whole, source="x.csv").cut
    assert not decode(b"a,b\n1,2\n" * 3 + b"\xff", source="x.csv").cut  # 0xFF starts no character: not a cut


def test_utf32_bom_nul_far_down_and_a_mixed_file() -> None:
    from mofang.data.encoding import decode

    assert decode("a,b\n1,2\n".encode("utf-32"), source="x.csv").encoding == "UTF-32"
    with pytest.raises(DataError, match=r"row 30002: binary data \(a NUL byte at offset 120004\)"):
        decode(b"a,b\n" + b"1,2\n" * 30_000 + b"\x00", source="x.csv")
    gbk = TABLE.encode("gbk") * 20
    with pytest.raises(DataError, match="is not valid GB18030 \\(the file reads as GBK up to there\\)") as err:
        decode(gbk[:300] + b"\xff" + gbk[300:], source="x.csv")
    assert err.value.row == gbk[:300].count(b"\n") + 1
