"""The inbox's rejection line in the service log (issue #14, the new-user review): the head's
colon is followed by the problems it announces, in Chinese by default, English by setting."""

from __future__ import annotations

import logging

from hotline_kpi.i18n import set_language
from tests.service.test_inbox import _drop, inbox, settled_scan  # noqa: F401 - the fixture

BAD = "日期,受理量,呼入量\n2019-01-01,11000,九十五\n2019-01-02,abc,100\n"


def _rejected_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "jan.csv" in r.getMessage()]


def test_the_rejection_line_lists_its_problems(inbox, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    set_language("zh")
    _drop(inbox, "jan.csv", BAD)
    [result] = settled_scan(inbox)
    assert result.outcome == "rejected"
    [line] = _rejected_lines(caplog)
    assert line.startswith("收件箱：jan.csv：已拒收，未存入任何数据（2 个问题）：jan.csv，第 2 行，"), line
    assert not line.endswith(("：", ":")), line
    assert "第 2 行，“呼入量”列，值“九十五”：不是数字" in line and "第 3 行" in line and "；" in line, line


def test_the_rejection_line_in_english(inbox, caplog):  # noqa: F811
    caplog.set_level(logging.INFO, logger="hotline_kpi")
    set_language("en")
    try:
        _drop(inbox, "jan.csv", BAD)
        settled_scan(inbox)
    finally:
        set_language("zh")
    [line] = _rejected_lines(caplog)
    assert "row 2, column 呼入量, value '九十五': not a number; " in line and not line.endswith(":"), line
