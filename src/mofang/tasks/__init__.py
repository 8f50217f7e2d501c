"""One package per task. Each declares its TaskSpec(s) (`SPECS`) under the `mofang.tasks` entry point group: its
order sections and flags, metrics, needs, and the station processes and hooks it implements itself
(`<package>.<station>:<process>`, e.g. `mofang.tasks.forecast.model:train`). Unit code asks `mofang.core.tasks`;
see docs/ARCHITECTURE.md, "How to add a task"."""
