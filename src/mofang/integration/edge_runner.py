"""mofang_edge_runner: run a Mofang edge bundle with onnxruntime and numpy only.

This file is shipped inside every edge bundle as `mofang_edge_runner.py`; it must import nothing but the
standard library, numpy and onnxruntime. The bundle folder holds `model.onnx` (the estimator) and
`preprocess.json` (the feature pipeline as data: column order, category maps, imputation, scaling, TF-IDF
vocabulary and idf, or a transformer's WordPiece tokenizer settings with its `vocab.txt`), applied here
exactly as the factory's pipeline applies them.

    python mofang_edge_runner.py rows.csv            # or rows.json (a list of objects), or - for stdin
    python mofang_edge_runner.py --bundle DIR rows.json --out predictions.json

A CSV may be UTF-8 (with or without BOM), UTF-16/32 with a BOM, GBK, GB18030 or Big5, detected as the factory
detects them (`mofang.data.encoding`, copied below without its last-resort guess, which needs a library the
runner does without), or named with `--encoding`; its separator is a comma, or a tab, semicolon or bar when
the header has no comma.

Prints one JSON object per row: {"prediction": ..., "probabilities": {class: p}} (classification) or
{"prediction": value} (regression).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import io
import json
import math
import re
import sys
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "mofang.edge/1"
MISSING = frozenset({"", "NA", "N/A", "n/a", "na", "#N/A", "null", "NULL", "Null", "None", "none", "nan",
                     "NaN", "NAN", "-", "--", "—", "无", "空", "NaT"})
CATEGORY_MISSING = "__missing__"
_TRUE = frozenset({"是", "y", "yes", "true", "t", "1", "1.0", "对", "真"})
_FALSE = frozenset({"否", "n", "no", "false", "f", "0", "0.0", "错", "假"})
_SPACES = re.compile(r"\s+")
_SEPARATORS = re.compile(r"[\s,_']")
_NUMBER = re.compile(
    r"^(?P<sign>[-+])?(?:¥|\$|€|£|RMB|CNY|USD|HK\$)?(?P<sign2>[-+])?"
    r"(?P<num>\d+(?:\.\d*)?|\.\d+)(?:[eE](?P<exp>[-+]?\d+))?"
    r"(?P<mult>万亿|亿|万|千|[kK](?=[%‰]?$))?"
    r"(?P<unit>[^\d%‰.+\-]{0,6}?|[a-zA-Z]{1,3}[23])(?P<pct>[%‰])?$")
_MULTIPLIER = {"万亿": 1e12, "亿": 1e8, "万": 1e4, "千": 1e3, "k": 1e3, "K": 1e3}
_PERCENT = {"%": 0.01, "‰": 0.001}
_TIME = (r"(?:[ T]+(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?"
         r"\s*(?:Z|[+-]\d{2}:?\d{2})?$")
_YMD = re.compile(r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})" + _TIME)
_COMPACT = re.compile(r"^(?P<y>(?:19|20)\d{2})(?P<m>[01]\d)(?P<d>[0-3]\d)" + _TIME)
_XXY = re.compile(r"^(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<y>\d{4}|\d{2})" + _TIME)
_CHINESE = [("年", "-"), ("月", "-"), ("日", ""), ("号", "")]
_TRAILING_DASH = re.compile(r"-(?=\s|$)")
_EPOCH = datetime(1970, 1, 1)
DATE_PARTS = 5  # year, month, day of week, day of year, days since 1970


# -- raw values → typed values (as the factory's data workshop reads them) --------------------------
def to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def read_number(value: Any) -> float:
    """A number as people write it (1,234 · 12% · 3.5万 · (12)); NaN when it is not one."""
    if value is None or isinstance(value, bool):
        return float(value) if isinstance(value, bool) else math.nan
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else math.nan
    text = to_text(value)
    try:
        number = float(text.strip())
        return number if math.isfinite(number) else math.nan
    except ValueError:
        pass
    text = unicodedata.normalize("NFKC", text).replace("−", "-")
    text = _SEPARATORS.sub("", text)
    negative = bool(re.match(r"^\(.*\)$", text))
    text = re.sub(r"^\((.*)\)$", r"\1", text)
    match = _NUMBER.match(text)
    if not match:
        return math.nan
    parts = match.groupdict()
    number = float(parts["num"]) * 10.0 ** float(parts["exp"] or 0)
    number *= _MULTIPLIER.get(parts["mult"] or "", 1.0) * _PERCENT.get(parts["pct"] or "", 1.0)
    if (parts["sign"] == "-") ^ (parts["sign2"] == "-") ^ negative:
        number = -number
    return number if math.isfinite(number) else math.nan


def read_boolean(value: Any) -> float:
    """1.0 / 0.0 for 是/否, Y/N, yes/no, true/false, 1/0; NaN otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if value in (0, 1) else math.nan
    if value is None:
        return math.nan
    key = unicodedata.normalize("NFKC", to_text(value)).strip().lower()
    return 1.0 if key in _TRUE else 0.0 if key in _FALSE else math.nan


