/*
view: ads.attributed_conversions
owner: ads-team
description: >
  Ad-attributed conversions per campaign, country and placement: impressions
  served, conversions attributed to them, revenue and conversion rate.
materialization: table
tags: [demo, revenue]
columns:
  campaign_id: Advertiser campaign.
  country: Country the ads were served in.
  placement: preroll, midroll or banner.
  impressions: Ads shown.
  conversions: Purchases attributed to those ads.
  revenue: Attributed revenue in USD.
  conversion_rate: Conversions per impression.
*/
WITH attributed AS (
  SELECT c.impression_id, COUNT(*) AS conversions, SUM(c.revenue) AS revenue
  FROM ads.conversions AS c
  GROUP BY c.impression_id
)
SELECT
  i.campaign_id,
  i.country,
  i.placement,
  COUNT(*) AS impressions,
  COALESCE(SUM(a.conversions), 0) AS conversions,
  COALESCE(SUM(a.revenue), 0) AS revenue,
  ROUND(COALESCE(SUM(a.conversions), 0) / COUNT(*), 4) AS conversion_rate
FROM ads.impressions AS i
LEFT JOIN attributed AS a ON a.impression_id = i.impression_id
GROUP BY i.campaign_id, i.country, i.placement
