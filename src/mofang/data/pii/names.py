"""Chinese person names: a surname dictionary and the context cues that make a surname + given name a name."""

from __future__ import annotations

from mofang.data.pii.places import CITIES

# the most common single-character surnames (百家姓 by frequency); characters that are far more often
# function words than surnames (和, 于, 向, 从, 以, 与, 及, 在, 被...) are left out on purpose
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔"
    "钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施文牛樊葛"
    "邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆"
    "蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗"
    "瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储"
    "原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云"
    "容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼"
    "居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = (
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯", "轩辕",
    "令狐", "钟离", "澹台", "公冶", "太史", "申屠", "端木", "南宫", "独孤", "西门", "呼延", "赫连", "万俟", "闻人",
    "东郭", "第五", "拓跋", "完颜", "百里", "司空", "左丘", "仲孙", "单于", "濮阳", "淳于", "羊舌", "微生", "梁丘",
)
_FUNCTION = "和于向从以与及在被把对为是的了着过也都就还又而且或跟给让叫说"
SINGLE_SURNAMES = "".join(c for c in dict.fromkeys(SURNAMES) if c not in _FUNCTION)

SURNAME = "(?:" + "|".join(COMPOUND_SURNAMES) + f"|[{SINGLE_SURNAMES}])"
# characters of given names: common naming characters, plus those of CLUENER train names (texts inside BDCI left
# out, so the bench stays honest); function words and numerals are never given-name characters
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红玉萍飞鹏辉波宁斌宇浩凯健俊帆帅旭海峰亮成志新清云文彬博晨晓东雪琳晶颖慧丹婷倩媛蕾莉萌琪瑶欣怡悦雅思佳嘉梦璐露珊珍妍婉娇菲薇蓉燕凤梅荣春秋冬霖林森"
    "松柏杨枫桐楠榕梓睿哲轩航翔腾龙虎彪豪毅锋锐铭鑫鸿源泽润涵溪洁淑贤德仁义礼智信忠孝廉勤俭安康福禄寿喜乐庆祥瑞吉利兴旺昌盛发达富贵金银宝珠琦瑛琼瑾璇瑜璋琨琛珂珏玲珑莹萱蕊芸芝芬芹茜茹荷莲菊桃杏梨樱婕妤姝娅"
    "婧嫣媚姗妮娥嫦娴婵妙丝岚霜雨雯霏霄虹彩青蓝紫碧翠晴晗晖晔昊昕昱晟景暄旻曦炎炜烨煜熙焱然照光耀灿烁岩峻崇嵩岳峥巍山川河江湖洪浪潮瀚淼渊泉溢涌澈溶宏弘广庭廷庄坚培基城垣均坤堂圣士壮天太夫奇奎威子孔孟学宗宜"
    "实宪宸家容寒寅尚少尧展崎州巧师希常幸彤彦影征心念恒恩惠意慈才振敬方星昭晋曼朋望朝木本朱杉果枝柔栋树桥梁楚欢正武毓民永池沁沛治泰津洲浚浦湘滨潇澜灵炯烈煌燃爱玮环珀生田甲申男畅白百皓盈益真瞻知石祖神禹科程"
    "稳立章端竹笑筠箐纯素维绍美群羽翰聪胜良艺芃若茂茵草莎菁蔚蝶衡裕言誉诗诚语谦贝贞资越路跃迎远连邦郎重铁锦镇长闻阳阿陶雄雷震霆韦韬韵顺颂飒飘香馨驰骏鸣鹤麟黎鼎齐小大中祺琰琬璟瑄炫烽焕亚伦传余作佩依侠修儒元"
    "兆先克全冠凡凌凝则力功加励勋化千升卓南卫厚友双叶同君启唯善喆增妃姣姿嫚嬿孜定宣宥寻导尔庚律徽忆怀恬悠惟懿戈战政斐昆昶暖曙朗权来柳根格楷槐汉汝沐泓泳济淇淳渝湛滢潼澄濠火灏炳焘熠燊牧献玥珺琴瑗瑭瓒甜皎盼眉"
    "瞳祎穆童竣筱简粲绮缘罡翊翼耕肃艇芮苒苗茗荔莺萧董蔓蕴虔衍褀觅谊贺赫轶辰迪逸遥邵郁钊钦钰铎锴镜雁雍非韩顾飚馥骁高鲲鸥鹭黛开庸斯冰罗风捷胄蒂里珉西迅尼塔保世曾继萨库徒托尊钢咏特冲舟姆索京魁伯臣羲纲梵剑应骥"
    "鞍纳甫钟慎比茨卿委洱刀允丁勒设法操拉跻奈诺卡頫悲镛仕龄"
)
NOT_GIVEN = "的了是在和与及或等说称为将把被对向从到也都就还又而但着过给让要会能可这那其之一二三四五六七八九十年月日"
GIVEN_CHAR = "[" + "".join(c for c in dict.fromkeys(GIVEN_CHARS) if c not in NOT_GIVEN) + "]"

