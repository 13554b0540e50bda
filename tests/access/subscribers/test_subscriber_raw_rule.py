"""The fail-closed rule: a table is handed out as raw files only when the access
layer's decision shows every column, unmasked (PII: decrypt), on every row."""

from __future__ import annotations

import pytest

from access import AccessControl, Action, Mask, MaskKind, Resource
from access.subscribers import find_table, raw_decision
from lake.service import Lake
from views.definition import Materialization, ViewDefinition
from views.registry import apply

from factories import contract_doc

CONV = Resource.table("ads.conversions")


@pytest.fixture
def ac(lake: Lake) -> AccessControl:
    lake.register(contract_doc("ads.conversions"), actor="admin")
    apply(lake, [ViewDefinition("ads.countries", "SELECT DISTINCT c.country FROM ads.conversions AS c",
                                materialization=Materialization.VIRTUAL)], actor="admin", spark_check=False)
    lake.users.create("ann")
    access = AccessControl(lake)
    access.create_role("r")
    access.add_member("r", "ann")
    return access


def reasons(ac: AccessControl, name: str = "ads.conversions", subject: str = "ann") -> tuple[str, ...]:
    return raw_decision(ac, subject, find_table(ac.lake, name)).reasons


def test_no_grant_is_no_read(ac: AccessControl) -> None:
    decision = raw_decision(ac, "ann", find_table(ac.lake, "ads.conversions"))
    assert not decision.allowed and not decision.raw
    assert decision.reasons == ("no grant allows reading dataset:ads.conversions or any of its columns",)


def test_pii_is_raw_only_with_decrypt(ac: AccessControl) -> None:
    ac.grant("r", Action.READ, CONV)
    assert reasons(ac) == ("PII column email is masked (redact)",)
    ac.set_mask("r", Resource.column_of(CONV, "email"), Mask(MaskKind.HASH))
    assert reasons(ac) == ("PII column email is masked (hash)",)
    ac.set_mask("r", Resource.column_of(CONV, "email"), Mask(MaskKind.DECRYPT))
    assert reasons(ac) == ()
    assert raw_decision(ac, "ann", find_table(ac.lake, "ads.conversions")).raw


def test_masks_filters_and_hidden_columns_each_refuse(ac: AccessControl) -> None:
    ac.grant("r", Action.READ, CONV)
    ac.set_mask("r", CONV, Mask(MaskKind.DECRYPT))
    ac.set_mask("r", Resource.column_of(CONV, "revenue"), Mask(MaskKind.NULL))
    assert reasons(ac) == ("column revenue is masked (null)",)
    ac.remove_mask("r", Resource.column_of(CONV, "revenue"))
    ac.set_row_filter("r", Resource.domain_("ads"), "country = 'DE'")
    assert reasons(ac) == ("a row filter applies (`country` = 'DE')",)
    ac.remove_row_filter("r", Resource.domain_("ads"))
    ac.deny("ann", Action.READ, Resource.column_of(CONV, "converted_at"))
    assert reasons(ac) == ("column(s) converted_at are not readable",)


def test_column_grants_cover_part_of_a_table(ac: AccessControl) -> None:
    for col in ("conversion_id", "country"):
        ac.grant("r", Action.READ, Resource.column_of(CONV, col))
    assert reasons(ac) == ("column(s) revenue, email, converted_at are not readable",)


def test_a_virtual_view_has_no_files(ac: AccessControl) -> None:
    ac.grant("r", Action.READ, Resource.view("ads.countries"))
    assert reasons(ac, "ads.countries") == (
        "ads.countries has no files (a virtual view, or one not materialized yet)",)
    view = find_table(ac.lake, "view:ads.countries")
    assert raw_decision(ac, "ann", view, need_files=False).raw
