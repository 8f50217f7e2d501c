"""Out-of-domain refusal pairs: everyday questions outside any industry, answered with the product's refusal.

The bank is split by seed into training and evaluation questions so the refusal check is never run on a question
the model was trained to refuse.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mofang.core.errors import DataError, MofangError
from mofang.data.encoding import decode_text
from mofang.tasks.llm.instructions.frame import canonical_frame

EVAL_FRACTION = 0.25

CHINESE_QUESTIONS = (
    "明天北京会下雨吗？", "今天上海的气温是多少度？", "这周末适合去爬山吗，天气怎么样？", "台风一般几月份登陆广东？",
    "怎么看天气预报里的降水概率？", "昨晚的NBA总决赛谁赢了？", "梅西一共拿过几次金球奖？",
    "中国女排最近一次夺冠是哪一年？", "世界杯下一届在哪个国家举办？", "马拉松比赛全程是多少公里？",
    "乒乓球比赛一局打到几分？", "红烧肉怎么做才好吃？", "番茄炒蛋先放番茄还是先放鸡蛋？", "饺子馅怎么调才鲜？",
    "蒸米饭水和米的比例是多少？", "怎么在家做提拉米苏？", "可乐鸡翅需要焯水吗？", "周杰伦最新的专辑叫什么？",
    "刘德华今年多大了？", "哪位明星最近官宣结婚了？", "最近有什么好看的电视剧推荐？", "《流浪地球》的导演是谁？",
    "去云南旅游几月份最合适？", "去日本旅游需要办什么签证？", "成都有哪些必吃的小吃？", "从北京到西安坐高铁要多久？",
    "三亚和厦门哪个更适合冬天去玩？", "故宫门票怎么预约？", "王者荣耀里哪个英雄最适合新手？",
    "原神怎么快速提升冒险等级？", "《塞尔达传说》有多少个神庙？", "玩《我的世界》怎么做附魔台？",
    "斗地主有什么必胜技巧？", "Python里列表和元组有什么区别？", "Git怎么撤销上一次提交？",
    "JavaScript的闭包是什么意思？", "Linux怎么查看当前目录下的文件大小？", "正则表达式怎么匹配邮箱地址？",
    "一首好听的情歌推荐一下？", "吉他初学者先练哪些和弦？", "怎么养好一盆绿萝？", "猫咪为什么总是踩奶？",
    "金毛犬一天要喂几顿？", "帮我写一首关于春天的诗。", "讲一个好笑的笑话吧。", "月亮为什么会有阴晴圆缺？",
    "恐龙是怎么灭绝的？", "地球到太阳有多远？", "世界上最高的山峰是哪座？", "长城有多长？", "怎么折一只纸飞机？",
    "跑步减肥每天跑多久合适？", "晚上睡不着有什么放松的小方法？", "送女朋友什么生日礼物好？", "春节为什么要贴春联？",
    "中秋节吃月饼的习俗是怎么来的？", "魔方怎么还原最快？", "围棋的规则简单介绍一下？", "孙悟空的金箍棒有多重？",
    "《红楼梦》的作者是谁？", "如何在朋友圈发一条有意思的文案？", "推荐几部适合周末看的电影。",
)
ENGLISH_QUESTIONS = (
    "Will it rain in London tomorrow?", "What's the weather like in Paris this weekend?",
    "Who won the last Super Bowl?", "How many Grand Slam titles has Serena Williams won?",
    "What is the best way to cook a medium-rare steak?", "How do I make fluffy pancakes?",
    "How old is Taylor Swift?", "Which actor played Iron Man?", "What are the must-see sights in Rome?",
    "Do I need a visa to visit Thailand?", "What is the best strategy for beginners in chess?",
    "How do I beat the first boss in Elden Ring?", "What is the difference between a list and a tuple in Python?",
    "How do I undo the last commit in git?", "Can you recommend a good science fiction novel?",
    "Why is the sky blue?", "How far away is the Moon?", "Tell me a joke about cats.",
    "How often should I water a cactus?", "What should I pack for a beach holiday?",
)
QUESTIONS = CHINESE_QUESTIONS + ENGLISH_QUESTIONS


def split_out_of_domain(seed: int, *, questions: Sequence[str] | None = None, eval_fraction: float = EVAL_FRACTION,
                        ) -> tuple[list[str], list[str]]:
    """Disjoint (train, eval) lists of out-of-domain questions, shuffled by `seed`: each language (Chinese, other)
    gives `eval_fraction` of its questions (at least one when it has two) to eval. `questions` default to QUESTIONS."""
    if not 0 < eval_fraction < 1:
        raise MofangError(f"eval_fraction must be between 0 and 1, got {eval_fraction}")
    bank = _unique(QUESTIONS if questions is None else questions)
    rng = random.Random(seed)
    train: list[str] = []
    evaluation: list[str] = []
    for group in ([q for q in bank if _is_chinese(q)], [q for q in bank if not _is_chinese(q)]):
        rng.shuffle(group)
        held = max(1, round(len(group) * eval_fraction)) if len(group) > 1 else 0
        evaluation += group[:held]
        train += group[held:]
    return train, evaluation


def refusal_pairs(refusal_message: str, *, count: int, seed: int, exclude: Iterable[str] = (),
                  questions: Sequence[str] | None = None) -> pd.DataFrame:
    """Canonical rows (prompt = an out-of-domain question, response = `refusal_message`): `count` questions drawn
    by `seed` from the train side of `split_out_of_domain(seed, questions=questions)`, never one in `exclude`;
    fewer when the bank has fewer."""
    if not refusal_message.strip():
        raise MofangError("the refusal message is empty; give the sentence the model should answer with")
    if count < 0:
        raise MofangError(f"the number of refusal pairs must not be negative, got {count}")
    excluded = {q.strip() for q in exclude}
    train, _ = split_out_of_domain(seed, questions=questions)
    pool = [q for q in train if q not in excluded]
    random.Random(seed + 1).shuffle(pool)
    return canonical_frame([{"prompt": q, "response": refusal_message.strip()} for q in pool[:count]])


def load_out_of_domain(path: Path | str) -> list[str]:
    """Extra out-of-domain questions from a text file (one a line, blank lines skipped) or a JSON list of strings."""
    file = Path(path)
    label = str(file)
    if not file.is_file():
        raise DataError("out-of-domain question file not found", source=label)
    text, _ = decode_text(file.read_bytes(), source=label)
    if file.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"not valid JSON ({exc.msg})", source=label, row=exc.lineno) from None
        if not isinstance(data, list) or not all(isinstance(q, str) for q in data):
            raise DataError("must be a JSON list of question strings", source=label)
        found = [q.strip() for q in data]
    else:
        found = [line.strip() for line in text.splitlines()]
    found = _unique(q for q in found if q)
    if not found:
        raise DataError("has no questions (one per line, or a JSON list of strings)", source=label)
    return found


def _unique(questions: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(q.strip() for q in questions if q and q.strip()))


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)
