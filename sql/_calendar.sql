-- helper: rpt_calendar (not a mart; files starting with '_' are set-up, run first by marts.py)
-- Grain: one row per day. Columns: day ('YYYY-MM-DD'), week_start (the Monday of that ISO week,
--   'YYYY-MM-DD'), month ('YYYY-MM'). A session TEMPORARY table, so the marts need no schema
--   change and stay dialect-free: marts.py fills it for the days the report needs (date maths in
--   Python, because SQLite and PostgreSQL share no date functions). A BI tool running the marts
--   directly creates it with this statement and fills it from any calendar source.
-- Marts join it on SUBSTR(CAST(ts AS VARCHAR(32)), 1, 10), the ISO day of a timestamp on both
--   SQLite (ISO text) and PostgreSQL (DateStyle ISO, the default).
CREATE TEMPORARY TABLE IF NOT EXISTS rpt_calendar (
    day VARCHAR(10) PRIMARY KEY,
    week_start VARCHAR(10) NOT NULL,
    month VARCHAR(7) NOT NULL
)
