-- mart: campaign_names (so every table shows a campaign by its name, not its id)
-- Grain: one row per campaign. Columns: campaign_id, campaign_name (the id when it has no name),
--   channel.
SELECT c.campaign_id, COALESCE(c.name, c.campaign_id) AS campaign_name, c.channel
FROM campaigns c
ORDER BY c.campaign_id
