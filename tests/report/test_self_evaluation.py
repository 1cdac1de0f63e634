"""The self-evaluation's rules on a year whose scores are computed by hand
(tests/report/builders.py): qualitative rows only from the office's rating with
evidence, the draft/final rule, the 影响力 row from the entered ranking, budget
execution counted once, the peer comparison, and input errors naming file and key."""

from __future__ import annotations

import re

import pytest
import yaml
from click.testing import CliRunner

from hotline_kpi.cli import cli
from hotline_kpi.cli.app import App
from hotline_kpi.report.build import template_inputs
from hotline_kpi.report.inputs import BenchmarkError, InputsError, load_benchmark
from hotline_kpi.report.inputs_xlsx import load_inputs
from hotline_kpi.report.scoring import Scored, total_score
from hotline_kpi.scoring_rules import Band, RankBand, ScoringError, ScoringRules
from tests.report.builders import BENCHMARK, RANKING, RATED, REASONS, TEXTS, every_reason, explained, report

#: Budget 80% -> 8.00; outputs 9.13 + 10 + 10 + 10 + 8.00 = 47.13; satisfaction 10.
QUANTITATIVE = 8.00 + 47.13 + 10


def scores(rep) -> dict[str, float | None]:  # noqa: ANN001
    return {r.indicator.id: r.score for r in rep.rows}


def test_every_row_rated_with_evidence_hand_computed():
    rep = report()
    s = scores(rep)
    assert (s["cost_control"], s["service_reach"], s["environmental_impact"], s["sustainability"]) == (6, 4.8, 3.6, 6)
    assert s["national_ranking"] == 4.8  # 2nd -> 部分达成 (B), the band's top: 80% of 6
    # 65.13 + 6 + 4.8 + 3.6 + 6 + 4.8 = 90.33
    assert (rep.total.total, rep.total.grade) == (90.33, "优")
    assert not rep.draft and rep.missing == ()


def test_an_unrated_row_scores_nothing_and_makes_a_draft():
    rep = report(indicators={})
    assert [r.score for r in rep.rows if r.indicator.kind == "qualitative"] == [0, 0, 0, 0, 4.8]
    # 65.13 + ranking 4.8 = 69.93: the four unrated rows earn nothing (before: 6 each by default)
    assert (rep.total.total, rep.total.grade) == (69.93, "中")
    assert rep.draft
    assert [(m.indicator, m.what) for m in rep.missing] == [
        ("控制成本投入", "未评级"), ("最大限度的服务好市民和企业", "未评级"), ("降低能耗，节约成本", "未评级"),
        ("持续发展，不断拓展服务范围", "未评级")]


def test_a_rating_without_evidence_does_not_count():
    given = {**RATED, "sustainability": {"band": "A", "evidence": "  "}}
    rep = report(indicators=given)
    assert scores(rep)["sustainability"] == 0
    assert rep.total.total == round(90.33 - 6, 2)
    assert [(m.indicator, m.what) for m in rep.missing] == [("持续发展，不断拓展服务范围", "已评级但未填写佐证材料")]


def test_the_ranking_row_is_scored_from_the_rank_entered():
    base = QUANTITATIVE + 6 + 4.8 + 3.6 + 6  # 85.53 without the ranking row
    assert report(ranking={**RANKING, "rank": 1}).total.total == round(base + 6, 2)  # 91.53 优
    assert report(ranking={**RANKING, "rank": 5}).total.total == round(base + 4.8, 2)
    assert report(ranking={**RANKING, "rank": 6}).total.total == round(base + 3.6, 2)  # 未达成 (C): 60% of 6
    unsourced = report(ranking={**RANKING, "source": ""})
    assert scores(unsourced)["national_ranking"] == 0 and unsourced.total.total == round(base, 2)
    assert [m.what for m in unsourced.missing] == ["未填写排名来源"]
    none = report(ranking={})
    assert [m.what for m in none.missing] == ["未填写全国排名名次"]
    row = next(r for r in report().rows if r.indicator.id == "national_ranking")
    assert row.actual_text == "全国第2名（共335条热线），得分96.07"
    assert row.evidence == "来源：第三方全国政务热线服务质量监测年度报告"


def test_the_peers_volume_figures_never_change_the_ranking_row():
    # Before: the row was suggested from "beating" Beijing's call volume.
    rep = report()
    assert [p.label for p in rep.peers] == ["市民满意率"]
    assert "北京公布的满意率未说明“基本满意”是否计为满意" in rep.peers[0].difference
    assert rep.peers[0].beaten is True  # 92% against 87%, difference stated
    assert [label for label, _ in rep.peer_excluded] == ["全年受理量", "全年来电量", "解决率"]
    assert all(diff for _, diff in rep.peer_excluded)


