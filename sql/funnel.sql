-- mart: funnel
-- Grain: one row per origin campaign_id x channel x source x cohort_week, for the people created
--   in the report window (people.created_at in [:start_ts, :end_ts)). cohort_week is the Monday
--   ('YYYY-MM-DD') of the creation day, from the session calendar rpt_calendar (see _calendar.sql).
-- Counts are people who reached the stage or a later one (in any cycle) by :as_of, from
--   lifecycle_events (people without events count as leads, or suspects when still suspect);
--   selling-step counts are people who reached SAL or later AND whose furthest selling step
--   reported by sales (outcomes, any status) is that step or later, so step_prospecting <= sals
--   and each step's count is <= the previous one (a rejection naming a step is not a SAL).
-- <stage>_seen (mqls_seen, sals_seen, sqls_seen, opportunities_seen): people seen in the stage
--   on its own: it is their furthest stage, or they entered it strictly before any later stage.
--   A stage only implied by a later fact (a win walks SAL, SQL and opportunity at one instant)
--   is reached but not seen.
-- Columns: campaign_id, channel, source, cohort_week, people, leads, mqls, handed_off, sals,
--   sqls, opportunities, customers, recycled, disqualified, rejected, step_prospecting ..
--   step_follow_up, won_revenue, the four *_seen counts, and conversion between consecutive
--   stages: mql_rate (mqls/leads), sal_rate (sals/mqls), sql_rate (sqls/sals), opportunity_rate
--   (opportunities/sqls), win_rate (customers/opportunities); NULL when the base is 0 or when
--   nobody was seen in the base stage on its own (the rate would be 100% by construction).
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
           MIN(CASE WHEN le.to_stage = 'mql' THEN le.occurred_at END) AS t_mql,
           MIN(CASE WHEN le.to_stage = 'sal' THEN le.occurred_at END) AS t_sal,
           MIN(CASE WHEN le.to_stage = 'sql' THEN le.occurred_at END) AS t_sql,
           MIN(CASE WHEN le.to_stage = 'opportunity' THEN le.occurred_at END) AS t_opp,
           MIN(CASE WHEN le.to_stage = 'customer' THEN le.occurred_at END) AS t_cust,
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
           CASE WHEN s.t_mql IS NOT NULL AND (s.t_sal IS NULL OR s.t_sal > s.t_mql)
                     AND (s.t_sql IS NULL OR s.t_sql > s.t_mql) AND (s.t_opp IS NULL OR s.t_opp > s.t_mql)
                     AND (s.t_cust IS NULL OR s.t_cust > s.t_mql) THEN 1 ELSE 0 END AS mql_alone,
           CASE WHEN s.t_sal IS NOT NULL AND (s.t_sql IS NULL OR s.t_sql > s.t_sal)
                     AND (s.t_opp IS NULL OR s.t_opp > s.t_sal)
                     AND (s.t_cust IS NULL OR s.t_cust > s.t_sal) THEN 1 ELSE 0 END AS sal_alone,
           CASE WHEN s.t_sql IS NOT NULL AND (s.t_opp IS NULL OR s.t_opp > s.t_sql)
                     AND (s.t_cust IS NULL OR s.t_cust > s.t_sql) THEN 1 ELSE 0 END AS sql_alone,
           CASE WHEN s.t_opp IS NOT NULL
                     AND (s.t_cust IS NULL OR s.t_cust > s.t_opp) THEN 1 ELSE 0 END AS opp_alone,
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
           SUM(CASE WHEN r >= 3 AND max_step >= 1 THEN 1 ELSE 0 END) AS step_prospecting,
           SUM(CASE WHEN r >= 3 AND max_step >= 2 THEN 1 ELSE 0 END) AS step_pre_approach,
           SUM(CASE WHEN r >= 3 AND max_step >= 3 THEN 1 ELSE 0 END) AS step_approach,
           SUM(CASE WHEN r >= 3 AND max_step >= 4 THEN 1 ELSE 0 END) AS step_presentation,
           SUM(CASE WHEN r >= 3 AND max_step >= 5 THEN 1 ELSE 0 END) AS step_meeting_objections,
           SUM(CASE WHEN r >= 3 AND max_step >= 6 THEN 1 ELSE 0 END) AS step_closing,
           SUM(CASE WHEN r >= 3 AND max_step >= 7 THEN 1 ELSE 0 END) AS step_follow_up,
           SUM(CASE WHEN r = 2 OR (r > 2 AND mql_alone = 1) THEN 1 ELSE 0 END) AS mqls_seen,
           SUM(CASE WHEN r = 3 OR (r > 3 AND sal_alone = 1) THEN 1 ELSE 0 END) AS sals_seen,
           SUM(CASE WHEN r = 4 OR (r > 4 AND sql_alone = 1) THEN 1 ELSE 0 END) AS sqls_seen,
           SUM(CASE WHEN r = 5 OR (r > 5 AND opp_alone = 1) THEN 1 ELSE 0 END) AS opportunities_seen,
           SUM(won_revenue) AS won_revenue
    FROM per_person
    GROUP BY campaign_id, channel, source, cohort_week
)
SELECT agg.*,
       CASE WHEN leads > 0 THEN CAST(mqls AS DOUBLE PRECISION) / leads END AS mql_rate,
       CASE WHEN mqls_seen > 0 THEN CAST(sals AS DOUBLE PRECISION) / mqls END AS sal_rate,
       CASE WHEN sals_seen > 0 THEN CAST(sqls AS DOUBLE PRECISION) / sals END AS sql_rate,
       CASE WHEN sqls_seen > 0 THEN CAST(opportunities AS DOUBLE PRECISION) / sqls END AS opportunity_rate,
       CASE WHEN opportunities_seen > 0
            THEN CAST(customers AS DOUBLE PRECISION) / opportunities END AS win_rate
FROM agg
ORDER BY campaign_id, channel, source, cohort_week
