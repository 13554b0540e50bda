"""The IAM side of subscribers: one role per subscriber, STS sessions of it.

:class:`RoleBackend` is what subscribers need of
:class:`deploy.iam.SubscriberRoles`; :func:`cloud_roles` makes one for a lake
in S3 mode (IAM and STS clients on the store's endpoint and region, with
boto3's credential chain, as the store itself uses); the roles trust exactly
the principal Lakegate runs as. A lake in a local
directory has no roles: policies are still computed and recorded, and
vending refuses with :class:`~access.subscribers.errors.VendingUnavailable`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from deploy.policies import TableGrant

if TYPE_CHECKING:
    from deploy.iam import VendedCredentials
    from lake.service import Lake


class RoleBackend(Protocol):
    """Per-subscriber IAM roles and credential vending (:class:`deploy.iam.SubscriberRoles`)."""

    bucket: str
    lake_prefix: str

    def ensure_role(self, name: str, kind: str) -> str: ...

    def policy(self, grants: Sequence[TableGrant]) -> dict[str, Any]: ...

    def sync_grants(self, name: str, kind: str, grants: Sequence[TableGrant]) -> dict[str, Any]: ...

    def vend(self, name: str, kind: str, tables: Sequence[TableGrant], *, duration_seconds: int = 900,
             session_name: str | None = None) -> VendedCredentials: ...

    def delete_role(self, name: str, kind: str) -> None: ...


_CACHE: weakref.WeakKeyDictionary[Any, RoleBackend] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def attach_roles(lake: Lake, roles: RoleBackend | None) -> None:
    """Use ``roles`` for ``lake`` from now on in this process (``None``: build the default again)."""
    with _LOCK:
        if roles is None:
            _CACHE.pop(lake, None)
        else:
            _CACHE[lake] = roles


def cloud_roles(lake: Lake) -> RoleBackend | None:
    """The subscriber roles of ``lake``: ``None`` when it is not in S3 mode.

    Made once per lake: IAM and STS clients on the store's endpoint and region,
    domain keys through the store (each key's ARN looked up once).
    """
    if not lake.settings.is_s3:
        return None
    with _LOCK:
        found = _CACHE.get(lake)
        if found is not None:
            return found
        roles = _default_roles(lake)
        _CACHE[lake] = roles
        return roles


def _default_roles(lake: Lake) -> RoleBackend:
    import boto3  # type: ignore[import-untyped, unused-ignore]

    from deploy.iam import SubscriberRoles
    from lake.s3 import S3Store

    store = lake.store
    assert isinstance(store, S3Store), "subscriber roles need the S3 store"
    session = boto3.session.Session(region_name=lake.settings.s3_region)
    endpoint = lake.settings.s3_endpoint_url
    iam = session.client("iam", endpoint_url=endpoint)
    sts = session.client("sts", endpoint_url=endpoint)
    kms = store.kms_client()
    arns: dict[str, str] = {}
    lock = threading.Lock()

    def key_arn(domain: str) -> str:
        with lock:
            if domain not in arns:
                key = store.ensure_domain(domain)
                arns[domain] = str(kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"])
            return arns[domain]

    return SubscriberRoles(iam, sts, bucket=store.bucket, lake_prefix=store.prefix, key_arn=key_arn,
                           trust_principal_arn=own_principal_arn(sts))


def own_principal_arn(sts: Any) -> str:
    """The IAM principal Lakegate runs as, which subscriber roles trust (and nobody else in the account).

    An STS session ARN (``arn:aws:sts::<account>:assumed-role/<role>/<session>``)
    is turned into its role's ARN.
    """
    arn = str(sts.get_caller_identity()["Arn"])
    prefix, _, rest = arn.partition(":assumed-role/")
    if rest:
        account = prefix.rsplit(":", 1)[-1]
        partition = prefix.split(":")[1]
        return f"arn:{partition}:iam::{account}:role/{rest.split('/', 1)[0]}"
    return arn
