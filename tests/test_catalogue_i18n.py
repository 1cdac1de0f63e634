"""The message catalogues (gettext .po, Babel): every msgid the code and templates use is in
each .po with its translation; the check itself fails on a missing one."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from hotline_kpi.i18n import LOCALE_DIR, M_, Msg, _, localize, t, translations
from tests.common import ROOT


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_tool", ROOT / "tools" / "i18n.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["i18n_tool"] = module
    spec.loader.exec_module(module)
    return module


def test_every_used_msgid_is_in_each_catalogue_with_its_translation():
    tool = _tool()
    assert len(tool.extracted()) > 400  # the code's, the templates' and the commands' help
    assert tool.missing("zh_CN") == []
    assert tool.missing("en") == []


def test_the_check_fails_when_a_translation_or_a_msgid_is_missing(tmp_path, monkeypatch):
    tool = _tool()
    copy = tmp_path / "locale"
    shutil.copytree(LOCALE_DIR, copy, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(tool, "LOCALE_DIR", copy)
    zh = tool.read("zh_CN")
    zh.get("not a number").string = ""  # untranslated
    zh.delete("the file is empty")  # a used msgid gone from the .po
    tool.write(zh, tool.po_path("zh_CN"))
    assert sorted(tool.missing("zh_CN")) == ["no translation: 'not a number'", "not in the .po: 'the file is empty'"]


def test_messages_render_in_either_language_and_compare_as_english():
    msg = M_("{name} must be a whole number", name="受理量")
    assert isinstance(msg, Msg) and msg == "受理量 must be a whole number"
    assert msg.render("zh") == "受理量须为整数" and msg.render("en") == "受理量 must be a whole number"
    assert localize(msg, "zh") == "受理量须为整数" and _("the file is empty", lang="zh") == "文件为空"
    assert t("met", "zh") == "达标" and t("met", "en") == "met"
    assert translations("zh").gettext("Hotline KPI status") == "热线绩效监测"


def test_a_label_added_the_old_way_still_works(monkeypatch):
    from hotline_kpi import i18n

    monkeypatch.setitem(i18n._TEXT, "probability_of_missing", ("未达标概率", "probability of missing"))
    assert t("probability_of_missing", "zh") == "未达标概率" and t("probability_of_missing", "en") == \
        "probability of missing"


@pytest.mark.system
def test_the_wheel_ships_the_compiled_catalogues(tmp_path):
    """`pip wheel .` (what `pip install .` builds) compiles the .po files into .mo inside it."""
    import subprocess
    import zipfile

    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                   check=True, cwd=tmp_path, capture_output=True, timeout=600)
    [wheel] = list(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for locale in ("zh_CN", "en"):
        for domain in ("hotline_kpi", "click"):
            assert f"hotline_kpi/locale/{locale}/LC_MESSAGES/{domain}.mo" in names
            # the source sits beside it (every tracked package file is in the wheel: test_installed)
            assert f"hotline_kpi/locale/{locale}/LC_MESSAGES/{domain}.po" in names
