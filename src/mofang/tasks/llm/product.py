"""The instruction-tuning product: its bundle as the server loads it (packaged and smoke-tested by the integration
workshop: see mofang.tasks.llm.integration) and its OpenAI-compatible API, `POST /v1/chat/completions` (streaming
too), with the product's system prompt, PII guardrails on input and output, and RAG answers citing their sources.

(No `from __future__ import annotations` here: FastAPI must see the request models at run time.)
"""

import io
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from mofang import __version__
from mofang.core.errors import MofangError
from mofang.integration.openai_api import embeddings_route
from mofang.integration.openai_wire import DONE, STREAM_HEADERS, chunk, citation, error, model_list, refuse_tools, sse
from mofang.products.guardrails import StreamMasker, mask_pii
from mofang.products.serving import _common_routes
from mofang.security.crypto import is_encrypted
from mofang.tasks.llm.models.chat import ADAPTER_CONFIG, ChatModel, PromptTooLong, Reply
from mofang.tasks.llm.models.conversations import system_text
from mofang.tasks.llm.models.rag import citations, rag_messages, retrieve

INSTRUCTION_TUNING = "instruction-tuning"  # the task this product kind serves (its bundle's schema says so)
MODEL_FOLDER, ADAPTER_FOLDER, RETRIEVER_FILE = "model", "adapter", "retriever.joblib"
MAX_MESSAGES = 200
MAX_CONTENT_CHARS = 100_000


# -- the bundle ----------------------------------------------------------------------------------
def llm_schema(winner: dict[str, Any]) -> dict[str, Any]:
    """How the product is asked: chat messages under its system prompt, template and limits."""
    guard = winner.get("guardrails") or {}
    rag = winner.get("rag")
    return {"task": INSTRUCTION_TUNING, "system_prompt": winner.get("system_prompt", ""),
            "chat_template": winner.get("chat_template"), "max_positions": int(winner["max_positions"]),
            "max_new_tokens": int(winner["max_new_tokens"]), "refusal_message": winner.get("refusal_message", ""),
            "rag": {"k": int(rag["k"])} if rag else None,
            "guardrails": {"mask_input": bool(guard.get("mask_input", True)),
                           "mask_output": bool(guard.get("mask_output", True))},
            "features": [], "target": None, "id_column": None, "classes": None, "ignored": []}


@dataclass
class ChatProduct:
    """A loaded instruction-tuning bundle: the chat model, the RAG retriever (or None) and the serving settings."""

    chat: Any
    retriever: Any
    schema: dict[str, Any]

    def prepare(self, messages: list[dict[str, str]]) -> "Prepared":
        """The conversation the model reads for a client's messages: the product's system prompt first (a client's
        system messages added after it), PII masked when the guardrails say so, and with RAG the last user
        message answered from retrieved passages."""
        guard = self.schema.get("guardrails") or {}
        masked: list[str] = []
        own: list[dict[str, str]] = []
        turns: list[dict[str, str]] = []
        for message in messages:
            content = message["content"]
            if guard.get("mask_input") and message["role"] in ("system", "user"):
                content, kinds = mask_pii(content)
                masked += [k for k in kinds if k not in masked]
            (own if message["role"] == "system" else turns).append({"role": message["role"], "content": content})
        if not turns or turns[-1]["role"] != "user":
            raise MofangError("messages: the last message (after system messages) must be the user's")
        system = system_text(self.schema.get("system_prompt") or "", "\n\n".join(m["content"] for m in own))
        rag = self.schema.get("rag")
        if not rag or self.retriever is None:
            head = [{"role": "system", "content": system}] if system else []
            return Prepared(head + turns, masked)
        question = turns[-1]["content"]
        passages = retrieve(self.retriever, question, int(rag["k"])) if question.strip() else []
        conversation = rag_messages(question, passages, system_prompt=system, history=turns[:-1],
                                    refusal_message=self.schema.get("refusal_message") or None)
        return Prepared(conversation, masked, passages, rag=True)

    def answer(self, prepared: "Prepared", **options: Any) -> dict[str, Any]:
        """A whole reply to a prepared conversation (the refusal message when RAG found nothing), masked when the
        guardrails say so; a RAG reply names the passages it cites (`sources`) and every one it was given
        (`retrieved`). Raises PromptTooLong when the conversation does not fit the model."""
        if prepared.no_answer:
            reply = _Canned(self.schema.get("refusal_message") or "").as_reply()
        else:
            reply = self.chat.generate(prepared.messages, **options)
        mask_output = bool((self.schema.get("guardrails") or {}).get("mask_output"))
        text, masked = mask_pii(reply.text, generated=True) if mask_output else (reply.text, [])
        answer: dict[str, Any] = {"reply": reply, "text": text, "output_masked": masked}
        if prepared.rag:
            answer.update(prepared.cited(reply.text), no_answer=prepared.no_answer)
        return answer


