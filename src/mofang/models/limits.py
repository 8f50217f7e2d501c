"""The order's size and latency limits applied to candidates before the best one is picked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def limits_broken(record: dict[str, Any], acceptance: Any, *, latency: bool = True) -> str:
    """Why a candidate breaks the order's `max_model_mb` / `p95_latency_ms` ("" when it breaks none); `latency`
    False leaves the measured latency out (a reproducible build decides nothing on a clock reading)."""
    max_mb, max_p95 = acceptance.max_model_mb, acceptance.p95_latency_ms if latency else None
    broken = []
    if max_mb is not None and record["size_mb"] > max_mb:
        broken.append(f"{record['size_mb']:.1f} MB > {max_mb:g} MB")
    if max_p95 is not None and not record["p95_ms"] <= max_p95:
        broken.append(f"p95 {record['p95_ms']:.1f} ms > {max_p95:g} ms")
    return ", ".join(broken)


@dataclass
class WithinLimits:
    """Candidates split by the limits: `pool` is what the pick chooses from (every candidate when none
    meets the limits), `note` what the pick's reason adds about the others."""

    eligible: list[dict[str, Any]] = field(default_factory=list)
    excluded: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    @property
    def pool(self) -> list[dict[str, Any]]:
        return self.eligible or [record for record, _ in self.excluded]

    @property
    def note(self) -> str:
        if not self.excluded:
            return ""
        if self.eligible:
            return "; excluded " + ", ".join(f"{r['name']} ({why})" for r, why in self.excluded)
        return ("; no candidate meets the size/latency limits ("
                + ", ".join(f"{r['name']}: {why}" for r, why in self.excluded) + "), so the best overall")


def within_limits(records: list[dict[str, Any]], acceptance: Any, *, latency: bool = True) -> WithinLimits:
    """`records` split by the order's size and latency limits (size only with `latency` False), in their order."""
    split = WithinLimits()
    for record in records:
        why = limits_broken(record, acceptance, latency=latency)
        if why:
            split.excluded.append((record, why))
        else:
            split.eligible.append(record)
    return split
