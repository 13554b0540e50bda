"""The ``lakegate`` CLI: commands run through Typer's test runner against a lake in
``LAKEGATE_HOME``, and ``lakegate serve`` over real HTTPS in a subprocess."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner, Result

import demo
from api.cli import app
from lake.service import Lake

LakeOpener = Callable[[], contextlib.AbstractContextManager[Lake]]


def run(runner: CliRunner, *args: str | Path, input: str | None = None) -> Result:
    return runner.invoke(app, [str(a) for a in args], input=input)


def ok(runner: CliRunner, *args: str | Path) -> Result:
    result = run(runner, *args)
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture
def initialised(runner: CliRunner, cli_home: Path) -> str:
    """``lakegate init`` has run; returns the admin token it printed."""
    return ok(runner, "init").stdout.strip()


@pytest.fixture
def contract_file(tmp_path: Path, contract_yaml: str) -> Path:
    path = tmp_path / "orders.yml"
    path.write_text(contract_yaml)
    return path


@pytest.fixture
def orders(runner: CliRunner, initialised: str, contract_file: Path) -> None:
    ok(runner, "dataset", "create", "-f", contract_file)


def test_init_prints_a_token_that_authenticates(runner: CliRunner, cli_home: Path, cli_lake: LakeOpener) -> None:
    first = ok(runner, "init")
    token = first.stdout.strip()
    assert token.startswith("lg_") and "\n" not in token  # only the token on stdout
    assert str(cli_home) in first.stderr
    assert (cli_home / "catalog.db").exists() and (cli_home / "lake").is_dir()

    second = ok(runner, "init").stdout.strip()  # idempotent; a new token each time
    assert second != token
    with cli_lake() as lake:
        for t in (token, second):
            admin = lake.users.authenticate(t)
            assert admin.name == "admin"
            assert set(admin.roles) == {"admin", "producer"}


def test_token_and_user_commands(runner: CliRunner, initialised: str, cli_lake: LakeOpener) -> None:
    created = ok(runner, "user", "create", "alice", "--role", "producer", "--role", "sales")
    assert "alice" in created.stdout
    token = ok(runner, "token", "create", "--user", "alice", "--name", "ci", "--ttl-days", "1").stdout.strip()
    with cli_lake() as lake:
        assert lake.users.authenticate(token).roles == ("producer", "sales")

    dup = run(runner, "user", "create", "alice")
    assert dup.exit_code == 1
    assert dup.stderr.strip() == "error: user alice already exists"
    nobody = run(runner, "token", "create", "--user", "nobody")
    assert (nobody.exit_code, nobody.stderr.strip()) == (1, "error: user nobody does not exist")


def test_dataset_create_list_and_show(runner: CliRunner, initialised: str, contract_file: Path,
                                      contract_yaml: str, cli_lake: LakeOpener) -> None:
    created = ok(runner, "dataset", "create", "-f", contract_file)
    assert "sales.orders" in created.stdout and "decimal(12,2)" in created.stdout
    with cli_lake() as lake:
        info = lake.dataset("sales.orders")
        assert (info.owner, info.created_by, info.contract_version) == ("sales", "admin", 1)

    assert "sales.orders" in ok(runner, "dataset", "list").stdout
    assert "sales.orders" in ok(runner, "dataset", "show", "sales.orders").stdout
    shown = ok(runner, "dataset", "show", "sales.orders", "--contract").stdout
    assert yaml.safe_load(shown) == info.contract.to_dict()  # ready to edit and evolve
    assert [c["name"] for c in yaml.safe_load(shown)["columns"]] == \
        [c["name"] for c in yaml.safe_load(contract_yaml)["columns"]]
    assert '"major": 1' in ok(runner, "dataset", "show", "sales.orders", "--json").stdout

    again = run(runner, "dataset", "create", "-f", contract_file)
    assert again.exit_code == 1
    assert again.stderr.startswith("error: dataset sales.orders is already registered")


def test_a_bad_contract_file_is_one_error_line(runner: CliRunner, initialised: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("dataset: sales.orders\ncolumns:\n  - {name: id, type: int128}\n")
    result = run(runner, "dataset", "create", "-f", bad)
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: columns[0] (id).type: unknown type 'int128'")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_ingest_a_csv_file(runner: CliRunner, orders: None, tmp_path: Path, good_csv: bytes,
                           cli_lake: LakeOpener) -> None:
    batch = tmp_path / "orders.csv"
    batch.write_bytes(good_csv)
    ok(runner, "user", "create", "alice", "--role", "producer")
    result = ok(runner, "ingest", "sales.orders", batch, "--as", "alice", "--idempotency-key", "day-1")
    assert result.stdout.strip() == "landed 2 rows in sales.orders (commit 1, table version 1)"
    with cli_lake() as lake:
        rows = lake.read("sales.orders", decrypt=True).sort_by("order_id").to_pylist()
        assert [(r["order_id"], r["country"], r["email"]) for r in rows] == [
            (1, "US", "ann@example.com"), (2, "DE", None)]
        commit = lake.commits("sales.orders")[0]
        assert (commit["actor"], commit["source"]) == ("alice", "cli:orders.csv")

    replay = ok(runner, "ingest", "sales.orders", batch, "--as", "alice", "--idempotency-key", "day-1")
    assert replay.stdout.startswith("already landed with idempotency key 'day-1'")

    history = ok(runner, "history", "sales.orders").stdout
    assert "WRITE" in history and "CREATE TABLE" in history and "alice" in history


def test_ingest_parquet_and_modes(runner: CliRunner, orders: None, tmp_path: Path, cli_lake: LakeOpener) -> None:
    path = tmp_path / "batch.parquet"
    pq.write_table(pa.table({"order_id": pa.array([1, 2, 3], pa.int64()), "country": ["US", "DE", "FR"]}), path)
    ok(runner, "ingest", "sales.orders", path)
    ok(runner, "ingest", "sales.orders", path, "--mode", "upsert")
    jsonl = tmp_path / "more.data"
    jsonl.write_text('{"order_id": 4}\n{"order_id": 5, "amount": "-1"}\n')
    quarantined = ok(runner, "ingest", "sales.orders", jsonl, "--format", "jsonl", "--on-error", "quarantine")
    assert "1 rows quarantined" in quarantined.stdout
    with cli_lake() as lake:
        assert sorted(lake.read("sales.orders").column("order_id").to_pylist()) == [1, 2, 3, 4]

    bad_mode = run(runner, "ingest", "sales.orders", path, "--mode", "merge")
    assert bad_mode.exit_code == 2  # a usage error, from the option's choices


def test_a_bad_csv_is_an_error_line_and_changes_nothing(runner: CliRunner, orders: None, tmp_path: Path,
                                                        cli_lake: LakeOpener) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("order_id,amount,country,email\n1,5,US,\n2,-1,US,\n3,abc,XX,\n")
    with cli_lake() as lake:
        before = lake.datasets.table(lake.dataset("sales.orders")).version()
    result = run(runner, "ingest", "sales.orders", bad)
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith("error: batch for sales.orders breaks its contract: column 'amount'")
    assert "\n" not in line and "Traceback" not in result.output
    assert result.stdout == ""
    with cli_lake() as lake:
        assert lake.datasets.table(lake.dataset("sales.orders")).version() == before
        assert lake.read("sales.orders").num_rows == 0
        assert lake.commits("sales.orders") == []

    unknown = run(runner, "ingest", "sales.nothing", bad)
    assert (unknown.exit_code, unknown.stderr.strip()) == (1, "error: dataset sales.nothing does not exist")
    ghost = run(runner, "ingest", "sales.orders", bad, "--as", "ghost")
    assert (ghost.exit_code, ghost.stderr.strip()) == (1, "error: user ghost does not exist")


def test_dataset_evolve(runner: CliRunner, orders: None, tmp_path: Path, contract_yaml: str,
                        cli_lake: LakeOpener) -> None:
    compatible = tmp_path / "v2.yml"
    compatible.write_text(contract_yaml + "  - {name: coupon, type: string}\n")
    plan = ok(runner, "dataset", "evolve", "sales.orders", "-f", compatible, "--dry-run")
    assert "coupon" in plan.stdout
    assert ok(runner, "dataset", "evolve", "sales.orders", "-f", compatible).stdout.strip() == \
        "sales.orders: contract version 2"

    breaking = tmp_path / "v3.yml"
    breaking.write_text(contract_yaml.replace("  - {name: email, type: string, pii: true}\n", ""))
    refused = run(runner, "dataset", "evolve", "sales.orders", "-f", breaking)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: contract change for sales.orders is breaking: column 'email' dropped")
    major = ok(runner, "dataset", "evolve", "sales.orders", "-f", breaking, "--major")
    assert major.stdout.startswith("sales.orders: major version 2 opened")
    with cli_lake() as lake:
        assert lake.dataset("sales.orders").major == 2


@pytest.mark.slow  # lands the demo twice: over three minutes on a busy machine
def test_demo_lands_the_demo_data(runner: CliRunner, cli_home: Path, cli_lake: LakeOpener) -> None:
    result = ok(runner, "demo", "--scale", "0.1", "--seed", "3", "--no-serve")
    with cli_lake() as lk:
        datasets = {d.name: lk.read(d.name).num_rows for d in lk.datasets.list()}
        assert set(lk.users.get("admin").roles) == {"admin", "producer"}  # init ran
        assert lk.commits("playback.events")[0]["actor"] == "admin"
    assert set(datasets) == {doc["dataset"] for doc in demo.DEMO_CONTRACTS}
    for name, rows in datasets.items():
        assert rows > 0
        assert name in result.stdout and f"{rows:,}" in result.stdout  # the summary table
    assert f"{sum(datasets.values()):,}" in result.stdout

    again = ok(runner, "demo", "--scale", "0.1", "--seed", "3", "--no-serve")  # runs again without init
    assert f"{sum(datasets.values()):,}" in again.stdout

    assert run(runner, "demo", "--scale", "0", "--no-serve").exit_code == 2


PRODUCTION_ENV = {
    "LAKEGATE_PRODUCTION": "true",
    "LAKEGATE_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "LAKEGATE_STORAGE_URI": "s3://lakegate-test/lake",
}


@pytest.mark.parametrize("command", [["serve"], ["serve", "--port", "9"], ["demo"]])
def test_production_refuses_plain_http(runner: CliRunner, cli_home: Path, monkeypatch: pytest.MonkeyPatch,
                                       command: list[str]) -> None:
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    result = run(runner, *command)
    assert result.exit_code == 1
    assert "TLS" in result.stderr
    assert result.stderr.startswith("error: production mode refuses to serve plain HTTP")
    assert not cli_home.exists()  # refused before opening anything


def test_serve_needs_both_cert_and_key(runner: CliRunner, cli_home: Path, tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    result = run(runner, "serve", "--cert", cert)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --cert and --key go together: pass both to serve TLS"


def test_invalid_settings_are_one_error_line(runner: CliRunner, cli_home: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEGATE_MAX_UPLOAD_BYTES", "lots")
    result = run(runner, "dataset", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid settings: LAKEGATE_MAX_UPLOAD_BYTES:")
    assert "Traceback" not in result.output


# -- a real server -------------------------------------------------------------------------------


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lakegate test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_serve_over_tls(runner: CliRunner, initialised: str, orders: None, tmp_path: Path) -> None:
    cert, key = self_signed_certificate(tmp_path)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--cert", str(cert), "--key", str(key)],
        cwd=tmp_path, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        # Generous limits: on a busy machine (two suites side by side) the first
        # authenticated request can take seconds; this test is about TLS, not speed.
        with httpx.Client(base_url=base, verify=trust, timeout=60) as http:
            deadline = time.monotonic() + 120
            while True:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                try:
                    health = http.get("/health")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            assert health.status_code == 200
            assert health.json() == {"status": "ok"}
            assert http.get("/api/v1/datasets").status_code == 401
            listed = http.get("/api/v1/datasets", headers={"Authorization": f"Bearer {initialised}"})
            assert listed.status_code == 200
            assert [d["name"] for d in listed.json()] == ["sales.orders"]
        with httpx.Client(timeout=60) as plain, pytest.raises(httpx.TransportError):
            plain.get(f"http://127.0.0.1:{port}/health")  # TLS only
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert initialised not in (tmp_path / "server.log").read_text()  # tokens never reach the log



# -- start-up ------------------------------------------------------------------------------------


def test_help_and_version_load_no_domain_package() -> None:
    """``lakegate --help`` and ``lakegate version`` import commands only when run."""
    code = (
        "import sys\n"
        "from api.cli import app\n"
        "for argv in (['--help'], ['version']):\n"
        "    try:\n"
        "        app(argv)\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        "heavy = sorted(m for m in ('pyarrow', 'pyspark', 'sqlalchemy', 'deltalake', 'sqlglot', 'lake',\n"
        "                           'access', 'views', 'metrics_catalog', 'fastapi') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "platform"), str(repo)]), "COLUMNS": "120"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=repo,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "subscribers" in result.stdout and "lakegate 0." in result.stdout
    assert "HEAVY []" in result.stdout


def test_the_program_exits_with_its_commands_status_and_all_of_its_output(tmp_path: Path) -> None:
    """``lakegate`` (``api.cli:main``) ends the process without the interpreter's teardown: the
    output must still arrive whole, and the status must be the command's."""
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "platform"), str(repo)]), "COLUMNS": "120",
           "LAKEGATE_HOME": str(tmp_path / "home")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from api.cli import main; main()", *args],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)

    listed = run("--help")
    assert listed.returncode == 0 and listed.stdout.rstrip().endswith("╯"), listed.stdout[-300:]
    assert run("nonsense").returncode == 2
    init = run("init")
    assert init.returncode == 0, init.stderr
    missing = run("dataset", "show", "no.such")
    assert missing.returncode == 1 and "no.such" in missing.stderr
    shown = run("dataset", "list")
    assert shown.returncode == 0, shown.stderr


