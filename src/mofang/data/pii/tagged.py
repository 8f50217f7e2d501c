"""Names and places found by part of speech: jieba's tags (nr person, nrt transliterated, ns place) checked against
the shapes of names (surname + given-name characters) and addresses (place + unit, road, number). jieba's
dictionary ships inside its package, so nothing is downloaded."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from functools import cache, lru_cache
from typing import Any

from mofang.data.pii import names, places

Token = tuple[str, str, int]  # word, part-of-speech flag, start offset
Candidate = tuple[int, int, str]  # start, end (exclusive), kind
TAGGED_KINDS = frozenset(("person_name", "address"))

PERSON_FLAGS = frozenset(("nr", "nrfg"))
FOREIGN_FLAG = "nrt"  # transliterated names: 贝克汉姆, 桑顿 (also clubs and cities: 切尔西, so a cue decides)
PLACE_FLAG = "ns"
OOV = "oov"  # a word jieba's segmenter found that its dictionary lacks
COMMON_WORD = 100  # a dictionary frequency above which a word tagged nr is more often a word than a name
VERY_COMMON_WORD = 1000  # ... and above which not even a cue makes it one (谢谢师傅, 顾客说)
WORD_IN_COLUMN = 50  # a dictionary frequency from which a whole value tagged nr is taken for a word
_CJK = re.compile("[\u4e00-\u9fff]+")
_SURNAME = re.compile(names.SURNAME)
_GIVEN = frozenset(names.GIVEN_CHAR[1:-1])
_NOT_GIVEN = frozenset(names.NOT_GIVEN)
# parts of speech of characters that are no given name of an unknown word: place words (里), adverbs (太, 全 as
# "all" is tagged a), prepositions, conjunctions, particles, pronouns, measure words
FUNCTION_FLAGS = frozenset(("f", "d", "p", "c", "u", "uj", "ul", "uz", "ug", "uv", "y", "e", "r", "q"))
# a token that goes on an address: an administrative unit, a road, a number, an estate or a room
_ADDRESS_PART = re.compile(
    "[\u4e00-\u9fff0-9A-Za-z]{0,8}(?:省|自治区|自治州|地区|开发区|新区|市|州|区|县|旗|镇|乡|村|街道|社区|大道|大街|胡同|路|街"
    "|巷|弄|号院|号楼|号|栋|幢|座|单元|室|层|小区|花园|公寓|大厦|广场|家园|新村|苑|桥|环|门)|[0-9一二三四五六七八九十百零]+")
_DOTS = frozenset("·•‧・")
_FOREIGN_PART_FLAGS = frozenset(("nr", "nrfg", "nrt", OOV))
_NAMED_PLACE = re.compile("(?:村|镇|乡|街道|大街|大道|路|街|巷|弄|胡同|小区|花园|广场|大厦|商务区|开发区|新区|苑)$")
_NOT_PARTS = ("赛区", "战区", "军区", "景区", "专区", "游戏区", "市场", "门户", "城市")  # 区, 市, 门 of no address
_BUILDING = re.compile("大厦|广场|中心|花园|小区|公寓|大楼|商城|家园|新村|苑"
                       "|[0-9A-Za-z一二三四五六七八九十]+[号栋幢座]楼?")
_NUMBERED = re.compile("[号栋幢座单元室层楼院]")
# a word after a place that makes it part of a name or a phrase, not somewhere a person is: 北京队, 北京时间
_ORGANIZATION = frozenset(places.ORGANIZATION_AFTER) | frozenset((
    "局", "法院", "检察院", "办", "委员会", "委", "厅", "协会", "中心", "公司", "银行", "集团", "医院", "学校",
    "队", "人", "籍", "话", "方面", "政府", "警方", "市场", "大学", "时间", "站", "网", "台", "版"))
_ORGANIZATION_FLAGS = frozenset(("nt", "nz"))
_TITLE = re.compile("(?<=..)(?:副?主任医师|医师|医生|护士|博士|教授|先生|女士|小姐|老师|经理|律师)$")
_PLACES = frozenset(places.CITIES) | frozenset(places.DISTRICTS)
_HOME_PLACES = _PLACES | frozenset(places.PROVINCES)
# a word after a place that names a part of it: 智利北部, 新德里以南, 奥斯陆市中心
_PART_OF_PLACE = frozenset("""
东部 西部 南部 北部 中部 东北部 西北部 东南部 西南部 以北 以南 以东 以西
北岸 南岸 东岸 西岸 沿岸 市区 市中心 城区 郊区 老城
""".split())
_ORGANIZATION_AHEAD = re.compile(places.ORGANIZATION_AHEAD)
_HOME_SUFFIX = re.compile("(?:省|市|自治区|特别行政区|县|区)$")
# parts of speech of a word that makes the place before it the first word of a noun phrase: 北京/银行, 上海/总部,
# 中国/足球, 北京/时间 (a place then a verb, a particle or punctuation stands alone: 北京的, 在上海工作)
_NOUN_FLAGS = frozenset(("n", "nt", "nz", "nr", "nrt", "nrfg", "ns", "j", "vn", "m", "q", "zg", "ng", "l", "i", "an"))
# characters that spell foreign words far more often than Chinese given names: 沙尔克, 桑德兰, 富勒姆
TRANSLITERATION = frozenset("尔斯克姆勒坦夫基诺娃奥普索埃乌塔纳迪吉蒂伯赫")
# words that put a bare place where someone lives, goes or comes from: 住在北京, 来自上海, 前往成都
LOCATIVE = frozenset("""
在 到 去 住在 来自 前往 位于 赴 抵达 回到 来到 家住 居住 现居 籍贯 出生于 生于 老家 户籍 搬到 落户 定居 从 至 发自 飞往
途经 离开 返回 进入 游览 访问 驻 逃到 直飞 登陆 入侵 迁往 移居 留学 旅居
""".split())
# words that make the name before them the name of a place, a shop or a firm: 荣田路, 徐东古玩城, 林达海渔广场
NAMED_AFTER = frozenset("""
路 街 大街 大道 巷 村 镇 乡 县 省 市 区 广场 公园 大厦 小区 花园 大桥 桥 国际 集团 公司 银行 酒店 宾馆 中心
古玩城 商城 商场 渔 号 卡 杯 奖 站 港 湾 岛 山庄 庄园 苑 府 宫 祠 寺 庙 堂 馆 店 厂 场 城
""".split())
_NAMED_AFTER_LONG = tuple(w for w in NAMED_AFTER if len(w) > 1)


@cache
def _tagger() -> Any:
    """jieba's part-of-speech tagger, its dictionary loaded (frequencies are read before any text is cut)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(logging.WARNING)
    jieba.posseg.dt.tokenizer.check_initialized()
    return jieba.posseg.dt


