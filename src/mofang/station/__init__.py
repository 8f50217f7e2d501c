"""The Station contract every unit's station is written against: the Station base (named processes, declared
inputs, outputs and resources), the StationContext a process works in, and progress reporting. The line
(`mofang.line`) runs stations; this package is below the units so that they can implement it."""

from mofang.station.context import ProcessRecord, StationContext
from mofang.station.contract import Station
from mofang.station.progress import ConsoleProgress, Progress, SilentProgress

__all__ = ["ConsoleProgress", "ProcessRecord", "Progress", "SilentProgress", "Station", "StationContext"]
