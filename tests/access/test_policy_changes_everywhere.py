"""One rule for policy changes, whichever interface asks: the same steps run through
the HTTP API (bearer tokens), the ``lakegate access`` CLI (its runner, ``--as``)
and the UI's admin forms (signed in with a password), each on its own lake set
up the same way. The resulting policy and the audit entries they leave must be
the same, and each refusal must be refused by all three with the same message
and the same audit entry."""

from __future__ import annotations

import contextlib
import html
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from access import AccessControl, Action, AuditKind, Resource
from api.app import create_app
from api.commands import access as access_cli
from lake.service import Lake
from lake.settings import Settings, get_settings
from tests.ui.ui_helpers import TestClient, csrf_of, sign_in
from ui.wording import plain_keys

ORDERS = {
    "dataset": "sales.orders", "owner": "alice",
    "columns": [{"name": "order_id", "type": "int64", "nullable": False},
                {"name": "country", "type": "string"},
                {"name": "email", "type": "string", "pii": True}],
}
TABLE = "dataset:sales.orders"
EMAIL = "dataset:sales.orders.email"
#: admin administers the lake; olga holds ``grant`` on sales.orders only; victor holds nothing.
USERS = {"admin": ["admin"], "olga": [], "victor": [], "ann": []}
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Step:
    """One policy change asked for by ``by``; ``grant`` names the grant a revoke removes."""

    by: str
    op: str
    args: dict[str, str] = field(default_factory=dict)
    allowed: bool = True


STEPS = [
    Step("admin", "create_role", {"name": "marketing", "description": "campaigns"}),
    Step("admin", "add_member", {"role": "marketing", "member": "ann"}),
    Step("olga", "add_member", {"role": "marketing", "member": "victor"}, allowed=False),
    Step("admin", "grant", {"subject": "marketing", "action": "read", "resource": TABLE, "reason": "q3"}),
    Step("olga", "grant", {"subject": "ann", "action": "read", "resource": f"{TABLE}.country", "reason": "ops"}),
    Step("olga", "grant", {"subject": "ann", "action": "grant", "resource": TABLE, "reason": ""}, allowed=False),
    Step("victor", "grant", {"subject": "victor", "action": "read", "resource": TABLE, "reason": ""},
         allowed=False),
    Step("olga", "set_mask", {"subject": "marketing", "resource": EMAIL, "mask": "hash"}),
    Step("olga", "set_mask", {"subject": "ann", "resource": EMAIL, "mask": "decrypt"}, allowed=False),
    Step("admin", "set_filter", {"subject": "marketing", "resource": TABLE, "predicate": "country = 'DE'"}),
    Step("victor", "set_filter", {"subject": "victor", "resource": TABLE, "predicate": "true"}, allowed=False),
    Step("olga", "remove_filter", {"subject": "marketing", "resource": TABLE}),
    Step("victor", "remove_mask", {"subject": "marketing", "resource": EMAIL}, allowed=False),
    Step("olga", "remove_mask", {"subject": "marketing", "resource": EMAIL}),
    Step("victor", "revoke", {"subject": "marketing", "action": "read", "resource": TABLE}, allowed=False),
    Step("olga", "revoke", {"subject": "marketing", "action": "read", "resource": TABLE}),
    Step("admin", "remove_member", {"role": "marketing", "member": "ann"}),
]


@dataclass
class Outcome:
    """What one step did: whether it passed, and the refusal's message."""

    ok: bool
    message: str = ""


def set_up(home: Path) -> Settings:
    """A lake with the users, ``sales.orders`` and olga's ``grant`` on it, all known to the policy."""
    settings = Settings(home=home)
    lake = Lake(settings)
    try:
        for name, roles in USERS.items():
            lake.users.create(name, roles=roles, password=PASSWORD)
        lake.register(ORDERS, actor="admin")
        access = AccessControl(lake)  # makes every user a member of everyone now, not during the steps
        access.grant("olga", Action.GRANT, Resource.table("sales.orders"), reason="steward", actor="admin")
    finally:
        lake.close()
    return settings


def grant_id(lake: Lake, args: dict[str, str]) -> int:
    [found] = AccessControl(lake, sync_users=False).policies.grants(
        subject=args["subject"], resource=Resource.parse(args["resource"]))
    assert found.action is Action.parse(args["action"]) and found.id is not None
    return found.id


# -- the three interfaces ------------------------------------------------------------------------


