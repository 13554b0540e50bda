"""Commands for datasets and their data: ``dataset``, ``ingest``, ``history``, ``vacuum``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from api import console
from api.console import ADMIN_USER, actor_name, domain_errors, note, open_lake, out, read_text
from lake.formats import BatchFormat
from lake.ingest import OnError, WriteMode
from lake.service import DEFAULT_RETENTION_HOURS

commands = typer.Typer()
dataset_app = typer.Typer(help="Datasets and their contracts.", no_args_is_help=True)
commands.add_typer(dataset_app, name="dataset")

AsOpt = Annotated[str, typer.Option("--as", help="The user recorded as the actor.")]
ContractFile = Annotated[Path, typer.Option("-f", "--file", exists=True, dir_okay=False,
                                            help="The contract (YAML or JSON).")]


@dataset_app.command("create")
@domain_errors
def dataset_create(file: ContractFile, as_user: AsOpt = ADMIN_USER) -> None:
    """Register a dataset with the contract in a file, as --as (needs propose on its domain);
    its owner gets admin on it, as when it is registered over the API."""
    from access.registration import register_dataset
    from api.services import open_services

    text = read_text(file)
    with open_services() as services:
        info = register_dataset(services.access, text, by=actor_name(services.lake, as_user))
    console.show_dataset(info)


@dataset_app.command("list")
@domain_errors
def dataset_list(domain: Annotated[str | None, typer.Option(help="Only this domain.")] = None) -> None:
    """List datasets (current major versions)."""
    with open_lake() as lake:
        infos = lake.datasets.list(domain=domain)
    if not infos:
        note("no datasets yet: register one with 'lakegate dataset create -f contract.yml'")
        return
    out.print(console.dataset_table(infos))


@dataset_app.command("show")
@domain_errors
def dataset_show(
    name: Annotated[str, typer.Argument(help="domain.dataset")],
    major: Annotated[int | None, typer.Option(min=1, help="A major version; the current one by default.")] = None,
    contract: Annotated[bool, typer.Option("--contract", help="Print only the contract, as YAML.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the dataset as JSON.")] = False,
) -> None:
    """Show a dataset and its contract."""
    with open_lake() as lake:
        info = lake.dataset(name, major=major)
    if contract:
        typer.echo(info.contract.to_yaml(), nl=False)
    elif as_json:
        typer.echo(json.dumps(info.to_dict(), indent=2))
    else:
        console.show_dataset(info)


@dataset_app.command("evolve")
@domain_errors
def dataset_evolve(
    name: Annotated[str, typer.Argument(help="domain.dataset")],
    file: ContractFile,
    major: Annotated[bool, typer.Option("--major", help="Open the next major version (breaking change).")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would change.")] = False,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Change a dataset's contract.

    Compatible changes make a new contract version; breaking ones need --major,
    which opens the next major version with a new table.
    """
    text = read_text(file)
    with open_lake() as lake:
        if dry_run:
            changes = lake.datasets.plan_change(name, text)
            if not changes:
                typer.echo(f"{name}: no changes")
                return
            out.print(console.changes_table(changes))
            if any(c.breaking for c in changes):
                note("breaking: apply it with --major (opens the next major version)", style="yellow")
            return
        before = lake.dataset(name)
        info = lake.evolve(name, text, actor=actor_name(lake, as_user), major=major)
    if (info.major, info.contract_version) == (before.major, before.contract_version):
        typer.echo(f"{name}: no changes")
    elif info.major != before.major:
        typer.echo(f"{name}: major version {info.major} opened (contract v{info.contract_version}, new table)")
    else:
        typer.echo(f"{name}: contract version {info.contract_version}")


# -- data ------------------------------------------------------------------------------------------


