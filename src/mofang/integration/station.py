"""Integration workshop: package the winning candidate as a self-contained, served bundle."""

from __future__ import annotations

import json
import shutil
from typing import Any

import numpy as np

from mofang.core.errors import MofangError
from mofang.core.resources import Needs
from mofang.core.tasks import spec as task_spec
from mofang.evaluation.report import REPORT_FILES, copy_reports
from mofang.integration.agent_tool import write_tool_file
from mofang.integration.bundle import load_bundle
from mofang.integration.edge_process import edge_bundle
from mofang.integration.manifest import MANIFEST_FILE, build_manifest, sha256_file
from mofang.integration.model_card import model_card
from mofang.integration.reference import write_reference
from mofang.models.reproducible import is_reproducible, thread_settings
from mofang.station import Station, StationContext

BUNDLE_FILES = ("model.joblib", "schema.json", "metadata.json", "model_card.md", *REPORT_FILES)


class IntegrationWorkshop(Station):
    """Builds the bundle folder (model, input schema, metadata, model card, report) and smoke-tests it
    by loading it the way the server does. A task packages, exports or smoke-tests its products its own way
    through its `integration.*` overrides, and adds to the bundle's metadata through its `integration.metadata`
    hook (`metadata(dataset, winner) -> dict`)."""

    name = "integration"
    inputs = ("dataset", "winner", "evaluation")
    outputs = ("bundle",)
    processes = ("package", "edge_bundle", "smoke_test")
    resources = Needs(cpus=1, memory_gb=1)  # the bundle loaded the way the server does; the edge export

    def package(self, ctx: StationContext) -> str:
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
            "task": ctx.order.task, "target": dataset["target"], "family": winner["family"],
            "candidate": winner["name"], "dataset_digest": dataset["digest"], "rows": dataset["rows"],
            "features": dataset["features"], "dropped": dataset.get("dropped", []),
            "classes": dataset.get("classes"), "multi_label": bool(dataset.get("multi_label")),
            "label_separator": dataset.get("label_separator"), "metrics": evaluation["metrics"],
            "gate": evaluation["gate"], "verdict": evaluation["verdict"],
            "deployment": ctx.order.deployment.target, "reason": winner.get("reason", ""),
            "refit": evaluation.get("refit"),
        }
        files = list(BUNDLE_FILES)
        if is_reproducible(ctx.order):  # the build manifest beside the metadata, its digest in it
            manifest = build_manifest(
                order=ctx.order.model_dump(mode="json"), dataset=dataset, plan=ctx.load("plan"),
                candidates=ctx.load("candidates"), winner=winner, model_path=folder / "model.joblib",
                test_metrics=evaluation["metrics"], threads=thread_settings())
            # keys kept in their order: the order's acceptance metrics are ordered (the first is the primary one)
            text = json.dumps(manifest, ensure_ascii=False, indent=2, default=str)
            (folder / MANIFEST_FILE).write_text(text, "utf-8")
            meta.update(reproducible=True, model_digest=manifest["model_digest"],
                        manifest_digest=sha256_file(folder / MANIFEST_FILE))
            files.append(MANIFEST_FILE)
        task_meta = task_spec(ctx.order.task).hook("integration.metadata")  # what the task's products add
        if task_meta is not None:
            meta.update(task_meta(dataset, winner))
        (folder / "metadata.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2, default=str),
                                              "utf-8")
        (folder / "model_card.md").write_text(model_card(meta), "utf-8")
        write_reference(folder, ctx)  # the training reference that served traffic is checked against for drift
        write_tool_file(folder, schema, meta)  # the OpenAI / MCP tool description of the product
        copy_reports(evaluation["report_path"], folder)  # report.html and report.zh-CN.html
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
        ctx.metric(bundle_mb=round(size_mb, 3))
        ctx.save("bundle_draft", {"path": str(folder), "files": files})
        return f"bundle of {len(files)} files, {size_mb:.2f} MB"

    def edge_bundle(self, ctx: StationContext) -> str:
        """The signed edge archive (ONNX + preprocessing as data + runner), parity-checked; see edge_process."""
        return edge_bundle(ctx)

    def smoke_test(self, ctx: StationContext) -> str:
        """The bundle, loaded the way the server loads it, answers test rows like the trained model."""
        draft, bundle = packaged_bundle(ctx)
        test = ctx.load("test")
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


def packaged_bundle(ctx: StationContext) -> tuple[dict[str, Any], Any]:
    """The package process's bundle draft and the bundle loaded from it the way the server loads it: where every
    smoke test starts (a task's own `integration.smoke_test` too)."""
    draft = ctx.load("bundle_draft")
    return draft, load_bundle(draft["path"])


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
        from mofang.integration.bundle import MAX_ANSWERS, MAX_QUESTION_CHARS

        info = dataset["retrieval"]
        schema.update(question=info["text"][0] if info["text"] else None, sources=info["sources"],
                      max_question_chars=MAX_QUESTION_CHARS, max_answers=MAX_ANSWERS)
    return schema


def _close(a: Any, b: Any) -> bool:
    try:
        return bool(np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), equal_nan=True))
    except (TypeError, ValueError):
        return False
