"""grafana views and the SELECT-only role

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-27 00:10:00

Views that Grafana's PostgreSQL data source charts the daily history from
(docs/dashboards.md), and a NOLOGIN role ``hotline_kpi_grafana`` granted SELECT on them
and nothing else. A login user for Grafana is made a member of that role by the
operator, with a password from the environment (docs/dashboards.md); no password is
ever part of a migration.

The views compute what ``hotline-kpi evaluate`` computes (docs/kpi-definitions.md):
a value is the ratio of the sums over the days on which every required counter of the
formula is known; a missing day is a gap, never a zero; a zero denominator or a window
without a contributing day has no value (NULL). The two formula settings applied at
evaluation (``exclude_short_abandons``, ``within_15s_denominator``) and the targets are
read from the hotline's latest stored evaluation (the scoreboard JSON, schema_version 1),
so the views follow the settings and the catalogue the service runs with; the defaults
below apply until the first evaluation is stored. Indicators are keyed by their formula
id, which is the indicator id in the shipped catalogues.

Sums are taken in double precision: exact for whole-number counters below 2**53, and
the ratio of two exact sums is the same IEEE division Python performs.

SQLite: not created. Grafana reads the service's PostgreSQL; SQLite has no time-zone
conversion for the ``time`` column and no RANGE frames over dates, and the embedded
store is watched through /metrics and the status page instead.
"""
from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

GRAFANA_ROLE = "hotline_kpi_grafana"

#: Dropped in reverse order by downgrade().
VIEWS = (
    "grafana_hotline",
    "grafana_formula_settings",
    "grafana_indicator_target",
    "grafana_indicator_terms",
    "grafana_indicator_daily",
    "grafana_indicator_trailing_30d",
    "grafana_volume_cumulative",
)

_HOTLINE = """
CREATE VIEW grafana_hotline AS
SELECT id AS hotline, name, name_en, timezone
FROM hotline
"""

# Settings applied at evaluation time, from the hotline's latest snapshot; the defaults
# are FormulaSettings' (hotline_kpi/formulas.py) when no evaluation is stored yet.
_SETTINGS = """
CREATE VIEW grafana_formula_settings AS
SELECT h.id AS hotline,
       COALESCE((s.payload::jsonb #>> '{settings,exclude_short_abandons}')::boolean, true)
           AS exclude_short_abandons,
       COALESCE(s.payload::jsonb #>> '{settings,within_15s_denominator}', 'offered')
           AS within_15s_denominator
FROM hotline h
LEFT JOIN evaluation_snapshot s
       ON s.id = (SELECT max(e.id) FROM evaluation_snapshot e WHERE e.hotline_id = h.id)
"""

# One row per hotline, catalogue year and quantitative indicator, from the latest
# evaluation of that year. pro_rated: an annual total (the volume), whose target over a
# window is annual_target * days_in_window / days_in_year.
_TARGET = """
CREATE VIEW grafana_indicator_target AS
SELECT s.hotline_id AS hotline,
       CAST(EXTRACT(YEAR FROM s.as_of) AS integer) AS year,
       r.value ->> 'id' AS indicator,
       CAST(r.value ->> 'annual_target' AS double precision) AS annual_target,
       r.value ->> 'comparator' AS comparator,
       r.value ->> 'unit' AS unit,
       (r.value ->> 'pace') IS NOT NULL AS pro_rated,
       make_date(CAST(EXTRACT(YEAR FROM s.as_of) AS integer) + 1, 1, 1)
         - make_date(CAST(EXTRACT(YEAR FROM s.as_of) AS integer), 1, 1) AS days_in_year
FROM evaluation_snapshot s
CROSS JOIN LATERAL jsonb_array_elements(s.payload::jsonb -> 'results') AS r(value)
WHERE s.id IN (SELECT max(e.id) FROM evaluation_snapshot e
               GROUP BY e.hotline_id, EXTRACT(YEAR FROM e.as_of))
  AND r.value ->> 'window' = 'year_to_date'
"""

