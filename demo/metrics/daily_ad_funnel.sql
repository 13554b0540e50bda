/*
view: ads.daily_ad_funnel
owner: ads-team
description: >
  Ads served and conversions attributed to them, per UTC day of the impression,
  country and placement.
materialization: table
tags: [demo, revenue, metrics]
columns:
  impression_date: UTC day the ads were served.
  country: Country the ads were served in.
  placement: preroll, midroll or banner.
  impressions: Ads shown.
  conversions: Purchases attributed to those ads.
  revenue: Attributed revenue in USD.
*/
WITH attributed AS (
  SELECT c.impression_id, COUNT(*) AS conversions, SUM(c.revenue) AS revenue
  FROM ads.conversions AS c
  GROUP BY c.impression_id
)
SELECT
  CAST(i.impression_ts AS DATE) AS impression_date,
  i.country,
  i.placement,
  COUNT(*) AS impressions,
  COALESCE(SUM(a.conversions), 0) AS conversions,
  COALESCE(SUM(a.revenue), 0) AS revenue
FROM ads.impressions AS i
LEFT JOIN attributed AS a ON a.impression_id = i.impression_id
GROUP BY CAST(i.impression_ts AS DATE), i.country, i.placement
