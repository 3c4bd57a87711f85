-- mart: sla_compliance
-- Grain: one row per owner_rep x channel (origin channel of the person) x qualified_by x
--   handoff_week (Monday of the handoff day), for handoffs handed off in [:start_ts, :end_ts).
-- Columns: owner_rep, channel, qualified_by, handoff_week, handoffs, actioned (first sales
--   action known by :as_of), within_sla (first action at or before sla_due_at), breached
--   (first action after the due time, or none yet and the due time passed by :as_of), pending
--   (no action yet, not due yet), no_sla (no due time set), compliance_rate =
--   within_sla / (within_sla + breached), NULL when nothing was due.
-- Speed-to-lead (time from handoff to first action) is in the speed_to_lead extract.
WITH h AS (
    SELECT h.owner_rep, COALESCE(p.first_channel, '(none)') AS channel, h.qualified_by,
           cal.week_start AS handoff_week, h.sla_due_at,
           CASE WHEN h.first_action_at <= :as_of THEN h.first_action_at END AS first_action_at
    FROM handoffs h
    JOIN people p ON p.person_id = h.person_id
    JOIN rpt_calendar cal ON cal.day = SUBSTR(CAST(h.handed_off_at AS VARCHAR(32)), 1, 10)
    WHERE h.handed_off_at >= :start_ts AND h.handed_off_at < :end_ts
),
agg AS (
    SELECT owner_rep, channel, qualified_by, handoff_week,
           COUNT(*) AS handoffs,
           SUM(CASE WHEN first_action_at IS NOT NULL THEN 1 ELSE 0 END) AS actioned,
           SUM(CASE WHEN sla_due_at IS NOT NULL AND first_action_at IS NOT NULL
                     AND first_action_at <= sla_due_at THEN 1 ELSE 0 END) AS within_sla,
           SUM(CASE WHEN sla_due_at IS NOT NULL AND ((first_action_at IS NOT NULL AND first_action_at > sla_due_at)
                     OR (first_action_at IS NULL AND sla_due_at < :as_of)) THEN 1 ELSE 0 END) AS breached,
           SUM(CASE WHEN sla_due_at IS NOT NULL AND first_action_at IS NULL AND sla_due_at >= :as_of
                    THEN 1 ELSE 0 END) AS pending,
           SUM(CASE WHEN sla_due_at IS NULL THEN 1 ELSE 0 END) AS no_sla
    FROM h
    GROUP BY owner_rep, channel, qualified_by, handoff_week
)
SELECT agg.*,
       CASE WHEN within_sla + breached > 0
            THEN CAST(within_sla AS DOUBLE PRECISION) / (within_sla + breached) END AS compliance_rate
FROM agg
ORDER BY owner_rep, channel, qualified_by, handoff_week
