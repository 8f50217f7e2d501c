"""Anomaly detection on sensor streams: window features, detector families, calibrated thresholds."""

from mofang.tasks.anomaly.models.detectors import DETECTORS, Detector
from mofang.tasks.anomaly.models.fitting import FAMILIES, Fitted, choose, fit_detectors
from mofang.tasks.anomaly.models.model import AnomalyModel, calibrated_threshold

__all__ = ["DETECTORS", "FAMILIES", "AnomalyModel", "Detector", "Fitted", "calibrated_threshold", "choose",
           "fit_detectors"]