# Per hotline, day and indicator: the day's numerator and denominator when every
# required counter of the formula is known that day (the day contributes), else NULL.
# The formulas are hotline_kpi/formulas.py's; calls_abandoned_short is never required
# (unknown counts 0).
_TERMS = """
CREATE VIEW grafana_indicator_terms AS
WITH s AS MATERIALIZED (
    SELECT hotline, exclude_short_abandons, within_15s_denominator FROM grafana_formula_settings
), d AS (
    SELECT c.hotline_id, c.day,
           CAST(c.requests_accepted AS double precision) AS requests_accepted,
           CAST(c.calls_offered AS double precision) AS calls_offered,
           CAST(c.calls_answered AS double precision) AS calls_answered,
           CAST(c.answer_wait_seconds_sum AS double precision) AS answer_wait_seconds_sum,
           CAST(c.calls_answered_within_15s AS double precision) AS calls_answered_within_15s,
           CAST(c.first_contact_resolved AS double precision) AS first_contact_resolved,
           CAST(c.first_contact_eligible AS double precision) AS first_contact_eligible,
           CAST(c.tickets_dispatched AS double precision) AS tickets_dispatched,
           CAST(c.tickets_returned_operator_fault AS double precision) AS tickets_returned_operator_fault,
           CAST(c.survey_responses AS double precision) AS survey_responses,
           CAST(c.survey_satisfied AS double precision) AS survey_satisfied,
           CAST(c.calls_offered AS double precision)
             - CASE WHEN s.exclude_short_abandons
                    THEN CAST(COALESCE(c.calls_abandoned_short, 0) AS double precision) ELSE 0 END
             AS offered_base,
           s.within_15s_denominator = 'answered' AS within_15s_of_answered
    FROM daily_counters c
    JOIN s ON s.hotline = c.hotline_id
)
SELECT hotline_id AS hotline, day, 'requests_accepted' AS indicator, 'total' AS kind,
       requests_accepted AS numerator, CAST(NULL AS double precision) AS denominator
FROM d
UNION ALL
SELECT hotline_id, day, 'connection_rate', 'ratio',
       CASE WHEN calls_answered IS NOT NULL AND calls_offered IS NOT NULL THEN calls_answered END,
       CASE WHEN calls_answered IS NOT NULL AND calls_offered IS NOT NULL THEN offered_base END
FROM d
UNION ALL
SELECT hotline_id, day, 'abandon_rate', 'ratio',
       CASE WHEN calls_answered IS NOT NULL AND calls_offered IS NOT NULL THEN offered_base - calls_answered END,
       CASE WHEN calls_answered IS NOT NULL AND calls_offered IS NOT NULL THEN offered_base END
FROM d
UNION ALL
SELECT hotline_id, day, 'answered_within_15s_rate', 'ratio',
       CASE WHEN calls_answered_within_15s IS NOT NULL
             AND (CASE WHEN within_15s_of_answered THEN calls_answered ELSE calls_offered END) IS NOT NULL
            THEN calls_answered_within_15s END,
       CASE WHEN calls_answered_within_15s IS NOT NULL
            THEN CASE WHEN within_15s_of_answered THEN calls_answered ELSE offered_base END END
FROM d
UNION ALL
SELECT hotline_id, day, 'average_answer_seconds', 'ratio',
       CASE WHEN answer_wait_seconds_sum IS NOT NULL AND calls_answered IS NOT NULL THEN answer_wait_seconds_sum END,
       CASE WHEN answer_wait_seconds_sum IS NOT NULL AND calls_answered IS NOT NULL THEN calls_answered END
FROM d
UNION ALL
SELECT hotline_id, day, 'first_contact_resolution_rate', 'ratio',
       CASE WHEN first_contact_resolved IS NOT NULL AND first_contact_eligible IS NOT NULL
            THEN first_contact_resolved END,
       CASE WHEN first_contact_resolved IS NOT NULL AND first_contact_eligible IS NOT NULL
            THEN first_contact_eligible END
FROM d
UNION ALL
SELECT hotline_id, day, 'operator_fault_return_rate', 'ratio',
       CASE WHEN tickets_returned_operator_fault IS NOT NULL AND tickets_dispatched IS NOT NULL
            THEN tickets_returned_operator_fault END,
       CASE WHEN tickets_returned_operator_fault IS NOT NULL AND tickets_dispatched IS NOT NULL
            THEN tickets_dispatched END
FROM d
UNION ALL
SELECT hotline_id, day, 'satisfaction_rate', 'ratio',
       CASE WHEN survey_satisfied IS NOT NULL AND survey_responses IS NOT NULL THEN survey_satisfied END,
       CASE WHEN survey_satisfied IS NOT NULL AND survey_responses IS NOT NULL THEN survey_responses END
FROM d
"""

