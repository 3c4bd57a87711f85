-- mart: speed_to_lead (an extract; hours and medians are computed in pandas by marts.py)
-- Grain: one row per handoff handed off in [:start_ts, :end_ts).
-- Columns: handoff_id, owner_rep, channel, qualified_by, handoff_week, handed_off_at,
--   sla_due_at, first_action_at (NULL when no sales action is known by :as_of).
-- Why an extract: timestamp differences have no portable SQL spelling.
SELECT h.handoff_id, h.owner_rep, COALESCE(p.first_channel, '(none)') AS channel, h.qualified_by,
       cal.week_start AS handoff_week, h.handed_off_at, h.sla_due_at,
       CASE WHEN h.first_action_at <= :as_of THEN h.first_action_at END AS first_action_at
FROM handoffs h
JOIN people p ON p.person_id = h.person_id
JOIN rpt_calendar cal ON cal.day = SUBSTR(CAST(h.handed_off_at AS VARCHAR(32)), 1, 10)
WHERE h.handed_off_at >= :start_ts AND h.handed_off_at < :end_ts
ORDER BY h.handoff_id
