"""Integer path parameters are SQLite row ids: anything beyond that is no such URL (404), never a 500."""

from __future__ import annotations

import pytest
from werkzeug.routing import IntegerConverter

from web.converters import SQLITE_MAX_INTEGER, RowIdConverter


@pytest.fixture()
def get(app, auth_headers):
    app.testing = False  # an OverflowError must show as the 500 it would be in production
    client = app.test_client()
    return lambda path: client.get(path, headers=auth_headers)


@pytest.mark.parametrize(
    "case_id",
    [
        "99999999999999999999999",
        str(SQLITE_MAX_INTEGER + 1),
        str(SQLITE_MAX_INTEGER),
        "9" * 400,
        "0",
        "-1",
        "+1",
        "1.5",
        "0x1",
        "1e3",
        "%D9%A1",  # Arabic-Indic digit one: \d matches it, int() reads it as 1
        "%C2%B2",  # superscript two
        "%EF%BC%91",  # fullwidth one
    ],
)
def test_a_case_id_that_is_no_row_id_is_404_not_500(get, case_id):
    response = get(f"/api/v1/cases/{case_id}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_every_integer_path_parameter_of_the_app_is_bounded_to_sqlite(app):
    rules = [rule for rule in app.url_map.iter_rules() if any(
        isinstance(conv, IntegerConverter) for conv in rule._converters.values())]
    assert rules, "the app has integer path parameters (at least /api/v1/cases/<id>)"
    for rule in rules:
        for name, conv in rule._converters.items():
            if isinstance(conv, IntegerConverter):
                assert isinstance(conv, RowIdConverter), f"{rule.rule}: <{name}> is not bounded"
                assert conv.max <= SQLITE_MAX_INTEGER and conv.min >= -SQLITE_MAX_INTEGER - 1


def test_a_converter_keeps_a_narrower_range_it_is_given():
    from werkzeug.routing import Map

    conv = RowIdConverter(Map(), min=1, max=10**30)
    assert (conv.min, conv.max) == (1, SQLITE_MAX_INTEGER)


@pytest.mark.parametrize("case_id", [2**63, -(2**63) - 1, 10**30])
def test_the_case_store_treats_an_id_beyond_sqlite_integers_as_no_case(db, case_id):
    from triage import cases

    assert cases.get_case(db, case_id) is None


def test_a_query_number_with_too_many_digits_is_told_the_bound_not_that_it_is_no_number(get):
    response = get("/api/v1/cases?offset=9223372036854775807")
    assert response.status_code == 400
    assert "at most 999999999999999999" in response.get_json()["message"]