# "time" is the start of the day (local midnight) in the hotline's zone, as Grafana
# needs a timestamp column named time. The targets are MATERIALIZED: otherwise the
# planner re-reads the snapshot JSON once per day row (about 0.7 ms each).
_DAILY = """
CREATE VIEW grafana_indicator_daily AS
WITH tg AS MATERIALIZED (SELECT * FROM grafana_indicator_target)
SELECT t.hotline, t.indicator, t.day,
       CAST(t.day AS timestamp) AT TIME ZONE h.timezone AS time,
       CASE WHEN t.kind = 'total' THEN t.numerator
            WHEN t.denominator <> 0 THEN t.numerator / t.denominator END AS value,
       t.numerator, t.denominator,
       CASE WHEN t.numerator IS NULL THEN 0 ELSE 1 END AS days_with_data,
       CASE WHEN tg.pro_rated THEN tg.annual_target * 1 / tg.days_in_year ELSE tg.annual_target END AS target,
       tg.comparator, tg.unit
FROM grafana_indicator_terms t
JOIN hotline h ON h.id = t.hotline
LEFT JOIN tg
       ON tg.hotline = t.hotline AND tg.indicator = t.indicator
      AND tg.year = CAST(EXTRACT(YEAR FROM t.day) AS integer)
"""

# The trailing 30 days ending at each calendar day from a hotline's first to its last
# day with a row: a day without a row is a gap inside the window (its own daily value is
# absent), and the window still has a value from its other days.
_TRAILING = """
CREATE VIEW grafana_indicator_trailing_30d AS
WITH tg AS MATERIALIZED (SELECT * FROM grafana_indicator_target),
t AS MATERIALIZED (SELECT * FROM grafana_indicator_terms),
span AS (SELECT hotline, min(day) AS first_day, max(day) AS last_day FROM t GROUP BY hotline),
kinds AS (SELECT DISTINCT indicator, kind FROM t),
cal AS (
    SELECT s.hotline, k.indicator, k.kind, CAST(g.day AS date) AS day
    FROM span s
    CROSS JOIN kinds k
    CROSS JOIN LATERAL generate_series(s.first_day, s.last_day, INTERVAL '1 day') AS g(day)
), w AS (
    SELECT cal.hotline, cal.indicator, cal.kind, cal.day,
           SUM(t.numerator) OVER win AS numerator,
           SUM(t.denominator) OVER win AS denominator,
           COUNT(t.numerator) OVER win AS days_with_data
    FROM cal
    LEFT JOIN t ON t.hotline = cal.hotline AND t.indicator = cal.indicator AND t.day = cal.day
    WINDOW win AS (PARTITION BY cal.hotline, cal.indicator ORDER BY cal.day
                   RANGE BETWEEN INTERVAL '29 days' PRECEDING AND CURRENT ROW)
)
SELECT w.hotline, w.indicator, w.day,
       CAST(w.day AS timestamp) AT TIME ZONE h.timezone AS time,
       CASE WHEN w.days_with_data = 0 THEN NULL
            WHEN w.kind = 'total' THEN w.numerator
            WHEN w.denominator <> 0 THEN w.numerator / w.denominator END AS value,
       CASE WHEN w.days_with_data = 0 THEN NULL ELSE w.numerator END AS numerator,
       CASE WHEN w.days_with_data = 0 THEN NULL ELSE w.denominator END AS denominator,
       w.days_with_data,
       30 AS days_in_window,
       CASE WHEN tg.pro_rated THEN tg.annual_target * 30 / tg.days_in_year ELSE tg.annual_target END AS target,
       tg.comparator, tg.unit
FROM w
JOIN hotline h ON h.id = w.hotline
LEFT JOIN tg
       ON tg.hotline = w.hotline AND tg.indicator = w.indicator
      AND tg.year = CAST(EXTRACT(YEAR FROM w.day) AS integer)
"""

