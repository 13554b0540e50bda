"""The lake in an S3 bucket, every object encrypted with SSE-KMS.

Keys:

* The lake key (alias ``alias/lakegate/lake``) is the bucket's default
  encryption key, the safety net for anything written without explicit
  SSE headers.
* Each domain has its own key: the one configured in
  ``Settings.kms_key_ids``, else the key behind alias
  ``alias/lakegate/<domain>``, else a key created with that alias. Every
  object Lakegate writes for a domain (Delta data files, ``_delta_log``
  commits, landed files) names that key explicitly, so revoking a domain's key
  revokes exactly that domain's data.

The bucket policy denies ``s3:PutObject`` without ``aws:kms`` server-side
encryption and denies every request that is not made over TLS; all public
access is blocked.

=============== ==============================================================
module          what lives there
=============== ==============================================================
``store``       :class:`S3Store`: clients, paths, object IO, delta-rs options
``provision``   creating and securing the bucket (encryption, policy, public
                access block)
``audit``       checking that a bucket is safe for the lake
``keys``        the KMS keys: one per domain, the lake key
``aws``         AWS errors turned into :class:`lake.errors.StorageError`
=============== ==============================================================

boto3 is imported inside the functions that need it, so ``import lake.s3``
stays cheap.
"""

from __future__ import annotations

from lake.s3.keys import KEY_ALIAS_PREFIX, LAKE_KEY_ALIAS
from lake.s3.store import S3Store, parse_s3_uri

__all__ = ["KEY_ALIAS_PREFIX", "LAKE_KEY_ALIAS", "S3Store", "parse_s3_uri"]
