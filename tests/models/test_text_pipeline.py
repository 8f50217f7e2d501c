"""TextPipeline: sparse n-gram TF-IDF and raw-text modes, and the Trainer building it by mode."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from mofang.core.errors import DataError
from mofang.models.features import FeaturePipeline
from mofang.models.text.pipeline import TextPipeline, normalize_text
from mofang.models.trainers.base import Trainer
from tests.models.text_fixtures import FEATURES, news

REVIEWS = pd.DataFrame({"标题": ["物流很快，包装完好", "ＡＢＣ 手机  不错", None, "质量差，退货了"],
                        "正文": ["满意", None, "一般", "失望"], "星级": [5, 4, 3, 1],
                        "渠道": ["app", "web", "app", None]})


def test_sparse_mode_is_bounded_csr_of_char_ngrams() -> None:
    frame = news(300)
    pipeline = TextPipeline(FEATURES, "text-sparse", max_features=500).fit(frame)
    X = pipeline.transform(frame)
    assert sp.issparse(X) and X.format == "csr" and X.dtype == np.float32
    assert X.shape == (300, 500) and pipeline.categorical_indices_ == []
    assert len(pipeline.sources_) == len(pipeline.terms_) == X.shape[1]
    assert set(pipeline.sources_) == {"标题"} and '"比赛"' in pipeline.terms_
    one = pipeline.transform(frame.head(1))
    assert one.shape == (1, 500) and np.allclose(one.toarray(), X[:1].toarray())


def test_text_is_normalized_the_chinese_way() -> None:
    assert normalize_text("ＡＢＣ１２３，  手机\n\t好") == "abc123, 手机 好"
    pipeline = TextPipeline([{"name": "标题", "kind": "text"}], min_df=1).fit(REVIEWS)
    full, half = (pipeline.transform(pd.DataFrame({"标题": [t]})).toarray() for t in ("ＡＢＣ手机", "abc手机"))
    assert np.array_equal(full, half)


def test_words_and_other_columns_are_appended() -> None:
    features = [{"name": "标题", "kind": "text"}, {"name": "正文", "kind": "text"},
                {"name": "星级", "kind": "numeric"}, {"name": "渠道", "kind": "categorical"}]
    pipeline = TextPipeline(features, words=True, min_df=1).fit(REVIEWS)
    X = pipeline.transform(REVIEWS)
    names = [name for name, _ in pipeline.vectorizers_]
    assert names == ["char", "word"]
    assert '"物流"' in pipeline.terms_  # a jieba word
    assert "星级" in pipeline.sources_ and "渠道" in pipeline.sources_
    assert X.shape == (4, len(pipeline.terms_))


def test_raw_mode_joins_text_columns_and_keeps_missing_as_empty() -> None:
    features = [{"name": "标题", "kind": "text"}, {"name": "正文", "kind": "text"},
                {"name": "星级", "kind": "numeric"}]
    pipeline = TextPipeline(features, "text-raw").fit(REVIEWS)
    texts = pipeline.transform(REVIEWS)
    assert texts.ndim == 1 and texts.dtype == object
    assert list(texts) == ["物流很快，包装完好\n满意", "ＡＢＣ 手机  不错\n", "\n一般", "质量差，退货了\n失望"]
    assert pipeline.sources_ == ["标题", "正文"]


def test_bad_input_names_the_problem() -> None:
    pipeline = TextPipeline(FEATURES).fit(news(50))
    with pytest.raises(DataError, match="标题"):
        pipeline.transform(pd.DataFrame({"title": ["x"]}))
    with pytest.raises(DataError, match="kind 'text'"):
        TextPipeline([{"name": "星级", "kind": "numeric"}])
    with pytest.raises(DataError, match="no usable text"):
        TextPipeline(FEATURES).fit(pd.DataFrame({"标题": ["", None, " "]}))
    with pytest.raises(ValueError, match="unknown text mode"):
        TextPipeline(FEATURES, "tree")  # type: ignore[arg-type]


def test_fitted_pipeline_pickles_with_its_jieba_tokenizer() -> None:
    frame = news(100)
    pipeline = TextPipeline(FEATURES, words=True, min_df=1).fit(frame)
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer)
    buffer.seek(0)
    again = joblib.load(buffer)
    assert not hasattr(again.vectorizers_[0][1], "stop_words_")  # cut n-grams are not shipped
    assert (again.transform(frame) != pipeline.transform(frame)).nnz == 0


@pytest.mark.parametrize(("mode", "kind"), [("tree", FeaturePipeline), ("linear", FeaturePipeline),
                                            ("text-sparse", TextPipeline), ("text-raw", TextPipeline)])
def test_trainer_builds_the_pipeline_of_its_mode(mode: str, kind: type) -> None:
    family = type("Family", (Trainer,), {"mode": mode})
    pipeline = family().make_pipeline(FEATURES if kind is TextPipeline else [{"name": "x", "kind": "numeric"}])
    assert isinstance(pipeline, kind) and pipeline.mode == mode
