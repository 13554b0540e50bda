"""Deciding access requests from the UI.

Approving a request adds the requester's expiring grants (the access layer's
:meth:`~access.requests.AccessRequests.approve`). A grant alone shows PII
columns masked (redacted, or as the requester's other rules say); when the
approver also ticks "show PII in clear", the same call (``reveal_pii=True``)
gives the requester ``decrypt`` mask rules on each PII column the request
covers, expiring with the grants and in one transaction with them. That needs
``admin`` on those columns (the dataset owner has it), as on the API.
"""

from __future__ import annotations

from access import AccessControl, Resource
from access.requests import AccessRequestInfo


def pii_columns(control: AccessControl, request: AccessRequestInfo) -> tuple[Resource, ...]:
    """The PII columns a request covers (its columns, or every column of its dataset), as resources."""
    return control.requests.pii_columns(request)
