"""The order schema: the single definition of what a customer can ask the line for."""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from mofang.core.metrics.ranges import out_of_range
from mofang.core.tasks import TaskSpec, UnknownTask, names_with, registered
from mofang.core.tasks import spec as task_spec

SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
FIELD_CHECKS = "mofang.order_checks"  # entry point group: an order field → a check(task, value) of a unit
NO_ACCEPTANCE = "none"  # `acceptance: none`: the order asks, explicitly, for no acceptance criterion at all
INTAKE = "intake"  # validation context key: the order is being placed (parse_order), not a stored spec re-read
MARKET_PREFIX = "market:"  # `base_model: market:NAME@V` names a published model, anything else a checkpoint


def known_task(value: str) -> str:
    """A registered task's name; otherwise ValueError naming the known ones and the likely one meant."""
    try:
        return task_spec(value).name
    except UnknownTask as exc:
        raise ValueError(str(exc)) from None


TaskName = Annotated[str, AfterValidator(known_task)]  # a field naming a task, checked against the registry

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_CRITERION = re.compile(r"^\s*(>=|<=|==|>|<)\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


class Strict(BaseModel):
    """Base for order sections: unknown keys are errors, never silently ignored."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Criterion(BaseModel):
    """One acceptance threshold, written in the order as e.g. ">= 0.80"."""

    op: str
    value: float

    @classmethod
    def parse(cls, text: Any) -> Criterion:
        if isinstance(text, Criterion):
            return text
        if isinstance(text, dict) and set(text) == {"op", "value"}:  # a serialized criterion
            return cls(op=text["op"], value=text["value"])
        if isinstance(text, int | float):
            raise ValueError(f"write a comparison such as '>= {text}', not a bare number")
        match = _CRITERION.match(str(text))
        if not match:
            raise ValueError(f"'{text}' is not a comparison; write e.g. '>= 0.80' or '<= 0.35'")
        return cls(op=match.group(1), value=float(match.group(2)))

    def holds(self, observed: float) -> bool:
        return bool(_OPS[self.op](observed, self.value))

    @model_serializer
    def _as_text(self) -> str:
        return str(self)

    def __str__(self) -> str:
        return f"{self.op} {self.value:.15g}"


class Join(Strict):
    """Join a source onto the result of the sources before it, on a key, instead of stacking it."""

    on: str | list[str] = Field(description="Key column(s) present on both sides")
    how: Literal["left", "inner"] = Field("left", description="left: keep every row before; inner: matched only")
    many: bool = Field(False, description="Allow a key repeated in this source (rows are multiplied)")

    @field_validator("on")
    @classmethod
    def _some_key(cls, value: str | list[str]) -> str | list[str]:
        keys = [value] if isinstance(value, str) else value
        if not keys or any(not k.strip() for k in keys):
            raise ValueError("'on' needs at least one non-empty column name")
        if len(set(keys)) != len(keys):
            raise ValueError(f"'on' names a column twice: {keys}")
        return value

    @property
    def keys(self) -> list[str]:
        return [self.on] if isinstance(self.on, str) else list(self.on)


class Source(Strict):
    """Where the data is: a file (csv/tsv/xlsx/parquet/json/jsonl), a folder or archive of documents, or an
    SQL table or query."""

    path: Path | None = Field(None, description="File, folder or archive path; relative paths are taken from "
                                                "the order file")
    format: Literal["csv", "tsv", "xlsx", "xls", "parquet", "jsonl", "json", "documents"] | None = Field(
        None, description="File format; inferred from the suffix when absent (a folder, .zip, .tar.gz, .tgz or "
                          ".tar: documents — txt, md, html, docx, pdf, one row per file)")
    encoding: str = Field("auto", description="Text encoding; 'auto' detects UTF-8/BOM/GBK/GB18030/Big5")
    separator: str | None = Field(None, description="Field separator; sniffed when absent")
    sheet: str | int | None = Field(None, description="Excel sheet name or index, or '*' for every sheet with the "
                                                      "same header stacked (default: the first non-empty sheet)")
    url: str | None = Field(None, description="SQLAlchemy URL of a database")
    table: str | None = Field(None, description="Table to read (with url)")
    query: str | None = Field(None, description="SELECT query to read (with url)")
    join: Join | None = Field(None, description="Join onto the sources before this one on a key "
                                                "(default: stack rows)")
    strict: bool = Field(False, description="Refuse this source when its last row is cut off (fewer fields, an open "
                                            "quote) instead of dropping that row with a warning in the data card")

    @model_validator(mode="after")
    def _one_kind(self) -> Source:
        if (self.path is None) == (self.url is None):
            raise ValueError("give exactly one of 'path' (a file) or 'url' (a database)")
        if self.url is not None and (self.table is None) == (self.query is None):
            raise ValueError("a database source needs exactly one of 'table' or 'query'")
        if self.path is not None and (self.table or self.query):
            raise ValueError("'table'/'query' belong to a database source (with 'url'), not a file")
        return self

    @property
    def label(self) -> str:
        """A short human name of the source for messages."""
        if self.path is not None:
            return str(self.path)
        return f"{_redact_url(self.url or '')} ({self.table or 'query'})"


def _field_check(name: str) -> Callable[[str, Any], None] | None:
    """The check a unit registers for an order field (`mofang.order_checks`, e.g. the data workshop's for
    `recipe`): run while the order is parsed, so a bad value fails at intake with its YAML line, not mid-run."""
    for found in entry_points(group=FIELD_CHECKS, name=name):
        check: Callable[[str, Any], None] = found.load()
        return check
    return None


def _task_of(info: ValidationInfo) -> TaskSpec | None:
    """The spec of the order's task while its later fields are validated (None when `task` itself failed)."""
    name = info.data.get("task")
    return task_spec(name) if name is not None else None


def _tasks(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': task names for a message ('no' when there are none)."""
    if len(names) <= 1:
        return names[0] if names else "no"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _example_criterion(task: str) -> str:
    """A criterion of `task` to show in a message: its wizard's, else its default or first metric's."""
    spec = task_spec(task)
    if spec.wizard_criterion is not None:
        metric, condition = spec.wizard_criterion
    else:
        metric = spec.default_metric or next(iter(spec.metrics))
        condition = ">= 0.80" if spec.metrics[metric] == "higher" else "<= 0.20"
    return f"{metric}: '{condition}'"


def _redact_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class Columns(Strict):
    """Minimal authorization: the line reads only granted columns."""

    allow: list[str] | None = Field(None, description="If set, only these columns are read")
    deny: list[str] = Field(default_factory=list, description="Columns never read")

    def grants(self, column: str, *roles: str | None) -> bool:
        """Whether `column` may be read: never when denied; else when allowed, or one of the roles
        (target, id column) the order names."""
        if column in self.deny:
            return False
        return self.allow is None or column in self.allow or column in roles

class Acceptance(Strict):
    """What the product must meet on the held-out test split to be delivered. A placed order's `acceptance:`
    states at least one criterion — a metric, as a rule; a latency or size limit alone where no metric can be
    measured (documents without questions, unlabelled sensor data) — or is `acceptance: none`, delivered
    without any gate (`Acceptance.waived()`). A placed order without the section is refused
    (`Acceptance.absent()`, the default, says so): no order is delivered ungated by omission."""

    metrics: dict[str, Annotated[Criterion, BeforeValidator(Criterion.parse)]] = Field(default_factory=dict)
    p95_latency_ms: float | None = Field(None, gt=0, description="p95 latency of one-row prediction")
    max_model_mb: float | None = Field(None, gt=0, description="Largest allowed model size")
    max_robustness_drop: float | None = Field(
        None, ge=0, description="Largest allowed drop of the primary metric under any perturbation of the "
                                "task's robustness suite (absolute, e.g. 0.05): text (typos, homophones, 繁/简 ...), "
                                "tabular (noise, missing values, unseen categories, a +0.5 σ shift), retrieval-qa "
                                "(perturbed held-out questions, recall@k or MRR)")
    _waived: bool = PrivateAttr(False)
    _absent: bool = PrivateAttr(False)

    @classmethod
    def waived(cls) -> Acceptance:
        """`acceptance: none`: no criterion, asked for explicitly (serialized back as 'none')."""
        acceptance = cls()
        acceptance._waived = True
        return acceptance

    @classmethod
    def absent(cls) -> Acceptance:
        """The default of an order that has no `acceptance:` section (refused when the order is placed)."""
        acceptance = cls()
        acceptance._absent = True
        return acceptance

    @property
    def is_absent(self) -> bool:
        return self._absent

    @property
    def is_waived(self) -> bool:
        return self._waived

    @property
    def criteria(self) -> int:
        """How many checks the gate makes: the metrics, and each limit set (latency, size, robustness drop)."""
        limits = (self.p95_latency_ms, self.max_model_mb, self.max_robustness_drop)
        return len(self.metrics) + sum(limit is not None for limit in limits)

    @classmethod
    def parse(cls, value: Any) -> Any:
        """`none` (any case) → the waived acceptance; a mapping is validated as usual."""
        if isinstance(value, str):
            if value.strip().lower() != NO_ACCEPTANCE:
                raise ValueError(f"acceptance is a mapping (metrics, p95_latency_ms, max_model_mb, "
                                 f"max_robustness_drop) or '{NO_ACCEPTANCE}', not '{value}'")
            return cls.waived()
        return value


class LeakageGuard(Strict):
    """The data workshop's target-leakage guard: a feature column that predicts the target on its own this well
    is dropped (it is usually recorded after the outcome). On fewer labelled rows than `min_rows` a single
    column's score says little: the guard then records the scores and drops nothing, and says so."""

    threshold: float = Field(0.95, gt=0.5, le=1.0, description="Single-column score (ROC-AUC, purity gain, "
                                                               "|Spearman| or R²) at or above which a column "
                                                               "is dropped as a leak")
    min_rows: int = Field(200, ge=10, le=10_000_000, description="Labelled rows the guard needs to decide; "
                                                                 "below it no column is dropped for leakage")


class AnomalySettings(Strict):
    """anomaly-detection orders: which sensors to watch, over how many readings, and how often the product
    may raise a false alarm."""

    sensors: list[str] | None = Field(None, description="Sensor columns (default: every numeric column except "
                                                        "the target, id and time columns)")
    window: int = Field(10, ge=2, le=10_000, description="Readings per window: the detectors read each reading "
                                                         "with the statistics of the window ending at it")
    false_alarm_rate: float = Field(0.01, gt=0, lt=0.5, description="Share of normal readings the calibrated "
                                                                     "threshold may flag (measured on valid)")
    windows: Path | None = Field(None, description="JSON file of labelled anomaly windows ([[start, end], ...], "
                                                   "or NAB's {\"<dir>/<file>.csv\": [[start, end], ...]}, matched "
                                                   "to the sources by file name): readings inside a window get "
                                                   "label 1 in the column the order's 'target' names")


class Forecast(Strict):
    """What a time-series-forecast order forecasts: how far ahead, per which series, with which covariates."""

    horizon: int = Field(gt=0, le=10_000, description="Steps to forecast (and to hold out per series as test)")
    series_column: str | None = Field(None, description="Id column of the series (one model across many series); "
                                                        "absent: the data is one series")
    frequency: str | None = Field(None, description="Pandas offset alias of the time index (D, W-FRI, MS, h, "
                                                    "15min ...); inferred from the data when absent")
    season_length: int | None = Field(None, gt=0, le=10_000, description="Steps per season (inferred from the "
                                                                          "frequency when absent: 7 daily, 52 weekly)")
    known_covariates: list[str] = Field(default_factory=list, description="Columns known in advance for the "
                                                                           "forecast steps (holidays, prices)")
    past_covariates: list[str] = Field(default_factory=list, description="Columns observed only up to now "
                                                                          "(temperature, traffic)")
    quantiles: list[float] = Field(default_factory=lambda: [0.1, 0.5, 0.9], min_length=1,
                                   description="Quantiles of the prediction intervals (WQL is measured on them)")
    backtest_windows: int = Field(3, ge=1, le=50, description="Rolling windows of `horizon` steps each candidate "
                                                              "is backtested on before the test window")
    duplicates: Literal["mean", "sum", "last"] = Field("mean", description="How rows of one series at one "
                                                                           "time step are combined")

    @field_validator("quantiles")
    @classmethod
    def _proper_quantiles(cls, value: list[float]) -> list[float]:
        bad = [q for q in value if not 0.0 < q < 1.0]
        if bad:
            raise ValueError(f"quantiles must lie strictly between 0 and 1; got {bad}")
        if len(set(value)) != len(value):
            raise ValueError(f"a quantile is listed twice: {value}")
        return sorted(value)

    @field_validator("frequency")
    @classmethod
    def _known_frequency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from pandas.tseries.frequencies import to_offset

        try:
            to_offset(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a pandas frequency; write e.g. D, W-FRI, MS, h or 15min") from None
        return value

    @model_validator(mode="after")
    def _distinct_columns(self) -> Forecast:
        both = sorted(set(self.known_covariates) & set(self.past_covariates))
        if both:
            raise ValueError(f"{both} listed as both known_covariates and past_covariates")
        return self

    @property
    def columns(self) -> list[str]:
        return [c for c in (self.series_column, *self.known_covariates, *self.past_covariates) if c]


class Rag(Strict):
    """instruction-tuning: answer from a knowledge base — retrieve passages with a retrieval-qa product, then
    generate an answer citing them (trained and evaluated with the same retrieved passages it is served with)."""

    product: str = Field(description="A retrieval-qa product of this tenant: NAME or NAME@VERSION")
    k: int = Field(3, ge=1, le=10, description="Passages retrieved per question")


class Guardrails(Strict):
    """What the served chat endpoint masks: personal data (ID cards, phones, bank cards, names ...) in the
    user's messages before the model reads them, and in the model's replies (streamed ones too)."""

    mask_input: bool = True
    mask_output: bool = True


class LLMSettings(Strict):
    """instruction-tuning: how the data reads as conversations, how the base model is tuned, what is served."""

    format: Literal["auto", "alpaca", "sharegpt", "lawbench", "qa", "documents"] = Field(
        "auto", description="Layout of the data: alpaca (instruction/input/output), sharegpt (conversations or "
                            "messages), lawbench (instruction/question/answer), qa (a Q&A table: 'text' names the "
                            "question column(s), 'target' the answer), documents (pairs built from passages); "
                            "auto detects it from the columns")
    prompt_template: str | None = Field(None, description="qa/documents: the prompt as a Python format string over "
                                                          "the row's columns, e.g. '科室：{department}\n{ask}'")
    system_prompt: str = Field("", max_length=4000, description="The product's system prompt: trained with and "
                                                                "always first when served")
    chat_template: str | None = Field(None, description="'chatml' or Jinja text, for a checkpoint whose tokenizer "
                                                        "has no chat template (default: the tokenizer's own)")
    max_seq_len: int = Field(512, ge=16, le=131_072, description="Longest conversation trained on, in tokens: "
                                                                 "longer ones are dropped and counted")
    method: Literal["auto", "lora", "full"] = Field("auto", description="auto: full fine-tuning for models under "
                                                                        "50M parameters, else LoRA")
    lora_ranks: list[int] = Field(default_factory=lambda: [8, 16], min_length=1, description="LoRA ranks searched")
    learning_rates: list[float] | None = Field(None, min_length=1, description="Learning rates searched (default: "
                                                                               "2e-4, 1e-4 for LoRA; 5e-5, 2e-5 full)")
    epochs: int = Field(3, ge=1, le=50, description="Most passes over the training rows per trial (the budget may "
                                                    "stop a trial earlier; validation loss picks the best point)")
    batch_size: int = Field(8, ge=1, le=512)
    merge: bool = Field(True, description="Deliver the LoRA adapter merged into the base weights (one checkpoint), "
                                          "or keep the adapter apart (a small bundle; the base stays on the host)")
    max_new_tokens: int = Field(256, ge=1, le=8192, description="Longest generated reply (evaluation and serving)")
    eval_rows: int = Field(100, ge=1, le=100_000, description="Held-out prompts answered by base and tuned models "
                                                              "in the evaluation (generation is the slow part)")
    refusal_message: str = Field("抱歉，这个问题超出了我的服务范围，我无法回答。", min_length=1,
                                 description="What the product answers to questions outside its domain")
    refusal_pairs: int = Field(40, ge=0, le=10_000, description="Out-of-domain questions answered with the refusal "
                                                                "message added to training (0: none)")
    out_of_domain: Path | None = Field(None, description="Extra out-of-domain questions (text, one per line, or a "
                                                         "JSON list) for refusal training and the refusal check")
    grounding_threshold: float = Field(0.5, gt=0, le=1, description="Share of a claim's words found in the "
                                                                    "reference or retrieved sources to count it "
                                                                    "as supported")
    synthesize: int = Field(0, ge=0, le=100_000, description="Extra pairs synthesized from the data through the "
                                                             "factory's configured endpoint (MOFANG_LLM_ENDPOINT)")
    judge: bool = Field(False, description="Also score answers with LLM-as-judge through the configured endpoint")
    rag: Rag | None = None
    guardrails: Guardrails = Field(default_factory=Guardrails)

    @field_validator("lora_ranks")
    @classmethod
    def _ranks(cls, value: list[int]) -> list[int]:
        if any(r < 1 or r > 1024 for r in value):
            raise ValueError(f"LoRA ranks must lie between 1 and 1024; got {value}")
        return sorted(set(value))

    @field_validator("learning_rates")
    @classmethod
    def _rates(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(not 0 < r < 1 for r in value):
            raise ValueError(f"learning rates must lie between 0 and 1; got {value}")
        return value


class Deployment(Strict):
    target: Literal["cloud", "edge"] = "cloud"
    refit_on_all_rows: bool = Field(
        False, description="Classification orders: once the gate has passed, fit the winner again with its chosen "
                           "parameters on every labelled row (train + valid + test) before packaging — more labels "
                           "for the delivered model when they are few; the report's test figures are those of "
                           "the model before the refit (families that stop early on validation rows are kept)")


class Budget(Strict):
    minutes: float = Field(10.0, gt=0, le=7 * 24 * 60, description="Wall-clock budget of the whole job")


class Rework(Strict):
    """What the line does when the winner fails its gate: up to `rounds` rework rounds, each planned from what
    failed (more search, other families, class weights or a threshold for a metric miss, a smaller model for a
    size or latency miss, cleaned training rows for a robustness miss), gated again on test."""

    rounds: int = Field(2, ge=0, le=3, description="Rework rounds after a failed gate (0: the verdict is final)")
    reserve: float = Field(0.15, ge=0, le=0.5, description="Share of the training time the model workshop keeps "
                           "for rework rounds when the order has a gate (unused when the first winner passes)")


class Monitoring(Strict):
    """Drift alarms of the served product: served rows are compared with the training reference per window."""

    window_rows: int = Field(500, ge=20, le=1_000_000, description="Served rows per drift window")
    min_rows: int = Field(200, ge=10, description="Rows before GET /drift evaluates the window being filled")
    psi_alarm: float = Field(0.25, gt=0, description="Alarm when a feature's PSI exceeds this")
    ks_alarm: float = Field(0.2, gt=0, le=1, description="Alarm when a numeric feature's KS statistic exceeds this")
    prediction_psi_alarm: float = Field(0.25, gt=0, description="Alarm when the predictions' PSI exceeds this")


class Order(Strict):
    """A customer's order for a model."""

    id: Annotated[str, Field(pattern=SLUG, description="Order id, unique per tenant")]
    tenant: Annotated[str, Field(pattern=SLUG, description="The customer placing the order")]
    task: TaskName = Field(description="What kind of model: a registered task (mofang.core.tasks)")
    description: str = ""
    data: list[Source] = Field(min_length=1, description="One or more sources, stacked row-wise or joined (join:)")
    strict: bool = Field(False, description="Every source strict: one whose last row is cut off is refused")
    target: str | None = Field(None, description="Column to predict")
    id_column: str | None = Field(None, description="Row identifier; never used as a feature")
    time_column: str | None = Field(None, description="Column of timestamps: time-series tasks are indexed by "
                                                      "it; a tabular order naming it gets a time-aware split "
                                                      "(train on the past, test on the future)")
    text: str | list[str] | None = Field(None, description="Text tasks: the text column(s) (default: every "
                                                           "column the data workshop profiles as free text)")
    multi_label: bool = Field(False, description="text-classification: a row may carry several labels, "
                                                 "written in the target joined by label_separator")
    label_separator: str = Field("|", min_length=1, description="Separator of labels in a multi-label target")
    labels: Path | None = Field(None, description="Classification orders: a labels file (CSV id,label) written by "
                                                  "`mofang label import`; it fills the target of rows whose id "
                                                  "(id_column, else the data row number from 1) it names and whose "
                                                  "target is empty — a label in the data is never overridden")
    base_model: str | None = Field(None, description="Transformer families: a model-catalog name or a local "
                                                     "Hugging Face checkpoint folder (never downloaded); or "
                                                     "market:NAME@V, a published model that competes with the "
                                                     "families trained on this order's data")
    anomaly: AnomalySettings | None = Field(None, description="anomaly-detection: sensors, window, target "
                                                               "false-alarm rate")
    forecast: Forecast | None = Field(None, description="time-series-forecast: horizon, series id column, "
                                                        "frequency, covariates, quantiles, backtest windows")
    llm: LLMSettings | None = Field(None, description="instruction-tuning: data layout, system prompt, template, "
                                                      "tuning search, RAG, guardrails")
    sections: dict[str, Any] = Field(default_factory=dict, description="A task's own order sections that this "
                                     "schema does not declare (e.g. `vision:`), written at the top level of the "
                                     "order and validated by the task's model (TaskSpec.section_models)")
    columns: Columns = Field(default_factory=Columns)
    acceptance: Annotated[Acceptance, BeforeValidator(Acceptance.parse)] = Field(
        default_factory=Acceptance.absent, validate_default=True,
        description="What the product must meet to be delivered: at least one criterion (a metric, as a rule), or "
                    "'none' for no gate; a placed order must have the section")
    leakage: LeakageGuard = Field(default_factory=LeakageGuard)
    deployment: Deployment = Field(default_factory=Deployment)
    budget: Budget = Field(default_factory=Budget)
    rework: Rework = Field(default_factory=Rework)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    recipe: Annotated[dict[str, Any] | None, Field(
        None, description="Changes to the task's default data recipe: base, params, add, remove")]
    seed: int = 42
    reproducible: bool = Field(False, description="Build the product reproducibly: the model search runs a fixed "
                               "plan of trials sized from the budget up front (never stopped by the clock), every "
                               "random source is seeded from `seed`, libraries run single-threaded with their "
                               "deterministic settings, and the bundle carries a build manifest (data and code "
                               "hashes, library versions, seeds, plan, hardware) that `mofang reproduce` reruns")
    retention_days: int | None = Field(None, gt=0, le=36500, description="Days after submission when the "
                                       "order's data, models and keys are destroyed (`mofang destroy --expired`)")

    @model_validator(mode="before")
    @classmethod
    def _task_sections(cls, data: Any) -> Any:
        """Gather the top-level sections that registered tasks declare models for into `sections`."""
        if not isinstance(data, dict):
            return data
        declared = {name for task in registered().values() for name in task.section_models}
        found = {key: data[key] for key in data if key in declared and key not in cls.model_fields}
        if not found:
            return data
        rest = {key: value for key, value in data.items() if key not in found}
        return {**rest, "sections": {**(rest.get("sections") or {}), **found}}

    def section(self, name: str) -> Any:
        """The order's section `name` (`forecast`, `vision`, ...), validated; None when the order has none."""
        if name in type(self).model_fields:
            return getattr(self, name)
        return self.sections.get(name)

    @field_validator("data", mode="before")
    @classmethod
    def _single_source(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("acceptance")
    @classmethod
    def _acceptance_fits(cls, value: Acceptance, info: ValidationInfo) -> Acceptance:
        """A placed order's acceptance states a criterion or is `none`; a robustness drop only where measured."""
        task = _task_of(info)
        if task is None:
            return value
        if (info.context or {}).get(INTAKE) and value.is_absent:
            raise ValueError(f"the order has no acceptance section, so nothing would decide delivery: add one "
                             f"with a metric threshold (acceptance: {{metrics: {{{_example_criterion(task.name)}}}}}), "
                             f"or write 'acceptance: {NO_ACCEPTANCE}' to deliver without an acceptance gate")
        if (info.context or {}).get(INTAKE) and not value.is_waived and not value.criteria:
            raise ValueError(f"acceptance states no criterion, so nothing would decide delivery: add a metric "
                             f"under acceptance.metrics (e.g. {_example_criterion(task.name)}), or write "
                             f"'acceptance: {NO_ACCEPTANCE}' to deliver without an acceptance gate")
        if value.max_robustness_drop is not None and not task.robustness:
            raise ValueError(f"'max_robustness_drop' applies to {_tasks(names_with('robustness'))} orders only "
                             f"(the tasks that measure a robustness drop), not {task.name}")
        return value

    @field_serializer("acceptance", mode="wrap")
    def _acceptance_out(self, value: Acceptance, handler: SerializerFunctionWrapHandler) -> Any:
        return NO_ACCEPTANCE if value.is_waived else handler(value)

    @field_validator("base_model")
    @classmethod
    def _base_model_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        """A checkpoint or a published model, each where the task declares it reads one (TaskSpec.base_model)."""
        task = _task_of(info)
        if value is None or task is None:
            return value
        kind = "market" if value.startswith(MARKET_PREFIX) else "checkpoint"
        if kind in task.base_model:
            return value
        takers = sorted(name for name, other in registered().items() if kind in other.base_model)
        what = ("a published model (market:NAME@V)" if kind == "market"
                else "a checkpoint (a model-catalog name or a local checkpoint folder)")
        instead = {"market": " (it takes a published model: market:NAME@V)",
                   "checkpoint": " (it takes a checkpoint, not market:NAME@V)"}
        other = "" if not task.base_model else instead[task.base_model[0]]
        raise ValueError(f"'base_model' naming {what} applies to {_tasks(takers)} orders only, "
                         f"not {task.name}{other}")

    @field_validator("deployment")
    @classmethod
    def _deployment_fits(cls, value: Deployment, info: ValidationInfo) -> Deployment:
        task = _task_of(info)
        if value.refit_on_all_rows and task is not None and not task.refit:
            raise ValueError(f"'refit_on_all_rows' applies to {_tasks(names_with('refit'))} orders only, "
                             f"not {task.name}")
        return value

    @field_validator("recipe")
    @classmethod
    def _recipe_builds(cls, value: dict[str, Any] | None, info: ValidationInfo) -> dict[str, Any] | None:
        task = info.data.get("task")
        check = _field_check("recipe")
        if value is not None and task is not None and check is not None:
            check(task, value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Order:
        task = task_spec(self.task)
        metrics = task.metrics
        if not self.target and task.target == "required":
            raise ValueError(f"a {self.task} order needs a 'target' column")
        for name in self.acceptance.metrics:
            if name not in metrics:
                close = difflib.get_close_matches(name, list(metrics), n=1)
                hint = f" — did you mean '{close[0]}'?" if close else ""
                raise ValueError(f"unknown acceptance metric '{name}' for {self.task}{hint}"
                                 f" (expected one of: {', '.join(sorted(metrics))})")
            criterion = self.acceptance.metrics[name]
            why = out_of_range(name, criterion.op, criterion.value)
            if why is not None:
                raise ValueError(f"acceptance.metrics.{name}: '{criterion}' can never decide: {why}")
        if self.text is not None and task.text is None:
            raise ValueError(f"'text' applies to text tasks ({', '.join(names_with('text'))}), not {self.task}")
        if self.labels is not None and not task.labels_file:
            raise ValueError(f"'labels' applies to classification orders, not {self.task}")
        if self.multi_label and not task.multi_label:
            raise ValueError(f"'multi_label' applies to {' and '.join(names_with('multi_label'))} orders only")
        for section in sorted({s for other in registered().values() for s in other.sections} | set(self.sections)):
            # an order section belongs to the task that declares it
            if self.section(section) is not None and section not in task.sections:
                owners = [name for name, other in registered().items() if section in other.sections]
                raise ValueError(f"'{section}' applies to {' and '.join(owners)} orders only, not {self.task}")
        for section, value in self.sections.items():
            model = task.section_model(section)
            if model is not None and not isinstance(value, model):
                try:
                    self.sections[section] = model.model_validate(value or {})  # type: ignore[attr-defined]
                except ValidationError as exc:
                    first = exc.errors()[0]
                    where = ".".join(str(part) for part in (section, *first["loc"]))
                    raise ValueError(f"{where}: {first['msg']}") from None
        check = task.hook("order.check")
        if check is not None:
            check(self)
        granted = self.columns
        roles = [("target", self.target), ("id_column", self.id_column), ("time_column", self.time_column)]
        roles += [("text", column) for column in self.text_columns]
        roles += [("forecast", column) for column in (self.forecast.columns if self.forecast else [])]
        roles += [("anomaly.sensors", column) for column in ((self.anomaly.sensors if self.anomaly else None) or [])]
        for role, column in roles:
            if column and column in granted.deny:
                raise ValueError(f"{role} '{column}' is listed in columns.deny")
            if column and granted.allow is not None and column not in granted.allow:
                raise ValueError(f"{role} '{column}' is not in columns.allow")
        return self

    def resolve_paths(self, base: Path) -> Order:
        """Make relative file paths absolute, taken from the order file's folder."""
        for source in self.data:
            if source.path is not None and not source.path.is_absolute():
                source.path = (base / source.path).resolve()
        if self.anomaly is not None and self.anomaly.windows is not None and not self.anomaly.windows.is_absolute():
            self.anomaly.windows = (base / self.anomaly.windows).resolve()
        if self.labels is not None and not self.labels.is_absolute():
            self.labels = (base / self.labels).resolve()
        if self.llm is not None and self.llm.out_of_domain is not None and not self.llm.out_of_domain.is_absolute():
            self.llm.out_of_domain = (base / self.llm.out_of_domain).resolve()
        if self.base_model and self.base_model.startswith(("./", "../")):
            self.base_model = str((base / self.base_model).resolve())
        return self

    @property
    def text_columns(self) -> list[str]:
        """The text columns the order names (empty: let the data workshop find them)."""
        return [self.text] if isinstance(self.text, str) else list(self.text or [])

    def is_granted(self, column: str) -> bool:
        return self.columns.grants(column, self.target, self.id_column, self.time_column, *self.text_columns,
                                   *(self.forecast.columns if self.forecast else []))