def tokens(text: str) -> list[Token]:
    """jieba's words of `text` with their dictionary part of speech and start offset. The segmenter's HMM joins
    words the dictionary lacks (most names: 孙心怡); those get the flag OOV, and a name's shape decides for them.
    (jieba.posseg's own HMM would tag them too, but at a seventeenth of the speed.)"""
    tagger = _tagger()
    tags = tagger.word_tag_tab
    return [(word, tags.get(word, OOV), start) for word, start, _ in tagger.tokenizer.tokenize(text)]


def tagged_spans(text: str, kinds: frozenset[str] = TAGGED_KINDS,
                 found: list[Candidate] | None = None) -> list[Candidate]:
    """The candidates the patterns `found` in `text`, their names checked against jieba's dictionary, and the
    person names and addresses its tags add (offsets into `text`)."""
    found = list(found or [])
    if not _CJK.search(text):
        return found
    words = tokens(text)
    if "person_name" in kinds:
        found = _check_pattern_names(text, words, found) + [(s, e, "person_name") for s, e in _names(words)]
        found += [(s, e, "person_name") for s, e in _dotted_names(words)]
        found = _not_named_after(words, found)
    if "address" in kinds:
        found += [(s, e, "address") for s, e in _places(words)]
    return [c for c in found if c[2] not in TAGGED_KINDS or not _in_title(text, c[0])]


TITLE_LENGTH = 30  # characters from 《 to 》: farther, a lone 《 opened something else


