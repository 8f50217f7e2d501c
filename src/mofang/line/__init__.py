"""The line: runs a job's stations in order, records every process, resumes at the first unfinished one.
The contract the stations implement is `mofang.station`."""

from mofang.line.runner import JobFailed, run, stations_for

__all__ = ["JobFailed", "run", "stations_for"]