# words right before a name: form labels, roles, self-introductions
BEFORE = (
    "姓名", "名字", "联系人", "收件人", "收货人", "寄件人", "持卡人", "户名", "开户名", "患者", "病人", "客户",
    "我叫", "我是", "名叫", "叫做", "本人", "法定代表人", "法人代表", "法人", "负责人", "经办人", "申请人",
    "被申请人", "被告人", "被告", "原告", "嫌疑人", "当事人", "委托人", "代理人", "主治医师", "医师", "记者",
    "作者", "导演", "主演", "编剧", "教练", "队长", "主持人", "歌手", "演员", "董事长", "总经理", "总裁", "经理",
    "主任", "校长", "院长", "市长", "书记", "局长", "部长", "厂长", "总监", "创始人", "老师", "同学", "员工",
    "业主", "租客", "房东", "乘客", "司机", "学生", "孩子", "儿子", "女儿", "妻子", "丈夫", "父亲", "母亲", "签名",
    "署名", "联系", "家属", "监护人", "成员", "弟子", "会长",
    "行长", "社长", "秘书长", "理事长", "主席", "省长", "县长",
    "处长", "科长", "编辑", "通讯员", "委员", "球员", "选手",
    "艺人", "作家", "律师", "教授", "专家", "分析师", "研究员",
    "工程师", "设计师", "画家", "网友", "主播", "明星", "影星", "球星", "主帅", "主教练", "发言人", "首席执行官", "CEO",
    "副总裁", "合伙人", "制片人", "经纪人", "摄影", "撰文", "实习生",
)
# words right after a name: titles, and the verbs news text puts after a speaker
AFTER = (
    "先生", "女士", "小姐", "同志", "老师", "医生", "大夫", "护士", "教授", "博士", "经理", "总经理", "主任", "院长",
    "校长", "局长", "书记", "董事长", "总裁", "律师", "警官", "师傅", "阿姨", "叔叔", "老板", "会计", "同学", "夫妇",
    "主席", "部长", "省长", "市长", "县长", "处长", "科长", "组长", "队长", "教练", "导演", "总监", "代表", "委员",
    "认为", "表示", "指出", "介绍", "透露", "告诉", "坦言", "强调", "称", "说", "笑称", "回忆", "解释", "建议",
    "是一位", "是一名", "今年", "出生于", "毕业于", "现任", "曾任", "担任", "女，", "男，", "，男", "，女",
    "（男", "（女", "(男", "(女",
)
# what follows a name that opens a sentence: its verb or a short phrase about the person
VERBS = (
    "是", "在", "被", "曾", "也", "将", "已", "还", "则",
    "又", "于", "对", "从", "和", "与", "等", "出现", "目前", "年收入",
    "今年", "现居", "现年", "自", "因", "获", "随后", "一直", "不仅", "当时", "同时", "最近", "近期", "所", "带领",
)
NAME_HEADER = (
    r"(姓名|名字|联系人|持卡人|户名|收件人|收货人|^name$|^(customer|client|full|first|last|given|family|person|contact|"
    r"user|account|holder|patient|employee)[\s_.-]?name$|^surname$)"
)

# words that a surname character starts but that are not names (learned from CLUENER train's non-name matches)
STOPLIST = frozenset((
    "高兴", "周末", "方便", "黄金", "王国", "公开", "公司",
    "司法", "纪委", "官方", "安全", "全国", "宣传", "荣幸", "文章",
    "韩国", "单元", "信托", "商委", "明中", "武侠小", "官方小", "祖师小", "关小",
))
_CITIES = frozenset(CITIES)
_TITLE_STARTS = ("先生", "女士", "小姐", "同志", "老师", "博士", "教授", "医生", "师傅", "总")


def plausible_name(value: str) -> bool:
    """False for stoplisted words and for a surname glued to a title ("李先生" is a surname, not a full name)."""
    given = value[2:] if value[:2] in COMPOUND_SURNAMES else value[1:]
    return value not in STOPLIST and value not in _CITIES and not given.startswith(_TITLE_STARTS)
