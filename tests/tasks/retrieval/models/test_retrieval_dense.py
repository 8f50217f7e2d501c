"""Dense retrieval: LSA fitted on the corpus, a local HF encoder (tiny random BERT), the unreadable-corpus skip."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mofang.tasks.retrieval.models import DenseIndex, HFEncoder, LSAEncoder, RetrievalModel
from mofang.tasks.retrieval.models.index import KnowledgeBase
from tests.tasks.retrieval.models.retrieval_fixtures import FAQ


def test_lsa_vectors_are_unit_length_and_rank_a_paraphrase_high():
    passages = [f"{q} {a}" for q, _, _, a in FAQ]
    index = DenseIndex(LSAEncoder(dim=64)).fit(passages)
    assert index.embeddings_.shape == (len(FAQ), len(FAQ) - 1)  # dim capped by the corpus
    assert np.allclose(np.linalg.norm(index.embeddings_, axis=1), 1.0, atol=1e-5)
    scores = index.scores([asked for _, asked, _, _ in FAQ])
    ranks = (scores > scores[np.arange(len(FAQ)), np.arange(len(FAQ))][:, None]).sum(axis=1) + 1
    assert np.mean(ranks <= 3) >= 0.75
    restored = pickle.loads(pickle.dumps(index))
    assert np.allclose(restored.scores(["信用卡丢了"]), index.scores(["信用卡丢了"]))


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory):
    pytest.importorskip("torch")
    from mofang.models.transformer.tiny import tiny_bert_checkpoint

    return tiny_bert_checkpoint(tmp_path_factory.mktemp("tiny-bert"))


def test_hf_encoder_mean_pools_normalises_and_pickles_without_weights(tiny_encoder_dir):
    encoder = HFEncoder(tiny_encoder_dir, name="tiny", batch_size=2)
    vectors = encoder.encode(["reset my password", "lost card", "opening hours of the branch"])
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    restored = pickle.loads(pickle.dumps(encoder))
    assert restored._model is None  # the weights stay in the folder
    assert np.allclose(restored.encode(["lost card"]), vectors[1:2], atol=1e-5)
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        HFEncoder(tiny_encoder_dir / "missing").encode(["x"])


def test_english_corpus_indexes_with_the_encoder_and_chinese_skips_it(tiny_encoder_dir):
    english = KnowledgeBase(texts=["how to reset a password", "report a lost card", "branch opening hours"],
                            answers=["a", "b", "c"], sources=[{}, {}, {}])
    model = RetrievalModel.from_knowledge_base(english, dense=[HFEncoder(tiny_encoder_dir, name="tiny")])
    assert "tiny" in model.retrievers_ and not model.skipped
    chinese = KnowledgeBase(texts=[f"{q} {a}" for q, _, _, a in FAQ], answers=[a for *_, a in FAQ],
                            sources=[{}] * len(FAQ))
    model = RetrievalModel.from_knowledge_base(chinese, dense=[HFEncoder(tiny_encoder_dir, name="tiny")])
    assert "tiny" not in model.retrievers_
    assert "tiny skipped" in model.skipped["tiny"] and "[UNK]" in model.skipped["tiny"]