def _in_title(text: str, start: int) -> bool:
    """Inside a title's marks: 《方世玉》, 《我的青春在延安》 name works, not people or places."""
    opened = text.rfind("《", 0, start)
    if opened < 0 or opened < text.rfind("》", 0, start):
        return False
    closed, again = text.find("》", start), text.find("《", start)
    return 0 <= closed - opened <= TITLE_LENGTH and (again < 0 or closed < again)


def _not_named_after(words: list[Token], found: list[Candidate]) -> list[Candidate]:
    """The person names less those that a place's or a firm's word follows: they name a road, a village, a shop or a
    company after someone (荣田路, 林达海渔广场, 徐东古玩城, 方慈文电影发行公司)."""
    after = {start: word for word, _, start in words}
    return [(s, e, k) for s, e, k in found if k != "person_name" or not _names_a_place(after.get(e, ""))]


def _names_a_place(word: str) -> bool:
    """The word is a place's or a firm's (路, 古玩城); one character must stand alone (场上, 号称 say other things)."""
    return word in NAMED_AFTER or word.startswith(_NAMED_AFTER_LONG)


def _check_pattern_names(text: str, words: list[Token], found: list[Candidate]) -> list[Candidate]:
    """The patterns' names checked against the dictionary: one that is a word of another part of speech is dropped
    (居然, 商家, 满意 open sentences too), and one of three characters whose last opens a word is cut to two
    (王芳|来自)."""
    opens = {start for word, flag, start in words if flag != OOV and len(word) > 1}
    out = []
    for s, e, k in found:
        if k == "person_name" and e - s == 3 and e - 1 in opens and text[e:e + 1] not in _NOT_GIVEN:
            e -= 1  # not where the word is a segmentation slip before a function word: 李瑞|华为|其
        if k != "person_name" or _tagger().word_tag_tab.get(text[s:e], "nr") in PERSON_FLAGS:
            out.append((s, e, k))
    return out


def _transliterated(word: str) -> bool:
    """A given name with a character that spells foreign words: 沙尔克, 桑德兰."""
    return any(c in TRANSLITERATION for c in word[1:])


def name_shaped(value: str) -> bool:
    """A surname and one or two given-name characters, none of them a function word: 张伟, 欧阳娜娜."""
    surname = _SURNAME.match(value)
    if surname is None:
        return False
    given = value[surname.end():]
    return 1 <= len(given) <= 2 and all(c in _GIVEN for c in given) and names.plausible_name(value)


def looks_like_name(value: str) -> bool:
    """A value that is wholly a Chinese person name (张伟, 欧阳娜娜, 杨秀英), not a place (黄山, 金华), a word the
    dictionary tags otherwise (黄金, 高兴, 王国) or a product (华为手机)."""
    value = _TITLE.sub("", value)
    if not 2 <= len(value) <= 5 or not _CJK.fullmatch(value) or value in _PLACES:
        return False
    tag = _tagger().word_tag_tab.get(value)
    if tag is not None and (tag not in PERSON_FLAGS or _frequency(value) >= WORD_IN_COLUMN):
        return False  # 安全带, 毛巾, 叶子 are tagged nr too; a famous name lost this way barely moves a column's share
    return name_shaped(value) or (_person_word(value, cued=True) and _hmm_person(value))


def _person_word(value: str, cued: bool) -> bool:
    """A word the tagger called a person that also has a name's shape (a surname, no function-word given name) and
    is not a common word (明星, 陆军, 顾问 are tagged nr too), or not a very common one where a cue stands by."""
    surname = _SURNAME.match(value)
    if surname is None or not 2 <= len(value) <= 4 or not _CJK.fullmatch(value):
        return False
    given = value[surname.end():]
    if not 1 <= len(given) <= 2 or any(c in _NOT_GIVEN or c in TRANSLITERATION for c in given) \
            or not names.plausible_name(value):
        return False
    return _frequency(value) < (VERY_COMMON_WORD if cued else COMMON_WORD)


def _frequency(word: str) -> int:
    """How often jieba's dictionary saw the word (0 for a word it lacks)."""
    return int(_tagger().tokenizer.FREQ.get(word) or 0)