def read_label(value: Any) -> str | None:
    """A category or text value: NFKC, stripped, one space between words; missing spellings → None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = _SPACES.sub(" ", unicodedata.normalize("NFKC", to_text(value)).strip())
    return None if text in MISSING else text


def read_date(value: Any, dayfirst: bool | None) -> datetime | None:
    """A date or date-time in the common written forms (ISO, 2023/1/5, 20230105, 5/1/2023, 2023年1月5日)."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", to_text(value)).strip()
    for old, new in _CHINESE:
        text = text.replace(old, new)
    text = _TRAILING_DASH.sub("", text)
    for pattern in (_YMD, _COMPACT, _XXY):
        match = pattern.match(text)
        if match:
            return _stamp(match.groupdict(), dayfirst)
    return None


def _stamp(parts: dict[str, str | None], dayfirst: bool | None) -> datetime | None:
    year = int(parts["y"] or 0)
    if parts.get("a") is not None:
        a, b = int(parts["a"] or 0), int(parts["b"] or 0)
        first = a > 12 if dayfirst is None else dayfirst
        day, month = (a, b) if first else (b, a)
        if year < 100:
            year += 2000 if year < 70 else 1900
    else:
        day, month = int(parts["d"] or 0), int(parts["m"] or 0)
    try:
        stamp = datetime(year, month, day, int(parts["H"] or 0), int(parts["M"] or 0), int(parts["S"] or 0))
    except (ValueError, OverflowError):
        return None
    return stamp + timedelta(microseconds=int((parts["f"] or "0").ljust(9, "0")) / 1000)


def date_parts(stamp: datetime | None) -> list[float]:
    if stamp is None:
        return [math.nan] * DATE_PARTS
    days = (stamp - _EPOCH).total_seconds() / 86400.0
    return [float(stamp.year), float(stamp.month), float(stamp.weekday()),
            float(stamp.timetuple().tm_yday), days]


