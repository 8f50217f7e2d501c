"""What a station, a task or a job needs to run: CPUs, memory, whole GPUs (the queue places jobs by it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Needs:
    """What a station (or job) declares it needs to run: CPUs, memory in GB, whole GPUs."""

    cpus: float = 1
    memory_gb: float = 0.5
    gpu: int = 0

    def __post_init__(self) -> None:
        if self.cpus < 0 or self.memory_gb < 0 or self.gpu < 0:
            raise ValueError(f"needs must not be negative: {self}")
        if int(self.gpu) != self.gpu:
            raise ValueError(f"GPUs are whole devices: gpu={self.gpu}")

    def __add__(self, other: Needs) -> Needs:
        return Needs(self.cpus + other.cpus, self.memory_gb + other.memory_gb, self.gpu + other.gpu)

    def __str__(self) -> str:
        gpus = f", {count(self.gpu, 'GPU')}" if self.gpu else ""
        return f"{cpus_text(self.cpus)}, {number_text(self.memory_gb)} GB{gpus}"

    def to_dict(self) -> dict[str, float | int]:
        return {"cpus": self.cpus, "memory_gb": self.memory_gb, "gpu": self.gpu}



def number_text(value: float) -> str:
    """2 → "2", 0.5 → "0.5", 1.25 → "1.25"."""
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0").rstrip(".")


def cpus_text(n: float) -> str:
    return f"{number_text(n)} CPU{'' if n == 1 else 's'}"


def count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
