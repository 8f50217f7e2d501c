"""Isolation fuzz (issue 26, item 8): seeded random requests over every route of the portal, of a product server
and of a multi-product server (both tenants' products on one server), sent by tenant A's keys (owner, member,
viewer), B's owner, the operator's key, forged keys (right shape, wrong secret), a revoked and an expired key,
no key and malformed headers, with path parameters mostly filled with tenant B's ids. No answer holds anything
of the other tenant's (its product, order and tenant names, column names, a value only its data has, its
upload's name and id, its dataset digest, its key ids) that the request did not name itself; nothing of any
tenant's for a caller without a valid key; no tenant's columns, values or upload names for the operator; and
none is a 5xx.

The two tenants' products are real: a tiny order each, run down the line; the servers are real (uvicorn on a
loopback port, as in tests/portal). The generator is seeded, so a failure replays exactly.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from starlette.routing import Mount

from tests.portal.conftest import Server
from tests.products.tiny_orders import churn_frame, mofang_home, run_order

pytestmark = pytest.mark.slow

SEED = 26
MINIMUM = {"portal": 700, "product server": 200, "multi-product server": 200}  # requests per target, ≥ 1,000 in all
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


@dataclass(frozen=True)
class Tenant:
    """A tenant whose names are secrets: its product (= order id), columns, a value of its data, its upload."""

    id: str
    product: str
    columns: tuple[str, str, str, str]  # numeric feature, categorical feature, target, id column
    value: str  # a category only this tenant's data holds
    upload: str

    def frame(self, seed: int):  # noqa: ANN201 - a pandas DataFrame
        frame = churn_frame(400, seed=seed).drop(columns="tenure")
        frame["plan"] = frame["plan"].replace({"basic": self.value})
        number, category, target, ident = self.columns
        return frame.rename(columns={"usage": number, "plan": category, "churned": target, "customer": ident})

    def order(self, folder: Path, seed: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.frame(seed).to_csv(folder / "data.csv", index=False)
        order = folder / "order.yaml"
        order.write_text(f"id: {self.product}\ntenant: {self.id}\ntask: tabular-classification\ndata:\n"
                         f"  - path: data.csv\ntarget: {self.columns[2]}\nid_column: {self.columns[3]}\n"
                         "acceptance:\n  metrics:\n    roc_auc: '>= 0.55'\nbudget:\n  minutes: 0.1\n",
                         encoding="utf-8")
        return order


ALPHA = Tenant("fuzz-alpha", "secret-prod-a", ("机密列甲", "机密列乙", "机密目标甲", "机密编号甲"), "机密值甲",
               "secret-upload-a.csv")
BRAVO = Tenant("fuzz-bravo", "secret-prod-b", ("机密列丙", "机密列丁", "机密目标乙", "机密编号乙"), "机密值乙",
               "secret-upload-b.csv")


@dataclass
class World:
    """The two tenants' objects, the keys that call, and the servers' apps and URLs."""

    keys: dict[str, str] = field(default_factory=dict)
    key_ids: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, int] = field(default_factory=dict)
    uploads: dict[str, str] = field(default_factory=dict)  # tenant -> upload id
    digests: dict[str, str] = field(default_factory=dict)  # tenant -> dataset digest
    apps: dict[str, Any] = field(default_factory=dict)  # target -> app
    urls: dict[str, str] = field(default_factory=dict)  # target -> base URL

    def secrets(self, tenant: Tenant) -> list[str]:
        """What of `tenant`'s no other tenant's caller (nor one without a valid key) may read."""
        prefix = "a_" if tenant is ALPHA else "b_"
        return [tenant.product, tenant.id, *tenant.columns, tenant.value, tenant.upload, self.uploads[tenant.id],
                self.digests[tenant.id][:16], *(self.key_ids[k] for k in self.key_ids if k.startswith(prefix))]

    def unreadable(self, who: str) -> list[str]:
        """What `who` may not read: the other tenant's secrets (a tenant's key), the tenants' data (the operator:
        their columns, values and upload names), or every tenant's secrets (no valid key)."""
        if who.startswith("a_"):
            return self.secrets(BRAVO)
        if who.startswith("b_"):
            return self.secrets(ALPHA)
        if who == "operator":
            return [s for t in (ALPHA, BRAVO) for s in (*t.columns, t.value, t.upload)]
        return self.secrets(ALPHA) + self.secrets(BRAVO)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Tenants A and B with a delivered product and an upload each; keys of every role, an operator's, a revoked
    and an expired one; the portal, B's product server and a server of both products, running."""
    from mofang.integration.bundle import open_bundle
    from mofang.portal import create_app
    from mofang.products.multi import Served, serving_app
    from mofang.security.authz import product_guard
    from mofang.security.identity import create_api_key, create_tenant, revoke_api_key
    from mofang.security.tables import ApiKey
    from mofang.store import MetaStore

    root = tmp_path_factory.mktemp("fuzz")
    made = World()
    with mofang_home(root / "home") as home, ExitStack() as stack:
        meta = MetaStore()
        stack.callback(meta.dispose)
        for tenant in (ALPHA, BRAVO):
            create_tenant(meta, tenant.id)
        for who, tenant, role in (("operator", None, "operator"), ("a_owner", ALPHA.id, "owner"),
                                  ("a_member", ALPHA.id, "member"), ("a_viewer", ALPHA.id, "viewer"),
                                  ("a_spare", ALPHA.id, "viewer"), ("b_owner", BRAVO.id, "owner"),
                                  ("b_member", BRAVO.id, "member"), ("b_viewer", BRAVO.id, "viewer"),
                                  ("b_spare", BRAVO.id, "viewer"), ("b_revoked", BRAVO.id, "member"),
                                  ("b_expired", BRAVO.id, "owner")):
            identity, made.keys[who] = create_api_key(meta, tenant=tenant, user=who.replace("_", "-"), role=role,
                                                      expires_at=datetime.now(UTC) + timedelta(hours=1)
                                                      if who == "b_expired" else None)
            made.key_ids[who] = identity.key_id
        revoke_api_key(meta, made.key_ids["b_revoked"])
        with meta.session() as s:
            s.get(ApiKey, made.key_ids["b_expired"]).expires_at = datetime.now(UTC) - timedelta(minutes=1)
        for seed, tenant in enumerate((ALPHA, BRAVO)):
            job = run_order(tenant.order(root / tenant.id, seed), meta)
            assert job.status == "done", (tenant.id, job.status, job.error, job.outcome)
            made.jobs[tenant.id] = job.id

        portal = create_app(meta, home, max_upload_mb=1, notify=False)
        made.apps["portal"], made.urls["portal"] = portal, stack.enter_context(Server(portal))
        for tenant, owner in ((ALPHA, "a_owner"), (BRAVO, "b_owner")):
            headers = {"X-API-Key": made.keys[owner]}
            csv = tenant.frame(7).head(50).to_csv(index=False).encode("utf-8")
            answer = httpx.post(f"{made.urls['portal']}/api/v1/uploads", params={"name": tenant.upload},
                                content=csv, headers=headers, timeout=60)
            assert answer.status_code == 201, answer.text
            made.uploads[tenant.id] = answer.json()["upload_id"]
            listed = httpx.get(f"{made.urls['portal']}/api/v1/datasets", headers=headers, timeout=60).json()
            made.digests[tenant.id] = listed[0]["digest"]

        served = {t.id: Served(open_bundle(meta.product_version(t.product).bundle_path, t.id, meta), 1,
                               product_guard(meta, t.id)) for t in (ALPHA, BRAVO)}
        for target, products in (("product server", [served[BRAVO.id]]),
                                 ("multi-product server", [served[ALPHA.id], served[BRAVO.id]])):
            app = serving_app(products, store=meta)
            made.apps[target], made.urls[target] = app, stack.enter_context(Server(app))
        yield made


