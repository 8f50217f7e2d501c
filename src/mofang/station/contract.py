"""The Station contract: a named list of processes (工序), each a method that does one step."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

from mofang.core.resources import Needs
from mofang.core.tasks import spec as task_spec

if TYPE_CHECKING:
    from mofang.orders.schema import Order
    from mofang.station.context import StationContext


class Station:
    """Base class of every station on the line.

    A subclass declares `name`, the artifact names it reads (`inputs`) and writes (`outputs`), and
    `processes`: the names of its methods, run in order, each taking a StationContext. The runner
    records every process, so a job resumes at its first unfinished one. Subclasses only do the work;
    recording, timing and errors live in the runner.
    """

    name: ClassVar[str]
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    processes: ClassVar[tuple[str, ...]] = ()
    #: What the station needs to run (cpus, memory_gb, gpu); a job is placed where its stations' largest needs fit.
    resources: ClassVar[Needs] = Needs()

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not getattr(cls, "name", None):
            raise TypeError(f"station {cls.__qualname__} must set a `name`")
        if not cls.processes:
            raise TypeError(f"station {cls.name!r} must list its `processes`")
        for process in cls.processes:
            if not callable(getattr(cls, process, None)):
                raise TypeError(f"station {cls.name!r} lists process {process!r} but has no such method")
        if len(set(cls.processes)) != len(cls.processes):
            raise TypeError(f"station {cls.name!r} lists a process twice")

    @classmethod
    def needs_for(cls, order: Order) -> Needs:
        """What the station needs for `order`: its `resources`, unless it overrides this because its needs
        depend on the order (e.g. the model workshop on the order's task)."""
        return cls.resources

    def process_for(self, process: str, order: Order) -> Callable[[StationContext], str | None]:
        """The function that runs `process` for `order`: its task's own implementation when the task has one
        (`TaskSpec.overrides["<station>.<process>"]`), else this station's method of that name."""
        if process not in self.processes:
            raise ValueError(f"station {self.name!r} has no process {process!r}")
        own: Callable[[StationContext], str | None] = getattr(self, process)
        return task_spec(order.task).override(f"{self.name}.{process}") or own

    def skip(self, ctx: StationContext) -> str | None:
        """Return a reason to skip the whole station for this job (e.g. a rejected product)."""
        return None
