"""Estimators as ONNX graphs (LightGBM via onnxmltools, sklearn linear models via skl2onnx, the calibrated
linear text model built from its weights) and dynamic int8 quantization for edge targets."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mofang.integration.preprocess import NotExportable

OPSET = 17
ML_OPSET = 3
QUANTIZABLE = ("MatMul", "Gemm", "Gather")


@dataclass
class OnnxModel:
    """An exported estimator: the serialized graph, the output holding the answer and, for classifiers,
    which class (index into the candidate's classes) each output column is."""

    data: bytes
    output: str
    proba_columns: list[int] | None
    inputs: str  # "dense" (X: float rows × columns), "sparse" (indices + values per row) or "tokens" (ids + mask)


def export_estimator(candidate: Any, width: int) -> OnnxModel:
    """The candidate's estimator as ONNX over `width` transformed input columns; NotExportable says why not."""
    estimator = candidate.estimator_
    name = type(estimator).__name__
    if candidate.is_multi_label and name not in ("CalibratedLinear", "TransformerClassifier"):
        raise NotExportable(f"multi-label {candidate.family} ({name}) has no ONNX export yet")
    if name in ("LGBMClassifier", "LGBMRegressor"):
        exported = _lightgbm(candidate, estimator, width)
        if getattr(candidate.pipeline_, "mode", None) == "text-sparse":  # trees over the sparse TF-IDF
            exported = OnnxModel(sparse_input(exported.data, width), exported.output, exported.proba_columns,
                                 "sparse")
        return exported
    if name in ("LogisticRegression", "Ridge"):
        return _sklearn_linear(candidate, estimator, width)
    if name == "CalibratedLinear":
        return _calibrated_linear(candidate, estimator)
    if name == "TransformerClassifier":  # tokens in, not feature columns: see transformer_export
        from mofang.integration.transformer_export import export_transformer

        return export_transformer(candidate)
    check_exportable(candidate)
    raise NotExportable(f"family '{candidate.family}' ({name}) has no ONNX converter in the factory")


def check_exportable(candidate: Any) -> None:
    """Raise NotExportable naming why when `candidate` is a bag or an ensemble (several models, each with its own
    preprocessing): the product then ships its joblib model, served by /predict."""
    estimator = getattr(candidate, "estimator_", None)
    if type(estimator).__name__ == "BaggedModel":
        raise NotExportable(f"{candidate.family} is bagged ({len(estimator.estimators_)} fold models averaged): a bag "
                            "has no ONNX export yet; the product ships its joblib model (an edge order trains "
                            "single models)")
    if estimator is None and getattr(candidate, "members_", None):
        raise NotExportable(f"an ensemble of {', '.join(m.name for m in candidate.members_)} has no ONNX export yet; "
                            "the product ships its joblib model (an edge order trains single models, no ensembles)")


def proba_columns(candidate: Any, estimator: Any, width: int) -> list[int]:
    known = getattr(estimator, "classes_", None)
    if width == len(candidate.classes_) and (known is None or candidate.is_multi_label):
        return list(range(width))
    return [int(c) for c in known]


def _lightgbm(candidate: Any, estimator: Any, width: int) -> OnnxModel:
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    if getattr(estimator, "n_features_in_", width) != width:
        raise NotExportable(f"the LightGBM model expects {estimator.n_features_in_} inputs, the pipeline gives {width}")
    model = onnxmltools.convert_lightgbm(estimator, initial_types=[("X", FloatTensorType([None, width]))],
                                         zipmap=False, target_opset=15)
    if candidate.is_classifier:
        classes = len(getattr(estimator, "classes_", []))
        return OnnxModel(model.SerializeToString(), "probabilities",
                         proba_columns(candidate, estimator, classes), "dense")
    return OnnxModel(model.SerializeToString(), "variable", None, "dense")


def _sklearn_linear(candidate: Any, estimator: Any, width: int) -> OnnxModel:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(estimator): {"zipmap": False}} if candidate.is_classifier else None
    model = convert_sklearn(estimator, initial_types=[("X", FloatTensorType([None, width]))], options=options,
                            target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET})
    if candidate.is_classifier:
        return OnnxModel(model.SerializeToString(), "probabilities",
                         proba_columns(candidate, estimator, len(estimator.classes_)), "dense")
    return OnnxModel(model.SerializeToString(), "variable", None, "dense")