@commands.command()
@domain_errors
def ingest(
    dataset: Annotated[str, typer.Argument(help="domain.dataset")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The batch file.")],
    fmt: Annotated[str | None, typer.Option("--format", help="parquet, arrow, csv or jsonl (default: from the "
                                                             "file name).")] = None,
    mode: Annotated[WriteMode, typer.Option(help="How the batch lands.")] = WriteMode.APPEND,
    on_error: Annotated[OnError, typer.Option("--on-error", help="Reject the batch, or quarantine bad rows.")]
    = OnError.REJECT,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key",
                                                        help="A retry with the same key lands once.")] = None,
    reason: Annotated[str, typer.Option(help="Why (recorded in the commit).")] = "",
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Land a batch file in a dataset, in one commit or not at all."""
    batch_format = BatchFormat.parse(fmt) if fmt else BatchFormat.from_path(file)
    with open_lake() as lake:
        actor = actor_name(lake, as_user)
        lake.dataset(dataset)  # fail before reading the file if the dataset is unknown
        result = console.run_with_read_progress(
            file,
            f"validating and committing to {dataset}…",
            lambda reader: lake.ingest(dataset, reader, batch_format, actor=actor, mode=mode, on_error=on_error,
                                       idempotency_key=idempotency_key, reason=reason, source_name=f"cli:{file.name}"),
        )
    typer.echo(console.describe_ingest(result, idempotency_key))


@commands.command()
@domain_errors
def quarantine(
    dataset: Annotated[str, typer.Argument(help="domain.dataset")],
    replay: Annotated[bool, typer.Option("--replay", help="Land the rows that pass the current contract.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With --replay: only say what would land.")] = False,
    limit: Annotated[int, typer.Option(min=1, help="Rows listed.")] = 50,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """List a dataset's quarantined rows and why, or replay them against the current contract.

    With --replay the rows that pass the current contract land in one commit and
    the others stay; as --as, who must be a producer, the owner or an admin of the dataset.
    """
    from access import producers
    from api.services import open_services

    with open_services() as services:
        by = actor_name(services.lake, as_user)
        if replay:
            result = producers.replay_quarantine(services.access, dataset, by=by, dry_run=dry_run)
            verb = "would land" if dry_run else "landed"
            typer.echo(f"{result.dataset}: {verb} {result.landed} of {result.checked} quarantined row(s)"
                       + (f" (commit {result.commit_id}, table version {result.table_version})"
                          if result.commit_id else "") + f"; {len(result.still_failing)} stay")
            for r in result.still_failing[:limit]:
                typer.echo(f"  batch {r.commit_id} row {r.row_number}: "
                           + "; ".join(f"{x.column}: {x.rule}" if x.column else x.rule for x in r.reasons))
            return
        listing = producers.quarantined_rows(services.access, dataset, by=by, limit=limit)
    typer.echo(f"{listing.dataset} (major {listing.major}): {listing.waiting} row(s) waiting, "
               f"{listing.replayed} replayed")
    for row in listing.rows:
        typer.echo(f"  batch {row.commit_id} row {row.row_number}: "
                   + "; ".join(f"{x.column}: {x.rule}" if x.column else x.rule for x in row.reasons))


@commands.command()
@domain_errors
def history(
    dataset: Annotated[str, typer.Argument(help="domain.dataset")],
    limit: Annotated[int | None, typer.Option(min=1, help="Newest N entries only.")] = None,
    major: Annotated[int | None, typer.Option(min=1, help="A major version; the current one by default.")] = None,
) -> None:
    """Show the Delta log of a dataset's table, newest first."""
    with open_lake() as lake:
        entries = lake.history(dataset, major=major, limit=limit)
    out.print(console.history_table(dataset, entries))


@commands.command()
@domain_errors
def vacuum(
    datasets: Annotated[list[str] | None, typer.Argument(help="domain.dataset (default: every dataset, every "
                                                              "major version).")] = None,
    retention_hours: Annotated[int, typer.Option("--retention-hours", min=0,
                                                 help="Keep what versions of the last N hours need.")]
    = DEFAULT_RETENTION_HOURS,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list the files.")] = False,
    as_user: AsOpt = ADMIN_USER,
) -> None:
    """Delete table files no version within the retention needs, orphans of failed writes included.

    Full mode: files that commits older than the retention removed, and files
    no commit references (left by a failed write or a killed process) once
    they are older than the retention. Time travel within the retention keeps
    working. Each table is locked while it is vacuumed.
    """
    with open_lake() as lake:
        actor = actor_name(lake, as_user)
        targets = ([(name, None) for name in datasets] if datasets else
                   [(info.name, info.major) for info in lake.datasets.list(include_old_majors=True)])
        if not targets:
            note("no datasets yet")
            return
        verb = "would delete" if dry_run else "deleted"
        for name, major in targets:
            result = lake.vacuum(name, actor=actor, retention_hours=retention_hours, dry_run=dry_run, major=major)
            files = [*result.files, *(f"quarantine: {f}" for f in result.quarantine_files)]
            typer.echo(f"{result.dataset} (major {result.major}): {verb} {len(files)} file(s)")
            for f in files:
                typer.echo(f"  {f}")
