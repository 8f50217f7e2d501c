"""End to end in a real browser (Playwright driving Debian's Chromium, headless): sign in, switch to Chinese,
place an order with an uploaded CSV, watch it finish, open the report and the data card, get a prediction
from the delivered product; operators see the factory floor, owners the audit log. A screenshot of each step
goes to a temporary folder (walk-*.png; `MOFANG_SCREENSHOTS=docs/screenshots` refreshes the docs' copies)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.portal.conftest import Factory
from tests.portal.steps import VIEWPORT, Steps, require_chromium, sign_in

ORDER = "e2e-order"
TERMINAL = ("done", "rejected", "failed", "cancelled")

require_chromium()


@pytest.fixture(scope="module")
def workers(factory: Factory) -> Iterator[None]:
    """The portal's embedded scheduling worker (what `mofang portal --workers 1` runs)."""
    from mofang.portal.workers import EmbeddedWorkers

    embedded = EmbeddedWorkers(1, home=str(factory.home))
    embedded.start()
    yield
    embedded.stop()


def test_a_customer_orders_watches_reads_and_tries_the_product(factory: Factory, workers: None, browser) -> None:
    context = browser.new_context(locale="en-US", viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(60_000)
    steps = Steps(page, "walk")

    sign_in(page, factory.url, factory.keys["owner_a"])
    page.wait_for_url("**/orders")
    cookie = next(c for c in context.cookies() if c["name"] == "mofang_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert factory.keys["owner_a"] not in str(context.cookies())
    steps.shot("signed-in")

    page.click("#lang-zh-CN")
    page.wait_for_selector("text=新建订单")
    steps.shot("chinese")

    page.click("#nav-new-order")
    page.select_option("#task", "tabular-classification")
    page.fill("#order-id", ORDER)
    page.set_input_files("#file-input", str(factory.csv))
    page.click("#upload-button")
    page.wait_for_selector('#profile-table tr[data-column="身份证号"]')
    assert "发现" in page.inner_text('#profile-table tr[data-column="身份证号"] td.pii')
    page.select_option("#target", "是否违约")
    page.select_option("#id-column", "借款编号")
    page.check('#profile-table tr[data-column="客户备注"] input[name="deny"]')
    page.select_option("#metric-name", "roc_auc")
    page.fill("#metric-value", ">= 0.55")
    page.fill("#budget", "0.4")
    steps.shot("wizard-preview")

    invalid = page.evaluate("[...document.querySelectorAll('#wizard-form :invalid')].map(e => e.name)")
    assert not invalid, invalid
    with page.expect_navigation():
        page.click("#place-order")
    assert page.locator("#line").count(), page.inner_text("body")
    assert page.url.endswith(f"/orders/{ORDER}")
    assert page.locator('#station-delivery li[data-process="register"]').count() == 1  # the whole line, planned
    steps.shot("order-placed")
    page.wait_for_selector("#station-data.s-done, #station-data.s-running", timeout=180_000)
    steps.shot("progress")
    # while the model workshop trains: trials counted and a best score per family, live
    page.wait_for_function("""() => document.querySelector('#station-model').classList.contains('s-running')
        && +document.querySelector('#trials-done').textContent > 0
        && [...document.querySelectorAll('#leaderboard td.best')].some(td => td.textContent !== '—')""",
                           timeout=300_000, polling=200)
    assert float(page.get_attribute("#budget-bar", "style").split(":")[1].strip(" %;")) > 0
    assert "模型训练" in page.inner_text("#training") and page.locator("#reasons li").count() > 0
    try:  # for the picture: a family beyond the dummy baseline scored, if training is still on
        page.wait_for_selector('#leaderboard tr:not([data-family="dummy"]) td.best:not(:text-is("—"))', timeout=20_000)
    except Exception:  # noqa: BLE001 - the assertion above is the test; this only waits for a better screenshot
        pass
    page.locator("#training").scroll_into_view_if_needed()
    steps.shot("training-live")
    page.wait_for_function("(t) => t.includes(document.querySelector('#job-status').dataset.status)", arg=TERMINAL,
                           timeout=300_000)
    status = page.get_attribute("#job-status", "data-status")
    assert status == "done", page.inner_text("main")
    page.wait_for_selector("#report-link:not(.hidden)")
    assert page.get_attribute("#station-delivery", "class").endswith("s-done")
    steps.shot("finished")

    assert page.locator("#leaderboard tbody tr").count() >= 2 and "已用" in page.inner_text("#budget-text")
    page.click("#report-link")
    frame = page.frame_locator("#report-frame")
    frame.locator("img").first.wait_for()
    report_text = frame.locator("body").inner_text()
    assert "roc_auc" in report_text and "评测报告" in report_text and "验收门槛" in report_text  # in zh-CN
    assert frame.locator("html").get_attribute("lang") == "zh-CN"
    assert "结论" in page.inner_text("#report-summary") and "通过验收" in page.inner_text("#report-verdict")
    page.wait_for_function("""() => { const f = document.querySelector('#report-frame');
        return f.contentDocument
            && f.getBoundingClientRect().height >= f.contentDocument.documentElement.scrollHeight; }""")
    page.locator("#report-summary").scroll_into_view_if_needed()
    steps.shot("report")

    page.goto(f"{factory.url}/datasets")
    page.locator("td a code").first.click()
    page.frame_locator("#card-frame").locator("body").wait_for()
    steps.shot("data-card")

    page.goto(f"{factory.url}/orders/{ORDER}")
    page.click("#product-link")
    page.wait_for_url(f"**/products/{ORDER}")
    city = page.locator('select[data-feature="城市"]')
    assert city.count() == 1, page.inner_html("#try-form")  # a categorical input is a dropdown of what it learnt
    assert "上海" in city.inner_text()
    city.select_option("上海")
    if page.locator('select[data-feature="学历"]').count():
        page.select_option('select[data-feature="学历"]', "本科")
    for field, value in {"年龄": "35", "月收入": "15000", "贷款金额": "120000"}.items():
        if page.locator(f'input[type="number"][data-feature="{field}"]').count():
            page.fill(f'input[data-feature="{field}"]', value)
    steps.shot("try-it-dropdown")
    page.click("#predict-button")
    page.wait_for_selector("#prediction")
    assert page.inner_text("#predicted-value") in {"是", "否"}
    steps.shot("prediction")

    page.goto(f"{factory.url}/orders?status=done&q={ORDER}")
    assert page.locator(f'#orders tr[data-order="{ORDER}"]').count() == 1
    assert page.locator('#orders tr[data-order="loan-default-demo"]').count() == 0
    steps.shot("orders-filtered")

    page.goto(f"{factory.url}/audit")
    page.wait_for_selector("#audit tbody tr")
    assert "order.submitted" in page.inner_text("#audit")
    steps.shot("audit-log")
    context.close()

    operator = browser.new_context(locale="zh-CN", viewport=VIEWPORT).new_page()
    sign_in(operator, factory.url, factory.keys["operator"])
    operator.wait_for_url("**/ops")
    operator.wait_for_selector("#tenants")
    assert "demo-bank" in operator.inner_text("#tenants") and "工厂总览" in operator.inner_text("h1")
    Steps(operator, "walk", start=steps.count).shot("operator-dashboard")


def test_a_bad_key_and_a_forged_form_are_refused(factory: Factory, browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{factory.url}/signin")
    page.fill("#api-key", factory.keys["owner_a"][:-4] + "AAAA")
    page.click("#signin-button")
    page.wait_for_selector("#signin-error")
    sign_in(page, factory.url, factory.keys["owner_a"])
    page.wait_for_url("**/orders")
    forged = page.request.post(f"{factory.url}/orders/new", form={"id": "forged", "csrf_token": "nope"})
    assert forged.status == 403
    no_token = page.request.post(f"{factory.url}/api/v1/orders", data={"yaml": "id: x"})
    assert no_token.status == 403  # a cookie-authenticated API call needs the session's CSRF header
