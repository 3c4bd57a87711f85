-- mart: attribution_deals (input of leadflow.report.attribution)
-- Grain: one row per won outcome that occurred in [:start_ts, :end_ts) (and by :as_of).
-- Columns: outcome_id, handoff_id, person_id, amount (NULL counts as 0), won_at, opportunity_at
--   (the first 'opportunity' outcome of the same handoff; NULL when sales reported none, then the
--   attribution uses won_at), lead_created_at (people.created_at), first_campaign_id, first_channel.
WITH opp AS (
    SELECT op.handoff_id, MIN(op.occurred_at) AS opportunity_at
    FROM outcomes op
    WHERE op.status = 'opportunity'
    GROUP BY op.handoff_id
)
SELECT o.outcome_id, o.handoff_id, o.person_id, o.amount, o.occurred_at AS won_at, opp.opportunity_at,
       p.created_at AS lead_created_at, p.first_campaign_id, p.first_channel
FROM outcomes o
JOIN people p ON p.person_id = o.person_id
LEFT JOIN opp ON opp.handoff_id = o.handoff_id
WHERE o.status = 'won' AND o.occurred_at >= :start_ts AND o.occurred_at < :end_ts
  AND o.occurred_at <= :as_of
ORDER BY o.outcome_id
