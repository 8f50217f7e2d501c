"""Integration workshop: package the winning candidate as a self-contained, served bundle."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np

from mofang.core.errors import MofangError
from mofang.devices.capacity import Needs
from mofang.integration.agent_tool import write_tool_file
from mofang.integration.model_card import model_card
from mofang.products.monitoring import write_reference
from mofang.station import Station, StationContext

BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", "report.html")


class IntegrationWorkshop(Station):
    """Builds the bundle folder (model, input schema, metadata, model card, report) and smoke-tests it
    by loading it the way the server does."""

    name = "integration"
    inputs = ("dataset", "winner", "evaluation")
    outputs = ("bundle",)
    processes = ("package", "edge_bundle", "smoke_test")
    resources = Needs(cpus=1, memory_gb=1)  # the bundle loaded the way the server does; the edge export

    def package(self, ctx: StationContext) -> str:
        if ctx.order.task.value == "time-series-forecast":
            from mofang.products.forecast import package_forecast

            return package_forecast(ctx)
        if ctx.order.task.value == "instruction-tuning":  # a chat model: see mofang.products.llm
            from mofang.products.llm import package_llm

            return package_llm(ctx)
        dataset, winner, evaluation = ctx.load("dataset"), ctx.load("winner"), ctx.load("evaluation")
        folder = ctx.path("bundle")
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        shutil.copyfile(evaluation.get("delivered_model_path") or winner["model_path"], folder / "model.joblib")
        schema = input_schema(dataset)
        (folder / "schema.json").write_text(json.dumps(schema, ensure_ascii=False, indent=2), "utf-8")
        meta = {
            "product": ctx.order.id, "tenant": ctx.tenant, "order_id": ctx.order.id, "job_id": ctx.job_id,
            "task": ctx.order.task.value, "target": dataset["target"], "family": winner["family"],
            "candidate": winner["name"], "dataset_digest": dataset["digest"], "rows": dataset["rows"],
            "features": dataset["features"], "dropped": dataset.get("dropped", []),
            "classes": dataset.get("classes"), "multi_label": bool(dataset.get("multi_label")),
            "label_separator": dataset.get("label_separator"), "metrics": evaluation["metrics"],
            "gate": evaluation["gate"], "verdict": evaluation["verdict"],
            "deployment": ctx.order.deployment.target, "reason": winner.get("reason", ""),
            "refit": evaluation.get("refit"),
        }
        if dataset.get("retrieval"):
            meta["retrieval"] = _retrieval_meta(dataset, winner)
        if dataset.get("anomaly"):
            from mofang.products.anomaly import anomaly_meta

            meta["anomaly"] = anomaly_meta(dataset, winner)
        (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str),
                                              "utf-8")
        (folder / "model_card.md").write_text(model_card(meta), "utf-8")
        write_reference(folder, ctx)  # the training reference that served traffic is checked against for drift
        write_tool_file(folder, schema, meta)  # the OpenAI / MCP tool description of the product
        shutil.copyfile(evaluation["report_path"], folder / "report.html")
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        ctx.metric(bundle_mb=round(size_mb, 3))
        ctx.save("bundle_draft", {"path": str(folder), "files": list(BUNDLE_FILES)})
        return f"bundle of {len(BUNDLE_FILES)} files, {size_mb:.2f} MB"

    def edge_bundle(self, ctx: StationContext) -> str:
        """The signed edge archive (ONNX + preprocessing as data + runner), parity-checked; see edge_process."""
        if ctx.order.task.value == "time-series-forecast":
            from mofang.products.forecast import edge_forecast

            return edge_forecast(ctx)
        if ctx.order.task.value == "instruction-tuning":
            from mofang.products.llm import edge_llm

            return edge_llm(ctx)
        from mofang.integration.edge_process import edge_bundle

        return edge_bundle(ctx)

    def smoke_test(self, ctx: StationContext) -> str:
        from mofang.products.serving import load_bundle

        draft = ctx.load("bundle_draft")
        test = ctx.load("test")
        bundle = load_bundle(draft["path"])
        if bundle.is_retrieval:
            return self._smoke_test_retrieval(ctx, bundle, test, draft)
        if bundle.schema["task"] == "time-series-forecast":
            from mofang.products.forecast import smoke_test_forecast

            return smoke_test_forecast(ctx, bundle, draft)
        if bundle.schema["task"] == "instruction-tuning":
            from mofang.products.llm import smoke_test_llm

            return smoke_test_llm(ctx, bundle, draft)
        if bundle.schema["task"] == "anomaly-detection":
            from mofang.products.anomaly import smoke_test_anomaly

            return smoke_test_anomaly(ctx, bundle, test, draft)
        rows = test.head(16)
        reference = ctx.load("dataset")
        inputs = rows[[f["name"] for f in reference["features"]]]
        served = bundle.predict_records(inputs.to_dict(orient="records"))
        direct = bundle.candidate.predict(inputs)
        if getattr(bundle.candidate, "is_multi_label", False):  # label lists: compare them as lists
            if [list(map(str, p)) for p in served["predictions"]] != [list(map(str, p)) for p in direct]:
                raise MofangError("the packaged model answers differently from the trained one")
        elif not np.array_equal(np.asarray(served["predictions"], dtype=object), np.asarray(direct, dtype=object)):
            if not _close(served["predictions"], direct):
                raise MofangError("the packaged model answers differently from the trained one")
        ctx.save("bundle", draft)
        return f"bundle loads and answers {len(rows)} test rows like the trained model"


    @staticmethod
    def _smoke_test_retrieval(ctx: StationContext, bundle: Any, test: Any, draft: dict[str, Any]) -> str:
        """The packaged knowledge base answers test questions exactly like the trained one."""
        from mofang.evaluation.station import _questions
        from mofang.models.retrieval import RetrievalModel

        trained = RetrievalModel.load(ctx.load("winner")["model_path"])
        questions = _questions(trained, test)[:16]
        for question in questions:
            served, direct = bundle.ask(question, 5), trained.ask(question, 5)
            if [a["answer"] for a in served["answers"]] != [a["answer"] for a in direct["answers"]] \
                    or served["no_answer"] != direct["no_answer"]:
                raise MofangError("the packaged knowledge base answers differently from the trained one")
        ctx.save("bundle", draft)
        return f"bundle loads and answers {len(questions)} test questions like the trained model"


def _retrieval_meta(dataset: dict[str, Any], winner: dict[str, Any]) -> dict[str, Any]:
    """What a retrieval product's metadata adds: how it is asked and what it returns."""
    from mofang.models.retrieval import RetrievalModel

    model = RetrievalModel.load(winner["model_path"])
    info = dataset["retrieval"]
    return {"mode": info["mode"], "question": info["text"][0] if info["text"] else None,
            "indexed": info["text"][1:] or info["text"], "answer": dataset["target"], "sources": info["sources"],
            "passages": len(model.kb), "ranking": model.family,
            "no_answer_threshold": model.no_answer_.threshold if model.no_answer_ else None}


def input_schema(dataset: dict[str, Any]) -> dict[str, Any]:
    """The served input schema: one field per feature; the id, the target and the dropped columns of the
    training data are accepted and ignored."""
    ignored = [c for c in (dataset.get("id_column"), dataset["target"]) if c]
    ignored += [d["name"] for d in dataset.get("dropped", []) if d["name"] not in ignored]
    schema = {"task": dataset["task"], "target": dataset["target"], "id_column": dataset.get("id_column"),
              "features": dataset["features"], "classes": dataset.get("classes"), "ignored": ignored}
    if dataset.get("multi_label"):
        schema["multi_label"] = True  # predictions are label lists
    if dataset.get("retrieval"):  # asked with one question (POST /ask), not rows
        from mofang.products.serving import MAX_ANSWERS, MAX_QUESTION_CHARS

        info = dataset["retrieval"]
        schema.update(question=info["text"][0] if info["text"] else None, sources=info["sources"],
                      max_question_chars=MAX_QUESTION_CHARS, max_answers=MAX_ANSWERS)
    return schema


def _close(a: Any, b: Any) -> bool:
    try:
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True))
    except (TypeError, ValueError):
        return False
