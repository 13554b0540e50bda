"""Deciding access requests from the UI.

Approving a request adds the requester's expiring grants (the access layer's
:meth:`~access.requests.AccessRequests.approve`). A grant alone shows PII
columns masked (redacted, or as the requester's other rules say); when the
approver also ticks "show PII in clear", the requester gets a ``decrypt``
mask on each PII column the request covers — which, as on the API, needs
``admin`` on those columns (the dataset owner has it). That check is made
before anything changes; the masks are set right after the approval.
"""

from __future__ import annotations

import datetime as dt

from access import AccessControl, Action, Mask, MaskKind, Resource, ResourceKind
from access.requests import AccessRequestInfo
from lake.errors import AccessDenied, NotFound


def pii_columns(control: AccessControl, request: AccessRequestInfo) -> list[Resource]:
    """The PII columns a request covers (its columns, or every column of its dataset), as resources."""
    if request.resource.kind is not ResourceKind.DATASET:
        return []
    try:
        contract = control.lake.datasets.get(request.resource.qualified).contract
    except NotFound:
        return []
    wanted = set(request.columns) or set(contract.column_names)
    return [Resource.column_of(request.resource, c.name) for c in contract.columns if c.pii and c.name in wanted]


def approve(control: AccessControl, request_id: int, approver: str, *, note: str = "",
            duration: dt.timedelta | None = None, reveal_pii: bool = False) -> AccessRequestInfo:
    """Approve a request, optionally showing its PII columns in clear to the requester.

    Raises:
        AccessDenied: the approver may not decide it, or (with ``reveal_pii``)
            lacks ``admin`` on a PII column it covers.
        RequestNotPending: it was decided already.
    """
    request = control.requests.get(request_id)
    columns = pii_columns(control, request) if reveal_pii else []
    if columns and not control.requests.can_decide(approver, request):
        raise AccessDenied(approver, "decide", f"access request {request_id}",
                           f"only the owner of {request.resource} or a principal with approve or grant on it may")
    for column in columns:
        control.require(approver, Action.ADMIN, column)
    decided = control.requests.approve(request_id, approver, note=note, duration=duration)
    for column in columns:
        control.set_mask(request.requester, column, Mask(MaskKind.DECRYPT), actor=approver)
    return decided