@dataclass
class Prepared:
    messages: list[dict[str, str]]
    masked_input: list[str]
    passages: list[dict[str, Any]] = field(default_factory=list)
    rag: bool = False

    @property
    def no_answer(self) -> bool:
        """RAG found no passage: the product answers with its refusal message without generating."""
        return self.rag and not self.passages

    def cited(self, text: str) -> dict[str, Any]:
        """The passages a RAG reply cites as [n] (`sources`) and every passage it was given (`retrieved`)."""
        return {"sources": citations(text, self.passages),
                "retrieved": [{"index": i + 1, **p} for i, p in enumerate(self.passages)]}


def load_llm(path: Path, read: Callable[[Path], bytes], schema: dict[str, Any]) -> ChatProduct:
    """The bundle's chat model (merged checkpoint, or the adapter on the host's base checkpoint) and retriever,
    loaded the way the server loads them (encrypted files decrypted in memory through `read`)."""
    import joblib

    spec = joblib.load(io.BytesIO(read(path / "model.joblib")))
    if not isinstance(spec, dict) or spec.get("kind") != "llm":
        raise MofangError(f"{path}/model.joblib does not describe a language-model bundle")
    folder = path / spec["model"] if spec.get("model") else Path(spec.get("base_model_path") or "")
    if not (folder / "config.json").is_file():
        raise MofangError(f"the base checkpoint {folder} that this product's adapter runs on is not on this "
                          "machine" if not spec.get("model") else f"{path} lacks its model folder {folder.name}/")
    adapter = path / spec["adapter"] if spec.get("adapter") else None
    probes = [folder / "config.json"] + ([adapter / ADAPTER_CONFIG] if adapter else [])
    encrypted = any(p.is_file() and is_encrypted(p) for p in probes)
    chat = ChatModel.load(folder, adapter=adapter, read=read if encrypted else None,
                          chat_template=schema.get("chat_template"))
    retriever = None
    if (path / RETRIEVER_FILE).exists():
        from mofang.tasks.retrieval.models import RetrievalModel

        retriever = RetrievalModel.load(io.BytesIO(read(path / RETRIEVER_FILE)))
    elif schema.get("rag"):
        raise MofangError(f"{path} is a RAG product but lacks its knowledge base ({RETRIEVER_FILE})")
    return ChatProduct(chat, retriever, schema)


# -- the API -------------------------------------------------------------------------------------
class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"] = "text"
    text: str = Field(..., max_length=MAX_CONTENT_CHARS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] = Field(..., description="Text, or a list of text parts")

    def plain(self) -> dict[str, str]:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # user, presence_penalty, ... accepted and ignored
    model: str | None = Field(None, description="The product's name (any value is answered by this product)")
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1, description="Longest reply in tokens (default: the product's)")
    max_completion_tokens: int | None = Field(None, ge=1, description="Same as max_tokens (newer clients)")
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="0 (the default): greedy, reproducible")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    n: Literal[1] = 1
    tools: list[Any] | None = Field(None, description="Refused with a 400: the model does not call tools")
    functions: list[Any] | None = Field(None, description="Refused with a 400, as `tools`")
    tool_choice: Any = None
    function_call: Any = None