def _calibrated_linear(candidate: Any, estimator: Any) -> OnnxModel:
    """indices, values (a padded sparse row) → Gather the class weights → weighted sum → + intercept →
    calibration (scale, offset) → softmax (multiclass) or sigmoid (binary, multi-label)."""
    from onnx import TensorProto, helper, numpy_helper

    coef = np.asarray(estimator.coef_, dtype=np.float32)  # (k, V)
    k = coef.shape[0]
    init = [numpy_helper.from_array(np.ascontiguousarray(coef.T), "W"),
            numpy_helper.from_array(np.asarray(estimator.intercept_, dtype=np.float32), "intercept"),
            numpy_helper.from_array(np.asarray(estimator.scale_, dtype=np.float32), "scale"),
            numpy_helper.from_array(np.asarray(estimator.offset_, dtype=np.float32), "offset"),
            numpy_helper.from_array(np.asarray([2], dtype=np.int64), "axis2"),
            numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axis1"),
            numpy_helper.from_array(np.asarray([1.0], dtype=np.float32), "one")]
    nodes = [helper.make_node("Gather", ["W", "indices"], ["weights"], axis=0),
             helper.make_node("Unsqueeze", ["values", "axis2"], ["values3"]),
             helper.make_node("Mul", ["weights", "values3"], ["terms"]),
             helper.make_node("ReduceSum", ["terms", "axis1"], ["raw"], keepdims=0),
             helper.make_node("Add", ["raw", "intercept"], ["score"]),
             helper.make_node("Mul", ["score", "scale"], ["scaled"]),
             helper.make_node("Add", ["scaled", "offset"], ["logits"])]
    multi_label = bool(getattr(estimator, "multi_label_", False))
    if multi_label:
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["probabilities"]))
    elif k == 1:  # binary: P(class 1) from one score
        nodes += [helper.make_node("Sigmoid", ["logits"], ["positive"]),
                  helper.make_node("Sub", ["one", "positive"], ["negative"]),
                  helper.make_node("Concat", ["negative", "positive"], ["probabilities"], axis=1)]
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1))
    width = k if multi_label or k > 1 else 2
    graph = helper.make_graph(
        nodes, "mofang_calibrated_linear",
        [helper.make_tensor_value_info("indices", TensorProto.INT64, ["N", "L"]),
         helper.make_tensor_value_info("values", TensorProto.FLOAT, ["N", "L"])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", width])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mofang")
    model.ir_version = 8
    return OnnxModel(model.SerializeToString(), "probabilities", proba_columns(candidate, estimator, width),
                     "sparse")


def sparse_input(data: bytes, width: int) -> bytes:
    """A model over dense rows `X` (n × width) rewritten to take the runner's sparse rows (`indices`,
    `values`, zero-padded): X = zeros scattered with `values` at `indices` (added, so padding adds 0)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load_from_string(data)
    graph = model.graph
    dense = graph.input[0].name
    init = [numpy_helper.from_array(np.asarray([0], dtype=np.int64), "sparse_zero"),
            numpy_helper.from_array(np.asarray([width], dtype=np.int64), "sparse_width")]
    nodes = [helper.make_node("Shape", ["indices"], ["sparse_shape"]),
             helper.make_node("Gather", ["sparse_shape", "sparse_zero"], ["sparse_rows"], axis=0),
             helper.make_node("Concat", ["sparse_rows", "sparse_width"], ["sparse_dense_shape"], axis=0),
             helper.make_node("ConstantOfShape", ["sparse_dense_shape"], ["sparse_zeros"],
                              value=numpy_helper.from_array(np.zeros(1, dtype=np.float32))),
             helper.make_node("ScatterElements", ["sparse_zeros", "indices", "values"], [dense], axis=1,
                              reduction="add")]
    graph.initializer.extend(init)
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + old)
    del graph.input[:]
    graph.input.extend([helper.make_tensor_value_info("indices", TensorProto.INT64, ["N", "L"]),
                        helper.make_tensor_value_info("values", TensorProto.FLOAT, ["N", "L"])])
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            opset.version = max(opset.version, 16)  # ScatterElements with reduction
    onnx.checker.check_model(model)
    return model.SerializeToString()


def quantize_int8(data: bytes) -> bytes | None:
    """Dynamic int8 quantization of the weight matrices; None when the graph has none (tree ensembles,
    sklearn's linear operators), which then stays as it is."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load_from_string(data)
    weights = {t.name for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) >= 2}
    ops = [n.op_type for n in model.graph.node if n.op_type in QUANTIZABLE and weights & set(n.input)]
    if not ops:
        return None
    with tempfile.TemporaryDirectory(prefix="mofang-quant-") as tmp:
        source, target = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        source.write_bytes(data)
        quiet = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)  # its "consider pre-processing" advice, on every call
        try:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8,
                             op_types_to_quantize=sorted(set(ops)))
        finally:
            logging.getLogger().setLevel(quiet)
        return target.read_bytes()
