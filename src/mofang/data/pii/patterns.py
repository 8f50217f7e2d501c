"""The regular expressions and checks that find each kind of Chinese personal data in text."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

from mofang.data.pii import names, places
from mofang.data.pii.validators import ID_CARD, ID_CARD_15, luhn_valid, valid_id_card, valid_id_card_15, valid_uscc

KINDS = ("id_card", "mobile", "landline", "bank_card", "email", "uscc", "passport", "licence_plate", "ip", "qq",
         "wechat", "person_name", "address")
LABELS = {
    "id_card": "Chinese ID card numbers", "mobile": "Chinese mobile numbers", "landline": "landline phone numbers",
    "bank_card": "bank card numbers", "email": "email addresses", "uscc": "unified social credit codes",
    "passport": "passport numbers", "licence_plate": "licence plates", "ip": "IP addresses", "qq": "QQ numbers",
    "wechat": "WeChat ids", "person_name": "person names", "address": "addresses",
}
# on equal length the higher wins: checksum-verified kinds first, context-bound ids before bare numbers
PRIORITY = {"id_card": 13, "uscc": 12, "bank_card": 11, "email": 10, "qq": 9, "wechat": 8, "passport": 7,
            "mobile": 6, "landline": 5, "licence_plate": 4, "ip": 3, "person_name": 2, "address": 1}

_NO_DIGIT_BEFORE, _NO_DIGIT_AFTER = r"(?<![0-9])", r"(?![0-9])"
_GAP = r"[^0-9A-Za-z\x00\n]{0,8}?"  # between a context word and the value: punctuation, 号码, 群, spaces
_AREA = r"0(?:10|2[0-9]|[3-9][0-9]{2})"
_USCC_HEAD = r"(?:1[1239]|2[19]|3[1-59]|4[19]|5[1239]|6[129]|7[129]|8[19]|9[1-3]|A[19]|N[1-39]|Y1)"
_USCC_TAIL = r"[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}"
_PLATE_PROVINCE = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_LETTER = "A-HJ-NP-Z"
_IPV4_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_HEX = "[0-9A-Fa-f]{1,4}"
# web text often glues the next word to an address ("x@gmail.comQQ:", "x@sina.cnyy@vip.com"): a known top-level
# domain ends the address; other domains need a lowercase or uppercase run that the next word does not continue
_KNOWN_TLDS = ("online", "store", "asia", "info", "mobi", "name", "shop", "site", "tech", "club", "work", "com", "net",
               "org", "edu", "gov", "biz", "top", "xyz", "vip", "ltd", "cn", "hk", "tw", "mo", "sg", "my", "jp", "kr",
               "uk", "us", "de", "fr", "au", "ca", "ru", "io", "me", "tv", "cc", "co", "in")
# where a local part may start: not inside a word, except right after a glued phone number or "Email" label
_EMAIL_START = ("(?!(?:E-?[Mm]ail|EMAIL|Mail)[A-Za-z0-9])(?![0-9]{8,}[A-Za-z])"
                "(?:(?<![A-Za-z0-9_%+])|(?<=[0-9])(?=[A-Za-z])|(?<=[Mm]ail|MAIL)(?=[A-Za-z0-9]))[A-Za-z0-9]")
_TLD = f"(?:{'|'.join(_KNOWN_TLDS)}|[a-z]{{2,}}(?![a-z])|[A-Z]{{2,}}(?![A-Za-z]))"

_PROVINCE = (
    r"(?:(?:北京|天津|上海|重庆)市?|(?:河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|"
    r"四川|贵州|云南|陕西|甘肃|青海|台湾)省?|内蒙古(?:自治区)?|广西(?:壮族自治区)?|西藏(?:自治区)?|宁夏(?:回族自治区)?|"
    r"新疆(?:维吾尔自治区)?|(?:香港|澳门)(?:特别行政区)?)"
)
# characters that never belong to a place name: function words and the administrative suffixes themselves
_NOT_PLACE = "的在了是和到去从我你他她们这那于自向往为个有与及住来至位着沿经过由对把被将要省市区县镇乡村路街号楼室"
_PLACE_CHAR = f"(?![{_NOT_PLACE}])[\u4e00-\u9fff]"
_UNIT = f"{_PLACE_CHAR}{{2,4}}?(?:自治州|地区|开发区|新区|工业园区?|街道|社区|[市州盟区县旗镇乡村])"
_ROAD = f"(?:{_PLACE_CHAR}|[0-9]){{1,6}}?(?:大道|大街|胡同|[路街巷弄])(?:[东西南北中]段)?"
_NUMBER = "[0-9一二三四五六七八九十百零]+(?:号院|号|弄|巷)"
_ESTATE = f"{_PLACE_CHAR}{{2,6}}?(?:小区|花园|公寓|大厦|广场|家园|新村|公馆|中心|[苑园府])"
_ROOM = "[0-9A-Za-z一二三四五六七八九十]+(?:号楼|单元|号房|[栋幢座楼层室])"
_ADDRESS_TAIL = f"(?:{_ROAD})?(?:{_NUMBER})?(?:{_ESTATE})?(?:{_ROOM}){{0,3}}"
_ADDRESS_PARTS = re.compile(
    f"{_PROVINCE}|自治州|地区|开发区|新区|街道|社区|[市州盟区县旗镇乡村]|大道|大街|胡同|[路街巷弄]|号楼|单元|号房|[号栋幢座楼层室]"
    "|小区|花园|公寓|大厦|广场")


@dataclass(frozen=True)
class Pattern:
    """One way to find a kind: a regex whose group `v` is the value, and an optional check of that value."""

    kind: str
    name: str
    regex: str
    check: Callable[[str], bool] | None = None
    score: float = 0.9  # the confidence Presidio is given for it
    checksum: bool = False  # `check` verifies only a check digit: the shape alone is enough where masking errs wide

    @property
    def compiled(self) -> re.Pattern[str]:
        return _compile(self.regex)


_CACHE: dict[str, re.Pattern[str]] = {}
_ID_SHAPE = re.compile(ID_CARD)


def _compile(regex: str) -> re.Pattern[str]:
    if regex not in _CACHE:
        _CACHE[regex] = re.compile(regex)
    return _CACHE[regex]


def digits_of(value: str) -> str:
    return re.sub(r"[^0-9Xx]", "", value)


def _bank_card(value: str) -> bool:
    digits = digits_of(value)
    if _ID_SHAPE.fullmatch(digits):
        return False  # a region + birth date + sequence is an ID number with a typo, not a card
    return 13 <= len(digits) <= 19 and digits.isdigit() and luhn_valid(digits)


def _ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _person_name(value: str) -> bool:
    return names.plausible_name(value)


_CITY = "|".join(sorted(places.CITIES, key=len, reverse=True))
_CITY_NAME = re.compile(_CITY)
_DISTRICT = "|".join(sorted(places.DISTRICTS, key=len, reverse=True))
# a city from the gazetteer and a district or a road after it: 广州白云区, 长沙黄兴路 (a bare city is too coarse, and
# CLUENER train labels it an address less than half the time)
_NAMED_PLACE = re.compile(f"(?:{_CITY})市?(?:(?:{_DISTRICT})[区县]|{_ROAD})")
# an organization's name goes on from the place: 深圳发展银行, 丰台区住保办, 深圳市公安局, 哈尔滨市福彩中心
_ORGANIZATION_AFTER = places.ORGANIZATION_AHEAD


def _address(value: str) -> bool:
    # the 州 of 杭州 is a name, not a part: "杭州市" is one city, not two parts of an address
    return len(_ADDRESS_PARTS.findall(_CITY_NAME.sub("", value))) >= 2


def _named_place(value: str) -> bool:
    return _address(value) or bool(_NAMED_PLACE.search(value))


_CONTEXT_BEFORE = "|".join(map(re.escape, names.BEFORE))
_CONTEXT_AFTER = "|".join(map(re.escape, names.AFTER))
_GIVEN = names.GIVEN_CHAR
_NAME = f"{names.SURNAME}{_GIVEN}{{1,2}}?"
_NAME_VERBS = "|".join(map(re.escape, names.VERBS))

PATTERNS: tuple[Pattern, ...] = (
    Pattern("id_card", "id_card_18", f"{_NO_DIGIT_BEFORE}(?P<v>{ID_CARD}){_NO_DIGIT_AFTER}",
            valid_id_card, 1.0, checksum=True),
    Pattern("id_card", "id_card_15", f"身份证(?:号码|号)?{_GAP}(?P<v>{ID_CARD_15})"
            f"{_NO_DIGIT_AFTER}", valid_id_card_15, 0.8),
    # two mobiles glued together ("1860019001318611124650") are two mobiles, not one long number
    Pattern("mobile", "mobile", f"(?:{_NO_DIGIT_BEFORE}|(?<=(?<![0-9])1[3-9][0-9]{{9}}))"
            f"(?P<v>(?:(?:\\+|00)?86[\\s-]?|[(（](?:\\+|00)?86[)）][\\s-]?)?1[3-9][0-9](?:[\\s-]?[0-9]{{4}}){{2}})"
            f"(?:{_NO_DIGIT_AFTER}|(?=1[3-9][0-9]{{9}}(?![0-9])))", None, 0.9),
    Pattern("landline", "landline", f"{_NO_DIGIT_BEFORE}(?P<v>(?:[(（]{_AREA}[)）]\\s?|{_AREA}[\\s-]?)[2-9][0-9]{{6,7}}"
            f"(?:(?:转|-|#|ext\\.?)[0-9]{{1,5}})?){_NO_DIGIT_AFTER}", None, 0.7),
    Pattern("landline", "service_number", f"{_NO_DIGIT_BEFORE}(?P<v>[48]00[\\s-]?[0-9]{{3}}[\\s-]?[0-9]{{4}})"
            f"{_NO_DIGIT_AFTER}", None, 0.6),
    Pattern("bank_card", "bank_card", f"{_NO_DIGIT_BEFORE}(?P<v>[3-69][0-9]{{12,18}}|[3-69][0-9]{{3}}"
            f"(?:[\\s-][0-9]{{4}}){{2,3}}(?:[\\s-][0-9]{{1,3}})?)(?![0-9Xx])", _bank_card, 0.9),
    Pattern("email", "email", f"(?P<v>{_EMAIL_START}[A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.{_TLD})",
            None, 1.0),
    Pattern("uscc", "uscc", f"(?<![0-9A-Za-z])(?P<v>{_USCC_HEAD}{_USCC_TAIL})(?![0-9A-Za-z])", valid_uscc, 1.0,
            checksum=True),
    Pattern("passport", "passport", "(?<![0-9A-Za-z])(?P<v>[EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})(?![0-9A-Za-z])",
            None, 0.7),
    Pattern("passport", "passport_context", f"(?:护照|通行证|[Pp]assport|PASSPORT)(?:号码|号|No\\.?)?{_GAP}"
            "(?P<v>[A-Z]{1,2}[0-9]{6,8})(?![0-9A-Za-z])", None, 0.8),
    Pattern("licence_plate", "licence_plate", f"(?P<v>[{_PLATE_PROVINCE}][{_PLATE_LETTER}][·•\\s]?"
            f"(?:[DF][{_PLATE_LETTER}0-9][0-9]{{4}}|[0-9]{{5}}[DF]|(?=[{_PLATE_LETTER}]{{0,4}}[0-9])"
            f"[{_PLATE_LETTER}0-9]{{5}}[挂学警港澳]?))(?![A-Za-z0-9])", None, 0.8),
    Pattern("ip", "ipv4", f"(?<![0-9.])(?P<v>(?:{_IPV4_OCTET}\\.){{3}}{_IPV4_OCTET})(?![0-9]|\\.[0-9])", _ip, 0.8),
    Pattern("ip", "ipv6", f"(?<![0-9A-Fa-f:])(?P<v>(?:{_HEX}:){{7}}{_HEX}|(?:{_HEX}:){{1,6}}:(?:{_HEX}:){{0,5}}{_HEX})"
            "(?![0-9A-Fa-f:])", _ip, 0.7),
    Pattern("qq", "qq", f"(?:QQ|qq|Qq|扣扣|企鹅号|(?<![A-Za-z])Q(?=[群:：]?[1-9])){_GAP}(?P<v>[1-9][0-9]{{4,10}})"
            f"{_NO_DIGIT_AFTER}", None, 0.8),
    Pattern("wechat", "wechat", f"(?:微信|威信|薇信|[Vv]信|(?<![A-Za-z])(?:vx|VX|Vx|wx|WX|weixin|WeChat|wechat|Wechat))"
            f"{_GAP}(?P<v>[A-Za-z][-_A-Za-z0-9]{{5,19}}|[1-9][0-9]{{4,11}})(?![-_A-Za-z0-9])", None, 0.8),
    Pattern("person_name", "name_after_cue", f"(?:{_CONTEXT_BEFORE})(?:[为是][:：\\s]?|[:：\\s]{{0,2}})"
            f"(?P<v>{names.SURNAME}{_GIVEN}{{1,2}})", _person_name, 0.6),
    Pattern("person_name", "name_before_cue", f"(?P<v>{_NAME})(?={_CONTEXT_AFTER})", _person_name, 0.5),
    # a name then its age: 沈棠，52岁; 王刚（45岁）
    Pattern("person_name", "name_before_age", f"(?P<v>{_NAME})(?=[，,（(]\\s?[1-9][0-9]?岁)", _person_name, 0.5),
    # a sentence that opens with a name and goes on with its verb or a comma (news, case notes)
    Pattern("person_name", "name_opens_sentence", f"(?:^|(?<=[。！？!?；;\n\x00]))"
            f"(?P<v>{_NAME})(?=[，,：:（(]|{_CONTEXT_AFTER}|{_NAME_VERBS})", _person_name, 0.4),
    # enumerations: 何泽胜、刘姝辰、丁楠霓等
    Pattern("person_name", "name_in_list", f"(?<=、)(?P<v>{_NAME})(?=[、等])", _person_name, 0.4),
    Pattern("person_name", "name_heads_list", f"(?P<v>{_NAME})(?=、{_NAME}[、等])", _person_name, 0.4),
    # a city from the gazetteer with a district or a road after it, unless an organization's name goes on
    Pattern("address", "address_city", f"(?P<v>(?:{_PROVINCE})?(?:{_CITY})市?(?:(?:{_DISTRICT})[区县])?"
            f"(?:{_ROAD}(?:{_NUMBER}(?:{_ESTATE})?(?:{_ROOM}){{0,3}})?)?)(?!市|{_ORGANIZATION_AFTER})",
            _named_place, 0.4),
    Pattern("address", "address_district", f"(?P<v>(?:{_DISTRICT})[区县](?:{_UNIT}){{0,2}}{_ADDRESS_TAIL})"
            f"(?!{_ORGANIZATION_AFTER})", _named_place, 0.4),
    Pattern("address", "address", f"(?P<v>{_PROVINCE}(?:{_UNIT}){{0,4}}{_ADDRESS_TAIL}"
            f"|(?:{_UNIT}){{1,4}}{_ADDRESS_TAIL}|{_ROAD}{_NUMBER}(?:{_ESTATE})?(?:{_ROOM}){{0,3}})", _address, 0.5),
)


def patterns_for(kinds: tuple[str, ...] | list[str] | None = None) -> list[Pattern]:
    """The patterns of the given kinds (all kinds when None); an unknown kind is an error."""
    if kinds is None:
        return list(PATTERNS)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown PII kind(s) {unknown} (expected: {', '.join(KINDS)})")
    return [p for p in PATTERNS if p.kind in kinds]
