-- mart: attribution_touches (input of leadflow.report.attribution)
-- Grain: one row per touch of a person with a won outcome in [:start_ts, :end_ts) (by :as_of).
--   The attribution keeps, per deal, the touches at or before the opportunity was created.
-- Columns: touch_id, person_id, occurred_at, touch_type, campaign_id, channel.
SELECT t.touch_id, t.person_id, t.occurred_at, t.touch_type,
       COALESCE(t.campaign_id, '(none)') AS campaign_id, COALESCE(t.channel, '(none)') AS channel
FROM touches t
WHERE t.person_id IN (
    SELECT o.person_id FROM outcomes o
    WHERE o.status = 'won' AND o.occurred_at >= :start_ts AND o.occurred_at < :end_ts
      AND o.occurred_at <= :as_of)
ORDER BY t.person_id, t.occurred_at, t.touch_id