# -- callers -------------------------------------------------------------------------------------------------
def _forged(key: str) -> str:
    """The key's id with another secret of the right shape."""
    return key[:-43] + "Q" * 43


def callers(w: World) -> dict[str, list[dict[str, Any]]]:
    """Who calls (each a list of header sets to pick from): A's roles, the operator, and those with no valid key."""
    def key(name: str) -> list[dict[str, Any]]:
        return [{"X-API-Key": w.keys[name]}, {"Authorization": f"Bearer {w.keys[name]}"}]

    return {  # B's owner calls too (its answers must hold nothing of A's), so that B's products see traffic
        "a_owner": key("a_owner"), "a_member": key("a_member"),
        "a_viewer": [*key("a_viewer"), {"X-API-Key": w.keys["a_viewer"],  # with B's owner's key id, forged
                                        "Authorization": f"Bearer {_forged(w.keys['b_owner'])}"}],
        "b_owner": key("b_owner"), "operator": key("operator"),
        "forged": [{"X-API-Key": _forged(w.keys["b_owner"])}, {"Authorization": f"Bearer {_forged(w.keys['a_owner'])}"},
                   {"Authorization": f"Bearer {_forged(w.keys['operator'])}"}],
        "revoked": key("b_revoked"), "expired": key("b_expired"), "none": [{}],
        "malformed": [{"Authorization": "Bearer"}, {"Authorization": "Basic ZnV6ejpmdXp6"}, {"X-API-Key": ""},
                      {"X-API-Key": "mf_"}, {"X-API-Key": "mf_0123456789ab_"}, {"Authorization": "Bearer mf_a_b_c"},
                      {"X-API-Key": "mf_" + "x" * 8000}, {"X-API-Key": "mf_\xe6\x9c\xba_\xff".encode("latin-1")},
                      {"Authorization": "Bearer  " + w.keys["b_owner"][:20]},
                      {"Cookie": "mofang_session=forged; mofang_csrf=forged", "X-CSRF-Token": "forged"}],
    }


