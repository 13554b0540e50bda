/*
view: subscriptions.active_subscribers
owner: subs-team
description: >
  Subscribers whose subscription is active, with their contact details. Email
  and name stay encrypted: they are PII and masked unless a reader may see them.
materialization: virtual
tags: [demo, pii]
columns:
  email: Sign-in email (PII, encrypted).
  full_name: Account holder's name (PII, encrypted).
*/
SELECT s.subscriber_id, s.email, s.full_name, s.country, s.plan, s.signup_date, s.monthly_price
FROM subscriptions.subscribers AS s
WHERE s.status = 'active'
