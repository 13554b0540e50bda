"""pytest fixtures for the S3 mode: a moto server (S3, KMS, IAM, STS) on loopback.

``tests/conftest.py`` imports them::

    from s3_fixtures import moto_server, s3_settings  # noqa

The server is moto's ``ThreadedMotoServer`` run in a child process, not in the
test process. delta-rs calls that keep the GIL while they do network IO
(``DeltaTable.history()`` and ``DeltaTable.is_deltatable()`` in deltalake 1.6)
would otherwise wait on a server thread that cannot run, until their S3
timeout expires. The child listens on a port the OS picks (``port=0``) and
reports it on stdout; it exits when its stdin closes, so it never outlives the
test session, even if pytest is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lake.settings import Settings

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
"""Credentials moto accepts; they also keep boto3 and delta-rs away from real AWS."""

# Runs in the child process: start the server, print its port, wait for stdin EOF.
#
# moto (5.2) evaluates a bucket policy statement's Condition against an empty
# request context and then treats the statement as matching, so the lake's
# Deny statements (aws:SecureTransport false; s3:x-amz-server-side-encryption
# not aws:kms) would answer 403 to every object request, encrypted or not.
# The server therefore leaves statements with a Condition out when it checks
# a bucket policy; statements without one are checked as moto does. Tests
# verify the deny statements by reading the policy back, not by enforcement.
# IAM identity policies (INITIAL_NO_AUTH_ACTION_COUNT) are not affected.
_SERVER_SCRIPT = """
import json, logging, sys
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.models import FakeBucket
from moto.server import ThreadedMotoServer

def get_permission(self, action, resource):
    if self.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(self.policy)
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    kept = [s for s in statements if not s.get("Condition")]
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**policy, "Statement": kept})).is_action_permitted(action, resource)

FakeBucket.get_permission = get_permission
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


@contextlib.contextmanager
def _launch(log_path: Path, extra_env: dict[str, str]) -> Iterator[str]:
    """Start a moto server child process with fake credentials; yield its endpoint."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_KMS"):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_CONFIG_FILE", os.devnull)
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-c", _SERVER_SCRIPT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, **extra_env},
            )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline().decode().strip()
            if not line.isdigit():
                proc.kill()
                proc.wait(timeout=10)
                pytest.fail(f"moto server did not start: {Path(log_path).read_text()[-2000:]}")
            yield f"http://127.0.0.1:{line}"
        finally:
            _stop(proc)


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto server on 127.0.0.1 for the whole session; yields its endpoint URL.

    Fake AWS credentials and region are set in the environment for the
    session (and any AWS config files are hidden), so boto3 and delta-rs
    never reach real AWS. State lives in the server's memory: tests isolate
    themselves with unique bucket names (see :func:`s3_settings`).
    """
    with _launch(tmp_path_factory.mktemp("moto") / "moto.log", {}) as endpoint:
        yield endpoint


@dataclass(frozen=True)
class IamServer:
    """A moto server that enforces IAM identity policies, and an admin's keys."""

    endpoint: str
    admin_key_id: str
    admin_secret: str

    def client(self, service: str, **creds: str) -> Any:
        import boto3

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=creds.get("key_id", self.admin_key_id),
            aws_secret_access_key=creds.get("secret", self.admin_secret),
            aws_session_token=creds.get("token"),
        )


@pytest.fixture(scope="session")
def moto_iam_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IamServer]:
    """A moto server that checks IAM policies on every request after the first
    three, which create an administrator whose keys the tests then use."""
    import boto3

    with _launch(tmp_path_factory.mktemp("moto-iam") / "moto.log",
                 {"INITIAL_NO_AUTH_ACTION_COUNT": "3"}) as endpoint:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="lakegate-admin")
        iam.put_user_policy(UserName="lakegate-admin", PolicyName="admin", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="lakegate-admin")["AccessKey"]
        yield IamServer(endpoint, key["AccessKeyId"], key["SecretAccessKey"])


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """End the server: close its stdin, then terminate it if it lingers."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture
def s3_settings(moto_server: str, tmp_path: Path) -> Settings:
    """Settings for S3 mode on the moto server, with a bucket of its own.

    The bucket (``lake-<uuid>``, prefix ``lake``) does not exist yet: call
    ``open_store(settings).setup()`` or ``Lake(settings)`` to create it.
    """
    return Settings(
        home=tmp_path,
        storage_uri=f"s3://lake-{uuid.uuid4().hex}/lake",
        s3_endpoint_url=moto_server,
    )


def bucket_objects(lake: Any, prefix: str) -> list[dict[str, Any]]:
    """Every object of an S3-mode lake's bucket under ``prefix`` (a full key prefix), with its
    ``head_object`` answer (encryption, KMS key) and its ``Key``."""
    s3 = lake.store.s3_client()
    bucket = lake.store.bucket
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for o in page.get("Contents", [])]
    return [dict(s3.head_object(Bucket=bucket, Key=k), Key=k) for k in keys]


def iam_lake_settings(server: IamServer, monkeypatch: pytest.MonkeyPatch, home: Path) -> Settings:
    """Settings of a lake in a new bucket of the IAM-enforcing server, run as its administrator
    (delta-rs and boto3 both read the ``AWS_*`` variables set here)."""
    for var in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", server.admin_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", server.admin_secret)
    return Settings(home=home, storage_uri=f"s3://lake-{uuid.uuid4().hex[:12]}/lake", s3_endpoint_url=server.endpoint)
