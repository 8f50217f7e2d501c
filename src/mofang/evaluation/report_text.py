"""The evaluation report's fixed text in each language it is written in (Chinese and English): one catalogue for
every template, so a heading or a table header is translated once. Dynamic text (a station's reasons, check
messages, column names) is shown as written.

A text may hold HTML markup (it is trusted); the values put into its {placeholders} are escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from markupsafe import Markup

LANGUAGES = ("en", "zh-CN")
DEFAULT = "en"

TEXT: dict[str, dict[str, str]] = {
    # -- page head and verdict
    "title": {"en": "Evaluation report", "zh-CN": "评测报告"},
    "meta": {"en": "Order <code>{order}</code> · tenant <code>{tenant}</code> · task <code>{task}</code> · dataset "
                   "<code>{dataset}</code> · job {job} · {generated}",
             "zh-CN": "订单 <code>{order}</code> · 租户 <code>{tenant}</code> · 任务 <code>{task}</code> · 数据集 "
                      "<code>{dataset}</code> · 作业 {job} · {generated}"},
    "verdict.accepted": {"en": "ACCEPTED", "zh-CN": "通过验收"},
    "verdict.rejected": {"en": "REJECTED", "zh-CN": "未通过验收"},
    "winner": {"en": "winner <strong>{name}</strong> ({family}), primary metric {metric} = {value} on test",
               "zh-CN": "胜出模型 <strong>{name}</strong>（{family}），主指标 {metric} 在测试集上为 {value}"},
    "failed_checks": {"en": "Failed checks:", "zh-CN": "未通过的检查："},
    "pass": {"en": "pass", "zh-CN": "通过"},
    "period": {"en": ".", "zh-CN": "。"},
    "fail": {"en": "FAIL", "zh-CN": "未通过"},
    # -- acceptance gate
    "gate": {"en": "Acceptance gate", "zh-CN": "验收门槛"},
    "gate.check": {"en": "check", "zh-CN": "检查"},
    "gate.required": {"en": "required", "zh-CN": "要求"},
    "gate.observed": {"en": "observed", "zh-CN": "实测"},
    "gate.result": {"en": "result", "zh-CN": "结果"},
    "gate.none": {"en": "The order sets no acceptance criteria; the winner is accepted as is.",
                  "zh-CN": "订单未设验收标准，胜出模型按原样验收。"},
    # -- rework rounds
    "rework": {"en": "Rework rounds", "zh-CN": "返工轮次"},
    "rework.intro": {"en": "The first winner failed the gate; it went back to the model workshop {rounds} time(s). "
                           "Each round's winner was chosen on validation, then gated on test.",
                     "zh-CN": "首个胜出模型未通过验收，退回模型车间返工 {rounds} 轮；每轮的胜出模型先在验证集上选出，"
                              "再在测试集上验收。"},
    "rework.round": {"en": "round", "zh-CN": "轮次"},
    "rework.failed": {"en": "what failed", "zh-CN": "未通过的检查"},
    "rework.actions": {"en": "what the round tried", "zh-CN": "本轮尝试"},
    "rework.winner": {"en": "round winner", "zh-CN": "本轮胜出"},
    "rework.seconds": {"en": "seconds", "zh-CN": "耗时（秒）"},
    "rework.kind.threshold": {"en": "decision threshold", "zh-CN": "调整决策阈值"},
    "rework.kind.class_weights": {"en": "class weights", "zh-CN": "类别加权"},
    "rework.kind.more_search": {"en": "more search", "zh-CN": "继续搜索"},
    "rework.kind.other_families": {"en": "other families", "zh-CN": "其他模型族"},
    "rework.kind.smaller_model": {"en": "smaller model", "zh-CN": "更小的模型"},
    "rework.kind.data_fixes": {"en": "data fixes", "zh-CN": "数据修复"},
    # -- leaderboard
    "leaderboard": {"en": "Leaderboard", "zh-CN": "排行榜"},
    "lb.candidate": {"en": "candidate", "zh-CN": "候选模型"},
    "lb.valid": {"en": "valid {metric}", "zh-CN": "验证集 {metric}"},
    "lb.test": {"en": "test {metric}", "zh-CN": "测试集 {metric}"},
    "lb.size": {"en": "size MB", "zh-CN": "大小 MB"},
    "lb.p95": {"en": "p95 ms", "zh-CN": "p95 延迟 ms"},
    "lb.fit": {"en": "fit s", "zh-CN": "训练秒数"},
    "lb.trials": {"en": "trials", "zh-CN": "试验次数"},
    # -- per class and slices
    "per_class": {"en": "Per-class report ({name} on test)", "zh-CN": "分类别报告（{name}，测试集）"},
    "pc.class": {"en": "class", "zh-CN": "类别"},
    "pc.precision": {"en": "precision", "zh-CN": "精确率"},
    "pc.recall": {"en": "recall", "zh-CN": "召回率"},
    "pc.support": {"en": "support", "zh-CN": "样本数"},
    "slices": {"en": "Slices ({name} on test, {metric})", "zh-CN": "切片（{name}，测试集，{metric}）"},
    "sl.by": {"en": "by", "zh-CN": "分组依据"},
    "sl.slice": {"en": "slice", "zh-CN": "切片"},
    "rows": {"en": "rows", "zh-CN": "行数"},
    # -- robustness
    "robustness": {"en": "Robustness ({name} on perturbed test rows, {metric})",
                   "zh-CN": "鲁棒性（{name}，扰动后的测试行，{metric}）"},
    "rob.clean": {"en": "Clean {metric} {score}", "zh-CN": "未扰动时 {metric} 为 {score}"},
    "rob.on_rows": {"en": " on {rows} test rows", "zh-CN": "（{rows} 条测试行）"},
    "rob.seed": {"en": ", seed {seed}.", "zh-CN": "，随机种子 {seed}。"},
    "rob.drop_explained": {
        "en": "The drop is the clean score minus the perturbed one (the other way round for a metric where lower "
              "is better): positive is a loss.",
        "zh-CN": "下降值为未扰动得分减去扰动后得分（越低越好的指标则反过来）：正值表示变差。"},
    "rob.allowed": {"en": "Allowed drop: {drop}.", "zh-CN": "允许的下降：{drop}。"},
    "rob.not_gated": {"en": "The order sets no max_robustness_drop: shown, not gated.",
                      "zh-CN": "订单未设 max_robustness_drop：仅展示，不作为门槛。"},
    "rob.perturbation": {"en": "perturbation", "zh-CN": "扰动"},
    "rob.what": {"en": "what was done", "zh-CN": "做法"},
    "rob.changed": {"en": "rows changed", "zh-CN": "改变的行"},
    "rob.drop": {"en": "drop", "zh-CN": "下降"},
    "rob.relative": {"en": "relative drop", "zh-CN": "相对下降"},
    "rob.example": {"en": "example", "zh-CN": "示例"},
    "rob.skipped": {"en": "Not applied:", "zh-CN": "未应用："},
    # -- learning curve
    "learning": {"en": "Learning curve (labels)", "zh-CN": "学习曲线（标注量）"},
    "learning.how": {
        "en": "Labeling replayed on the order's {pool} labelled train + valid rows: a seed set of {seed}, then "
              "{rounds} rounds of {batch} labels chosen by margin uncertainty or at random; a character TF-IDF "
              "model refitted each round and scored on {test} test rows (macro-F1).",
        "zh-CN": "在订单的 {pool} 条已标注训练 + 验证行上回放标注：先取 {seed} 条种子样本，再进行 {rounds} 轮、"
                 "每轮 {batch} 条标注（按边际不确定性或随机挑选）；每轮重新拟合字符 TF-IDF 模型，"
                 "并在 {test} 条测试行上评分（macro-F1）。"},
    "learning.strategy": {"en": "strategy", "zh-CN": "策略"},
    "learning.final": {"en": "macro-F1 with every pool label", "zh-CN": "使用全部标注时的 macro-F1"},
    "learning.reach": {"en": "labels to reach {share} of the best", "zh-CN": "达到最佳值 {share} 所需标注数"},
    "learning.area": {"en": "mean macro-F1 over the curve", "zh-CN": "曲线上的平均 macro-F1"},
    # -- anomaly detection
    "anomaly": {"en": "Anomaly detection ({name} on test)", "zh-CN": "异常检测（{name}，测试集）"},
    "anomaly.how": {
        "en": "{readings} test readings ordered by <code>{time}</code>; sensors {sensors}, read over windows of "
              "{window} readings. A reading is flagged when its score reaches {threshold}, calibrated so that "
              "{rate}% of normal validation readings are flagged.",
        "zh-CN": "{readings} 条测试读数，按 <code>{time}</code> 排序；传感器 {sensors}，以 {window} 条读数为窗口读取。"
                 "读数的分数达到 {threshold} 即被标记；该阈值经校准，使验证集正常读数中有 {rate}% 被标记。"},
    "anomaly.events": {
        "en": "An event is a run of readings labelled anomalous in <code>{label}</code>; it is detected when any of "
              "its readings is flagged, and its delay counts readings from its start to the first flag. An alarm "
              "(a run of flags) touching no event is a false alarm. Events: {events}, detected {detected}, alarms "
              "{alarms}, false alarms {false_alarms}",
        "zh-CN": "事件是 <code>{label}</code> 中连续标为异常的一段读数；其中任一读数被标记即算检出，延迟为从事件开始到"
                 "首次标记的读数数。一次告警（连续的标记）若不触及任何事件即为误报。事件 {events} 个，检出 "
                 "{detected} 个，告警 {alarms} 次，误报 {false_alarms} 次"},
    "anomaly.delay": {"en": "; mean delay {seconds} s", "zh-CN": "；平均延迟 {seconds} 秒"},
    "anomaly.start": {"en": "event start", "zh-CN": "事件开始"},
    "anomaly.end": {"en": "end", "zh-CN": "结束"},
    "anomaly.readings": {"en": "readings", "zh-CN": "读数"},
    "anomaly.detected": {"en": "detected", "zh-CN": "检出"},
    "anomaly.delay_readings": {"en": "delay (readings)", "zh-CN": "延迟（读数）"},
    "anomaly.yes": {"en": "yes", "zh-CN": "是"},
    "anomaly.missed": {"en": "missed", "zh-CN": "漏检"},
    "anomaly.no_event": {"en": "The test split holds no labelled event.", "zh-CN": "测试集中没有标注的事件。"},
    "anomaly.no_label": {
        "en": "The order names no label column, so events cannot be measured; the timeline shows what was flagged.",
        "zh-CN": "订单未指定标签列，无法度量事件；时间线展示了被标记的读数。"},
    # -- forecast
    "forecast": {"en": "Forecast ({name} on the test window)", "zh-CN": "预测（{name}，测试窗口）"},
    "forecast.how": {
        "en": "{series} series at <code>{frequency}</code> (season {season} steps); the last {horizon} steps of "
              "each series are the test window. MASE is the mean over series of the absolute error scaled by the "
              "series' in-sample seasonal naive error (below 1 beats seasonal naive); sMAPE is on a 0–2 scale; WQL "
              "is the weighted quantile loss over {quantiles}. Intervals are conformal, from {intervals} backtest "
              "errors.",
        "zh-CN": "{series} 条序列，频率 <code>{frequency}</code>（季节周期 {season} 步）；每条序列的最后 {horizon} "
                 "步为测试窗口。MASE 为各序列绝对误差除以该序列样本内季节朴素误差后的均值（低于 1 即优于季节朴素"
                 "预测）；sMAPE 取值 0–2；WQL 为 {quantiles} 分位上的加权分位损失。区间为共形区间，来自 "
                 "{intervals} 个回测误差。"},
    "forecast.delivered": {"en": " The delivered model is {model}.", "zh-CN": "交付的模型为 {model}。"},
    "forecast.backtest": {
        "en": "Backtest (rolling windows of {horizon} steps before the test window; window 0 is the newest)",
        "zh-CN": "回测（测试窗口之前、每个 {horizon} 步的滚动窗口；窗口 0 为最新）"},
    "forecast.window": {"en": "window", "zh-CN": "窗口"},
    "forecast.cutoff": {"en": "history ends", "zh-CN": "历史截止"},
    "forecast.series": {"en": "series", "zh-CN": "序列数"},
    # -- retrieval
    # -- generation (instruction tuning)
    "gen": {"en": "Generation: base vs {winner} on the same {rows} test prompts",
            "zh-CN": "生成：基座模型与 {winner} 在相同的 {rows} 条测试提示上的对比"},
    "gen.how": {"en": "Answers are greedy. Exact match, token F1, ROUGE-L and BLEU are read on Chinese-aware tokens "
                      "(each Chinese character a token, latin words lowercased). An answer's claims (its sentences) "
                      "are checked against the reference",
                "zh-CN": "回答采用贪心解码。精确匹配、词元 F1、ROUGE-L 和 BLEU 按中文感知的词元计算（每个汉字一个词元，"
                         "拉丁单词转小写）。回答中的每个论断（句子）都与参考答案"},
    "gen.rag": {"en": " and the retrieved passages", "zh-CN": "及检索到的段落"},
    "gen.claims": {"en": ": a claim none of them supports counts as a hallucination. The refusal rate is read on "
                         "{out_of_domain} out-of-domain questions never trained on; the false refusal rate on the "
                         "in-domain test prompts.",
                   "zh-CN": "逐一核对：没有任何依据支持的论断计为幻觉。拒答率在 {out_of_domain} 个从未训练过的"
                            "领域外问题上统计；误拒率在领域内测试提示上统计。"},
    "gen.choices": {"en": " {rows} multiple-choice prompts are scored by the log-likelihood of each option letter.",
                    "zh-CN": "{rows} 道选择题按各选项字母的对数似然评分。"},
    "gen.merged": {"en": " The delivered model is the LoRA adapter merged into the base weights.",
                   "zh-CN": "交付的模型是合并进基座权重的 LoRA 适配器。"},
    "gen.base": {"en": "base", "zh-CN": "基座模型"},
    "gen.better": {"en": "better", "zh-CN": "更优方向"},
    "gen.direction.higher": {"en": "higher", "zh-CN": "越高越好"},
    "gen.direction.lower": {"en": "lower", "zh-CN": "越低越好"},
    "gen.trials": {"en": "Fine-tuning trials", "zh-CN": "微调试验"},
    "gen.trial": {"en": "trial", "zh-CN": "试验"},
    "gen.steps": {"en": "steps", "zh-CN": "步数"},
    "gen.seconds": {"en": "seconds", "zh-CN": "秒数"},
    "gen.tokens_s": {"en": "tokens/s", "zh-CN": "词元/秒"},
    "gen.eval_loss": {"en": "best validation loss", "zh-CN": "最佳验证损失"},
    "gen.note": {"en": "note", "zh-CN": "说明"},
    "gen.side_by_side": {"en": "Side by side", "zh-CN": "逐条对比"},
    "gen.prompt": {"en": "Prompt:", "zh-CN": "提示："},
    "gen.reference": {"en": "Reference:", "zh-CN": "参考答案："},
    "gen.base_answer": {"en": "Base:", "zh-CN": "基座模型："},
    "gen.tuned_answer": {"en": "Tuned:", "zh-CN": "微调后："},
    "gen.claims_of": {"en": "Claims of the tuned answer:", "zh-CN": "微调后回答的论断："},
    "gen.unsupported": {"en": "unsupported", "zh-CN": "无依据"},
    "retrieval": {"en": "Retrieval ({name} on test)", "zh-CN": "检索（{name}，测试集）"},
    "retrieval.metric": {"en": "metric", "zh-CN": "指标"},
    "retrieval.test": {"en": "test", "zh-CN": "测试集"},
    "retrieval.passages": {"en": "{passages} passages indexed ({kind})", "zh-CN": "已索引 {passages} 个段落（{kind}）"},
    "retrieval.threshold": {"en": "; \"no answer\" below a confidence of {threshold}",
                            "zh-CN": "；置信度低于 {threshold} 时回答“无答案”"},
    "retrieval.hit": {"en": "right answer in the top {k}", "zh-CN": "正确答案在前 {k} 个之内"},
    "retrieval.miss": {"en": "right answer not in the top {k}", "zh-CN": "正确答案不在前 {k} 个之内"},
    "retrieval.no_answer": {"en": "no answer (confidence {confidence} under the threshold)",
                            "zh-CN": "无答案（置信度 {confidence} 低于阈值）"},
    "retrieval.q": {"en": "Q:", "zh-CN": "问："},
    "retrieval.answer": {"en": "answer", "zh-CN": "答案"},
    "retrieval.source": {"en": "source", "zh-CN": "来源"},
    "retrieval.score": {"en": "score", "zh-CN": "得分"},
    # -- reasons and data
    "reasons": {"en": "Choices and reasons", "zh-CN": "选择与理由"},
    "data": {"en": "Data", "zh-CN": "数据"},
    "data.split": {"en": "split", "zh-CN": "划分"},
    "split.train": {"en": "train", "zh-CN": "训练集"},
    "split.valid": {"en": "valid", "zh-CN": "验证集"},
    "split.test": {"en": "test", "zh-CN": "测试集"},
    "data.target": {"en": "Target <code>{target}</code>", "zh-CN": "目标列 <code>{target}</code>"},
    "data.classes": {"en": " · classes: {classes}", "zh-CN": " · 类别：{classes}"},
    "data.features": {"en": " · {n} features", "zh-CN": " · {n} 个特征"},
    "data.dropped": {"en": "dropped column", "zh-CN": "剔除的列"},
    "data.reason": {"en": "reason", "zh-CN": "原因"},
    "data.none_dropped": {"en": "No columns were dropped.", "zh-CN": "没有剔除任何列。"},
    # -- plots: the section and each plot's caption (the PNGs themselves carry both languages)
    "plots": {"en": "Plots ({name} on test)", "zh-CN": "图表（{name}，测试集）"},
    "plot.roc_curve": {"en": "ROC curve", "zh-CN": "ROC 曲线"},
    "plot.pr_curve": {"en": "Precision-recall curve", "zh-CN": "精确率-召回率曲线"},
    "plot.confusion_matrix": {"en": "Confusion matrix", "zh-CN": "混淆矩阵"},
    "plot.calibration": {"en": "Calibration curve", "zh-CN": "校准曲线"},
    "plot.feature_importance": {"en": "Feature importance (top 20)", "zh-CN": "特征重要性（前 20）"},
    "plot.predicted_vs_actual": {"en": "Predicted vs actual", "zh-CN": "预测值与实际值"},
    "plot.residuals": {"en": "Residual histogram", "zh-CN": "残差直方图"},
    "plot.per_class_f1": {"en": "F1 per label", "zh-CN": "各标签 F1"},
    "plot.robustness": {"en": "Robustness to perturbed inputs", "zh-CN": "对扰动输入的鲁棒性"},
    "plot.recall_at_k": {"en": "Recall@k and MRR on test questions", "zh-CN": "测试问题上的 Recall@k 与 MRR"},
    "plot.anomaly_timeline": {"en": "Anomaly timeline: true and detected windows",
                              "zh-CN": "异常时间线：真实窗口与检出窗口"},
    "plot.score_distribution": {"en": "Anomaly scores of normal and anomalous readings",
                                "zh-CN": "正常与异常读数的异常分数"},
    "plot.generation_metrics": {"en": "Base vs tuned answers on the test prompts",
                                "zh-CN": "测试提示上基础模型与微调模型的回答对比"},
    "plot.training_curve": {"en": "Validation loss of the fine-tuning trials", "zh-CN": "微调试验的验证损失"},
    "plot.learning_curve": {"en": "Learning curve", "zh-CN": "学习曲线"},
    "plot.misclassified": {"en": "Misclassified test images", "zh-CN": "分类错误的测试图像"},
    "plot.defect_maps": {"en": "Defect maps on test images", "zh-CN": "测试图像上的缺陷图"},
}


def report_file(lang: str) -> str:
    """The report's file name in `lang`: report.html in English (what every reader has always read), else
    report.<lang>.html beside it."""
    return "report.html" if lang == DEFAULT else f"report.{lang}.html"


REPORT_FILES = tuple(report_file(lang) for lang in LANGUAGES)


def translator(lang: str) -> Callable[..., Markup]:
    """t(key, default=None, **values): the key's text in `lang` with its placeholders filled (values escaped);
    `default` (or the key) when the catalogue has no such key."""
    if lang not in LANGUAGES:
        raise ValueError(f"unknown report language '{lang}' (expected one of {', '.join(LANGUAGES)})")

    def t(key: str, default: str | None = None, **values: Any) -> Markup:
        entry = TEXT.get(key)
        if entry is None:
            return Markup.escape(default if default is not None else key)
        return Markup(entry[lang]).format(**values) if values else Markup(entry[lang])

    return t