def llm_app(bundle: Any, version: int | None, caller: Callable[..., Any], title: str, runtime: Any) -> FastAPI:
    """A chat product's API: POST /v1/chat/completions, GET /v1/models; GET /health, /metadata and /tool as for
    every product. Generation runs in worker threads, one at a time per model; `runtime` (the product's
    ProductRuntime) counts replies and audits calls per caller; `serving.create_app` adds /metrics."""
    meta, schema, product = bundle.metadata, bundle.schema, bundle.candidate
    name = str(meta["product"])
    app = FastAPI(title=f"Mofang product · {title}", version=__version__,
                  description=f"instruction-tuned chat model (family {meta.get('family')}, order "
                              f"{meta.get('order_id')}), OpenAI-compatible at /v1/chat/completions.")
    stats = {"requests": 0, "started": time.time()}
    created = int(time.time())
    _common_routes(app, bundle, version, caller, stats)
    app.state.runtime = runtime  # the multi-product server flushes its audit on shutdown

    def record(identity: Any, error: bool) -> None:
        stats["requests"] += 1
        runtime.called(identity, "chat", 1, error)

    @app.get("/v1/models", dependencies=[Depends(caller)])
    def models() -> dict[str, Any]:
        return model_list(name, meta.get("tenant"), created)

    @app.post("/v1/chat/completions")
    def completions(request: ChatCompletionRequest, identity: Any = Depends(caller)) -> Response:
        refused = refuse_tools(request, "it was tuned to answer in text")
        if refused is not None:
            record(identity, True)
            return refused
        try:
            prepared = product.prepare([m.plain() for m in request.messages])
        except MofangError as exc:
            record(identity, True)
            return _error(422, str(exc), "invalid_request_error")
        limit = request.max_completion_tokens or request.max_tokens or int(schema["max_new_tokens"])
        options = {"max_new_tokens": limit, "temperature": request.temperature, "top_p": request.top_p,
                   "seed": request.seed}
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": name}
        try:
            if request.stream:
                stream = (_Canned(schema.get("refusal_message") or "") if prepared.no_answer
                          else product.chat.stream(prepared.messages, **options))
            else:
                done = product.answer(prepared, **options)
        except PromptTooLong as exc:
            record(identity, True)
            return _error(400, str(exc), "invalid_request_error", code="context_length_exceeded",
                          prompt_tokens=exc.prompt_tokens, max_prompt_tokens=exc.limit)
        except MofangError as exc:
            record(identity, True)
            return _error(422, str(exc), "invalid_request_error")
        if request.stream:
            mask_output = bool((schema.get("guardrails") or {}).get("mask_output"))
            include_usage = bool(request.stream_options and request.stream_options.include_usage)
            events = _events(stream, head, StreamMasker() if mask_output else None,
                             prepared.cited if prepared.rag else None, include_usage,
                             lambda error: record(identity, error))
            return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)
        reply = done["reply"]
        message: dict[str, Any] = {"role": "assistant", "content": done["text"]}
        if prepared.rag:
            message["citations"] = _citations(done["sources"])
        answer = {**head, "object": "chat.completion",
                  "choices": [{"index": 0, "finish_reason": reply.finish_reason, "message": message}],
                  "usage": _usage(reply),
                  "guardrails": {"input_masked": prepared.masked_input, "output_masked": done["output_masked"]}}
        if prepared.rag:
            answer.update({k: done[k] for k in ("sources", "retrieved", "no_answer")})
        record(identity, False)
        return JSONResponse(answer)

    retrievers = getattr(getattr(product, "retriever", None), "retrievers_", None) or {}
    embeddings_route(app, name, {n: r.encoder for n, r in retrievers.items() if hasattr(r, "encoder")}, caller,
                     "a chat model; its knowledge base, if any, has no dense encoder")
    return app


def _citations(sources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The passages a RAG reply cites, as structured citations (`[n]` in the reply is `index` n)."""
    return [citation(s["index"], s["text"], s.get("source")) for s in sources]


class _Canned:
    """A fixed reply (RAG found nothing: the refusal message) that streams like a generated one."""

    def __init__(self, text: str) -> None:
        self.text, self.reply = text, None

    def as_reply(self) -> Any:
        return Reply(self.text, 0, 0, "stop")

    def __iter__(self) -> Iterator[str]:
        self.reply = self.as_reply()
        yield self.text


def _events(stream: Any, head: dict[str, Any], masker: Any, sources: Callable[[str], dict[str, Any]] | None,
            include_usage: bool, done: Callable[[bool], None]) -> Iterator[bytes]:
    """OpenAI chat.completion.chunk events: the role, content deltas (masked as they go), the finish reason
    (with the sources of a RAG answer), optionally usage, then [DONE]."""

    def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return chunk(head, delta, finish, **extra)

    yield event({"role": "assistant", "content": ""})
    pieces = iter(stream)
    failed = True
    try:
        for piece in pieces:
            text = masker.feed(piece) if masker is not None else piece
            if text:
                yield event({"content": text})
        rest = masker.flush() if masker is not None else ""
        if rest:
            yield event({"content": rest})
        reply = stream.reply
        extra = sources(reply.text) if sources is not None else {}
        yield event({"citations": _citations(extra["sources"])} if extra else {}, reply.finish_reason, **extra)
        if include_usage:
            yield sse({**head, "object": "chat.completion.chunk", "choices": [], "usage": _usage(reply)})
        failed = False
    except MofangError as exc:
        yield sse({"error": {"message": str(exc), "type": "server_error"}})
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # a client that left stops the generation at its next token
        done(failed)
    yield DONE


def _usage(reply: Any) -> dict[str, int]:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens}


def _error(status: int, message: str, kind: str, **extra: Any) -> JSONResponse:
    """An OpenAI-style error body: {"error": {"message", "type", ...}}."""
    return error(status, message, kind=kind, **extra)
