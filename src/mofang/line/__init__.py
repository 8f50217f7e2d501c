"""The line: the Station contract, process records, progress and resume."""

from mofang.line.context import StationContext
from mofang.line.progress import ConsoleProgress, Progress, SilentProgress
from mofang.line.runner import JobFailed, run, stations_for
from mofang.line.station import Station

__all__ = ["ConsoleProgress", "JobFailed", "Progress", "SilentProgress", "Station", "StationContext",
           "run", "stations_for"]