def _cued(words: list[Token], i: int, j: int) -> bool:
    """A name cue right before words[i] or right after words[j - 1] (主任李成说, 叶老桂博士)."""
    before = words[i - 1][0] if i > 0 else ""
    after = words[j][0] if j < len(words) else ""
    return bool(before) and before.endswith(names.BEFORE) or bool(after) and after.startswith(names.AFTER)


def _names(words: list[Token]) -> Iterator[tuple[int, int]]:
    """A lone surname and its given name (two words), or one word that is a name."""
    for i, (word, flag, start) in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else None
        if flag in PERSON_FLAGS and len(word) == 1 and following is not None and _given_word(following) \
                and _person_word(word + following[0], _cued(words, i, i + 2)):
            yield start, start + len(word) + len(following[0])  # 杨/nr 秀英/nr, 曹/nr 鹏飞/nz
        elif _name_word(words, i):
            yield start, start + len(word) + _given_tail(word, following)


def _dotted_names(words: list[Token]) -> Iterator[tuple[int, int]]:
    """Words joined by a middle dot, the way Chinese writes foreign names: 伊丽莎白·泰勒, 汉斯·克里斯蒂安·安徒生."""
    i = 0
    while i + 2 < len(words):
        j = i
        while j + 2 < len(words) and words[j + 1][0] in _DOTS and _foreign_part(words[j]) \
                and _foreign_part(words[j + 2]):
            j += 2
        if j > i:
            yield words[i][2], words[j][2] + len(words[j][0])
        i = j + 1


def _foreign_part(token: Token) -> bool:
    """A piece of a transliterated name: a person's or unknown word of Chinese characters, not a place or a noun."""
    return bool(_CJK.fullmatch(token[0])) and token[1] in _FOREIGN_PART_FLAGS and len(token[0]) <= 6


def _given_tail(word: str, following: Token | None) -> int:
    """1 where the segmenter cut a three-character name after its second character: 孙心|怡于 (both unknown)."""
    if len(word) != 2 or following is None or following[1] != OOV:
        return 0
    return int(following[0][0] in _GIVEN and _SURNAME.fullmatch(word[0]) is not None)


def _name_word(words: list[Token], i: int) -> bool:
    """One word that is a name. A dictionary word tagged nr must be a surname with two given-name characters or
    stand by a cue (two-character ones are mostly words: 花旗, 蓝桥); a word the dictionary lacks must be tagged a
    person by jieba's HMM tagger and have a name's shape or a cue; a transliterated name needs a cue."""
    word, flag, _ = words[i]
    cued = _cued(words, i, i + 1)
    if flag in PERSON_FLAGS:
        return _person_word(word, cued) and (cued or (len(word) >= 3 and name_shaped(word)))
    if flag == OOV and 2 <= len(word) <= 4 and _CJK.fullmatch(word):
        if cued:
            return _person_word(word, cued)  # 分析师孙稳存: the cue is enough
        return name_shaped(word) and not _transliterated(word) and not _function_given(word) and _hmm_person(word)
    return flag == FOREIGN_FLAG and cued and len(word) >= 2 and bool(_CJK.fullmatch(word))


def _function_given(word: str) -> bool:
    """A given name with a character the dictionary knows as a function word or an adverb: 汤|里, 汤|全, 皮|太厚."""
    surname = _SURNAME.match(word)
    tags = _tagger().word_tag_tab
    return any(tags.get(c) in FUNCTION_FLAGS for c in word[surname.end() if surname else 1:])


@lru_cache(maxsize=65536)
def _hmm_person(word: str) -> bool:
    """jieba's HMM part-of-speech tagger reads the unknown word as one person name (a few ms a word: asked last)."""
    pairs = list(_tagger().cut(word))
    return len(pairs) == 1 and pairs[0].flag in PERSON_FLAGS


def _given_word(token: Token) -> bool:
    """A word after a lone surname that can be its given name: one or two given-name characters, or a name."""
    word, flag = token[0], token[1]
    if flag in PERSON_FLAGS:
        return True
    return len(word) <= 2 and all(c in _GIVEN for c in word) and _frequency(word) < COMMON_WORD


