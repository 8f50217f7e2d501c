"""Pages rendered with a CJK font for the OCR tests and bench/ocr.py: Chinese and English lines, their images,
and character accuracy (1 − edit distance / reference length)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

FONT_PATH = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")
FONT_MISSING = (f"the CJK font {FONT_PATH} is missing: install it (Debian/Ubuntu: apt-get install fonts-wqy-microhei, "
                "as .ci/run does); the OCR tests render their pages with it")

CHINESE = [
    "本合同自双方签字盖章之日起生效，有效期三年。", "甲方应于每月五日前支付上月服务费用。",
    "乙方负责设备的安装、调试和日常维护。", "如一方违约，应向守约方支付违约金。",
    "双方因履行本合同发生争议的，应协商解决。", "本协议一式两份，甲乙双方各执一份。",
    "发票金额以实际验收数量为准。", "请于收到通知后十个工作日内办理手续。",
    "公司年度营业收入同比增长百分之十二。", "会议决定下季度扩大华东地区的销售团队。",
    "仓库盘点发现三批货物的数量与账面不符。", "客户反馈产品包装破损，要求退换货。",
    "新员工入职培训安排在下周一上午九点。", "财务部门将于月底完成全部报销审核。",
    "项目验收合格后支付剩余百分之三十的款项。", "所有数据均已加密存储并定期备份。",
]
ENGLISH = [
    "The quarterly revenue grew by 12.5% year over year.", "Payment is due within thirty days of the invoice date.",
    "Please sign and return one copy of this agreement.", "The warranty covers parts and labour for two years.",
    "All shipments must be inspected on arrival.", "Contact the service desk for any technical questions.",
    "The meeting has been moved to Friday afternoon.", "Order number 58213 was delivered to Shanghai.",
    "Total amount: 8,500 CNY including tax.", "This report is confidential and for internal use only.",
]
MIXED = ["合同编号 HT-2026-0415，签订日期 2026年3月18日", "联系电话 021-6688 7766，邮箱 service@mofang.cn",
         "设备型号 MX-300 共 24 台，单价 1,280 元", "订单 PO-77812 已于 12 月 5 日发货"]


def font(size: int) -> Any:
    """The CJK font at `size` pixels; a clear error when it is not installed."""
    from PIL import ImageFont

    if not FONT_PATH.exists():
        raise RuntimeError(FONT_MISSING)
    return ImageFont.truetype(str(FONT_PATH), size)


def sample_lines(rng: random.Random, n: int, pools: tuple[list[str], ...] = (CHINESE, ENGLISH, MIXED)) -> list[str]:
    """`n` lines drawn from the pools in turn (Chinese, English, mixed), no line twice on a page."""
    lines: list[str] = []
    while len(lines) < n:
        pool = pools[len(lines) % len(pools)]
        line = rng.choice(pool)
        if line not in lines or len(lines) >= sum(map(len, pools)):
            lines.append(line)
    return lines


def render_page(lines: list[str], *, size: int = 26, margin: int = 40, spacing: float = 1.8,
                noise: float = 0.0, seed: int = 0) -> Any:
    """A white grayscale page holding `lines` in black, one under another; `noise`: the standard deviation of
    Gaussian pixel noise (a scanner's grain)."""
    import numpy as np
    from PIL import Image, ImageDraw

    face = font(size)
    width = int(max(face.getlength(line) for line in lines)) + 2 * margin
    height = int(len(lines) * size * spacing) + 2 * margin
    page = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * size * spacing), line, font=face, fill=0)
    if noise:
        pixels = np.asarray(page, dtype=np.float64) + np.random.default_rng(seed).normal(0, noise, page.size[::-1])
        page = Image.fromarray(pixels.clip(0, 255).astype(np.uint8), "L")
    return page


def png_bytes(page: Any, fmt: str = "PNG") -> bytes:
    import io

    buffer = io.BytesIO()
    page.save(buffer, fmt)
    return buffer.getvalue()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions) between two strings."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def character_accuracy(references: list[str], readings: list[str], *, spaces: bool = False) -> float:
    """1 − (sum of edit distances) / (sum of reference lengths) over all pages. Whitespace is removed from both
    first (a CJK page's text has none, and OCR's spacing of Latin words is layout), unless `spaces`, where runs of
    whitespace become one space."""
    def norm(text: str) -> str:
        return " ".join(text.split()) if spaces else "".join(text.split())

    errors = sum(edit_distance(norm(r), norm(h)) for r, h in zip(references, readings, strict=True))
    return 1 - errors / max(1, sum(len(norm(r)) for r in references))
