"""Migration 0009 closes the review notices written before notices could be done: those of
metrics no longer waiting at the notice's stage; the others stay open."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from lake.catalog.database import _MIGRATIONS


def _upgrade(engine: object, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["upgrade_only"] = True
    with engine.begin() as conn:  # type: ignore[attr-defined]
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_stale_review_notices_are_done_after_the_upgrade(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    _upgrade(engine, "0008")
    with engine.begin() as conn:
        for i, (name, status, stage) in enumerate([("a.certified", "approved", None),
                                                  ("a.waiting", "in_review", "business")], start=1):
            conn.execute(text("INSERT INTO metrics (id, name, domain, status, owner, created_by, current_revision, "
                              "view, fingerprint, stage, round, reason, lock_version, created_at, updated_at) "
                              "VALUES (:id, :name, 'a', :status, '', 'mia', 1, 'a.v', 'x', :stage, 1, '', 0, "
                              "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                         {"id": i, "name": name, "status": status, "stage": stage})
        notices = [("a.certified", "stage_reached", '{"stage": "tech"}'),
                   ("a.certified", "stage_reached", '{"stage": "business"}'),
                   ("a.waiting", "stage_reached", '{"stage": "tech"}'),
                   ("a.waiting", "stage_reached", '{"stage": "business"}'),
                   ("a.certified", "decision", '{"decision": "approved"}')]
        for metric, kind, payload in notices:
            conn.execute(text("INSERT INTO metric_inbox (recipient, kind, metric, title, body, payload, created_at) "
                              "VALUES ('tom', :kind, :metric, 't', '', :payload, CURRENT_TIMESTAMP)"),
                         {"kind": kind, "metric": metric, "payload": payload})
    _upgrade(engine, "0009")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT metric, kind, payload, done_at IS NOT NULL FROM metric_inbox ORDER BY id"))
        done = [(metric, kind, bool(flag)) for metric, kind, _payload, flag in rows]
    assert done == [("a.certified", "stage_reached", True), ("a.certified", "stage_reached", True),
                    ("a.waiting", "stage_reached", True), ("a.waiting", "stage_reached", False),
                    ("a.certified", "decision", False)]
    engine.dispose()
