"""Retrieval QA (FAQ / knowledge base): BM25 and dense retrievers, fusion, a no-answer threshold, metrics."""

from mofang.tasks.retrieval.models.bm25 import BM25, top_k
from mofang.tasks.retrieval.models.dense import DenseIndex, Encoder, HFEncoder, LSAEncoder
from mofang.tasks.retrieval.models.hybrid import Fusion, fuse, tune_fusion
from mofang.tasks.retrieval.models.index import KnowledgeBase, QAColumns, chunk_text
from mofang.tasks.retrieval.models.metrics import (
    mean_reciprocal_rank,
    no_answer_precision_recall,
    recall_at_k,
    retrieval_metrics,
)
from mofang.tasks.retrieval.models.noanswer import NoAnswerThreshold, calibrate
from mofang.tasks.retrieval.models.product import RetrievalModel

__all__ = ["BM25", "DenseIndex", "Encoder", "Fusion", "HFEncoder", "KnowledgeBase", "LSAEncoder", "NoAnswerThreshold",
           "QAColumns", "RetrievalModel", "calibrate", "chunk_text", "fuse", "mean_reciprocal_rank",
           "no_answer_precision_recall", "recall_at_k", "retrieval_metrics", "top_k", "tune_fusion"]
