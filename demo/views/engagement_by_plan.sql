/*
view: subscriptions.engagement_by_plan
owner: subs-team
description: >
  Active subscribers per country and plan with the hours they watched, built on
  the active_subscribers view.
materialization: table
tags: [demo, engagement]
columns:
  subscribers: Active subscribers on the plan.
  watch_hours: Hours those subscribers watched over the demo window.
  hours_per_subscriber: Average hours watched per active subscriber.
*/
WITH watched AS (
  SELECT e.subscriber_id, SUM(e.watch_seconds) AS seconds
  FROM playback.events AS e
  GROUP BY e.subscriber_id
)
SELECT
  a.country,
  a.plan,
  COUNT(*) AS subscribers,
  ROUND(COALESCE(SUM(w.seconds), 0) / 3600.0, 2) AS watch_hours,
  ROUND(COALESCE(SUM(w.seconds), 0) / 3600.0 / COUNT(*), 2) AS hours_per_subscriber
FROM subscriptions.active_subscribers AS a
LEFT JOIN watched AS w ON w.subscriber_id = a.subscriber_id
GROUP BY a.country, a.plan
