-- mart: campaign_performance (cost per step, revenue and ROI per campaign)
-- Grain: one row per campaign (every campaign with spend in the window or with people created in
--   the window; people without a campaign are '(none)').
-- Columns: campaign_id, campaign_name, channel, spend (campaign_spend on days
--   [:start_day, :end_day]), leads, mqls, opportunities, customers (people created in
--   [:start_ts, :end_ts) with this origin campaign who reached the stage or later by :as_of),
--   revenue (their won amounts by :as_of: origin-campaign revenue; multi-touch credit is in the
--   attribution report), cost_per_lead, cost_per_mql, cost_per_opportunity, cost_per_customer
--   (spend / count, NULL when the count is 0), roi ((revenue - spend) / spend, NULL without spend).
WITH cohort AS (
    SELECT p.person_id, COALESCE(p.first_campaign_id, '(none)') AS campaign_id,
           CASE WHEN p.lifecycle_stage = 'suspect' THEN 0 ELSE 1 END AS base_rank
    FROM people p
    WHERE p.created_at >= :start_ts AND p.created_at < :end_ts
),
stages AS (
    SELECT le.person_id,
           MAX(CASE le.to_stage WHEN 'lead' THEN 1 WHEN 'mql' THEN 2 WHEN 'sal' THEN 3 WHEN 'sql' THEN 4
                                WHEN 'opportunity' THEN 5 WHEN 'customer' THEN 6 ELSE 0 END) AS max_rank
    FROM lifecycle_events le
    WHERE le.occurred_at <= :as_of
    GROUP BY le.person_id
),
won AS (
    SELECT o.person_id, SUM(COALESCE(o.amount, 0)) AS revenue
    FROM outcomes o WHERE o.status = 'won' AND o.occurred_at <= :as_of
    GROUP BY o.person_id
),
per_campaign AS (
    SELECT c.campaign_id,
           SUM(CASE WHEN (CASE WHEN COALESCE(s.max_rank, 0) > c.base_rank THEN s.max_rank ELSE c.base_rank END) >= 1 THEN 1 ELSE 0 END) AS leads,
           SUM(CASE WHEN COALESCE(s.max_rank, 0) >= 2 THEN 1 ELSE 0 END) AS mqls,
           SUM(CASE WHEN COALESCE(s.max_rank, 0) >= 5 THEN 1 ELSE 0 END) AS opportunities,
           SUM(CASE WHEN COALESCE(s.max_rank, 0) >= 6 THEN 1 ELSE 0 END) AS customers,
           SUM(COALESCE(w.revenue, 0)) AS revenue
    FROM cohort c
    LEFT JOIN stages s ON s.person_id = c.person_id
    LEFT JOIN won w ON w.person_id = c.person_id
    GROUP BY c.campaign_id
),
spend AS (
    SELECT cs.campaign_id, SUM(cs.amount) AS spend
    FROM campaign_spend cs
    WHERE cs.spend_date >= :start_day AND cs.spend_date <= :end_day
    GROUP BY cs.campaign_id
),
ids AS (
    SELECT campaign_id FROM per_campaign
    UNION
    SELECT campaign_id FROM spend
)
SELECT ids.campaign_id,
       COALESCE(cm.name, ids.campaign_id) AS campaign_name,
       COALESCE(cm.channel, '(none)') AS channel,
       COALESCE(sp.spend, 0) AS spend,
       COALESCE(pc.leads, 0) AS leads,
       COALESCE(pc.mqls, 0) AS mqls,
       COALESCE(pc.opportunities, 0) AS opportunities,
       COALESCE(pc.customers, 0) AS customers,
       COALESCE(pc.revenue, 0) AS revenue,
       CASE WHEN pc.leads > 0 THEN COALESCE(sp.spend, 0) / pc.leads END AS cost_per_lead,
       CASE WHEN pc.mqls > 0 THEN COALESCE(sp.spend, 0) / pc.mqls END AS cost_per_mql,
       CASE WHEN pc.opportunities > 0 THEN COALESCE(sp.spend, 0) / pc.opportunities END AS cost_per_opportunity,
       CASE WHEN pc.customers > 0 THEN COALESCE(sp.spend, 0) / pc.customers END AS cost_per_customer,
       CASE WHEN sp.spend > 0 THEN (COALESCE(pc.revenue, 0) - sp.spend) / sp.spend END AS roi
FROM ids
LEFT JOIN campaigns cm ON cm.campaign_id = ids.campaign_id
LEFT JOIN per_campaign pc ON pc.campaign_id = ids.campaign_id
LEFT JOIN spend sp ON sp.campaign_id = ids.campaign_id
ORDER BY ids.campaign_id
