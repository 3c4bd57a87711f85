-- mart: funnel
-- Grain: one row per origin campaign_id x channel x source x cohort_week, for the people created
--   in the report window (people.created_at in [:start_ts, :end_ts)). cohort_week is the Monday
--   ('YYYY-MM-DD') of the creation day, from the session calendar rpt_calendar (see _calendar.sql).
-- Counts are people who reached the stage or a later one (in any cycle) by :as_of, from
--   lifecycle_events (people without events count as leads, or suspects when still suspect);
--   selling-step counts are people whose furthest selling step reported by sales (outcomes) is
--   that step or later, so each step's count is <= the previous one.
-- Columns: campaign_id, channel, source, cohort_week, people, leads, mqls, handed_off, sals,
--   sqls, opportunities, customers, recycled, disqualified, rejected, step_prospecting ..
--   step_follow_up, won_revenue, and conversion between consecutive stages: mql_rate
--   (mqls/leads), sal_rate (sals/mqls), sql_rate (sqls/sals), opportunity_rate
--   (opportunities/sqls), win_rate (customers/opportunities); NULL when the base is 0.
-- Portable: CASE, COALESCE, SUBSTR, CAST, GROUP BY only (SQLite and PostgreSQL).
WITH cohort AS (
    SELECT p.person_id,
           COALESCE(p.first_campaign_id, '(none)') AS campaign_id,
           COALESCE(p.first_channel, '(none)') AS channel,
           COALESCE(p.first_source, '(none)') AS source,
           cal.week_start AS cohort_week,
           CASE WHEN p.lifecycle_stage = 'suspect' THEN 0 ELSE 1 END AS base_rank
    FROM people p
    JOIN rpt_calendar cal ON cal.day = SUBSTR(CAST(p.created_at AS VARCHAR(32)), 1, 10)
    WHERE p.created_at >= :start_ts AND p.created_at < :end_ts
),
stages AS (
    SELECT le.person_id,
           MAX(CASE le.to_stage WHEN 'lead' THEN 1 WHEN 'mql' THEN 2 WHEN 'sal' THEN 3 WHEN 'sql' THEN 4
                                WHEN 'opportunity' THEN 5 WHEN 'customer' THEN 6 ELSE 0 END) AS max_rank,
           MAX(CASE WHEN le.to_stage = 'recycled' THEN 1 ELSE 0 END) AS recycled,
           MAX(CASE WHEN le.to_stage = 'disqualified' THEN 1 ELSE 0 END) AS disqualified
    FROM lifecycle_events le
    WHERE le.occurred_at <= :as_of
    GROUP BY le.person_id
),
sales AS (
    SELECT o.person_id,
           MAX(CASE o.selling_step WHEN 'prospecting' THEN 1 WHEN 'pre_approach' THEN 2 WHEN 'approach' THEN 3
                                   WHEN 'presentation' THEN 4 WHEN 'meeting_objections' THEN 5
                                   WHEN 'closing' THEN 6 WHEN 'follow_up' THEN 7 ELSE 0 END) AS max_step,
           MAX(CASE WHEN o.status = 'rejected' THEN 1 ELSE 0 END) AS rejected,
           SUM(CASE WHEN o.status = 'won' THEN COALESCE(o.amount, 0) ELSE 0 END) AS won_revenue
    FROM outcomes o
    WHERE o.occurred_at <= :as_of
    GROUP BY o.person_id
),
handed AS (
    SELECT DISTINCT h.person_id FROM handoffs h WHERE h.handed_off_at <= :as_of
),
per_person AS (
    SELECT c.campaign_id, c.channel, c.source, c.cohort_week,
           CASE WHEN COALESCE(s.max_rank, 0) > c.base_rank THEN s.max_rank ELSE c.base_rank END AS r,
           COALESCE(s.recycled, 0) AS recycled,
           COALESCE(s.disqualified, 0) AS disqualified,
           CASE WHEN h.person_id IS NULL THEN 0 ELSE 1 END AS handed_off,
           COALESCE(x.max_step, 0) AS max_step,
           COALESCE(x.rejected, 0) AS rejected,
           COALESCE(x.won_revenue, 0) AS won_revenue
    FROM cohort c
    LEFT JOIN stages s ON s.person_id = c.person_id
    LEFT JOIN sales x ON x.person_id = c.person_id
    LEFT JOIN handed h ON h.person_id = c.person_id
),
agg AS (
    SELECT campaign_id, channel, source, cohort_week,
           COUNT(*) AS people,
           SUM(CASE WHEN r >= 1 THEN 1 ELSE 0 END) AS leads,
           SUM(CASE WHEN r >= 2 THEN 1 ELSE 0 END) AS mqls,
           SUM(handed_off) AS handed_off,
           SUM(CASE WHEN r >= 3 THEN 1 ELSE 0 END) AS sals,
           SUM(CASE WHEN r >= 4 THEN 1 ELSE 0 END) AS sqls,
           SUM(CASE WHEN r >= 5 THEN 1 ELSE 0 END) AS opportunities,
           SUM(CASE WHEN r >= 6 THEN 1 ELSE 0 END) AS customers,
           SUM(recycled) AS recycled,
           SUM(disqualified) AS disqualified,
           SUM(rejected) AS rejected,
           SUM(CASE WHEN max_step >= 1 THEN 1 ELSE 0 END) AS step_prospecting,
           SUM(CASE WHEN max_step >= 2 THEN 1 ELSE 0 END) AS step_pre_approach,
           SUM(CASE WHEN max_step >= 3 THEN 1 ELSE 0 END) AS step_approach,
           SUM(CASE WHEN max_step >= 4 THEN 1 ELSE 0 END) AS step_presentation,
           SUM(CASE WHEN max_step >= 5 THEN 1 ELSE 0 END) AS step_meeting_objections,
           SUM(CASE WHEN max_step >= 6 THEN 1 ELSE 0 END) AS step_closing,
           SUM(CASE WHEN max_step >= 7 THEN 1 ELSE 0 END) AS step_follow_up,
           SUM(won_revenue) AS won_revenue
    FROM per_person
    GROUP BY campaign_id, channel, source, cohort_week
)
SELECT agg.*,
       CASE WHEN leads > 0 THEN CAST(mqls AS DOUBLE PRECISION) / leads END AS mql_rate,
       CASE WHEN mqls > 0 THEN CAST(sals AS DOUBLE PRECISION) / mqls END AS sal_rate,
       CASE WHEN sals > 0 THEN CAST(sqls AS DOUBLE PRECISION) / sals END AS sql_rate,
       CASE WHEN sqls > 0 THEN CAST(opportunities AS DOUBLE PRECISION) / sqls END AS opportunity_rate,
       CASE WHEN opportunities > 0 THEN CAST(customers AS DOUBLE PRECISION) / opportunities END AS win_rate
FROM agg
ORDER BY campaign_id, channel, source, cohort_week
