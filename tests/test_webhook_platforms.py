"""A platform is one name however a connector spells it: "tb", "tb " and "TB" are the same platform."""

from __future__ import annotations

import pytest

URL = "/api/v1/webhooks/reviews"


@pytest.fixture()
def post(client, signed):
    def send(payload):
        body, headers = signed(payload)
        return client.post(URL, data=body, headers=headers)

    return send


def test_the_202_names_the_platform_as_stored(post, make_review):
    response = post(make_review(platform=" TB "))
    assert response.get_json()["reviews"] == [{"platform": "tb", "review_id": "r1", "status": "accepted"}]


@pytest.mark.parametrize("respelt", ["tb ", "TB", " Tb\t", "ＴＢ"])
def test_a_redelivery_differing_only_in_platform_spelling_is_a_duplicate(post, make_review, db, respelt):
    post(make_review(platform="tb"))
    response = post(make_review(platform=respelt))
    assert response.status_code == 202
    assert response.get_json()["reviews"] == [{"platform": "tb", "review_id": "r1", "status": "duplicate"}]
    assert db.execute("SELECT platform, count(*) FROM reviews").fetchone()[:] == ("tb", 1)


def test_an_accepted_review_reads_back_under_its_stored_platform(post, make_review, client, auth_headers):
    post(make_review(platform="TB", review_id="订单/42"))
    response = client.get("/api/v1/reviews/tb/订单/42", headers=auth_headers)
    assert response.status_code == 200
    assert (response.get_json()["platform"], response.get_json()["review_id"]) == ("tb", "订单/42")


@pytest.mark.parametrize("spelling", ["TB", "tb%20", "%EF%BC%B4%EF%BC%A2"])
def test_the_read_url_finds_a_review_under_any_spelling_of_its_platform(post, make_review, client, auth_headers, spelling):
    post(make_review(platform="tb"))
    response = client.get(f"/api/v1/reviews/{spelling}/r1", headers=auth_headers)
    assert response.status_code == 200 and response.get_json()["platform"] == "tb"


def test_a_review_stored_before_platforms_were_normalised_still_reads_back(db, client, auth_headers):
    db.execute(
        "INSERT INTO reviews (platform, review_id, text, customer_id, product_id, created_at, received_at) "
        "VALUES ('TB', 'old', '旧评价', 'c', 'p', '2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00')"
    )
    response = client.get("/api/v1/reviews/TB/old", headers=auth_headers)
    assert response.status_code == 200 and response.get_json()["platform"] == "TB"


def test_a_404_for_a_huge_review_id_stays_short(client, auth_headers):
    response = client.get("/api/v1/reviews/tb/" + "x" * 100_000, headers=auth_headers)
    assert response.status_code == 404 and len(response.get_json()["message"]) < 400