# -- requests ------------------------------------------------------------------------------------------------
@dataclass
class Sent:
    """One fuzz request and its answer."""

    target: str
    who: str
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, Any]
    body: bytes | None
    route: tuple[str, str] = ("", "")  # the route table's (method, path template) it was made for
    status: int = 0
    text: str = ""

    def request_text(self) -> str:
        """Everything the request itself named (an answer may echo it back)."""
        values = [self.path, unquote(self.path), json.dumps(self.params, ensure_ascii=False)]
        values += [v.decode("latin-1") if isinstance(v, bytes) else v for v in self.headers.values()]
        if self.body:
            body = self.body.decode("utf-8", "replace")
            values += [body, _unescaped(body)]
        return "\n".join(values)

    def __str__(self) -> str:
        return f"{self.target} · {self.who}: {self.method} {self.path} {self.params} -> {self.status} {self.text[:300]}"


def _unescaped(text: str) -> str:
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def forms(secret: str) -> tuple[str, ...]:
    """The ways an answer may spell a secret: as is, JSON-escaped and URL-quoted."""
    return secret, json.dumps(secret)[1:-1], quote(secret)


def leaked(sent: Sent, secrets: list[str]) -> list[str]:
    """The secrets an answer holds that its request did not name."""
    asked = sent.request_text()
    return [s for s in secrets if s not in asked and any(f in sent.text for f in forms(s))]


