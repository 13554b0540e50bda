/*
view: playback.daily_active_viewers
owner: playback-team
description: >
  Daily active viewers: distinct subscribers who started at least one playback
  session, per UTC day and country, with their sessions and hours watched.
materialization: table
tags: [demo, engagement]
columns:
  event_date: UTC day of the sessions.
  country: Country the sessions were played from.
  viewers: Distinct subscribers with at least one session that day.
  sessions: Playback sessions started that day.
  watch_hours: Hours of content watched that day.
*/
SELECT
  e.event_date,
  e.country,
  COUNT(DISTINCT e.subscriber_id) AS viewers,
  COUNT(*) AS sessions,
  ROUND(SUM(e.watch_seconds) / 3600.0, 2) AS watch_hours
FROM playback.events AS e
GROUP BY e.event_date, e.country
