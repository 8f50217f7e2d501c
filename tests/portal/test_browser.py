"""End to end in a real browser (Playwright driving Debian's Chromium, headless): sign in, switch to Chinese,
place an order with an uploaded CSV, watch it finish, open the report and the data card, get a prediction
from the delivered product; operators see the factory floor, owners the audit log. A screenshot of each step
goes to tests/portal/artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.portal.conftest import Factory

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ORDER = "e2e-order"
TERMINAL = ("done", "rejected", "failed", "cancelled")

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium fonts-wqy-microhei)", allow_module_level=True)


@pytest.fixture(scope="module")
def workers(factory: Factory) -> Iterator[None]:
    """The portal's embedded scheduling worker (what `mofang portal --workers 1` runs)."""
    from mofang.portal.workers import EmbeddedWorkers

    embedded = EmbeddedWorkers(1, home=str(factory.home))
    embedded.start()
    yield
    embedded.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield launched
        launched.close()


class Steps:
    """Numbered screenshots of one walk through the portal."""

    def __init__(self, page, start: int = 0) -> None:
        self.page, self.count = page, start
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, name: str) -> None:
        self.count += 1
        path = ARTIFACTS / f"{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path))  # the viewport: a full-page shot leaves later clicks off target
        print(f"screenshot: {path}")


def sign_in(page, factory: Factory, who: str) -> None:
    page.goto(f"{factory.url}/signin")
    page.fill("#api-key", factory.keys[who])
    page.click("#signin-button")


def test_a_customer_orders_watches_reads_and_tries_the_product(factory: Factory, workers: None, browser) -> None:
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    steps = Steps(page)

    sign_in(page, factory, "owner_a")
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
    page.fill("#budget", "0.25")
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
    page.wait_for_function("(t) => t.includes(document.querySelector('#job-status').dataset.status)", arg=TERMINAL,
                           timeout=300_000)
    status = page.get_attribute("#job-status", "data-status")
    assert status == "done", page.inner_text("main")
    page.wait_for_selector("#report-link:not(.hidden)")
    assert page.get_attribute("#station-delivery", "class").endswith("s-done")
    steps.shot("finished")

    page.click("#report-link")
    frame = page.frame_locator("#report-frame")
    frame.locator("img").first.wait_for()
    assert "roc_auc" in frame.locator("body").inner_text()
    steps.shot("report")

    page.goto(f"{factory.url}/datasets")
    page.locator("td a code").first.click()
    page.frame_locator("#card-frame").locator("body").wait_for()
    steps.shot("data-card")

    page.goto(f"{factory.url}/orders/{ORDER}")
    page.click("#product-link")
    page.wait_for_url(f"**/products/{ORDER}")
    row = {"年龄": "35岁", "城市": "上海", "学历": "本科", "月收入": "¥1.5万", "贷款金额": "120,000"}
    for field, value in row.items():
        if page.locator(f'input[data-feature="{field}"]').count():
            page.fill(f'input[data-feature="{field}"]', value)
    page.click("#predict-button")
    page.wait_for_selector("#prediction")
    assert page.inner_text("#predicted-value") in {"是", "否"}
    steps.shot("prediction")

    page.goto(f"{factory.url}/audit")
    page.wait_for_selector("#audit tbody tr")
    assert "order.submitted" in page.inner_text("#audit")
    steps.shot("audit-log")
    context.close()

    operator = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 1000}).new_page()
    sign_in(operator, factory, "operator")
    operator.wait_for_url("**/ops")
    operator.wait_for_selector("#tenants")
    assert "demo-bank" in operator.inner_text("#tenants") and "工厂总览" in operator.inner_text("h1")
    Steps(operator, start=steps.count).shot("operator-dashboard")


def test_a_bad_key_and_a_forged_form_are_refused(factory: Factory, browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{factory.url}/signin")
    page.fill("#api-key", factory.keys["owner_a"][:-4] + "AAAA")
    page.click("#signin-button")
    page.wait_for_selector("#signin-error")
    sign_in(page, factory, "owner_a")
    page.wait_for_url("**/orders")
    forged = page.request.post(f"{factory.url}/orders/new", form={"id": "forged", "csrf_token": "nope"})
    assert forged.status == 403
    no_token = page.request.post(f"{factory.url}/api/v1/orders", data={"yaml": "id: x"})
    assert no_token.status == 403  # a cookie-authenticated API call needs the session's CSRF header
