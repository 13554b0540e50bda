"""The governed query gateway: one SQL SELECT in, masked and filtered rows out.

The pipeline, one module per step::

    parse.py      one read query, or refused (DDL/DML, SET, hints, parameters, denied functions)
    bind.py       every table reference bound to a CTE in scope or to a catalog name;
                  table functions and file paths refused
    resolve.py    catalog names to datasets (and views), one answer for unknown and denied
    check.py      every column reference checked: a denied column is refused, not nulled
    scopes.py     check.py's fast path: the columns proven to pass on the parsed tree itself
    masks_sql.py  masks and PII decryption as Spark SQL, keys as parameter markers
    rewrite.py    each table replaced by a governed subquery (permitted columns, masks, row filter);
                  the result parsed again and verified
    plan.py       the steps above for one subject: a GovernedQuery
    run.py        Spark execution with a row cap and a time limit (job group cancelled on timeout)
    results.py    Arrow, JSON and Arrow IPC answers
    service.py    Gateway: plan, run and audit
    admission.py  how many queries run at once, per server and per user; a short queue, then 429
    readable.py   the tables and columns a caller may name (the SQL workspace's completions)
"""

from access.gateway.admission import Admission, AdmissionLimits
from access.gateway.errors import QueryCancelled, QueryFailed, QueryRefused, QueryTimeout, UnknownColumn
from access.gateway.limits import GatewayLimits
from access.gateway.plan import GovernedQuery, TableUse, plan_query
from access.gateway.readable import ReadableColumn, ReadableTable, readable_tables
from access.gateway.resolve import (
    CatalogLookup,
    CatalogTable,
    DatasetResolver,
    TableResolver,
    ViewResolver,
)
from access.gateway.results import FileFormat, QueryResult
from access.gateway.service import Gateway

__all__ = [
    "Admission",
    "AdmissionLimits",
    "CatalogLookup",
    "CatalogTable",
    "DatasetResolver",
    "FileFormat",
    "Gateway",
    "GatewayLimits",
    "GovernedQuery",
    "QueryCancelled",
    "QueryFailed",
    "QueryRefused",
    "QueryResult",
    "QueryTimeout",
    "ReadableColumn",
    "ReadableTable",
    "TableResolver",
    "TableUse",
    "UnknownColumn",
    "ViewResolver",
    "plan_query",
    "readable_tables",
]