class Api:
    """The HTTP API with each user's bearer token."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        lake: Lake = client.app.state.services.lake  # type: ignore[attr-defined]
        self.lake = lake
        self.headers = {name: {"Authorization": f"Bearer {lake.users.create_token(name, name='t')[0]}"}
                        for name in USERS}

    def run(self, step: Step) -> Outcome:
        a, h, c = step.args, self.headers[step.by], self.client
        if step.op == "create_role":
            r = c.post("/api/v1/access/roles", json={"name": a["name"], "description": a["description"]}, headers=h)
        elif step.op == "add_member":
            r = c.post(f"/api/v1/access/roles/{a['role']}/members", json={"member": a["member"]}, headers=h)
        elif step.op == "remove_member":
            r = c.delete(f"/api/v1/access/roles/{a['role']}/members/{a['member']}", headers=h)
        elif step.op == "grant":
            r = c.post("/api/v1/access/grants", json={**a, "effect": "allow"}, headers=h)
        elif step.op == "revoke":
            r = c.delete(f"/api/v1/access/grants/{grant_id(self.lake, a)}", headers=h)
        elif step.op == "set_mask":
            r = c.put("/api/v1/access/masks", json=a, headers=h)
        elif step.op == "remove_mask":
            r = c.delete("/api/v1/access/masks", params=a, headers=h)
        elif step.op == "set_filter":
            r = c.put("/api/v1/access/row-filters", json=a, headers=h)
        else:
            assert step.op == "remove_filter"
            r = c.delete("/api/v1/access/row-filters", params=a, headers=h)
        if r.status_code in (200, 201, 204):
            return Outcome(True)
        assert r.status_code == 403 and r.json()["error"]["code"] == "access_denied", r.text
        return Outcome(False, r.json()["error"]["message"])


class Cli:
    """``lakegate access`` through its runner, ``--as`` the acting user."""

    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("LAKEGATE_HOME", str(settings.home))
        get_settings.cache_clear()
        self.settings = settings

    def run(self, step: Step) -> Outcome:
        a = step.args
        args: list[str]
        if step.op == "create_role":
            args = ["role", "create", a["name"], "--description", a["description"]]
        elif step.op == "add_member":
            args = ["role", "add-member", a["role"], a["member"]]
        elif step.op == "remove_member":
            args = ["role", "remove-member", a["role"], a["member"]]
        elif step.op == "grant":
            args = ["grant", a["subject"], a["action"], a["resource"], "--reason", a["reason"]]
        elif step.op == "revoke":
            lake = Lake(self.settings)
            try:
                args = ["revoke", str(grant_id(lake, a))]
            finally:
                lake.close()
        elif step.op == "set_mask":
            args = ["mask", "set", a["subject"], a["resource"], a["mask"]]
        elif step.op == "remove_mask":
            args = ["mask", "remove", a["subject"], a["resource"]]
        elif step.op == "set_filter":
            args = ["filter", "set", a["subject"], a["resource"], a["predicate"]]
        else:
            assert step.op == "remove_filter"
            args = ["filter", "remove", a["subject"], a["resource"]]
        result = CliRunner().invoke(access_cli.app, [*args, "--as", step.by])
        if result.exit_code == 0:
            return Outcome(True)
        assert result.exit_code == 1 and result.output.startswith("error: "), result.output
        return Outcome(False, result.output.removeprefix("error: ").strip())


class Ui:
    """The admin forms, each user signed in with a password in a client of its own."""

    def __init__(self, make_client: Callable[[], TestClient]) -> None:
        self.clients: dict[str, tuple[TestClient, str]] = {}
        for name in USERS:
            client = make_client()
            assert sign_in(client, name, PASSWORD).status_code == 303
            self.clients[name] = (client, csrf_of(client.get("/ui").text))
        first = next(iter(self.clients.values()))[0]
        lake: Lake = first.app.state.services.lake  # type: ignore[attr-defined]
        self.lake = lake

    def run(self, step: Step) -> Outcome:
        a = step.args
        client, token = self.clients[step.by]
        if step.op == "create_role":
            path, form = "/ui/admin/roles", {"name": a["name"], "kind": "role", "description": a["description"]}
        elif step.op == "add_member":
            path, form = "/ui/admin/members", a
        elif step.op == "remove_member":
            path, form = "/ui/admin/members/remove", a
        elif step.op == "grant":
            path, form = "/ui/admin/grants", {**a, "effect": "allow"}
        elif step.op == "revoke":
            path, form = f"/ui/admin/grants/{grant_id(self.lake, a)}/revoke", {}
        elif step.op == "set_mask":
            path, form = "/ui/admin/masks", a
        elif step.op == "remove_mask":
            path, form = "/ui/admin/masks/remove", a
        elif step.op == "set_filter":
            path, form = "/ui/admin/filters", a
        else:
            assert step.op == "remove_filter"
            path, form = "/ui/admin/filters/remove", a
        r = client.post(path, data={**form, "csrf_token": token})
        if r.status_code == 303:
            return Outcome(True)
        assert r.status_code == 403, r.text
        return Outcome(False, r.text)


# -- what the steps left -------------------------------------------------------------------------------


def policy_of(lake: Lake) -> dict[str, Any]:
    """The policy, without ids and times."""
    p = AccessControl(lake, sync_users=False).policies
    return {
        "roles": sorted((r.name, r.kind.value, r.description) for r in p.roles()),
        "members": sorted((m.role, m.member) for m in p.memberships()),
        "grants": sorted((g.subject, g.action.value, g.resource.key, g.effect.value, g.reason, g.created_by)
                         for g in p.grants(include_expired=True)),
        "masks": sorted((m.subject, m.resource.key, str(m.mask)) for m in p.masks(include_expired=True)),
        "filters": sorted((f.subject, f.resource.key, f.predicate) for f in p.row_filters(include_expired=True)),
    }


def audit_after(lake: Lake, seq: int) -> list[tuple[Any, ...]]:
    """Decisions and policy changes after entry ``seq``, oldest first, without times and hashes."""
    log = AccessControl(lake, sync_users=False).audit
    entries = log.query(after_seq=seq, limit=10_000, newest_first=False)
    return [(e.kind.value, e.actor, e.action, e.resource, e.decision.value, e.detail) for e in entries
            if e.kind in (AuditKind.DECISION, AuditKind.POLICY_CHANGE)]


def last_seq(lake: Lake) -> int:
    entries = AccessControl(lake, sync_users=False).audit.query(limit=1)
    return entries[0].seq if entries else 0


@contextlib.contextmanager
def opened(settings: Settings) -> Iterator[Lake]:
    lake = Lake(settings)
    try:
        yield lake
    finally:
        lake.close()


@dataclass
class Run:
    outcomes: list[Outcome]
    policy: dict[str, Any]
    audit: list[tuple[Any, ...]]


def test_each_policy_change_does_the_same_through_the_api_the_cli_and_the_ui(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: dict[str, Run] = {}
    with contextlib.ExitStack() as stack:
        for interface in ("api", "cli", "ui"):
            settings = set_up(tmp_path / interface)
            if interface == "cli":
                runner: Api | Cli | Ui = Cli(settings, monkeypatch)
            else:
                app = create_app(settings)

                def make_client(app: Any = app) -> TestClient:
                    return stack.enter_context(TestClient(app, follow_redirects=False))

                runner = Api(make_client()) if interface == "api" else Ui(make_client)
            with opened(settings) as lake:
                start = last_seq(lake)
            outcomes = [runner.run(step) for step in STEPS]
            with opened(settings) as lake:
                runs[interface] = Run(outcomes, policy_of(lake), audit_after(lake, start))

    for interface, run in runs.items():
        assert [o.ok for o in run.outcomes] == [s.allowed for s in STEPS], interface
    api, cli, ui = runs["api"], runs["cli"], runs["ui"]
    assert api.policy == cli.policy == ui.policy
    assert api.audit == cli.audit == ui.audit
    # The steps did what they say: the grant holder granted, and every refusal was audited as a deny.
    assert ("ann", "read", f"{TABLE}.country", "allow", "ops") in [g[:5] for g in api.policy["grants"]]
    assert ("marketing", "ann") not in api.policy["members"] and ("marketing", "victor") not in api.policy["members"]
    denies = [e for e in api.audit if e[0] == "decision" and e[4] == "deny"]
    assert [(e[1], e[2]) for e in denies] == [(s.by, _needed(s)) for s in STEPS if not s.allowed]
    changes = [e for e in api.audit if e[0] == "policy_change"]
    assert {e[1] for e in changes} == {"admin", "olga"}  # recorded under the acting principal's name
    # A refusal says the same thing everywhere (the UI's page shows the message, with resource keys
    # written as words).
    for i, step in enumerate(STEPS):
        if not step.allowed:
            message = api.outcomes[i].message
            assert message and cli.outcomes[i].message == message, (step, cli.outcomes[i].message)
            shown = plain_keys(message)
            assert html.escape(shown, quote=True) in ui.outcomes[i].message or shown in ui.outcomes[i].message


def _needed(step: Step) -> str:
    """The action a refused step lacked."""
    if step.op in ("create_role", "add_member", "remove_member"):
        return "admin"
    if step.op == "grant" and step.args["action"] in ("grant", "admin"):
        return "admin"
    if step.op == "set_mask" and step.args["mask"] == "decrypt":
        return "admin"
    return "grant"


def test_the_cli_acts_as_the_local_administrator_unless_told_otherwise(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = set_up(tmp_path / "cli")
    Cli(settings, monkeypatch)
    runner = CliRunner()
    done = runner.invoke(access_cli.app, ["grant", "ann", "read", TABLE])
    assert done.exit_code == 0, done.output
    refused = runner.invoke(access_cli.app, ["grant", "ann", "read", TABLE, "--as", "victor"])
    assert refused.exit_code == 1
    assert refused.output == "error: victor may not grant dataset:sales.orders: no grant allows it\n"
    with opened(settings) as lake:
        control = AccessControl(lake, sync_users=False)
        grants = control.policies.grants(subject="ann")
        [change] = control.audit.query(kind=AuditKind.POLICY_CHANGE, resource=TABLE, limit=1)
    assert [g.action.value for g in grants] == ["read"]
    assert (change.actor, change.action, change.detail["subject"]) == ("admin", "add grant", "ann")