def _places(words: list[Token]) -> Iterator[tuple[int, int]]:
    """Runs of a place and what goes on an address after it (北京/市/朝阳区/建国路/88/号); a bare place only after a
    locative word; none that opens an organization's name."""
    i = 0
    while i < len(words):
        word, flag, start = words[i]
        if not _opens_address(word, flag):
            i += 1
            continue
        j = i + 1
        while j < len(words) and (_continues_address(words, j) or _building_ahead(words, j)):
            j += 1
        while j > i + 1 and words[j - 1][0].isdigit():  # a trailing bare number is not part of the address
            j -= 1
        if j < len(words) and words[j][0] in _PART_OF_PLACE:  # 智利/北部, 奥斯陆/市中心
            j += 1
        if (j > i + 1 or _after_locative(words, i) or _listed(words, i) or _home_place(words, i)) \
                and not _organization_follows(words, j):
            yield start, words[j - 1][2] + len(words[j - 1][0])
        i = j


def _building_ahead(words: list[Token], j: int) -> bool:
    """One or two words of a building's own name before its suffix: 中国/电子/大厦, 北京/银座/广场."""
    for k in (j + 1, j + 2):
        if k < len(words) and _BUILDING.fullmatch(words[k][0]):
            return all(_CJK.fullmatch(w[0]) and w[1] not in FUNCTION_FLAGS and w[1] != "v" for w in words[j:k])
    return False


def _opens_address(word: str, flag: str) -> bool:
    """A place name, or a name the dictionary lacks that ends like a place: 子君村, 松坪村, 天通苑."""
    if len(word) < 2 or not _CJK.fullmatch(word):
        return False
    return flag == PLACE_FLAG or (flag == OOV and len(word) >= 3 and bool(_NAMED_PLACE.search(word)))


def _after_locative(words: list[Token], i: int) -> bool:
    """A bare place counts only where a person is put there: 住在/北京, 来自/上海."""
    return i > 0 and words[i - 1][0] in LOCATIVE


def _home_place(words: list[Token], i: int) -> bool:
    """A Chinese province, city or district named on its own in a sentence (北京的, 在上海工作, 来成都。), not the
    first word of a noun phrase (北京银行, 上海总部) or of an office's name (丰台区住保办), nor a whole value (a column
    of cities is a category, too coarse to be anyone's address). Titles (《上海滩》) are left out for every kind."""
    word = words[i][0]
    if len(words) == 1 or word not in _HOME_PLACES and _HOME_SUFFIX.sub("", word) not in _HOME_PLACES:
        return False
    following = words[i + 1][1] if i + 1 < len(words) else ""
    ahead = "".join(w for w, _, _ in words[i + 1:i + 5])
    return following not in _NOUN_FLAGS and not _ORGANIZATION_AHEAD.match(ahead)


def _listed(words: list[Token], i: int) -> bool:
    """A bare place in a list of places: 北京、上海、广州等."""
    before = words[i - 2][1] == PLACE_FLAG and words[i - 1][0] == "、" if i >= 2 else False
    after = words[i + 2][1] == PLACE_FLAG and words[i + 1][0] == "、" if i + 2 < len(words) else False
    return before or after


def _continues_address(words: list[Token], j: int) -> bool:
    """Another place, a unit, road, estate or room, or a number that a 号/栋/室 follows."""
    word, flag = words[j][0], words[j][1]
    if flag == PLACE_FLAG and _CJK.fullmatch(word):
        return True
    if word.isdigit():
        return j + 1 < len(words) and bool(_NUMBERED.match(words[j + 1][0]))
    return bool(_ADDRESS_PART.fullmatch(word)) and flag not in _ORGANIZATION_FLAGS and not word.endswith(_NOT_PARTS) \
        and len(word) <= 8


def _organization_follows(words: list[Token], j: int) -> bool:
    """The place starts an organization's name: 深圳/发展/银行, 北京/队, 广州/恒大."""
    if j >= len(words):
        return False
    word, flag = words[j][0], words[j][1]
    return word in _ORGANIZATION or flag in _ORGANIZATION_FLAGS or word.startswith(tuple(_ORGANIZATION))
