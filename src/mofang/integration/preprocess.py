"""The feature pipeline of a candidate as data (JSON) for the edge runner: no pickled code leaves the factory."""

from __future__ import annotations

from typing import Any

import numpy as np

from mofang.core.errors import MofangError
from mofang.integration.edge_runner import FORMAT
from mofang.models.features import FeaturePipeline
from mofang.models.text.pipeline import TextPipeline


class NotExportable(MofangError):
    """This candidate (family, pipeline or estimator) cannot become an edge bundle; the message says why."""


def pipeline_spec(pipeline: Any) -> dict[str, Any]:
    """A FeaturePipeline or a TextPipeline (character n-gram TF-IDF) as a JSON-ready dict."""

    if isinstance(pipeline, FeaturePipeline):
        return _tabular(pipeline)
    if isinstance(pipeline, TextPipeline):
        return _text(pipeline)
    raise NotExportable(f"a {type(pipeline).__name__} feature pipeline has no data form for the edge runner")


def edge_spec(candidate: Any, schema: dict[str, Any], model_file: str, output: str,
              proba_columns: list[int] | None, pipeline: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole `preprocess.json`: features, pipeline (given, or that of the candidate's feature pipeline),
    how to read the ONNX output, classes, threshold."""
    spec: dict[str, Any] = {
        "format": FORMAT, "task": candidate.task, "family": candidate.family, "model_file": model_file,
        "output": output, "features": [dict(f) for f in candidate.features],
        "ignored": list(schema.get("ignored") or []),
        "pipeline": pipeline if pipeline is not None else pipeline_spec(candidate.pipeline_),
    }
    if candidate.is_classifier:
        spec.update(classes=[str(c) for c in candidate.classes_], proba_columns=proba_columns,
                    threshold=getattr(candidate, "threshold_", None), multi_label=candidate.is_multi_label,
                    at_least_one=bool(getattr(candidate, "at_least_one_", True)))
    return spec


def _tabular(pipeline: FeaturePipeline) -> dict[str, Any]:
    features = [_feature(f) for f in pipeline.features]
    n_numeric = len(pipeline.numeric_columns_)
    spec: dict[str, Any] = {"kind": "tabular", "mode": pipeline.mode, "features": features,
                            "width": len(pipeline.sources_)}
    if pipeline.mode == "tree":
        spec["categories"] = {name: [str(c) for c in cats] for name, cats in pipeline.categories_.items()}
        return spec
    spec.update(medians=_floats(pipeline.medians_), clip_low=_floats(pipeline.clip_low_),
                clip_high=_floats(pipeline.clip_high_), indicators=[int(i) for i in pipeline.indicators_],
                mean=_floats(pipeline.mean_), scale=_floats(pipeline.scale_), onehot={})
    for name, encoder in pipeline.encoders_.items():
        categories = [str(c) for c in encoder.categories_[0]]
        infrequent = getattr(encoder, "infrequent_categories_", [None])[0]
        infrequent = [str(c) for c in infrequent] if infrequent is not None else None
        if getattr(encoder, "drop_idx_", None) is not None:
            raise NotExportable(f"one-hot encoding of '{name}' drops a category; the edge runner does not")
        columns = [c for c in categories if not infrequent or c not in infrequent]
        spec["onehot"][name] = {"columns": columns, "infrequent": infrequent}
    expected = n_numeric + len(pipeline.indicators_) + sum(
        len(e["columns"]) + bool(e["infrequent"]) for e in spec["onehot"].values())
    if expected != spec["width"]:
        raise NotExportable(f"the linear feature pipeline has {spec['width']} columns, its data form {expected}")
    return spec


def _text(pipeline: Any) -> dict[str, Any]:
    if pipeline.mode != "text-sparse":
        raise NotExportable("a raw-text family tokenizes inside the model; no data form for the edge runner")
    vectorizers, offset = [], 0
    for name, vectorizer in pipeline.vectorizers_:
        if name != "char" or vectorizer.analyzer != "char":
            raise NotExportable("word n-grams need jieba segmentation, which the numpy-only edge runner lacks")
        if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.lowercase or vectorizer.binary:
            raise NotExportable("only l2-normalised TF-IDF with idf, no lower-casing, is exported")
        vocabulary = {str(term): int(j) for term, j in vectorizer.vocabulary_.items()}
        vectorizers.append({"offset": offset, "ngram_range": list(vectorizer.ngram_range),
                            "vocabulary": vocabulary, "idf": _floats(vectorizer.idf_),
                            "sublinear_tf": bool(vectorizer.sublinear_tf)})
        offset += len(vocabulary)
    spec: dict[str, Any] = {"kind": "text", "text_columns": list(pipeline.text_columns), "vectorizers": vectorizers,
                            "tabular": None, "tabular_offset": offset}
    if pipeline.tabular_ is not None:
        spec["tabular"] = _tabular(pipeline.tabular_)
        offset += spec["tabular"]["width"]
    spec["width"] = offset
    return spec


def _feature(feature: dict[str, Any]) -> dict[str, Any]:
    out = {"name": feature["name"], "kind": feature["kind"]}
    if feature.get("dayfirst") is not None:
        out["dayfirst"] = bool(feature["dayfirst"])
    if feature.get("aliases"):
        out["aliases"] = {str(k): str(v) for k, v in feature["aliases"].items()}
    return out


def _floats(values: Any) -> list[float]:
    """JSON numbers; infinities (unbounded clipping) as ±1e308, which numpy clips the same way."""
    array = np.asarray(values, dtype=float)
    return [float(v) for v in np.clip(array, -1e308, 1e308)]
