/*
view: catalog.watch_time_by_title
owner: content-team
description: Watch time, plays, viewers and completion rate per title over the demo window.
materialization: table
tags: [demo, content]
columns:
  title_id: Catalog identifier of the title.
  title: Display name of the title.
  kind: movie, series or documentary.
  genre: Primary genre.
  plays: Playback sessions of the title.
  viewers: Distinct subscribers who played it.
  watch_hours: Hours watched.
  completion_rate: Share of sessions that reached the end.
*/
SELECT
  t.title_id,
  t.name AS title,
  t.kind,
  t.genre,
  COUNT(*) AS plays,
  COUNT(DISTINCT e.subscriber_id) AS viewers,
  ROUND(SUM(e.watch_seconds) / 3600.0, 2) AS watch_hours,
  ROUND(AVG(CASE WHEN e.completed THEN 1.0 ELSE 0.0 END), 4) AS completion_rate
FROM playback.events AS e
JOIN catalog.titles AS t ON e.title_id = t.title_id
GROUP BY t.title_id, t.name, t.kind, t.genre
