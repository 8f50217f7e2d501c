"""Score Mofang's PII detection per kind on ../shared/datasets/pii against Presidio's pattern recognizers.

Presidio gets the SAME regexes (context words become lookbehinds, since Presidio scores whole matches) and the
same checksums through `validate_result`; it runs offline, recognizers called directly, no NLP model (skipped when
presidio-analyzer is not installed: `pip install -e '.[bench]'`). Mofang is scored with jieba's part-of-speech tags
and with its patterns alone (`tagger=False`, the detector before the tags). Then whole columns: columns of 50
distinct gold values of one category (names, addresses, companies...), and whether each is found as names.

Names and addresses are also scored on two halves of the texts, split by a hash of the text (a CLUENER dev text that
a BDCI document contains goes with that document): half A is the one the recognizers were developed on, half B is
held out, so a rule fitted to rows of A shows as a gap between the halves.

    .venv/bin/python bench/pii.py [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from mofang.data.pii.columns import find_pii
from mofang.data.pii.patterns import KINDS, PATTERNS, Pattern
from mofang.data.pii.spans import find_spans_many
from mofang.data.pii.validators import luhn_valid, valid_id_card

ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pii"
# BDCI 2020 categories → ours; 'mobile' there means any phone number (HK/TW/landline included)
BDCI = {"mobile": "mobile", "email": "email", "QQ": "qq", "vx": "wechat", "name": "person_name", "address": "address"}
MAINLAND_MOBILE = re.compile(r"(?:86)?1[3-9][0-9]{9}")
# a gold email that is not one (a glued word, a cut domain, a stray quote) is a labelling slip
WELL_FORMED_EMAIL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\."
                               r"(?:com|net|org|edu|gov|cn|hk|tw|info|asia|biz|me|co|jp|kr|sg|my)")
Doc = tuple[str, str, set[tuple[int, int, str]]]  # source, text, gold spans


def bdci(limit: int | None) -> list[Doc]:
    docs = []
    for line in (ROOT / "bdci2020_privacy_entities.jsonl").read_text(encoding="utf-8").split("\n")[:limit]:
        if not line.strip():
            continue
        row = json.loads(line)
        gold = {(e["start"], e["end"], BDCI[e["category"]]) for e in row["entities"] if e["category"] in BDCI}
        docs.append(("bdci", row["text"], gold))
    return docs


def multipriv(limit: int | None) -> list[Doc]:
    docs = []
    for row in json.loads((ROOT / "multipriv_person_1000_zh.json").read_text(encoding="utf-8"))[:limit]:
        text, gold = row["naturalParagraph"], set()
        values = [(str(row["idCardNumbers"]), "id_card"), (row["phoneNumbers"], "mobile"),
                  (row["emailAddress"], "email"), (row["name"], "person_name"), (row["doctor"], "person_name"),
                  (row["location"], "address")]
        for value, kind in values:
            if kind == "id_card" and not valid_id_card(value):
                continue  # 887 of 975 fail GB 11643: random digits, not ID numbers, so not gold
            gold |= {(m.start(), m.end(), kind) for m in re.finditer(re.escape(value), text)}
        docs.append(("multipriv", text, gold))
    return docs


def cluener(limit: int | None) -> list[Doc]:
    docs = []
    for line in (ROOT / "cluener" / "dev.jsonl").read_text(encoding="utf-8").split("\n")[:limit]:
        if not line.strip():
            continue
        row = json.loads(line)
        gold = {(e["entity_index"]["begin"], e["entity_index"]["end"], {"name": "person_name"}.get(
            e["entity_type"], e["entity_type"])) for e in row["entity_list"] if e["entity_type"] in ("name", "address")}
        docs.append(("cluener", row["text"], gold))
    return docs


def halves(docs: list[Doc]) -> list[str]:
    """'A' (developed on) or 'B' (held out) per document, by a hash of its text; a CLUENER dev text inside a BDCI
    document takes that document's half, so no text is in both."""
    def half(text: str) -> str:
        return "AB"[hashlib.md5(text.encode("utf-8")).digest()[0] % 2]

    containers = [text for source, text, _ in docs if source == "bdci"]
    out = []
    for source, text, _ in docs:
        home = next((c for c in containers if text in c), text) if source == "cluener" else text
        out.append(half(home))
    return out


def bank_cards(count: int, seed: int = 0) -> list[Doc]:
    """Synthetic: no public Chinese text labels bank cards. Luhn-valid cards (real BINs) and Luhn-invalid decoys."""
    rng = random.Random(seed)
    bins = ["622202", "621700", "622848", "622588", "436742", "622700", "625965", "402674", "512425", "955880"]
    docs = []
    for i in range(count):
        body = rng.choice(bins) + "".join(rng.choice("0123456789") for _ in range(rng.choice([9, 12])))
        check = next(d for d in "0123456789" if luhn_valid(body + d))
        card = body + check
        decoy = body + str((int(check) + rng.randint(1, 9)) % 10)
        shown = " ".join(card[j:j + 4] for j in range(0, len(card), 4)) if i % 3 == 0 else card
        prefix = rng.choice(["请将款项转入", "收款卡号：", "我的银行卡是", "账号", "退款至尾号不详的卡 "])
        text = f"{prefix}{shown}，订单号{decoy}，谢谢。"
        docs.append(("synthetic", text, {(len(prefix), len(prefix) + len(shown), "bank_card")}))
    return docs


