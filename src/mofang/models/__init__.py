"""The model workshop (模型车间): candidate families per task, budgeted tuning, and the winner."""

from mofang.models.candidate import Candidate
from mofang.models.features import FeaturePipeline
from mofang.models.metric import primary_metric
from mofang.models.registry import get_trainer, trainer, trainers_for
from mofang.models.station import ModelWorkshop
from mofang.models.text.pipeline import TextPipeline
from mofang.models.trainers.base import Trainer

__all__ = ["Candidate", "FeaturePipeline", "ModelWorkshop", "TextPipeline", "Trainer", "get_trainer",
           "primary_metric", "trainer", "trainers_for"]
