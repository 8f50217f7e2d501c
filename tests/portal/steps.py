"""What the portal's Playwright tests share: Debian's Chromium (skipped when absent, a failure under CI), signing
in, and numbered screenshots of each step (1200×800 viewports, small PNGs). They go to a temporary folder, so a
test run leaves the checkout as it was; `MOFANG_SCREENSHOTS=docs/screenshots` refreshes the ones the docs show."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(os.environ.get("MOFANG_SCREENSHOTS") or Path(tempfile.gettempdir()) / "mofang-screenshots")
VIEWPORT = {"width": 1200, "height": 800}


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it (apt-get install chromium)", pytrace=False)
    pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium fonts-wqy-microhei)", allow_module_level=True)


class Steps:
    """Numbered screenshots of one walk through the portal, named `<walk>-<nn>-<step>.png`."""

    def __init__(self, page: Any, walk: str, start: int = 0) -> None:
        self.page, self.walk, self.count = page, walk, start
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.count += 1
        path = SCREENSHOTS / f"{self.walk}-{self.count:02d}-{name}.png"
        self.page.screenshot(path=str(path))  # the viewport: a full-page shot leaves later clicks off target
        print(f"screenshot: {path}")


def sign_in(page: Any, url: str, key: str) -> None:
    page.goto(f"{url}/signin")
    page.fill("#api-key", key)
    page.click("#signin-button")