# which sources label which kinds; a kind is scored only on texts whose source labels it (or holds none of it)
SCORED_ON = {"id_card": {"multipriv", "bdci"}, "mobile": {"bdci", "multipriv"}, "email": {"bdci", "multipriv"},
             "bank_card": {"synthetic", "bdci", "multipriv"}, "qq": {"bdci"}, "wechat": {"bdci"},
             "person_name": {"bdci", "multipriv", "cluener"}, "address": {"bdci", "multipriv", "cluener"}}


def mofang(texts: list[str], tagger: bool = True) -> list[set[tuple[int, int, str]]]:
    return [{(s.start, s.end, s.kind) for s in spans} for spans in find_spans_many(texts, tagger=tagger)]


def presidio_recognizers() -> list:
    import regex
    from presidio_analyzer import Pattern as PresidioPattern
    from presidio_analyzer import PatternRecognizer

    class Checked(PatternRecognizer):
        def __init__(self, pattern: Pattern) -> None:
            prefix, rest = pattern.regex.split("(?P<v>", 1)
            whole = (f"(?<={prefix})" if prefix else "") + "(?P<v>" + rest  # context words become a lookbehind
            super().__init__(supported_entity=pattern.kind, name=pattern.name, supported_language="zh",
                             patterns=[PresidioPattern(pattern.name, whole, pattern.score)],
                             global_regex_flags=regex.DOTALL | regex.MULTILINE)
            self.check = pattern.check

        def validate_result(self, pattern_text: str) -> bool | None:
            return None if self.check is None else self.check(pattern_text)

    return [Checked(p) for p in PATTERNS]


def presidio(texts: list[str], recognizers: list) -> list[set[tuple[int, int, str]]]:
    out = []
    for text in texts:
        found = set()
        for recognizer in recognizers:
            entities = recognizer.supported_entities
            found |= {(r.start, r.end, r.entity_type) for r in recognizer.analyze(text, entities)}
        out.append(found)
    return out


