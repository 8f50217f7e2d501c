"""TextPipeline: rows with text columns → sparse n-gram TF-IDF features, or the raw texts themselves."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from mofang.core.errors import DataError
from mofang.models.features import FeaturePipeline

TextMode = Literal["text-sparse", "text-raw"]
TEXT_MODES = ("text-sparse", "text-raw")
_SPACES = re.compile(r"\s+")
SMALL_CORPUS = 5000  # below this many training texts every n-gram is kept (min_df 1)


def normalize_text(text: str) -> str:
    """NFKC (full-width letters/digits/punctuation → half-width), lower case, one space between runs."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def jieba_words(text: str) -> list[str]:
    """Chinese-aware word tokens: jieba for Chinese runs, whole words for Latin ones; spaces dropped.
    A module-level function so fitted vectorizers pickle."""
    import jieba

    return [w for w in jieba.lcut(text) if not w.isspace()]


def _quiet_jieba() -> None:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)


class TextPipeline:
    """Turns a frame with the dataset's feature columns into model input for text families.

    Text features (kind "text") are joined per row with "\\n" (missing → ""). `text-raw` returns those
    strings as a 1-D object array (for families that tokenize themselves); `text-sparse` returns a CSR
    matrix: character 1–3-gram TF-IDF (sublinear, at most `max_features` columns), optionally jieba word
    1–2-grams, plus the other (tabular) features through a linear-mode FeaturePipeline.
    `sources_` maps each output column to its source feature; `terms_` names each output column
    (the n-gram or the tabular column) for importance reports.
    """

    def __init__(self, features: list[dict[str, Any]], mode: TextMode = "text-sparse", *,
                 chars: bool = True, char_ngrams: tuple[int, int] = (1, 3), max_features: int = 200_000,
                 words: bool = False,
                 word_ngrams: tuple[int, int] = (1, 2), max_word_features: int = 100_000, min_df: int = 2,
                 extra_features: bool = True) -> None:
        if mode not in TEXT_MODES:
            raise ValueError(f"unknown text mode {mode!r} (expected: {', '.join(TEXT_MODES)})")
        self.features = [dict(f) for f in features]
        self.mode = mode
        self.chars = chars
        self.char_ngrams = tuple(char_ngrams)
        self.max_features = max_features
        self.words = words
        self.word_ngrams = tuple(word_ngrams)
        self.max_word_features = max_word_features
        self.min_df = min_df
        self.extra_features = extra_features
        self.categorical_indices_: list[int] = []
        if not self.text_columns:
            raise DataError("a text model needs at least one feature of kind 'text'; features: "
                            + ", ".join(f"{f['name']} ({f['kind']})" for f in self.features))

    @property
    def text_columns(self) -> list[str]:
        return [f["name"] for f in self.features if f["kind"] == "text"]

    @property
    def other_features(self) -> list[dict[str, Any]]:
        return [f for f in self.features if f["kind"] != "text"]

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> TextPipeline:
        texts = self.texts(df)
        self.vectorizers_: list[tuple[str, TfidfVectorizer]] = []
        self.tabular_: FeaturePipeline | None = None
        if self.mode == "text-sparse":
            # few texts: an n-gram seen once still tells (FewCLUE TNEWS, 2k titles: macro-F1 +0.008)
            min_df = self.min_df if len(texts) >= SMALL_CORPUS else 1
            if self.chars or not self.words:
                char = TfidfVectorizer(analyzer="char", ngram_range=self.char_ngrams, sublinear_tf=True,
                                       min_df=min_df, max_features=self.max_features, lowercase=False,
                                       dtype=np.float32)
                self.vectorizers_.append(("char", _fit_or_explain(char, texts)))
            if self.words:
                _quiet_jieba()
                word = TfidfVectorizer(tokenizer=jieba_words, token_pattern=None, lowercase=False,
                                       ngram_range=self.word_ngrams, sublinear_tf=True, min_df=min_df,
                                       max_features=self.max_word_features, dtype=np.float32)
                self.vectorizers_.append(("word", _fit_or_explain(word, texts)))
            if self.extra_features and self.other_features:
                self.tabular_ = FeaturePipeline(self.other_features, "linear").fit(df)
        self.n_text_columns_ = sum(len(v.vocabulary_) for _, v in self.vectorizers_)
        return self

    # -- transforming ----------------------------------------------------------------------------
    def transform(self, df: pd.DataFrame) -> np.ndarray | sp.csr_matrix:
        """`text-raw`: the joined texts (1-D object array); `text-sparse`: a CSR float32 matrix."""
        texts = self.texts(df)
        if self.mode == "text-raw":
            return texts
        if len(texts) == 0:  # scikit-learn's TF-IDF refuses zero rows
            return sp.csr_matrix((0, len(self.terms_)), dtype=np.float32)
        blocks = [v.transform(texts) for _, v in self.vectorizers_]
        if self.tabular_ is not None:
            blocks.append(sp.csr_matrix(self.tabular_.transform(df).astype(np.float32)))
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def fit_transform(self, df: pd.DataFrame) -> np.ndarray | sp.csr_matrix:
        return self.fit(df).transform(df)

    def texts(self, df: pd.DataFrame) -> np.ndarray:
        """Each row's text columns joined with "\\n" (missing → ""), normalized in sparse mode."""
        self.validate(df)
        columns = [df[name].tolist() for name in self.text_columns]
        joined = ["\n".join(_text(v) for v in values) for values in zip(*columns, strict=True)]
        if self.mode == "text-sparse":
            joined = [normalize_text(t) for t in joined]
        out = np.empty(len(joined), dtype=object)
        out[:] = joined
        return out

    def validate(self, df: pd.DataFrame) -> None:
        """Raise DataError naming every required feature column missing from `df`."""
        missing = [f["name"] for f in self.features if f["name"] not in df.columns]
        if missing:
            raise DataError(f"missing required columns: {', '.join(missing)}")

    # -- naming outputs --------------------------------------------------------------------------
    @property
    def sources_(self) -> list[str]:
        """The source feature of each output column (text-raw: the text columns themselves)."""
        if self.mode == "text-raw":
            return self.text_columns
        source = "+".join(self.text_columns)
        return [source] * self.n_text_columns_ + (self.tabular_.sources_ if self.tabular_ is not None else [])

    @property
    def terms_(self) -> list[str]:
        """A readable name of each output column: "n-gram" for text, the column name otherwise."""
        if self.mode == "text-raw":
            return self.text_columns
        names: list[str] = []
        for _, vectorizer in self.vectorizers_:
            names += [f"\"{t}\"" for t in vectorizer.get_feature_names_out()]
        return names + (self.tabular_.sources_ if self.tabular_ is not None else [])


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return ""
    return str(value)


def _fit_or_explain(vectorizer: TfidfVectorizer, texts: np.ndarray) -> TfidfVectorizer:
    try:
        vectorizer.fit(texts)
    except ValueError as exc:  # "empty vocabulary": every training text is empty
        raise DataError(f"the text columns hold no usable text to learn from ({exc})") from None
    if hasattr(vectorizer, "stop_words_"):  # every n-gram cut by min_df/max_features: only bloats the model
        del vectorizer.stop_words_
    return vectorizer
