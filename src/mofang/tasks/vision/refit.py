"""The chosen image model fitted again on every image it may learn from (train + validation; the test images
stay out), before the evaluation center scores it.

Validation images pick the winner and its P(good) threshold; once both are chosen they are better spent as
training data: with a few hundred images, 15% more examples of the rare defect classes is worth more than
anything else the model workshop can buy in the same seconds (on the magnetic-tile order, the features +
logistic head went from macro-F1 0.84 to 0.88 on the untouched test split). Only the fast families are fitted
again — classical features with a logistic or LightGBM head, seconds each; a network trained for its whole time
share keeps the weights it has (in a blend, its fast members are refitted and the network kept). The threshold
chosen on validation is kept: there is nothing left to choose it on.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mofang.tasks.vision.candidates import Blend, FeatureCache, FeatureClassifier, ImageCandidate
from mofang.tasks.vision.packaging import VisionModel

FEATURE_MS_PER_IMAGE = 15.0  # classical features of one image, with margin (about 7 ms measured on 2 cores)
MARGIN = 1.5  # a refit on more images, estimated from the first fit's seconds


@dataclass(frozen=True)
class Refit:
    """The refitted model (None when nothing could be refitted) and what was done, in words."""

    model: VisionModel | None
    note: str
    members: tuple[str, ...] = ()
    seconds: float = 0.0


def refittable(candidate: ImageCandidate) -> list[FeatureClassifier]:
    """The members of `candidate` (itself, or a blend's) that are fitted again: the feature families."""
    members = candidate.members if isinstance(candidate, Blend) else [candidate]
    return [m for m in members if isinstance(m, FeatureClassifier)]


def member_seconds(member: FeatureClassifier, fit_seconds: dict[str, float], trained: int, pool: int) -> float:
    """Seconds a refit of one feature member's head on `pool` images should take, from its first fit on `trained`
    (less the features, which the first feature family computed for all: `affordable` counts them once)."""
    head_s = max(0.0, fit_seconds.get(member.family, 0.0) - FEATURE_MS_PER_IMAGE * trained / 1000)
    return MARGIN * head_s * pool / max(1, trained)


def affordable(candidate: ImageCandidate, fit_seconds: dict[str, float], trained: int, pool: int,
               seconds: float) -> tuple[list[str], float]:
    """The feature members of `candidate` that fit in `seconds`, cheapest first (features of the pool once),
    and the seconds they should take."""
    spent = MARGIN * FEATURE_MS_PER_IMAGE * pool / 1000
    chosen = []
    for member in sorted(refittable(candidate), key=lambda m: member_seconds(m, fit_seconds, trained, pool)):
        cost = member_seconds(member, fit_seconds, trained, pool)
        if spent + cost <= seconds:
            chosen.append(member.family)
            spent += cost
    return chosen, (spent if chosen else 0.0)


def refit_on_pool(model: VisionModel, images: Sequence[np.ndarray], labels: Sequence[str],
                  masks: Sequence[np.ndarray | None], *, seed: int, only: Sequence[str] | None = None,
                  budget_s: float = 120.0) -> Refit:
    """`model` with its feature members (those of `only`, when given) fitted again on `images` (train +
    validation); classes, the good class and its threshold unchanged. A boosting head grows the number of
    trees its first fit stopped at, unless `budget_s` runs out first."""
    members = [m for m in refittable(model.candidate) if only is None or m.family in only]
    if not members:
        return Refit(None, f"{model.name} kept as trained: no member of it is refitted (a network keeps the "
                           "weights of its time share)")
    began = time.monotonic()
    cache = FeatureCache()
    fresh: dict[int, FeatureClassifier] = {}
    for member in members:
        refitted = FeatureClassifier(member.head, cache=cache, threads=member.threads, trees=member.trees_grown())
        refitted.fit(images, labels, masks, budget_s=max(1.0, budget_s - (time.monotonic() - began)), seed=seed)
        missing = set(member.classes_) - set(refitted.classes_)
        if missing:  # cannot happen when train ⊂ pool; a model must never lose a class it knew
            return Refit(None, f"{model.name} kept as trained: the refit lost classes {sorted(missing)}")
        fresh[id(member)] = refitted
    candidate = model.candidate
    if isinstance(candidate, Blend):
        blend = copy.copy(candidate)
        blend.members = [fresh.get(id(m), m) for m in candidate.members]
        candidate = blend
    else:
        candidate = fresh[id(candidate)]
    names = tuple(m.family for m in members)
    kept = [m.family for m in getattr(model.candidate, "members", []) if id(m) not in fresh]
    kept = [f"{family} (no time to refit it)" if family.startswith("features-") else family for family in kept]
    note = (f"{model.name} fitted again on {len(images):,} training + validation images ({', '.join(names)}"
            + (f"; {', '.join(kept)} kept as trained" if kept else "")
            + (f"; P({model.good_class}) threshold {model.good_min:g} kept from validation" if model.good_min
               is not None else "") + ")")
    refitted_model = VisionModel(candidate, classes=model.classes_, good_class=model.good_class,
                                 good_min=model.good_min, name=model.name)
    return Refit(refitted_model, note, names, round(time.monotonic() - began, 2))