def score(docs: list[Doc], predicted: list[set[tuple[int, int, str]]], *, clean: bool = False
          ) -> dict[str, tuple[int, int, int, int]]:
    """Per kind: support, true positives, predictions, gold found. Mobile gold: BDCI phones of mainland mobile
    shape; a predicted mobile equal to any BDCI phone span is right (Taiwan/HK/landline phones are not our mobile).
    `clean`: malformed gold emails are left out, and so are predictions overlapping them."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (source, text, gold), found in zip(docs, predicted, strict=True):
        for kind in KINDS:
            if source not in SCORED_ON.get(kind, ()):
                continue
            truth = {g for g in gold if g[2] == kind}
            if kind == "mobile":
                any_phone = truth
                truth = {g for g in truth if MAINLAND_MOBILE.fullmatch(re.sub(r"[^0-9]", "", text[g[0]:g[1]]))}
            else:
                any_phone = truth
            guess = {f for f in found if f[2] == kind}
            if clean and kind == "email":
                slips = {g for g in truth if not WELL_FORMED_EMAIL.fullmatch(text[g[0]:g[1]])}
                truth -= slips
                any_phone = truth
                guess = {f for f in guess if not any(f[0] < e and f[1] > s for s, e, _ in slips)}
            c = counts[kind]
            c[0] += len(truth)
            c[1] += len(guess & any_phone)
            c[2] += len(guess)
            c[3] += len(truth & guess)
    return {k: tuple(v) for k, v in counts.items()}


def prf(tp: int, predicted: int, support: int, found: int) -> str:
    p = tp / predicted if predicted else float("nan")
    r = found / support if support else float("nan")
    f = 2 * p * r / (p + r) if p + r else 0.0
    return f"{p:5.3f} {r:5.3f} {f:5.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="documents per source")
    args = parser.parse_args()
    docs = bdci(args.limit) + multipriv(args.limit) + cluener(args.limit) + bank_cards(args.limit or 300)
    texts = [d[1] for d in docs]
    mofang(texts[:10])  # jieba's dictionary loads once, outside the timing
    runs: dict[str, list[set[tuple[int, int, str]]]] = {}
    rates: dict[str, float] = {}
    for name, tagger in (("Mofang", True), ("patterns", False)):
        started = time.perf_counter()
        runs[name] = mofang(texts, tagger)
        rates[name] = len(texts) / (time.perf_counter() - started)
    try:
        recognizers = presidio_recognizers()
    except ImportError:
        print("Presidio not installed: its columns are left out")
    else:
        started = time.perf_counter()
        runs["Presidio"] = presidio(texts, recognizers)
        rates["Presidio"] = len(texts) / (time.perf_counter() - started)
    print(f"{len(texts)} texts: bdci + multipriv + cluener dev + synthetic bank cards")
    for clean in (False, True):
        print("\n" + ("gold with malformed emails left out" if clean else "gold as labelled"))
        table({name: score(docs, found, clean=clean) for name, found in runs.items()})
    groups = halves_of(docs)
    for half in "AB":
        picked = groups[f"half {half}"]
        print(f"\nhalf {half} ({'developed on' if half == 'A' else 'held out'}; {len(picked)} texts, malformed gold "
              "emails left out)")
        table({name: score([docs[i] for i in picked], [found[i] for i in picked], clean=True)
               for name, found in runs.items()})
    print("\nnames and addresses by half and source (Mofang, then patterns alone)")
    for label, picked in groups.items():
        if label.startswith("half"):
            continue
        for kind in ("person_name", "address"):
            cells = []
            for name in ("Mofang", "patterns"):
                support, tp, n, found = score([docs[i] for i in picked], [runs[name][i] for i in picked])[kind]
                cells.append(prf(tp, n, support, found))
            print(f"{label:<10} {kind:<12} {support:>5}  " + "   ".join(cells))
    print("\nnames and addresses by source (Mofang, then patterns alone)")
    for source in ("bdci", "multipriv", "cluener"):
        picked = [n for n, d in enumerate(docs) if d[0] == source]
        for kind in ("person_name", "address"):
            cells = []
            for name in ("Mofang", "patterns"):
                support, tp, n, found = score([docs[i] for i in picked], [runs[name][i] for i in picked])[kind]
                cells.append(prf(tp, n, support, found))
            print(f"{source:<10} {kind:<12} {support:>5}  " + "   ".join(cells))
    print("\nthroughput (texts/s): " + "   ".join(f"{name} {rate:,.0f}" for name, rate in rates.items()))
    print("\nwhole columns found as person names (columns of 50 distinct gold values)")
    for category, (found, total) in name_columns().items():
        print(f"{category:<14} {found:>3} / {total}")


def halves_of(docs: list[Doc]) -> dict[str, list[int]]:
    """Document indices per half and per half and news/records source."""
    labels = halves(docs)
    out: dict[str, list[int]] = {}
    for half in "AB":
        out[f"half {half}"] = [i for i, h in enumerate(labels) if h == half]
        for group, sources in (("news", ("bdci", "cluener")), ("records", ("multipriv",))):
            out[f"{half} {group}"] = [i for i, h in enumerate(labels) if h == half and docs[i][0] in sources]
    return out


def gold_values() -> dict[str, list[str]]:
    """Distinct gold values per category: BDCI entities, CLUENER dev entities and MultiPriv names."""
    values: dict[str, list[str]] = defaultdict(list)
    for line in (ROOT / "bdci2020_privacy_entities.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            for e in json.loads(line)["entities"]:
                values[e["category"]].append(e["text"])
    for line in (ROOT / "cluener" / "dev.jsonl").read_text(encoding="utf-8").split("\n"):
        if line.strip():
            row = json.loads(line)
            for e in row["entity_list"]:
                values[e["entity_type"]].append(row["text"][e["entity_index"]["begin"]:e["entity_index"]["end"]])
    values["name (MultiPriv)"] = [r["name"] for r in json.loads((ROOT / "multipriv_person_1000_zh.json").read_text(
        encoding="utf-8"))]
    return {k: list(dict.fromkeys(v)) for k, v in values.items()}


def name_columns(size: int = 50) -> dict[str, tuple[int, int]]:
    """Per category: how many columns of `size` distinct values (shuffled, seeded) `find_pii` calls person names."""
    out = {}
    for category, values in sorted(gold_values().items()):
        random.Random(0).shuffle(values)
        columns = [values[i:i + size] for i in range(0, len(values) - size + 1, size)]
        if columns:
            found = [find_pii("col", pd.Series(c)) for c in columns]
            out[category] = (sum(f is not None and f.kind == "person_name" for f in found), len(columns))
    return out


def table(runs: dict[str, dict[str, tuple[int, int, int, int]]]) -> None:
    print(f"{'kind':<12} {'support':>7}  " + " ".join(f"{name + ' P     R     F1':<22}" for name in runs))
    first = next(iter(runs.values()))
    for kind in KINDS:
        if kind not in first:
            continue
        cells = [prf(tp, n, support, found) for support, tp, n, found in (r[kind] for r in runs.values())]
        print(f"{kind:<12} {first[kind][0]:>7}  " + " ".join(f"{c:<22}" for c in cells))


if __name__ == "__main__":
    main()
