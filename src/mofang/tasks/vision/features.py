"""Classical image features: histograms of oriented gradients (HOG), uniform local binary patterns (LBP),
intensity histograms, and local-contrast residuals (what a defect leaves on a smooth surface).

Every image is read as grayscale at a fixed square size first, so images of any size give vectors of one
length. The code lives in `portable` (numpy and Pillow only), which the edge bundle ships: the edge runner
computes the features the served product computes."""

from __future__ import annotations

from mofang.tasks.vision.portable import (  # noqa: F401 - the features' home is the portable module
    ClassicalFeatures,
    gaussian,
    gradient_magnitude,
    hog,
    intensity,
    lbp,
    residual,
    square,
)