def routes(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route of `app`: included routers flattened, mounted apps walked."""
    found: set[tuple[str, str]] = set()

    def visit(app_routes: list[Any], prefix: str) -> None:
        for route in app_routes:
            if isinstance(route, Mount):
                inner = getattr(route.app, "routes", None)
                if inner is None:  # static files
                    found.add(("GET", prefix + route.path + "/{file}"))
                else:
                    visit(inner, prefix + route.path)
            elif hasattr(route, "effective_route_contexts"):  # an included router (FastAPI ≥ 0.13x)
                for context in route.effective_route_contexts():
                    methods = getattr(context.original_route, "methods", None) or ()
                    found.update((m, prefix + context.path) for m in methods if m != "HEAD")
            elif getattr(route, "methods", None):
                found.update((m, prefix + route.path) for m in route.methods if m != "HEAD")

    visit(app.routes, "")
    return sorted(found)


class Fuzzer:
    """Seeded random requests: path parameters mostly tenant B's ids, some A's and some junk; random methods,
    query strings and bodies."""

    def __init__(self, w: World, seed: int) -> None:
        self.w, self.rng = w, random.Random(seed)
        b_ids = [w.key_ids[k] for k in ("b_spare", "b_revoked", "b_expired", "b_member")]
        junk = ["0", "-1", "999999", str(2**63), "..%2F..%2Fetc%2Fpasswd", "%00", "机密", "a" * 300, "' OR 1=1 --"]
        self.values: dict[str, list[str]] = {
            "name": [BRAVO.product] * 4 + [ALPHA.product, BRAVO.id] + junk,
            "order_id": [BRAVO.product] * 4 + [ALPHA.product] + junk,
            "job_id": [str(w.jobs[BRAVO.id])] * 4 + [str(w.jobs[ALPHA.id])] + junk,
            "upload_id": [w.uploads[BRAVO.id]] * 4 + [w.uploads[ALPHA.id], BRAVO.upload] + junk,
            "digest": [w.digests[BRAVO.id]] * 4 + [w.digests[ALPHA.id], w.digests[BRAVO.id][:12]] + junk,
            "key_id": b_ids * 2 + [w.key_ids["a_spare"]] + junk,
            "version": ["1"] * 4 + ["2", "0", "-3", str(2**40), "latest"],
            "code": ["zh-CN", "en", "xx", "../../"],
        }
        self.params = {"tenant": [BRAVO.id] * 3 + [ALPHA.id, "", "机密"], "version": ["1", "0", "99", "x"],
                       "limit": ["1", "1000", "0", "-5", "x" * 40], "state": ["done", "queued", "bogus"],
                       "name": ["x.csv", "../../x.csv", ""], "action": ["login", "access.denied"],
                       "next": ["/orders", "//evil.example/", "https://evil.example/"], "k": ["3", "0", "x"]}

    def fill(self, path: str) -> str:
        out = path
        while "{" in out:
            start, end = out.index("{"), out.index("}")
            name = out[start + 1:end].split(":")[0]
            value = self.rng.choice(self.values.get(name, ["x", BRAVO.product, "0"]))
            out = out[:start] + (value if "%" in value else quote(value, safe="")) + out[end + 1:]
        return out

    def row(self, tenant: Tenant) -> dict[str, Any]:
        """A row of the caller's own product: valid, or with random names and values."""
        number, category, _, ident = tenant.columns
        if self.rng.random() < 0.3:
            return {number: self.rng.uniform(20, 80), category: self.rng.choice([tenant.value, "plus", None]),
                    ident: "c-1"}
        names = [*tenant.columns, "tenure", "unknown", ""]
        values = [None, 1, -1, 3.5, 10**20, 2**70, -1e300, "1e999", "", "abc", True, "9000元", "12.5%", "是",
                  tenant.value, [1, 2], {"a": 1}, "x" * 12000, float("nan"), float("inf")]
        return {self.rng.choice(names): self.rng.choice(values) for _ in range(self.rng.randint(0, 5))}

    def json_body(self, tenant: Tenant) -> Any:
        w, rng = self.w, self.rng
        order = (f"id: stolen-{rng.randint(0, 9999)}\ntenant: {rng.choice([BRAVO.id, ALPHA.id])}\n"
                 f"task: tabular-classification\ntarget: y\nacceptance: none\n"
                 f"data: [{{path: '{w.uploads[BRAVO.id]}/{BRAVO.upload}'}}]\n")
        choices = [
            {}, [], None, "x", 1, {"rows": [self.row(tenant) for _ in range(rng.randint(0, 3))]},
            {"rows": [self.row(tenant)], "version": rng.choice([1, 0, 2**40, "x"])},
            {"question": rng.choice(["?", "机密" * 50])},
            {"yaml": order}, {"yaml": "{{{{"}, {"id": f"gamma{rng.randint(0, 99)}"}, {"id": BRAVO.id},
            {"user": "mallory", "role": rng.choice(["owner", "operator", "god"]), "tenant": BRAVO.id},
            {"user": "mallory", "role": "viewer"}, {"url": rng.choice(["http://127.0.0.1:9/", "https://x.example/h"])},
            {"id": "stolen", "uploads": [w.uploads[BRAVO.id]], "tenant": BRAVO.id, "target": "y"},
            {"series": [{"t": 1, "y": 2}] * rng.randint(0, 3), "horizon": rng.choice([1, -1, 10**9])},
            {"model": BRAVO.product, "messages": [{"role": "user", "content": "机密?"}]},
            {"prediction_id": "x", "actual": rng.choice(["yes", 1, None])},
            {"a": [[[[[[[[[[[[{}]]]]]]]]]]]]}, {"rows": "x" * 3000},
        ]
        return rng.choice(choices)

    def body(self, tenant: Tenant) -> tuple[bytes | None, dict[str, str]]:
        kind = self.rng.random()
        if kind < 0.15:
            return None, {}
        if kind < 0.8:
            body = json.dumps(self.json_body(tenant), ensure_ascii=False).encode("utf-8")
            return body, {"Content-Type": "application/json"}
        if kind < 0.9:
            fields = {"key": self.rng.choice(list(self.w.keys.values()) + ["x"]), "yaml": "id: x", "csrf": "forged",
                      "rows": "[]", "next": "/orders"}
            return "&".join(f"{k}={quote(v)}" for k, v in fields.items()).encode(), {
                "Content-Type": "application/x-www-form-urlencoded"}
        raw = [self.rng.randbytes(self.rng.randint(0, 300)), b'{"rows": [', b"a,b\n1,2\n" * 50,
               "机密列,x\n".encode("gbk")]
        return self.rng.choice(raw), {"Content-Type": self.rng.choice(["application/json", "text/csv",
                                                                        "application/octet-stream"])}

    def request(self, target: str, route: tuple[str, str], who: str, headers: dict[str, Any]) -> Sent:
        method, template = route
        if self.rng.random() < 0.15:
            method = self.rng.choice(METHODS)
        params = {k: self.rng.choice(v) for k, v in self.params.items() if self.rng.random() < 0.12}
        with_body = method in ("POST", "PUT", "PATCH") or self.rng.random() < 0.05
        body, content_type = self.body(BRAVO if who.startswith("b_") else ALPHA) if with_body else (None, {})
        return Sent(target, who, method, self.fill(template), params, {**headers, **content_type}, body, route)


def send(client: httpx.Client, sent: Sent) -> Sent:
    """`sent` with its answer; a connection dropped twice or a request past its timeout answers 599. (Once is a
    keep-alive connection the server closed as the request went out, after an answer that left a body unread:
    sent again on a new one, as clients do.)"""
    for attempt in (1, 2):
        try:
            answer = client.request(sent.method, sent.path, params=sent.params, headers=sent.headers,
                                    content=sent.body)
        except httpx.TimeoutException as exc:
            sent.status, sent.text = 599, f"{type(exc).__name__}: {exc}"
            return sent
        except httpx.TransportError as exc:
            sent.status, sent.text = 599, f"{type(exc).__name__} (attempt {attempt}): {exc}"
            continue
        sent.status, sent.text = answer.status_code, "\n".join([answer.text, *answer.headers.values()])
        return sent
    return sent


def fuzz(w: World, target: str, seed: int, count: int) -> list[Sent]:
    """`count` requests to `target`: every route in turn (shuffled each round), each by a random caller."""
    fuzzer, who = Fuzzer(w, seed), callers(w)
    table = routes(w.apps[target])
    names = sorted(who)
    order: list[tuple[str, str]] = []
    while len(order) < count:
        batch = list(table)
        fuzzer.rng.shuffle(batch)
        order += batch
    done = []
    with httpx.Client(base_url=w.urls[target], timeout=30, follow_redirects=False) as client:
        for route in order:
            caller = fuzzer.rng.choice(names)
            sent = fuzzer.request(target, route, caller, fuzzer.rng.choice(who[caller]))
            done.append(send(client, sent))
    return done


def findings(w: World, done: list[Sent]) -> list[str]:
    """Each 5xx, and each answer that holds a secret its caller may not read."""
    found = []
    for sent in done:
        if sent.status >= 500:
            found.append(f"5xx: {sent}")
        if leak := leaked(sent, w.unreadable(sent.who)):
            found.append(f"leak of {leak}: {sent}")
    return found


def test_no_request_reads_another_tenants_data(world: World) -> None:
    started, counts, found, statuses = time.monotonic(), {}, [], Counter()
    for i, target in enumerate(MINIMUM):
        done = fuzz(world, target, SEED + i, int(MINIMUM[target] * 1.1))
        counts[target] = len(done)
        found += findings(world, done)
        statuses.update(f"{s.status // 100}xx" for s in done)
        table = routes(world.apps[target])
        assert {s.route for s in done} == set(table) and len(table) >= (50 if target == "portal" else 10), table
    print(f"isolation fuzz: {sum(counts.values())} requests {counts}, answers {dict(sorted(statuses.items()))}, "
          f"{len(found)} findings in {time.monotonic() - started:.1f}s")
    assert all(counts[t] >= MINIMUM[t] for t in MINIMUM) and sum(counts.values()) >= 1000, counts
    assert statuses["2xx"] >= 100, statuses  # the owners' own calls succeed: the servers were really exercised
    assert not found, f"{len(found)} findings:\n" + "\n".join(found[:40])


def test_the_check_sees_a_tenants_names_when_it_asks(world: World) -> None:
    """The check can see a leak: each owner reads its own names through the same routes."""
    with httpx.Client(timeout=30) as client:
        for tenant, owner in ((ALPHA, "a_owner"), (BRAVO, "b_owner")):
            for target, path in (("portal", "/api/v1/products"), ("portal", "/api/v1/uploads"),
                                 ("multi-product server", f"/products/{tenant.product}/metadata")):
                sent = send(client, Sent(target, owner, "GET", world.urls[target] + path, {},
                                         {"X-API-Key": world.keys[owner]}, None))
                assert sent.status == 200 and leaked(sent, world.secrets(tenant)), str(sent)