def test_budget_execution_is_counted_once():
    at80, at100 = report(share=0.8), report(share=1.0)
    assert (at80.budget_score, at100.budget_score) == (8.0, 10.0)
    assert scores(at80)["cost_control"] == scores(at100)["cost_control"] == 6  # the office's rating, not 执行率
    assert round(at100.total.total - at80.total.total, 2) == 2.0  # 92.33 - 90.33: only the budget row moved
    # The 经济效益 row's 实际完成值 is the office's, never the execution rate.
    row = next(r for r in at80.rows if r.indicator.id == "cost_control")
    assert "执行率" not in row.actual_text


def test_qualitative_tiers_are_a_setting():
    local = ScoringRules(qualitative_bands=(Band(name="A", label="达成", low=80, high=100),
                                            Band(name="B", label="部分达成", low=50, high=80),
                                            Band(name="C", label="未达成", low=0, high=50)),
                         band_score="middle",
                         ranking_bands=(RankBand(rank_at_most=3, band="A"),))
    from hotline_kpi.catalogue import load_catalogue
    from hotline_kpi.formulas import FormulaSettings
    from hotline_kpi.report.build import ReportInputs, build_report
    from tests.common import TARGETS
    from tests.report.builders import rows, spending

    cat = load_catalogue(TARGETS / "shanghai-12345-2019.yaml")
    rep = build_report(cat, FormulaSettings(), rows(), spending(), ReportInputs.model_validate(
        {"indicators": RATED, "ranking": RANKING}), None, local)
    s = scores(rep)
    # middle of each band: A 90% of 6 = 5.4, B (部分达成) 65% = 3.9, C 25% = 1.5; rank 2 <= 3 -> A 5.4
    assert (s["cost_control"], s["service_reach"], s["environmental_impact"], s["national_ranking"]) == (
        5.4, 3.9, 1.5, 5.4)
    with pytest.raises(ValueError, match="ranking band"):
        ScoringRules(ranking_bands=(RankBand(rank_at_most=1, band="X"),))
    with pytest.raises(ScoringError):
        local.band("D")


@pytest.mark.parametrize("total, expected", [(90, "优"), (89.99, "良"), (80, "良"), (79.99, "中"), (60, "中"),
                                             (59.99, "差")])
def test_grade_edges_on_totals(total, expected):
    # One item of weight 100 scoring `total`: the grade of that total.
    assert total_score([Scored("x", 100, total)]).grade == expected


def test_the_template_prefills_nothing():
    data = template_inputs(report(indicators={}))
    for ind in ("cost_control", "service_reach", "environmental_impact", "sustainability"):
        assert data["indicators"][ind] == {"applicable": True, "band": None, "percent": None, "evidence": "",
                                           "actual_text": "", "explanation": ""}
    assert data["ranking"] == {"rank": None, "of": None, "score": None, "source": ""}
    assert data["overall_actual"] == ""


def test_an_input_error_names_file_and_key(tmp_path):
    bad = tmp_path / "inputs.yaml"
    bad.write_text(yaml.safe_dump({"ranking": {"rank": 0}, "indicators": {"cost_control": {"bnad": "A"}}}))
    with pytest.raises(InputsError) as err:
        load_inputs(bad)
    msg = str(err.value)
    assert str(bad) in msg and "ranking.rank" in msg and "indicators.cost_control.bnad" in msg


def test_a_volume_as_merit_in_a_benchmark_is_refused_naming_file_and_key(tmp_path):
    data = yaml.safe_load(BENCHMARK.read_text(encoding="utf-8"))
    calls = next(f for f in data["figures"] if f["id"] == "calls_offered")
    calls["comparable"] = True
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BenchmarkError) as err:
        load_benchmark(path)
    assert str(path) in str(err.value) and "figures[calls_offered]" in str(err.value)
    assert "comparable: false" in str(err.value) and "calls" in str(err.value)


@pytest.mark.parametrize("unit", ["件", "万件", "个", "次", "人次", "件/日", "通", "tickets", "requests/day", " 万件 "])
def test_a_volume_in_chinese_units_is_refused_too(tmp_path, unit):
    """Review of #15, finding 9: 全年受理量 with unit 件 marked comparable was compared."""
    data = yaml.safe_load(BENCHMARK.read_text(encoding="utf-8"))
    req = next(f for f in data["figures"] if f["id"] == "requests_accepted")
    req.update(comparable=True, unit=unit)
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(BenchmarkError) as err:
        load_benchmark(path)
    assert "figures[requests_accepted]" in str(err.value) and unit.strip() in str(err.value)


