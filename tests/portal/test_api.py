"""The REST API over a real server: orders from YAML and the form, uploads, jobs, reports, products, datasets."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from mofang.security.crypto import is_encrypted
from tests.portal.conftest import ORDER, TENANT, UPLOAD_MB, Factory, signed_in


def test_openapi_lists_the_versioned_api(factory: Factory) -> None:
    with factory.client() as anyone:
        spec = anyone.get("/openapi.json").json()
        assert anyone.get("/docs").status_code == 200
    paths = set(spec["paths"])
    assert {"/api/v1/orders", "/api/v1/jobs/{job_id}/events", "/api/v1/products/{name}/predict",
            "/api/v1/datasets/{digest}/card", "/api/v1/webhook"} <= paths
    assert all(p.startswith("/api/v1/") for p in paths)


def test_an_owner_reads_its_order_job_report_product_and_data_card(factory: Factory) -> None:
    with factory.client("member_a") as a:
        orders = a.get("/api/v1/orders").json()
        assert ORDER in [o["order_id"] for o in orders] and {o["tenant"] for o in orders} == {TENANT}
        order = a.get(f"/api/v1/orders/{ORDER}").json()
        stations = [s["station"] for s in order["job_list"][0]["stations"]]
        assert stations == ["data", "model", "evaluation", "integration", "delivery"]
        job = a.get(f"/api/v1/jobs/{factory.job}").json()
        assert job["status"] == "done" and job["outcome"]["verdict"] == "accepted"
        assert "report" not in job["outcome"]  # no server paths
        report = a.get(f"/api/v1/orders/{ORDER}/report")
        assert report.status_code == 200 and "<html" in report.text.lower() and "data:image/png" in report.text
        products = a.get("/api/v1/products").json()
        mine = next(p for p in products if p["name"] == ORDER)
        assert mine["versions"][0]["version"] == 1
        product = a.get(f"/api/v1/products/{ORDER}").json()
        assert product["schema"]["features"]
        product_report = a.get(f"/api/v1/products/{ORDER}/versions/1/report")
        assert product_report.status_code == 200 and "Evaluation report" in product_report.text
        assert "model-index" in a.get(f"/api/v1/products/{ORDER}/versions/1/card").text
        datasets = a.get("/api/v1/datasets").json()
        assert {"digest": factory.digest, "order_id": ORDER} in [{k: d[k] for k in ("digest", "order_id")}
                                                                 for d in datasets]
        card = a.get(f"/api/v1/datasets/{factory.digest}/card").json()
        assert card["lineage"]["sources"]
        assert a.get(f"/api/v1/datasets/{factory.digest}/card.html").status_code == 200


def test_the_report_is_served_in_the_portal_language(factory: Factory) -> None:
    with factory.client("member_a") as a:
        english = a.get(f"/api/v1/orders/{ORDER}/report").text
        assert '<html lang="en">' in english and "Evaluation report" in english and "Leaderboard" in english
        for asked in ({"params": {"lang": "zh-CN"}}, {"cookies": {"mofang_lang": "zh-CN"}}):
            chinese = a.get(f"/api/v1/orders/{ORDER}/report", **asked).text
            assert '<html lang="zh-CN">' in chinese and "评测报告" in chinese and "排行榜" in chinese, asked
            assert "Leaderboard" not in chinese
        unknown = a.get(f"/api/v1/orders/{ORDER}/report", params={"lang": "fr"})
        assert unknown.status_code == 422 and "lang" in unknown.text  # a language the reports are not written in
        product = a.get(f"/api/v1/products/{ORDER}/versions/1/report", params={"lang": "zh-CN"}).text
        assert "评测报告" in product and "验收门槛" in product
        assert a.get(f"/api/v1/orders/{ORDER}/report", params={"lang": "fr"}).status_code == 422
        page = a.get(f"/orders/{ORDER}/report", cookies={"mofang_lang": "zh-CN"}).text
        assert f"/api/v1/orders/{ORDER}/report?lang=zh-CN" in page
        assert "验收门槛" in a.get(f"/api/v1/products/{ORDER}/versions/1/card").text  # the model card too


def test_predict_validates_rows_like_the_served_product(factory: Factory) -> None:
    row = {"年龄": "35岁", "城市": "上海", "学历": "本科", "月收入": "¥1.5万", "贷款金额": "120,000"}
    with factory.client("viewer_a") as a:
        answer = a.post(f"/api/v1/products/{ORDER}/predict", json={"rows": [row, {}]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body["predictions"]) == 2 and set(body["probabilities"][0]) == {"是", "否"}
        bad = a.post(f"/api/v1/products/{ORDER}/predict", json={"rows": [{"no_such_field": 1}]})
        assert bad.status_code == 422 and "rows[0]" in bad.text and "no_such_field" in bad.text


def test_uploads_stream_to_the_tenant_area_with_a_size_limit(factory: Factory) -> None:
    with factory.client("owner_a") as a:
        listed = a.get("/api/v1/uploads").json()
        assert factory.upload_id in [u["upload_id"] for u in listed]
        stored = factory.home / "tenants" / TENANT / "uploads" / factory.upload_id / "loans.csv"
        assert stored.stat().st_mode & 0o077 == 0 and is_encrypted(stored)  # the tenant's key, never in clear
        profile = a.get(f"/api/v1/uploads/{factory.upload_id}/profile").json()
        assert profile["encoding"].lower() in {"gbk", "gb18030"} and profile["rows"] >= 400
        assert {"身份证号", "手机号"} <= set(profile["pii"])
        assert str(factory.home) not in json.dumps(profile, ensure_ascii=False)
        declared = a.post("/api/v1/uploads", params={"name": "big.csv"}, content=b"x" * (UPLOAD_MB * 2**20 + 1))
        assert declared.status_code == 413, declared.text

        def chunks():  # no Content-Length: refused while streaming, once past the limit
            for _ in range(UPLOAD_MB * 4 + 1):
                yield b"y" * 2**18

        streamed = a.post("/api/v1/uploads", params={"name": "big.csv"}, content=chunks())
        assert streamed.status_code == 413, streamed.text
        assert not any(u["name"] == "big.csv" for u in a.get("/api/v1/uploads").json())
        traversal = a.post("/api/v1/uploads", params={"name": "../../etc/passwd.csv"}, content=b"a,b\n1,2\n")
        assert traversal.json()["name"] == "passwd.csv"  # only the base name is kept, inside the upload folder
        for name in ("run.sh", ".hidden.csv", "名单.csv.exe", "a;b.csv"):
            refused = a.post("/api/v1/uploads", params={"name": name}, content=b"a,b\n1,2\n")
            assert refused.status_code == 422, (name, refused.text)
        empty = a.post("/api/v1/uploads", params={"name": "empty.csv"}, content=b"")
        assert empty.status_code == 422


def test_an_api_order_reads_only_uploaded_files(factory: Factory) -> None:
    with factory.client("owner_a") as a:
        for path in ("/etc/passwd", "../../../master.key", "nope/missing.csv"):
            text = (f"id: x1\ntenant: {TENANT}\ntask: tabular-classification\ndata: [{{path: '{path}'}}]\ntarget: y\n"
                    "acceptance: none\n")
            answer = a.post("/api/v1/orders", json={"yaml": text})
            assert answer.status_code == 422 and "data.0.path" in answer.text, answer.text
        url = (f"id: x2\ntenant: {TENANT}\ntask: tabular-classification\ntarget: y\n"
               "data: [{url: 'sqlite:////etc/x.db', table: t}]\nacceptance: none\n")
        assert "data.0.url" in a.post("/api/v1/orders", json={"yaml": url}).text
        bare = (f"id: by-name\ntenant: {TENANT}\ntask: tabular-classification\ntarget: 是否违约\n"
                "data: [{path: loans.csv}]\nacceptance: {metrics: {roc_auc: '>= 0.5'}}\n")
        placed = a.post("/api/v1/orders", json={"yaml": bare})  # a bare name: the newest upload of that name
        assert placed.status_code == 201, placed.text
        assert a.post(f"/api/v1/jobs/{placed.json()['job_id']}/cancel").json()["state"] == "cancelled"
        typo = a.post("/api/v1/orders", json={"yaml": f"id: x3\ntenant: {TENANT}\ntask: tabular-clasification\n"})
        assert typo.status_code == 422 and "did you mean 'tabular-classification'" in typo.text


def test_an_order_placed_from_the_form_is_queued_and_can_be_cancelled(factory: Factory) -> None:
    form = {"id": "form-order", "uploads": [factory.upload_id], "target": "是否违约", "id_column": "借款编号",
            "deny": ["客户备注"], "metrics": {"roc_auc": ">= 0.5"}, "budget_minutes": 0.25}
    with factory.client("member_a") as a:
        placed = a.post("/api/v1/orders/form", json=form)
        assert placed.status_code == 201, placed.text
        job = placed.json()["job_id"]
        spec = a.get("/api/v1/orders/form-order").json()["spec"]
        assert spec["columns"]["deny"] == ["客户备注"] and spec["acceptance"]["metrics"]["roc_auc"] == ">= 0.5"
        assert spec["data"] == [{**spec["data"][0], "path": f"{factory.upload_id}/loans.csv"}]  # no server folders
        queued = a.get("/api/v1/jobs", params={"state": "queued"}).json()
        assert job in [j["job_id"] for j in queued]
        assert a.post("/api/v1/orders/form-order/cancel").json() == {"job_id": job, "state": "cancelled"}
        assert a.get(f"/api/v1/jobs/{job}").json()["status"] == "cancelled"
        assert a.post(f"/api/v1/jobs/{job}/cancel").status_code == 409


def test_events_stream_the_job_until_it_ends(factory: Factory) -> None:
    with factory.client("viewer_a") as a, a.stream("GET", f"/api/v1/jobs/{factory.job}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert text.startswith("event: progress\n") and "event: end" in text and '"status": "done"' in text


def test_every_page_renders_for_its_audience(factory: Factory) -> None:
    pages = ["/orders", "/orders/new", f"/orders/{ORDER}", f"/orders/{ORDER}/report", "/products",
             f"/products/{ORDER}", "/datasets", f"/datasets/{factory.digest}", "/audit"]
    with factory.client("owner_a") as a:
        for page in pages:
            answer = a.get(page)
            assert answer.status_code == 200 and "</html>" in answer.text, (page, answer.text[:300])
        assert a.get("/", follow_redirects=False).headers["location"] == "/orders"
        chinese = a.get("/orders", cookies={"mofang_lang": "zh-CN"}).text
        assert "订单" in chinese and 'lang="zh-CN"' in chinese
    with factory.client("operator") as ops:
        assert ops.get("/ops").status_code == 200 and ops.get("/audit").status_code == 200


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(factory: Factory) -> None:
    """FastAPI's own 422 handler cannot encode a raw body that is not UTF-8 and answered 500 (found by the
    isolation fuzz); the portal answers a JSON-safe 422 that quotes it."""
    with factory.client("owner_a") as a:
        for path in ("/api/v1/orders/form", "/api/v1/orders", "/api/v1/keys"):
            answer = a.post(path, content="机密列,x\n".encode("gbk"), headers={"Content-Type": "text/csv"})
            assert answer.status_code == 422, (path, answer.status_code, answer.text)
            assert answer.json()["detail"][0]["input"].startswith("b'"), answer.text


def test_a_form_order_without_a_criterion_says_acceptance_none(factory: Factory) -> None:
    form = {"id": "no-criterion", "uploads": [factory.upload_id], "target": "是否违约", "budget_minutes": 0.25}
    with factory.client("member_a") as a:
        placed = a.post("/api/v1/orders/form", json=form)
        assert placed.status_code == 201, placed.text
        assert a.get("/api/v1/orders/no-criterion").json()["spec"]["acceptance"] == "none"
        a.post(f"/api/v1/jobs/{placed.json()['job_id']}/cancel")


def test_a_key_made_over_the_api_can_expire_and_its_listing_says_when(factory: Factory) -> None:
    with factory.client("owner_a") as owner:
        made = owner.post("/api/v1/keys", json={"user": "contractor", "role": "viewer", "expires": "30d"})
        assert made.status_code == 201, made.text
        expires = datetime.fromisoformat(made.json()["expires_at"])
        assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
        listed = {k["key_id"]: k for k in owner.get("/api/v1/keys").json()}
        assert listed[made.json()["key_id"]]["state"] == "live"
        assert listed[made.json()["key_id"]]["expires_at"] == made.json()["expires_at"]
        assert listed[factory.key_id("owner_a")]["expires_at"] is None
        dated = owner.post("/api/v1/keys", json={"user": "auditor", "role": "viewer", "expires": "2099-01-31"})
        assert dated.json()["expires_at"].startswith("2099-01-31T00:00:00")
        for bad in ("soon", "2001-01-01"):
            refused = owner.post("/api/v1/keys", json={"user": "x", "role": "viewer", "expires": bad})
            assert refused.status_code == 422 and "expir" in refused.json()["detail"], refused.text


def test_the_orders_list_filters_searches_and_pages(factory: Factory) -> None:
    form = {"id": "list-second", "uploads": [factory.upload_id], "target": "是否违约",
            "metrics": {"roc_auc": ">= 0.5"}, "budget_minutes": 0.25}
    with factory.client("owner_a") as a:
        if a.get("/api/v1/orders/list-second").status_code == 404:  # a second order of its own, whatever ran before
            placed = a.post("/api/v1/orders/form", json=form)
            assert placed.status_code == 201, placed.text
            a.post(f"/api/v1/jobs/{placed.json()['job_id']}/cancel")
        everything = a.get("/api/v1/orders", params={"per_page": 200})
        total = int(everything.headers["X-Total-Count"])
        assert total == len(everything.json()) >= 2
        ids = [o["order_id"] for o in everything.json()]
        assert ids[-1] == ORDER  # newest first: the fixture's order was the first
        done = a.get("/api/v1/orders", params={"status": "done"}).json()
        assert ORDER in {o["order_id"] for o in done} and all(o["latest_job"]["status"] == "done" for o in done)
        assert all(o["latest_job"]["finished_at"] for o in done)
        cancelled = a.get("/api/v1/orders", params={"status": "cancelled"}).json()
        assert ORDER not in {o["order_id"] for o in cancelled}
        assert a.get("/api/v1/orders", params={"q": "DEFAULT-DEMO"}).json()[0]["order_id"] == ORDER
        described = everything.json()[-1]["description"]
        if described:  # the demo order's description, found by a word of it
            word = described.split()[0]
            assert ORDER in {o["order_id"] for o in a.get("/api/v1/orders", params={"q": word}).json()}
        assert a.get("/api/v1/orders", params={"q": "%"}).json() == []  # LIKE wildcards are literal
        first = a.get("/api/v1/orders", params={"per_page": 1, "page": 1})
        assert len(first.json()) == 1 and 'rel="next"' in first.headers["Link"]
        last = a.get("/api/v1/orders", params={"per_page": 1, "page": total})
        assert last.json()[0]["order_id"] == ORDER and 'rel="prev"' in last.headers["Link"]
        assert a.get("/api/v1/orders", params={"status": "sleeping"}).status_code == 422
    with factory.client("owner_b") as b:
        assert ORDER not in {o["order_id"] for o in b.get("/api/v1/orders", params={"q": ORDER}).json()}


def test_the_try_it_form_is_typed_and_its_refusals_are_plain(factory: Factory) -> None:
    with signed_in(factory.url, factory.keys["member_a"]) as client:
        client.cookies.set("mofang_lang", "zh-CN")
        page = client.get(f"/products/{ORDER}").text
        assert re.search(r'<select name="城市" data-feature="城市">', page)  # a dropdown of the learnt categories
        assert re.search(r'<input type="number" step="any" name="年龄"', page) and "训练数据范围" in page
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        refused = client.post(f"/products/{ORDER}/try", data={"csrf_token": csrf.group(1), "年龄": "很老"})
        assert refused.status_code == 422
        error = re.search(r'<p class="error" id="try-error">([^<]+)</p>', refused.text)
        assert error and "年龄" in error.group(1) and "请" in error.group(1), refused.text[-2000:]
