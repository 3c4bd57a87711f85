-- mart: stage_times (an extract; medians are computed in pandas by leadflow.report.marts)
-- Grain: one row per person x cycle x stage entered (kind = 'lifecycle'), and per handoff x
--   selling step first reached (kind = 'selling'), for people created in [:start_ts, :end_ts),
--   events known by :as_of.
-- Columns: kind, person_id, cycle, stage, entered_at, left_at (when the next stage / step was
--   entered; NULL while still in it), campaign_id, channel, source.
-- Why an extract: a median and a difference of timestamps have no portable SQL spelling; the
--   ordering (LEAD window function) is portable (SQLite >= 3.25, PostgreSQL). The 'lead' stage is
--   entered at people.created_at.
WITH cohort AS (
    SELECT p.person_id, p.created_at,
           COALESCE(p.first_campaign_id, '(none)') AS campaign_id,
           COALESCE(p.first_channel, '(none)') AS channel,
           COALESCE(p.first_source, '(none)') AS source
    FROM people p
    WHERE p.created_at >= :start_ts AND p.created_at < :end_ts
),
life AS (
    SELECT c.person_id, 1 AS cycle, 'lead' AS stage, c.created_at AS entered_at, 0 AS seq
    FROM cohort c
    UNION ALL
    SELECT le.person_id, le.cycle, le.to_stage, le.occurred_at, le.event_id
    FROM lifecycle_events le JOIN cohort c ON c.person_id = le.person_id
    WHERE le.occurred_at <= :as_of AND le.to_stage <> 'lead'
),
life_next AS (
    SELECT 'lifecycle' AS kind, person_id, cycle, stage, entered_at,
           LEAD(entered_at) OVER (PARTITION BY person_id ORDER BY entered_at, seq) AS left_at
    FROM life
),
steps AS (
    SELECT o.handoff_id, o.person_id, o.selling_step AS stage, MIN(o.occurred_at) AS entered_at
    FROM outcomes o JOIN cohort c ON c.person_id = o.person_id
    WHERE o.selling_step IS NOT NULL AND o.occurred_at <= :as_of
    GROUP BY o.handoff_id, o.person_id, o.selling_step
),
step_next AS (
    SELECT 'selling' AS kind, s.person_id, h.cycle, s.stage, s.entered_at,
           LEAD(s.entered_at) OVER (PARTITION BY s.handoff_id ORDER BY s.entered_at, s.stage) AS left_at
    FROM steps s JOIN handoffs h ON h.handoff_id = s.handoff_id
),
unioned AS (
    SELECT kind, person_id, cycle, stage, entered_at, left_at FROM life_next
    UNION ALL
    SELECT kind, person_id, cycle, stage, entered_at, left_at FROM step_next
)
SELECT u.kind, u.person_id, u.cycle, u.stage, u.entered_at, u.left_at, c.campaign_id, c.channel, c.source
FROM unioned u JOIN cohort c ON c.person_id = u.person_id
ORDER BY u.kind, u.person_id, u.entered_at