@pytest.mark.parametrize("unit", ["ratio", "%", "seconds", "秒", "分"])
def test_rates_and_times_stay_comparable(unit):
    from hotline_kpi.report.inputs import is_volume

    assert not is_volume(unit)


def _invoke(clock, *args):  # noqa: ANN001, ANN202
    return CliRunner().invoke(cli, ["report", "--year", "2019", *args], obj=App(clock=clock))


def test_report_final_refuses_while_anything_is_unrated(cli_env, a_day_of_2019, tmp_path, clock):
    result = _invoke(clock, "--final", "--format", "md", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "报告仍是草稿，不能出具正式版" in result.output
    for name in ("控制成本投入", "最大限度的服务好市民和企业", "降低能耗，节约成本", "持续发展，不断拓展服务范围",
                 "全国政务类服务热线排名"):
        assert name in result.output
    assert not (tmp_path / "out").exists()  # nothing written
    # The same without --final: a draft, said so.
    draft = _invoke(clock, "--format", "md", "--out", str(tmp_path / "draft"))
    assert draft.exit_code == 0, draft.output
    # 5 unrated, 6 rows without data (no reason written), 存在问题 and 自评结果应用 unwritten
    assert "草稿：尚缺13项" in draft.output
    (md,) = (tmp_path / "draft").glob("*.md")
    assert md.read_text(encoding="utf-8").startswith("> **草稿**")
    # Rated with evidence and ranked: final.
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": explained(RATED, every_reason()), "ranking": RANKING, **TEXTS},
                                     allow_unicode=True), encoding="utf-8")
    final = _invoke(clock, "--final", "--format", "md", "--out", str(tmp_path / "final"), "--inputs", str(inputs))
    assert final.exit_code == 0, final.output
    (md,) = (tmp_path / "final").glob("*.md")
    assert "草稿" not in md.read_text(encoding="utf-8")


def test_an_unknown_indicator_code_in_the_input_file_is_refused(english, cli_env, tmp_path, clock):
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": {**RATED, "cost_contrl": {"band": "A"}}}), encoding="utf-8")
    result = _invoke(clock, "--format", "md", "--out", str(tmp_path / "out"), "--inputs", str(inputs))
    assert result.exit_code == 1
    assert f"{inputs}: invalid report input file" in result.output
    assert "indicators.cost_contrl: not an indicator of the 2019 catalogue" in result.output
    assert not (tmp_path / "out").exists()


def test_every_row_that_lost_points_needs_its_reason_before_final(cli_env, a_day_of_2019, tmp_path, clock):
    """Review of #15, finding 3: rated rows, no text at all -> still a draft; each row that
    lost points has its entry in 五、偏差原因分析 and its 偏差原因 cell."""
    from hotline_kpi.report.narrative import sections

    filled = {**RATED, "cost_control": {**RATED["cost_control"], "band": "B", "percent": 70},
              "service_reach": {**RATED["service_reach"], "band": "A"},
              "environmental_impact": {**RATED["environmental_impact"], "band": "C", "percent": 50}}
    rep = report(indicators=filled, problems_next_steps="", result_use="")
    s = scores(rep)  # lost: 受理量 0.87, 接通时长 2.00, B 1.80, C 3.00, ranking 1.20
    assert (s["requests_accepted"], s["average_answer_seconds"], s["cost_control"], s["environmental_impact"],
            s["national_ranking"]) == (9.13, 8.0, 4.2, 3.0, 4.8)
    assert rep.missing == () and rep.draft
    assert [(m.indicator, m.what) for m in rep.unwritten] == [
        ("全年12345热线平台受理量", "偏差原因为系统草拟，未填写办公室的分析及改进措施"),
        ("电话接通时长", "偏差原因为系统草拟，未填写办公室的分析及改进措施"),
        ("控制成本投入", "失分，未填写偏差原因分析及改进措施"),
        ("降低能耗，节约成本", "失分，未填写偏差原因分析及改进措施"),
        ("全国政务类服务热线排名", "失分，未填写偏差原因分析及改进措施"),
        ("存在问题及下一步工作", "未填写"), ("自评结果应用", "未填写")]
    cells = {r.indicator.id: r.explanation for r in rep.rows}
    assert cells["cost_control"] == "【待办公室填写】评为B（部分达成），扣1.80分：请填写偏差原因分析及改进措施。"
    assert cells["environmental_impact"].startswith("【待办公室填写】评为C（未达成）") and "扣3.00分" in cells["environmental_impact"]
    assert "扣1.20分" in cells["national_ranking"]
    deviation = next(sec for sec in sections(rep) if sec.title == "五、偏差原因分析及改进措施")
    analysed = [b.text.split("：")[0] for b in deviation.blocks]
    for name in ("全年12345热线平台受理量", "电话接通时长", "控制成本投入", "降低能耗，节约成本", "全国政务类服务热线排名"):
        assert name in analysed
    # Written by the office: final.
    done = report(indicators=explained(filled, {**REASONS, "cost_control": {"explanation": "合同审计发现超支。"}}))
    assert not done.draft
    assert next(r for r in done.rows if r.indicator.id == "cost_control").explanation == "合同审计发现超支。"
    # The CLI refuses --final, naming what is owed, and writes nothing.
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text(yaml.safe_dump({"indicators": RATED, "ranking": RANKING}, allow_unicode=True), encoding="utf-8")
    result = _invoke(clock, "--final", "--format", "md", "--out", str(tmp_path / "out"), "--inputs", str(inputs))
    assert result.exit_code == 1
    for line in ("热线接通率：偏差原因为系统草拟", "降低能耗，节约成本：失分，未填写偏差原因分析及改进措施", "自评结果应用：未填写"):
        assert line in result.output
    assert not (tmp_path / "out").exists()