def test_listed_help_is_each_commands_own() -> None:
    from api.cli import COMMANDS, load_command

    for name, (_, _, listed) in COMMANDS.items():
        assert load_command(name).get_short_help_str(limit=300) == listed, name


def test_lazy_commands_run_and_fail_as_before(runner: CliRunner, cli_home: Path) -> None:
    assert "Register a dataset" in ok(runner, "dataset", "--help").stdout
    result = run(runner, "dataset", "show", "ads.nope")
    assert result.exit_code == 1 and result.stderr.startswith("error: ")
    assert run(runner, "no-such-command").exit_code == 2


def test_user_password_sets_what_the_web_ui_signs_in_with(runner: CliRunner, initialised: str,
                                                          cli_lake: LakeOpener) -> None:
    from ui.errors import SignInRequired
    from ui.sessions import SessionStore

    ok(runner, "user", "create", "ana", "--role", "analyst")
    ok(runner, "user", "create", "etl", "--service")
    with cli_lake() as lake:
        before, _ = SessionStore(lake).sign_in_token(lake.users.create_token("ana")[0])
    asked = run(runner, "user", "password", "ana", input="first-pass-1\nfirst-pass-1\n")
    assert asked.exit_code == 0, asked.stderr
    assert "password set for ana; ended 1 web session(s)" in asked.stderr
    assert "first-pass-1" not in asked.stdout + asked.stderr  # asked without echo
    with cli_lake() as lake:
        assert lake.users.check_password("ana", "first-pass-1").roles == ("analyst",)
        with pytest.raises(SignInRequired):  # signed out everywhere
            SessionStore(lake).resolve(before)
    piped = run(runner, "user", "password", "ana", "--password-stdin", input="second-pass-2\n")
    assert piped.exit_code == 0, piped.stderr
    with cli_lake() as lake:
        lake.users.check_password("ana", "second-pass-2")

    short = run(runner, "user", "password", "ana", "--password-stdin", input="short\n")
    assert (short.exit_code, short.stderr.strip()) == (
        1, "error: a password needs at least 10 characters; this one has 5")
    service = run(runner, "user", "password", "etl", "--password-stdin", input="service-pass-1\n")
    assert service.exit_code == 1 and "service principal" in service.stderr
    nobody = run(runner, "user", "password", "nobody", "--password-stdin", input="nobody-pass-1\n")
    assert (nobody.exit_code, nobody.stderr.strip()) == (1, "error: user nobody does not exist")
