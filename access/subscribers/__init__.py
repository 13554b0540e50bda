"""Engine subscribers: Redshift, EMR and SageMaker reading the lake under the access layer.

    registry.py      named subscribers (principals ``sub.<name>``), owners, role bindings
    tables.py        the datasets and views an engine may be given, and where their files are
    raw.py           the fail-closed rule: when a table may be handed out as raw files
    policy_sync.py   each subscriber's IAM role policy = exactly what it may read raw
    cloud.py         IAM roles and STS of a lake in S3 mode (deploy.iam)
    vending.py       short-lived credentials for EMR/Spark and SageMaker, recorded
    manifests.py     Delta symlink manifests for Redshift Spectrum
    redshift_sql.py  Redshift statements as sqlglot trees (and their PostgreSQL rendering)
    redshift.py      external schemas, tables, views and grants per role; sync by difference
    exports.py       governed Parquet exports with manifests and presigned URLs
    datacard.py      the data card of an export
    service.py       Subscribers: the facade the API and the CLI call

See the "Engine subscribers" section of ``access/README.md``.
"""

from access.subscribers.errors import (
    ExportTooLarge,
    RawAccessRefused,
    SubscriberSuspended,
    VendingUnavailable,
    WrongSubscriberKind,
)
from access.subscribers.exports import Export, ExportFile
from access.subscribers.raw import RawDecision, raw_decision
from access.subscribers.redshift import RedshiftPlan
from access.subscribers.redshift_sql import Target
from access.subscribers.service import Subscribers
from access.subscribers.tables import LakeTable, find_table, lake_tables
from access.subscribers.values import (
    IssuedCredential,
    Subscriber,
    SubscriberKind,
    SubscriberStatus,
    subject_of,
)
from access.subscribers.vending import Vended

__all__ = [
    "Export",
    "ExportFile",
    "ExportTooLarge",
    "IssuedCredential",
    "LakeTable",
    "RawAccessRefused",
    "RawDecision",
    "RedshiftPlan",
    "Subscriber",
    "SubscriberKind",
    "SubscriberStatus",
    "SubscriberSuspended",
    "Subscribers",
    "Target",
    "Vended",
    "VendingUnavailable",
    "WrongSubscriberKind",
    "find_table",
    "lake_tables",
    "raw_decision",
    "subject_of",
]
