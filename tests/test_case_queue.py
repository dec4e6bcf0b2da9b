"""The case list (triage.cases.queue): filters, newest-first order, paging and total, checked values."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.pipeline_support import COMPLAINTS, T0, add_reviews, review
from triage import cases
from triage.db import transaction
from triage.errors import BadRequest
from triage.sla import default_policy

POLICY = default_policy("Asia/Shanghai")


@pytest.fixture()
def five(db) -> list[int]:
    """c0..c4 opened a minute apart with priorities P1, P2, P3, P1, P2; c1 and c3 claimed."""
    ids = []
    for i, priority in enumerate(("P1", "P2", "P3", "P1", "P2")):
        opened = T0 + dt.timedelta(minutes=i)
        (pk,) = add_reviews(db, [review(f"r{i}", COMPLAINTS[0], customer_id=f"c{i}")], now=opened)
        with transaction(db):
            ids.append(cases.add_review(db, review_pk=pk, customer_id=f"c{i}", priority=priority, risk=0.7,
                                        causes=("defect",), now=opened, policy=POLICY).case_id)
    for i in (1, 3):
        cases.transition(db, ids[i], "claimed", "li", T0 + dt.timedelta(minutes=10), policy=POLICY)
    return ids


def listed(db, five, **query) -> tuple[list[int], int]:
    page = cases.list_cases(db, cases.CaseQuery(**query))
    return [five.index(row["id"]) for row in page.rows], page.total


def test_everything_newest_first_by_default(db, five):
    assert listed(db, five) == ([4, 3, 2, 1, 0], 5)


@pytest.mark.parametrize(("query", "expected"), [
    ({"statuses": ["claimed"]}, [3, 1]),
    ({"priorities": ["P1"]}, [3, 0]),
    ({"priorities": ["P1", "P3"]}, [3, 2, 0]),
    ({"statuses": ["open"], "priorities": ["P2"]}, [4]),
    ({"statuses": ["resolved"]}, []),
])
def test_filters_combine_with_and_values_of_one_filter_with_or(db, five, query, expected):
    assert listed(db, five, **query) == (expected, len(expected))


def test_cases_opened_at_the_same_instant_are_ordered_by_id_so_pages_never_overlap(db):
    pks = add_reviews(db, [review(f"s{i}", COMPLAINTS[1], customer_id=f"s{i}") for i in range(4)])
    with transaction(db):
        ids = [cases.add_review(db, review_pk=pk, customer_id=f"s{i}", priority="P2", risk=0.5, causes=(),
                                now=T0, policy=POLICY).case_id for i, pk in enumerate(pks)]
    pages = [cases.list_cases(db, cases.CaseQuery(limit=1, offset=k)).rows[0]["id"] for k in range(4)]
    assert pages == ids[::-1]


def test_limit_and_offset_take_a_page_while_total_counts_every_match(db, five):
    assert listed(db, five, limit=2, offset=1) == ([3, 2], 5)
    assert listed(db, five, statuses=["open"], limit=1, offset=2) == ([0], 3)
    assert listed(db, five, offset=99) == ([], 5)


@pytest.mark.parametrize(("query", "field"), [
    ({"statuses": ["lost"]}, "status"),
    ({"priorities": ["P4"]}, "priority"),
    ({"order": "random"}, "order"),
    ({"limit": 0}, "limit"),
    ({"limit": cases.MAX_LIMIT + 1}, "limit"),
    ({"offset": -1}, "offset"),
])
def test_a_query_refuses_values_it_does_not_know_naming_the_field(query, field):
    with pytest.raises(BadRequest, match=field):
        cases.CaseQuery(**query)
