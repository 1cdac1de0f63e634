"""The year-end project-expenditure performance self-evaluation report (项目支出绩效自评).

Flow: :mod:`.inputs` (the office's file, YAML or :mod:`.inputs_xlsx`; the benchmark) and
:mod:`.scoring` (pure rules) <- :mod:`.build` (the table from the catalogue, the year's
daily rows, spending, the office's inputs and a benchmark) -> :mod:`.narrative` (the
written report's sections) -> writers (:mod:`.word` for DOCX, :mod:`.xlsx`, :mod:`.html`
with its PDF, :mod:`.md`) and :mod:`.charts`. docs/report.md.
"""
