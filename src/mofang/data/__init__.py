"""The data workshop (数据车间): connectors, column kinds, the leakage guard and the DataWorkshop station."""

from mofang.data.connectors import read_source
from mofang.data.sources import check_sources
from mofang.data.station import DataWorkshop
from mofang.data.types import coerce, infer_kind

__all__ = ["DataWorkshop", "check_sources", "coerce", "infer_kind", "read_source"]
