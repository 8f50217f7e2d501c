"""A small Chinese bank FAQ with a second phrasing of every question, and out-of-domain questions."""

from __future__ import annotations

import pandas as pd

FAQ = [  # (canonical question, how a customer asks it, department, answer)
    ("如何修改登录密码？", "登录密码怎么修改", "账户",
     "登录后进入账户设置的安全中心，选择修改密码，输入原密码和新密码即可。"),
    ("信用卡丢失了怎么办？", "信用卡丢了怎么挂失", "信用卡",
     "请立即拨打客服热线挂失信用卡，挂失后可以申请补办新卡。"),
    ("转账多久能到账？", "跨行转账什么时候到账", "转账",
     "行内转账实时到账，跨行转账一般在两小时内到账，节假日可能顺延。"),
    ("怎样开通手机银行？", "手机银行怎么开通", "电子银行",
     "携带身份证到任一网点办理，或在官方应用中自助注册即可开通手机银行。"),
    ("存款利率是多少？", "定期存款利率多少", "存款",
     "一年期定期存款利率为百分之一点五，活期存款利率为百分之零点二。"),
    ("贷款需要什么材料？", "申请贷款要准备哪些材料", "贷款",
     "申请个人贷款需要提供身份证、收入证明和近半年的银行流水。"),
    ("如何查询信用卡账单？", "信用卡账单在哪里查", "信用卡",
     "可以在手机银行的信用卡账单查询页面查看每月账单，也可以拨打客服电话查询。"),
    ("外币兑换在哪里办理？", "哪里可以兑换外币", "外汇",
     "外币兑换可在设有外汇业务的网点柜台办理，需要携带身份证。"),
    ("忘记银行卡密码怎么办？", "银行卡密码忘了怎么办", "账户",
     "请本人携带身份证和银行卡到网点柜台办理密码重置。"),
    ("网点营业时间是几点？", "网点几点开门营业", "网点",
     "网点工作日营业时间为上午九点至下午五点，周末部分网点营业。"),
    ("如何办理挂失补卡？", "银行卡挂失以后怎么补卡", "账户",
     "挂失七天后携带身份证到开户网点办理补卡，补卡需缴纳工本费。"),
    ("理财产品有风险吗？", "买理财产品会不会亏本", "理财",
     "理财产品不等于存款，非保本产品可能亏损本金，请根据风险承受能力选择。"),
]

# off-topic and sharing no characters with the FAQ: with twelve passages even a 了 or 么 carries weight
# (on a real corpus such function characters have a low idf; bench/retrieval.py measures real questions)
OUT_OF_DOMAIN = ["世界杯足球赛冠军", "红烧肉做法", "猫咪晒太阳", "北京高铁票价", "英语口语练习", "动物园门票",
                 "古诗词鉴赏", "篮球比赛规则"]


def faq_frame() -> pd.DataFrame:
    return pd.DataFrame(FAQ, columns=["问题", "问法", "部门", "答案"], index=[f"r{i}" for i in range(len(FAQ))])