# -- the feature pipeline as data ---------------------------------------------------------------------
class Tabular:
    """Rows → the dense float matrix of the factory's FeaturePipeline ("tree" or "linear" mode)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.features = spec["features"]
        self.index = {name: {c: i for i, c in enumerate(cats)} for name, cats in spec.get("categories", {}).items()}
        if spec["mode"] == "linear":
            self.linear = {k: np.asarray(spec[k], dtype=float) for k in
                           ("medians", "clip_low", "clip_high", "mean", "scale")}
            self.onehot = {name: ({c: i for i, c in enumerate(e["columns"])}, set(e["infrequent"] or []),
                                  len(e["columns"]) + (1 if e["infrequent"] else 0))
                           for name, e in spec["onehot"].items()}

    @property
    def width(self) -> int:
        return int(self.spec["width"])

    def typed(self, feature: dict[str, Any], value: Any) -> Any:
        kind = feature["kind"]
        if kind == "numeric":
            return read_number(value)
        if kind == "boolean":
            return read_boolean(value)
        if kind == "datetime":
            return read_date(value, feature.get("dayfirst"))
        label = read_label(value)
        aliases = feature.get("aliases") or {}
        return aliases.get(label, label) if label is not None else None

    def transform(self, rows: list[dict[str, Any]]) -> np.ndarray:
        n = len(rows)
        values = {f["name"]: [self.typed(f, row.get(f["name"])) for row in rows] for f in self.features}
        numeric: list[list[float]] = [[] for _ in range(n)]
        for f in self.features:
            if f["kind"] in ("numeric", "boolean"):
                for i, v in enumerate(values[f["name"]]):
                    numeric[i].append(v)
            elif f["kind"] == "datetime":
                for i, v in enumerate(values[f["name"]]):
                    numeric[i].extend(date_parts(v))
        block = np.asarray(numeric, dtype=float).reshape(n, -1)
        categorical = [f["name"] for f in self.features if f["kind"] == "categorical"]
        if self.spec["mode"] == "tree":
            blocks = [block]
            for name in categorical:
                index = self.index[name]
                blocks.append(np.asarray([index.get(str(v), math.nan) if v is not None else math.nan
                                          for v in values[name]], dtype=float).reshape(-1, 1))
            return np.hstack(blocks)
        p = self.linear
        missing = np.isnan(block)
        clipped = np.clip(block, p["clip_low"], p["clip_high"])
        filled = np.where(missing, p["medians"], clipped)
        indicators = missing[:, self.spec["indicators"]].astype(float)
        blocks = [(np.hstack([filled, indicators]) - p["mean"]) / p["scale"]]
        for name in categorical:
            if name not in self.onehot:
                continue
            columns, infrequent, width = self.onehot[name]
            out = np.zeros((n, width))
            for i, v in enumerate(values[name]):
                key = CATEGORY_MISSING if v is None else str(v)
                if key in columns:
                    out[i, columns[key]] = 1.0
                elif key in infrequent:
                    out[i, width - 1] = 1.0
            blocks.append(out)
        return np.hstack(blocks)


class TextTfidf:
    """Rows → (indices, values) of the sparse character n-gram TF-IDF (plus the other columns)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.vectorizers = [(v["offset"], tuple(v["ngram_range"]), v["vocabulary"],
                             np.asarray(v["idf"], dtype=np.float64), v["sublinear_tf"]) for v in spec["vectorizers"]]
        self.tabular = Tabular(spec["tabular"]) if spec.get("tabular") else None

    def text(self, row: dict[str, Any]) -> str:
        joined = _joined_text(row, self.spec["text_columns"])
        return _SPACES.sub(" ", unicodedata.normalize("NFKC", joined)).strip().lower()

    def transform(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        entries: list[tuple[list[int], list[float]]] = []
        extra = self.tabular.transform(rows) if self.tabular is not None else None
        for r, row in enumerate(rows):
            text = _SPACES.sub(" ", self.text(row))
            indices: list[int] = []
            weights: list[float] = []
            for offset, (low, high), vocabulary, idf, sublinear in self.vectorizers:
                counts: dict[int, int] = {}
                for n in range(low, min(high, len(text)) + 1):
                    for i in range(len(text) - n + 1):
                        j = vocabulary.get(text[i:i + n])
                        if j is not None:
                            counts[j] = counts.get(j, 0) + 1
                if not counts:
                    continue
                keys = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                if sublinear:
                    tf = 1.0 + np.log(tf)
                w = tf * idf[keys]
                w /= np.linalg.norm(w) or 1.0
                indices += (keys + offset).tolist()
                weights += w.tolist()
            if extra is not None:
                start = int(self.spec["tabular_offset"])
                indices += list(range(start, start + extra.shape[1]))
                weights += extra[r].tolist()
            entries.append((indices, weights))
        width = max([len(i) for i, _ in entries] + [1])
        index = np.zeros((len(rows), width), dtype=np.int64)
        value = np.zeros((len(rows), width), dtype=np.float32)
        for r, (found, weighed) in enumerate(entries):
            index[r, :len(found)] = found
            value[r, :len(weighed)] = weighed
        return index, value


# -- WordPiece (BERT-style) tokenization, as Hugging Face `tokenizers` does it --------------------------
# Whitespace as Rust's `char::is_whitespace` (the Unicode White_Space property), which the tokenizer uses.
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                        + "".join(chr(c) for c in range(0x2000, 0x200B)))
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK)


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


