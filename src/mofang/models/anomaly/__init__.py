"""Anomaly detection on sensor streams: window features, detector families, calibrated thresholds."""

from mofang.models.anomaly.detectors import DETECTORS, Detector
from mofang.models.anomaly.fitting import FAMILIES, Fitted, choose, fit_detectors
from mofang.models.anomaly.model import AnomalyModel, calibrated_threshold

__all__ = ["DETECTORS", "FAMILIES", "AnomalyModel", "Detector", "Fitted", "calibrated_threshold", "choose",
           "fit_detectors"]