# Every day of each year with data: the requests accepted so far (the year-to-date
# value; NULL after the last day with data and before the first known day) against the
# pace line annual_target * day_of_year / days_in_year (the year-to-date target).
_CUMULATIVE = """
CREATE VIEW grafana_volume_cumulative AS
WITH tg AS MATERIALIZED (SELECT * FROM grafana_indicator_target WHERE indicator = 'requests_accepted'), years AS (
    SELECT hotline_id AS hotline, CAST(EXTRACT(YEAR FROM day) AS integer) AS year, max(day) AS last_day
    FROM daily_counters
    GROUP BY hotline_id, CAST(EXTRACT(YEAR FROM day) AS integer)
), cal AS (
    SELECT y.hotline, y.year, y.last_day, CAST(g.day AS date) AS day
    FROM years y
    CROSS JOIN LATERAL generate_series(make_date(y.year, 1, 1), make_date(y.year, 12, 31),
                                       INTERVAL '1 day') AS g(day)
), running AS (
    SELECT cal.hotline, cal.year, cal.last_day, cal.day,
           CAST(c.requests_accepted AS double precision) AS accepted,
           SUM(CAST(c.requests_accepted AS double precision))
               OVER (PARTITION BY cal.hotline, cal.year ORDER BY cal.day) AS cumulative
    FROM cal
    LEFT JOIN daily_counters c ON c.hotline_id = cal.hotline AND c.day = cal.day
)
SELECT r.hotline, r.day,
       CAST(r.day AS timestamp) AT TIME ZONE h.timezone AS time,
       r.accepted,
       CASE WHEN r.day <= r.last_day THEN r.cumulative END AS cumulative,
       tg.annual_target * (r.day - make_date(r.year, 1, 1) + 1) / tg.days_in_year AS pace,
       tg.annual_target
FROM running r
JOIN hotline h ON h.id = r.hotline
LEFT JOIN tg ON tg.hotline = r.hotline AND tg.year = r.year
"""

# The role is cluster-wide and may exist already (another database of the cluster, or a
# DBA created it). Creating it needs CREATEROLE: without it the migration goes on and
# says so, and the grants follow once a DBA has created the role and re-granted
# (docs/dashboards.md).
_ROLE_AND_GRANTS = f"""
DO $body$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{GRAFANA_ROLE}') THEN
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolcreaterole OR rolsuper)) THEN
            BEGIN
                CREATE ROLE {GRAFANA_ROLE} NOLOGIN;
            EXCEPTION WHEN duplicate_object THEN
                NULL;  -- created meanwhile by the migration of another database
            END;
        ELSE
            RAISE NOTICE 'role {GRAFANA_ROLE} not created (% lacks CREATEROLE); see docs/dashboards.md',
                current_user;
        END IF;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{GRAFANA_ROLE}') THEN
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO {GRAFANA_ROLE}', current_schema());
        GRANT SELECT ON {", ".join(VIEWS)} TO {GRAFANA_ROLE};
    END IF;
END
$body$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: see the module docstring
    for ddl in (_HOTLINE, _SETTINGS, _TARGET, _TERMS, _DAILY, _TRAILING, _CUMULATIVE):
        op.execute(ddl)
    op.execute(_ROLE_AND_GRANTS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The role stays: it is cluster-wide and other databases may grant to it.
    for view in reversed(VIEWS):
        op.execute(f"DROP VIEW IF EXISTS {view}")
