"""Reading a large source says how far it is while it reads: the data station's ingest reports the bytes read of
all its files, each format reports the share read, and what is read is the same as without listening."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mofang.data import DataWorkshop
from mofang.data.connectors import read_source
from mofang.data.sources import read_granted
from mofang.station import SilentProgress
from tests.data.helpers import order_for, source


class Recorder(SilentProgress):
    """Keeps every progress report."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, str, float, float | None, str]] = []

    def process_advanced(self, station: str, process: str, done: float, total: float | None, note: str) -> None:
        self.reports.append((station, process, done, total, note))


def big_table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"客户编号": [f"C{i:07d}" for i in range(rows)],
                         "城市": rng.choice(["上海", "北京", "成都", "深圳"], rows),
                         "月收入": rng.integers(3000, 60000, rows).astype(str),
                         "备注": [f"第{i}号客户的备注，内容较长以便文件足够大" for i in range(rows)],
                         "default": rng.choice(["是", "否"], rows)})


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "loans.csv"
    path.write_bytes(big_table(60_000).to_csv(index=False).encode("gbk"))
    assert path.stat().st_size > 3_000_000  # several of the parser's 256k chunks
    return path


def shares(path: Path, **fields: object) -> tuple[pd.DataFrame, list[float]]:
    heard: list[float] = []
    return read_source(source(path, **fields), on_read=heard.append), heard


def test_the_data_station_reports_the_bytes_read_of_a_large_csv_while_it_reads(big_csv: Path, make_ctx) -> None:
    ctx = make_ctx(order_for(big_csv), station="data")
    ctx.process, recorder = "ingest", Recorder()
    ctx.progress = recorder
    summary = DataWorkshop().ingest(ctx)
    assert summary == "60,000 rows × 5 columns from loans.csv (GBK)"
    size = big_csv.stat().st_size
    done = [d for (station, process, d, total, _note) in recorder.reports]
    assert {(r[0], r[1], r[3]) for r in recorder.reports} == {("data", "ingest", size)}  # bytes of the file
    assert done == sorted(done) and done[0] == 0 and done[-1] == size
    assert len({d for d in done if 0 < d < size}) >= 5  # heard while it was read, not only at its ends
    assert all(note == "bytes of loans.csv" for *_rest, note in recorder.reports)


def test_two_sources_report_bytes_of_both_files_in_order(big_csv: Path, tmp_path: Path) -> None:
    second = tmp_path / "more.csv"
    second.write_bytes(big_table(2_000, seed=1).to_csv(index=False).encode("gbk"))
    heard: list[tuple[float, float | None, str]] = []
    read_granted(order_for([big_csv, second]), on_read=lambda d, t, n: heard.append((d, t, n)))
    total = big_csv.stat().st_size + second.stat().st_size
    done = [d for d, _t, _n in heard]
    assert {t for _d, t, _n in heard} == {total} and done == sorted(done) and done[-1] == total
    assert heard[0][2] == "bytes of loans.csv (source 1 of 2)" and heard[-1][2] == "bytes of more.csv (source 2 of 2)"


def test_listening_changes_nothing_that_is_read(big_csv: Path) -> None:
    heard, plain = shares(big_csv)[0], read_source(source(big_csv))
    pd.testing.assert_frame_equal(heard, plain)
    assert heard.attrs == plain.attrs


def test_parquet_reports_the_share_of_its_bytes_read(tmp_path: Path) -> None:
    path = tmp_path / "loans.parquet"
    big_table(50_000).to_parquet(path, row_group_size=10_000)
    frame, heard = shares(path)
    pd.testing.assert_frame_equal(frame, read_source(source(path)))
    assert frame.attrs == read_source(source(path)).attrs
    # the footer first, then the column chunks (Arrow reads up to 32 MB at once: this small file in one go)
    assert heard == sorted(heard) and heard[-1] == 1.0 and any(0 < s < 1 for s in heard)


def test_json_lines_report_the_share_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mofang.data.jsontables as jsontables

    monkeypatch.setattr(jsontables, "REPORT_CHARS", 10_000)
    path = tmp_path / "loans.jsonl"
    big_table(3_000).to_json(path, orient="records", lines=True, force_ascii=False)
    frame, heard = shares(path)
    pd.testing.assert_frame_equal(frame, read_source(source(path)))
    assert heard == sorted(heard) and heard[-1] == 1.0 and len([s for s in heard if 0 < s < 1]) >= 5


def test_an_excel_sheet_reports_the_share_of_its_rows_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mofang.data.excel as excel

    monkeypatch.setattr(excel, "REPORT_ROWS", 100)
    path = tmp_path / "loans.xlsx"
    big_table(1_000).to_excel(path, index=False)
    frame, heard = shares(path)
    pd.testing.assert_frame_equal(frame, read_source(source(path)))
    assert heard == sorted(heard) and heard[-1] == 1.0 and len([s for s in heard if 0 < s < 1]) >= 5
