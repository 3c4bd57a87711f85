-- mart: rejection_reasons
-- Grain: one row per origin campaign_id x channel x reason_code of sales rejections that occurred
--   in [:start_ts, :end_ts) (and by :as_of).
-- Columns: campaign_id, channel, reason_code ('(none)' when sales gave none), rejections,
--   share_of_channel (this reason's share of the channel's rejections in the window).
WITH r AS (
    SELECT COALESCE(p.first_campaign_id, '(none)') AS campaign_id,
           COALESCE(p.first_channel, '(none)') AS channel,
           COALESCE(o.reason_code, '(none)') AS reason_code,
           COUNT(*) AS rejections
    FROM outcomes o
    JOIN people p ON p.person_id = o.person_id
    WHERE o.status = 'rejected' AND o.occurred_at >= :start_ts AND o.occurred_at < :end_ts
      AND o.occurred_at <= :as_of
    GROUP BY COALESCE(p.first_campaign_id, '(none)'), COALESCE(p.first_channel, '(none)'),
             COALESCE(o.reason_code, '(none)')
)
SELECT campaign_id, channel, reason_code, rejections,
       CAST(rejections AS DOUBLE PRECISION) / SUM(rejections) OVER (PARTITION BY channel) AS share_of_channel
FROM r
ORDER BY channel, rejections DESC, campaign_id, reason_code