def test_a_draft_never_overwrites_the_final_report(tmp_path):
    """Review of #15, finding 14: draft and final had the same file names."""
    from hotline_kpi.report.writer import write_report

    final = write_report(report(), ["md", "xlsx"], tmp_path)
    draft = write_report(report(indicators={}), ["md", "xlsx"], tmp_path)
    assert [p.name for p in final] == ["shanghai-12345-2019-绩效自评.md", "shanghai-12345-2019-绩效自评.xlsx"]
    assert [p.name for p in draft] == ["shanghai-12345-2019-绩效自评-草稿.md", "shanghai-12345-2019-绩效自评-草稿.xlsx"]
    assert "草稿" not in final[0].read_text(encoding="utf-8")  # the final is still there, untouched
    assert draft[0].read_text(encoding="utf-8").startswith("> **草稿**")


def test_prose_gives_units_as_the_targets_do():
    """Review of #15, finding 15: "实际完成4,043,724" had no unit against 400万个, "8.27 秒" a
    space where the target writes 8秒, the 年度总体目标 a stray space after a comma."""
    from hotline_kpi.report.narrative import sections

    rep = report()
    rows = {r.indicator.id: r for r in rep.rows}
    assert rows["requests_accepted"].target_text == "400万个"
    assert rows["requests_accepted"].actual_text == "3,650,000个（365.00万个）"
    assert rows["average_answer_seconds"].actual_text == "10.00秒"
    text = "\n".join(b.text for s in sections(rep) for b in s.blocks)
    assert "实际完成3,650,000个（365.00万个）" in text
    assert "月度走势：1月10.00秒" in text
    assert not re.search(r"\d 秒", text)
    raw = rep.catalogue.project.annual_goal
    assert re.search(r"[，。]\s", raw)  # the seed's folded text has the blank
    assert not re.search(r"[，。；]\s", rep.overall_goal)


def test_a_chinese_only_user_reads_the_cli_and_the_template(cli_env, tmp_path, clock):
    """Review of #15, finding 13 (what still held after the gettext merge): the template's
    comments and indicators in Chinese, the default year's error naming the years there
    are, ≥/≤ and a Chinese date in `evaluate`."""
    from hotline_kpi.catalogue import load_catalogue
    from hotline_kpi.formatting import fmt_target
    from tests.common import TARGETS

    path = tmp_path / "in.yaml"
    result = CliRunner().invoke(cli, ["report", "template", "--year", "2019", "-o", str(path)], obj=App(clock=clock))
    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# 绩效自评输入文件：由办公室填写")
    assert "  # 控制成本投入\n  cost_control:\n" in text and "  # 电话接通时长\n  average_answer_seconds:\n" in text
    assert yaml.safe_load(text)["indicators"]["cost_control"]["band"] is None  # still the same file
    missing = _invoke(clock, "--year", "2031", "--format", "md", "--out", str(tmp_path / "o"))
    assert missing.exit_code == 1 and "已有目标目录的年度：" in missing.output and "2019" in missing.output
    cat = load_catalogue(TARGETS / "shanghai-12345-2019.yaml")
    assert fmt_target(cat.indicator("connection_rate"), "zh") == "≥ 90%"
    assert fmt_target(cat.indicator("connection_rate"), "en") == ">= 90%"
