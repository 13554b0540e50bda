"""Commands for users, service principals and their API tokens: ``user``, ``token``."""

from __future__ import annotations

from typing import Annotated

import typer

from api.console import domain_errors, fail, note, open_lake
from lake.auth import PrincipalKind

commands = typer.Typer()
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
user_app = typer.Typer(help="Users and service principals.", no_args_is_help=True)
commands.add_typer(token_app, name="token")
commands.add_typer(user_app, name="user")


@token_app.command("create")
@domain_errors
def token_create(
    user: Annotated[str, typer.Option("--user", help="Whose token.")],
    name: Annotated[str, typer.Option("--name", help="A label, e.g. the program using it.")] = "",
    ttl_days: Annotated[float, typer.Option("--ttl-days", min=0, help="Lifetime in days; 0 for no expiry.")] = 90,
) -> None:
    """Create an API token and print it (only the token, shown once)."""
    with open_lake() as lake:
        token, _ = lake.users.create_token(user, name=name, ttl_days=ttl_days or None)
    typer.echo(token)


@user_app.command("create")
@domain_errors
def user_create(
    name: Annotated[str, typer.Argument(help="User name (lower case).")],
    role: Annotated[list[str] | None, typer.Option("--role", help="A role; repeat for several.")] = None,
    service: Annotated[bool, typer.Option("--service", help="A service principal, not a person.")] = False,
) -> None:
    """Create a user or service principal with roles."""
    with open_lake() as lake:
        kind = PrincipalKind.SERVICE if service else PrincipalKind.USER
        created = lake.users.create(name, roles=role or [], kind=kind)
    typer.echo(f"created {created.kind.value} {created.name} (roles: {', '.join(created.roles) or 'none'})")


@user_app.command("password")
@domain_errors
def user_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input "
                                                                 "(first line) instead of asking.")] = False,
) -> None:
    """Set a user's password for the web UI (asked twice, not echoed); ends the user's web sessions."""
    import sys

    from api.services import open_services

    if stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("new password", hide_input=True, confirmation_prompt=True)
    if not password:
        fail("no password given")
    with open_services() as services:
        user = services.lake.users.set_password(name, password)
        ended = services.ui_sessions.sign_out_user(user.name)
    note(f"password set for {user.name}" + (f"; ended {ended} web session(s)" if ended else ""))
