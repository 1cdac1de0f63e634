"""What the report's CLI tests share."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hotline_kpi.cli import cli


@pytest.fixture
def a_day_of_2019(cli_env: str, tmp_path) -> None:  # noqa: ANN001
    """One day of 2019's figures in the store of ``cli_env``: `report` refuses a year without any."""
    day = tmp_path / "day.csv"
    day.write_text("日期,受理量,呼入量\n2019-01-02,11000,9500\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["ingest", "--no-evaluate", str(day)])
    assert result.exit_code == 0, result.output