class WordPiece:
    """Text → token ids (without the special tokens around them) like a Hugging Face BERT tokenizer:
    special (added) tokens matched in the raw text, BertNormalizer (clean control characters, space around
    CJK characters, strip accents, lower case, per the tokenizer's settings), BertPreTokenizer (split on
    whitespace, punctuation as tokens of its own), then greedy longest-match-first WordPiece."""

    def __init__(self, spec: dict[str, Any], vocab: list[str]) -> None:
        self.ids = {token: i for i, token in enumerate(vocab)}
        for token, i in spec.get("added", {}).items():
            self.ids[token] = int(i)
        self.added = sorted(spec.get("added", {}), key=len, reverse=True)  # longest match first
        self.unk = self.ids[spec["unk_token"]]
        self.prefix = spec.get("continuing_subword_prefix", "##")
        self.max_chars = int(spec.get("max_input_chars_per_word", 100))
        self.clean_text = bool(spec.get("clean_text", True))
        self.chinese = bool(spec.get("handle_chinese_chars", True))
        self.lowercase = bool(spec.get("lowercase", True))
        strip = spec.get("strip_accents")
        self.strip_accents = self.lowercase if strip is None else bool(strip)
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece, special in self._split_added(text):
            if special:
                ids.append(self.ids[piece])
                continue
            for word in self._words(self._normalize(piece)):
                ids += self._word_ids(word)
        return ids

    def _split_added(self, text: str) -> list[tuple[str, bool]]:
        if not self.added:
            return [(text, False)]
        pieces: list[tuple[str, bool]] = []
        start = i = 0
        while i < len(text):
            match = next((t for t in self.added if text.startswith(t, i)), None)
            if match is None:
                i += 1
                continue
            if start < i:
                pieces.append((text[start:i], False))
            pieces.append((match, True))
            i = start = i + len(match)
        if start < len(text):
            pieces.append((text[start:], False))
        return pieces

    def _normalize(self, text: str) -> str:
        if self.clean_text:
            kept = []
            for char in text:
                code = ord(char)
                # control, format, private-use and surrogate characters go; unassigned ones (Cn) stay, as in
                # the Rust tokenizer
                if code == 0 or code == 0xFFFD or (char not in "\t\n\r"
                                                   and unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs")):
                    continue
                kept.append(" " if char in _WHITESPACE else char)
            text = "".join(kept)
        if self.chinese:
            text = "".join(f" {char} " if _is_cjk(ord(char)) else char for char in text)
        if self.strip_accents:
            text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
        if self.lowercase:
            text = "".join(char.lower() for char in text)  # char by char, as the Rust tokenizer does (Σ → σ)
        return text

    @staticmethod
    def _words(text: str) -> list[str]:
        words: list[str] = []
        current: list[str] = []
        for char in text:
            if char in _WHITESPACE:
                if current:
                    words.append("".join(current))
                    current = []
            elif _is_punctuation(char):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(char)
            else:
                current.append(char)
        if current:
            words.append("".join(current))
        return words

    def _word_ids(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_chars:
            return [self.unk]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                found = self.ids.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                ids = [self.unk]
                break
            ids.append(found)
            start = end
        if len(self._cache) < 100_000:
            self._cache[word] = ids
        return ids


class TransformerText:
    """Rows → token id lists of a fine-tuned transformer: the text columns joined with a newline, WordPiece
    ids inside the special tokens, a long text cut to its head, tail or head+tail like the factory does."""

    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        self.spec = spec
        vocab = (folder / spec["vocab_file"]).read_text("utf-8").split("\n")
        self.tokenizer = WordPiece(spec["tokenizer"], vocab[:int(spec["vocab_size"])])
        self.prefix_ids, self.suffix_ids = list(spec["prefix_ids"]), list(spec["suffix_ids"])
        self.max_length, self.keep, self.pad_id = int(spec["max_length"]), spec["keep"], int(spec["pad_id"])

    def text(self, row: dict[str, Any]) -> str:
        return _joined_text(row, self.spec["text_columns"])

    def ids(self, text: str) -> list[int]:
        body = self.tokenizer.encode(text)
        before, after = len(self.prefix_ids), len(self.suffix_ids)
        room = max(1, self.max_length - before - after)
        if len(body) > room:
            if self.keep == "head":
                body = body[:room]
            else:
                head = room // 4 if self.keep == "head+tail" else 0
                body = body[:head] + body[len(body) - (room - head):]
        return (self.prefix_ids + body + self.suffix_ids) or [self.pad_id]

    def transform(self, rows: list[dict[str, Any]]) -> list[list[int]]:
        return [self.ids(self.text(row)) for row in rows]


# -- the model ----------------------------------------------------------------------------------------
class EdgeModel:
    """A loaded edge bundle: `predict(rows)` answers like the factory's served product."""

    def __init__(self, folder: str | Path, model_file: str | None = None) -> None:
        import onnxruntime as ort

        folder = Path(folder)
        self.spec = json.loads((folder / "preprocess.json").read_text("utf-8"))
        if self.spec.get("format") != FORMAT:
            raise ValueError(f"{folder / 'preprocess.json'}: not a {FORMAT} preprocessing file")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(folder / (model_file or self.spec["model_file"])), options,
                                            providers=["CPUExecutionProvider"])
        pipeline = self.spec["pipeline"]
        self.pipeline: Tabular | TextTfidf | TransformerText = (
            TransformerText(pipeline, folder) if pipeline["kind"] == "transformer" else
            TextTfidf(pipeline) if pipeline["kind"] == "text" else Tabular(pipeline))
        self.output = self.spec["output"]

    @property
    def feature_names(self) -> list[str]:
        return [f["name"] for f in self.spec["features"]]

    @property
    def classifier(self) -> bool:
        """The model answers in classes (preprocess.json lists them); else it answers values (regression)."""
        return "classes" in self.spec

    def scores(self, rows: list[dict[str, Any]]) -> np.ndarray:
        """The model's raw answer: class probabilities (n, classes) or regression values (n,)."""
        if isinstance(self.pipeline, TransformerText):
            out = self._transformer_scores(self.pipeline.transform(rows))
        elif isinstance(self.pipeline, TextTfidf):
            index, value = self.pipeline.transform(rows)
            out = self._run({"indices": index, "values": value})
        else:
            out = self._run({"X": self.pipeline.transform(rows).astype(np.float32)})
        if not self.classifier:
            return out.reshape(-1)
        columns = self.spec["proba_columns"]
        full = np.zeros((out.shape[0], len(self.spec["classes"])))
        full[:, columns] = out
        return full

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        return np.asarray(self.session.run([self.output], feeds)[0], dtype=np.float64)

    def _transformer_scores(self, ids: list[list[int]]) -> np.ndarray:
        """Forward passes over length-sorted batches (little padding, masked), answers in the input order."""
        pad, size = self.pipeline.pad_id, int(self.spec["pipeline"].get("batch_size", 32))  # type: ignore[union-attr]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: np.ndarray | None = None
        for start in range(0, len(order), size):
            batch = order[start:start + size]
            width = max(len(ids[i]) for i in batch)
            input_ids = np.full((len(batch), width), pad, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for r, i in enumerate(batch):
                input_ids[r, :len(ids[i])] = ids[i]
                mask[r, :len(ids[i])] = 1
            answer = self._run({"input_ids": input_ids, "attention_mask": mask})
            if out is None:
                out = np.zeros((len(ids), answer.shape[1]))
            out[batch] = answer
        return out if out is not None else np.zeros((0, len(self.spec["proba_columns"])))

    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """{"predictions": [...]} (+ "probabilities": [{class: p}] for classification)."""
        if not rows:
            return {"predictions": []}
        scores = self.scores(rows)
        if not self.classifier:
            return {"predictions": [float(v) for v in scores]}
        classes = [str(c) for c in self.spec["classes"]]
        return {"predictions": self.labels(scores),
                "probabilities": [{c: round(float(p), 6) for c, p in zip(classes, row, strict=True)}
                                  for row in scores]}

    def labels(self, proba: np.ndarray) -> list[Any]:
        classes = [str(c) for c in self.spec["classes"]]
        threshold = self.spec.get("threshold")
        if self.spec.get("multi_label"):
            chosen = proba >= (0.5 if threshold is None else threshold)
            if self.spec.get("at_least_one", True) and len(proba):
                empty = ~chosen.any(axis=1)
                chosen[empty, proba[empty].argmax(axis=1)] = True
            return [[classes[k] for k in np.flatnonzero(row)] for row in chosen]
        if threshold is not None and proba.shape[1] == 2:
            index = (proba[:, 1] >= threshold).astype(int)
        else:
            index = proba.argmax(axis=1)
        return [classes[k] for k in index]


# -- reading input files: the factory's encoding detection (mofang.data.encoding), standard library only ------
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32", "UTF-32"), (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
         (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"), (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"))
_GB = (("gbk", "GBK"), ("gb18030", "GB18030"))
_BIG5 = (("big5", "Big5"), ("cp950", "Big5"), ("big5hkscs", "Big5"))
_MAGIC = {b"PK\x03\x04": "a zip/xlsx file", b"PAR1": "a parquet file", b"%PDF": "a PDF file",
          b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"SQLite format 3": "an SQLite database",
          b"\x1f\x8b": "a gzip archive"}
_CUT_REASONS = ("unexpected end of data", "incomplete multibyte sequence", "truncated data")
SCORE_SAMPLE = 200_000  # characters scored per candidate decoding
CUT_CHARACTER_BYTES = 3  # a file cut off mid-write may end inside a character of at most this many bytes
BIG5_MARGIN = 0.1  # Big5 must be this much more plausible than GBK: short texts tie and GBK is far more common
_COMMON: set[str] = set()


def decode_bytes(data: bytes, encoding: str = "auto", source: str = "input") -> tuple[str, str]:
    """(text, encoding) of a text file's bytes, `encoding` named or "auto": a BOM, else UTF-8, else the more
    plausible of GBK/GB18030 and Big5; ValueError saying why for anything else (binary data, another code page)."""
    if encoding.lower() != "auto":
        try:
            return _decode_to_end(data, encoding), encoding
        except LookupError:
            raise ValueError(f"{source}: unknown encoding '{encoding}'") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{source}: not valid {encoding} text (byte {exc.start}, line "
                             f"{_line(data, exc.start)}: {exc.reason}); try --encoding auto") from None
    for bom, codec, label in _BOMS:  # UTF-32 first: its little-endian BOM starts like UTF-16's
        if data.startswith(bom):
            text = data.decode(codec, errors="strict")
            if "\x00" in text:
                raise ValueError(f"{source}: binary data behind a {label} byte-order mark, not text")
            return text, label
    head = data[:16]
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise ValueError(f"{source}: this is {what}, not a CSV or JSON file of rows")
    if b"\x00" in data:
        offset = data.find(b"\x00")
        raise ValueError(f"{source}: binary data (a NUL byte at offset {offset}, line "
                         f"{_line(data, offset)}), not text")
    try:
        return _decode_to_end(data, "utf-8-sig"), "UTF-8-BOM" if data.startswith(codecs.BOM_UTF8) else "UTF-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    gb, big5 = _first_decoding(data, _GB), _first_decoding(data, _BIG5)
    if gb is not None and big5 is not None:
        return big5 if _plausibility(big5[0]) > _plausibility(gb[0]) + BIG5_MARGIN else gb
    if gb is not None or big5 is not None:
        return gb or big5  # type: ignore[return-value]
    offset = utf8_error.start
    raise ValueError(f"{source}: cannot detect the text encoding: byte {offset} (0x{data[offset]:02x}, line "
                     f"{_line(data, offset)}) is not valid UTF-8, and the file is not GBK, GB18030 or "
                     "Big5 either; save it as UTF-8, or name its encoding with --encoding")


def _line(data: bytes, offset: int) -> int:
    return data[:offset].count(b"\n") + 1


def _decode_to_end(data: bytes, codec: str) -> str:
    """The text; a last character cut off mid-write is left out, any other undecodable byte raises."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        lead = exc.reason == "truncated data" or 0x81 <= data[exc.start] <= 0xFE
        if exc.reason not in _CUT_REASONS or exc.end < len(data) or exc.start < len(data) - CUT_CHARACTER_BYTES \
                or not lead:
            raise
        return data[:exc.start].decode(codec)


def _first_decoding(data: bytes, names: tuple[tuple[str, str], ...]) -> tuple[str, str] | None:
    for codec, label in names:
        try:
            return _decode_to_end(data, codec), label
        except UnicodeDecodeError:
            continue
    return None


def _plausibility(text: str) -> float:
    """Share of the non-ASCII characters that are common Chinese characters or CJK punctuation."""
    sample = [c for c in text[:SCORE_SAMPLE] if not c.isascii()]
    if not sample:
        return 1.0
    if not _COMMON:  # GB2312 level 1 and Big5 level 1, taken from the codecs themselves
        for codec, leads, trails in (("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)),
                                     ("big5", range(0xA4, 0xC7), [*range(0x40, 0x7F), *range(0xA1, 0xFF)])):
            for lead in leads:
                for trail in trails:
                    try:
                        _COMMON.add(bytes((lead, trail)).decode(codec))
                    except UnicodeDecodeError:
                        continue
    punctuation = ("\u3000" <= c <= "\u303f" or "\uff00" <= c <= "\uffef" or c in "“”‘’…—·" for c in sample)
    return sum(c in _COMMON or p for c, p in zip(sample, punctuation, strict=True)) / len(sample)


def read_rows(source: str, encoding: str = "auto") -> list[dict[str, Any]]:
    """Rows from a CSV file, a JSON file (a list of objects, or {"rows": [...]}) or stdin ("-"), in any
    encoding `decode_bytes` reads."""
    data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    text, _ = decode_bytes(data, encoding, "stdin" if source == "-" else source)
    stripped = text.lstrip("\ufeff \t\r\n")
    if stripped.startswith(("[", "{")):
        loaded = json.loads(stripped)
        rows = loaded.get("rows") if isinstance(loaded, dict) else loaded
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{source}: expected a JSON list of objects (or {{\"rows\": [...]}})")
        return rows
    header = stripped.split("\n", 1)[0]
    separator = "," if "," in header or not any(c in header for c in "\t;|") else max("\t;|", key=header.count)
    return [dict(row) for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")), delimiter=separator)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a Mofang edge bundle on CSV or JSON rows.")
    parser.add_argument("rows", help="a .csv or .json file of input rows, or - for stdin")
    parser.add_argument("--bundle", default=str(Path(__file__).resolve().parent),
                        help="the unpacked bundle folder (default: this file's folder)")
    parser.add_argument("--out", help="write a JSON list of answers here instead of JSON lines on stdout")
    parser.add_argument("--encoding", default="auto",
                        help="the input's text encoding (default: detected; UTF-8/BOM, GBK, GB18030, Big5)")
    args = parser.parse_args(argv)
    model = EdgeModel(args.bundle)
    try:
        rows = read_rows(args.rows, args.encoding)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    unknown = sorted({k for row in rows for k in row} - set(model.feature_names) - set(model.spec.get("ignored", [])))
    if unknown:
        print(f"warning: ignoring unknown fields: {', '.join(unknown)}", file=sys.stderr)
    answer = model.predict(rows)
    probabilities = answer.get("probabilities")
    answers = [{"prediction": p, **({"probabilities": probabilities[i]} if probabilities else {})}
               for i, p in enumerate(answer["predictions"])]
    if args.out:
        Path(args.out).write_text(json.dumps(answers, ensure_ascii=False), "utf-8")
    else:
        for item in answers:
            print(json.dumps(item, ensure_ascii=False))
    return 0


def _joined_text(row: dict[str, Any], columns: list[str]) -> str:
    """The row's text columns joined by a line break, as the model read them (missing values empty)."""
    parts = []
    for name in columns:
        value = row.get(name)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            parts.append("")
        else:
            parts.append(value if isinstance(value, str) else str(value))
    return "\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())

