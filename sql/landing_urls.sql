-- mart: landing_urls (where the window's leads first landed)
-- Grain: one row per raw landing URL of the people created in [:start_ts, :end_ts).
--   A person's landing URL is the landing_url of their earliest lead record (person_records ->
--   stg_inbound_leads), else the url of their earliest touch with one (by :as_of), else
--   '(unknown)'. Query strings and fragments are removed in Python (marts.landing_pages), which
--   sums the rows of one page.
-- Columns: landing_url, leads, mqls, opportunities, customers (reached the stage or a later one
--   by :as_of, as in the funnel), revenue (their won amounts by :as_of).
WITH cohort AS (
    SELECT p.person_id, CASE WHEN p.lifecycle_stage = 'suspect' THEN 0 ELSE 1 END AS base_rank
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
rec AS (
    SELECT pr.person_id, s.landing_url AS url,
           ROW_NUMBER() OVER (PARTITION BY pr.person_id ORDER BY pr.created_at, pr.record_id) AS n
    FROM person_records pr
    JOIN cohort c ON c.person_id = pr.person_id
    JOIN stg_inbound_leads s ON s.batch_id = pr.batch_id AND s.row_number = pr.row_number
    WHERE s.landing_url IS NOT NULL AND s.landing_url <> ''
),
tch AS (
    SELECT t.person_id, t.url,
           ROW_NUMBER() OVER (PARTITION BY t.person_id ORDER BY t.occurred_at, t.touch_id) AS n
    FROM touches t
    JOIN cohort c ON c.person_id = t.person_id
    WHERE t.url IS NOT NULL AND t.url <> '' AND t.occurred_at <= :as_of
),
per_person AS (
    SELECT COALESCE(r.url, t.url, '(unknown)') AS landing_url,
           CASE WHEN COALESCE(s.max_rank, 0) > c.base_rank THEN s.max_rank ELSE c.base_rank END AS r,
           COALESCE(w.revenue, 0) AS revenue
    FROM cohort c
    LEFT JOIN rec r ON r.person_id = c.person_id AND r.n = 1
    LEFT JOIN tch t ON t.person_id = c.person_id AND t.n = 1
    LEFT JOIN stages s ON s.person_id = c.person_id
    LEFT JOIN won w ON w.person_id = c.person_id
)
SELECT landing_url,
       SUM(CASE WHEN r >= 1 THEN 1 ELSE 0 END) AS leads,
       SUM(CASE WHEN r >= 2 THEN 1 ELSE 0 END) AS mqls,
       SUM(CASE WHEN r >= 5 THEN 1 ELSE 0 END) AS opportunities,
       SUM(CASE WHEN r >= 6 THEN 1 ELSE 0 END) AS customers,
       SUM(revenue) AS revenue
FROM per_person
GROUP BY landing_url
ORDER BY landing_url
