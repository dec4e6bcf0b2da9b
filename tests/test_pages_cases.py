"""The agents' pages through the Flask test client: queue, case page and its action form, handbook
editor, account pages. Who sees which button, who may post what (the server refuses what the page
does not offer), CSRF on every form, the stale-page message, and escaping of hostile review data."""

from __future__ import annotations

import re

import pytest

from tests.pipeline_support import T0, add_reviews, review
from tests.web_support import csrf_token, sign_in
from triage import cases
from triage.agents import add_agent
from triage.db import transaction
from triage.handbook import save_reply
from triage.sla import default_policy

POLICY = default_policy("Asia/Shanghai")
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">点我</a>'


@pytest.fixture()
def people(db):
    for name, role in (("li", "agent"), ("wang", "agent"), ("boss", "supervisor"), ("root", "admin")):
        add_agent(db, name, "pw", role, display_name=name.upper())


def make_case(db, customer="c1", text="用了三天就坏了，质量太差", review_id="r1", **extra) -> int:
    (pk,) = add_reviews(db, [review(review_id, text, customer_id=customer, **extra)])
    with transaction(db):
        cid = cases.add_review(db, review_pk=pk, customer_id=customer, priority="P2", risk=0.7, causes=("defect",),
                               now=T0, policy=POLICY).case_id
        db.execute(
            "UPDATE reviews SET case_id = ?, status = 'scored', sentiment = 'negative', negative_prob = 0.9,"
            " causes = '[\"defect\"]', complaints = ? WHERE id = ?",
            (cid, '[{"start": 0, "end": 5, "cause": "defect", "prob": 0.9}]', pk))
    return cid


@pytest.fixture()
def case_id(db, people) -> int:
    return make_case(db)




def version(db, case_id) -> int:
    return cases.get_case(db, case_id)["version"]


def post_action(client, db, case_id, action, *, stale=False, **fields):
    token = csrf_token(client, f"/cases/{case_id}")
    data = {"csrf_token": token, "action": action, "version": version(db, case_id) - (1 if stale else 0), **fields}
    return client.post(f"/cases/{case_id}/actions", data=data)


# -- queue -----------------------------------------------------------------------------------


def test_the_queue_needs_a_login(client):
    assert client.get("/queue").status_code == 302


def test_the_queue_lists_each_case_with_its_data_attribute(client, db, case_id):
    sign_in(client, "li")
    html = client.get("/queue").get_data(as_text=True)
    assert f'data-case-id="{case_id}"' in html
    assert "质量问题" in html and "用了三天就坏了" in html


def test_a_logged_in_visit_to_the_root_goes_to_the_queue(client, people):
    sign_in(client, "li")
    assert client.get("/").headers["Location"].endswith("/queue")


def test_queue_filters_select_cases(client, db, people):
    mine = make_case(db, customer="c1", review_id="r1")
    other = make_case(db, customer="c2", review_id="r2", text="快递太慢了")
    assert cases.perform(db, mine, cases.Actor("li", "agent"), "claim", {}, version=version(db, mine),
                         policy=POLICY, now=T0)
    sign_in(client, "li")
    html = client.get("/queue?assignee=mine").get_data(as_text=True)
    assert f'data-case-id="{mine}"' in html and f'data-case-id="{other}"' not in html
    html = client.get("/queue?assignee=unassigned").get_data(as_text=True)
    assert f'data-case-id="{other}"' in html and f'data-case-id="{mine}"' not in html


def test_an_unknown_queue_parameter_is_a_400_not_silence(client, people):
    sign_in(client, "li")
    assert client.get("/queue?colour=red").status_code == 400
    assert client.get("/queue?priority=P9").status_code == 400


def test_the_rows_partial_polls_itself_on_the_first_page(client, db, case_id):
    sign_in(client, "li")
    html = client.get("/queue/rows").get_data(as_text=True)
    assert 'hx-get="/queue/rows"' in html and f'data-case-id="{case_id}"' in html


def test_queue_pages_by_cursor_without_repeats(client, db, people):
    ids = {make_case(db, customer=f"c{i}", review_id=f"r{i}") for i in range(55)}
    sign_in(client, "li")
    first = client.get("/queue").get_data(as_text=True)
    seen = set(map(int, re.findall(r'data-case-id="(\d+)"', first)))
    nxt = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = client.get(nxt).get_data(as_text=True)
    more = set(map(int, re.findall(r'data-case-id="(\d+)"', second)))
    assert len(seen) == 50 and not seen & more and seen | more == ids


# -- case page ------------------------------------------------------------------------------


def test_the_case_page_marks_complaint_spans_inside_each_review(client, db, case_id):
    sign_in(client, "li")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-review-id="default/r1"' in html
    assert re.search(r"<mark class=\"complaint cause-defect\"[^>]*>用了三天就</mark>", html)


def test_an_unknown_case_is_404(client, people):
    sign_in(client, "li")
    assert client.get("/cases/999").status_code == 404


def test_an_agent_sees_claim_but_not_assign(client, db, case_id):
    sign_in(client, "li")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-action="claim"' in html and 'data-action="assign"' not in html
    assert 'data-action="resolve"' not in html  # not theirs yet


def test_a_supervisor_sees_assign(client, db, case_id):
    sign_in(client, "boss")
    assert 'data-action="assign"' in client.get(f"/cases/{case_id}").get_data(as_text=True)


def test_claim_contact_resolve_through_the_page(client, db, case_id):
    sign_in(client, "li")
    response = post_action(client, db, case_id, "claim")
    assert response.status_code == 303
    assert cases.get_case(db, case_id)["assignee"] == "li"
    post_action(client, db, case_id, "contact", channel="wecom", outcome="reached", note="加了企业微信")
    post_action(client, db, case_id, "resolve", resolution="replacement", satisfaction="", note="")
    row = cases.get_case(db, case_id)
    assert (row["status"], row["resolution"], row["satisfaction"]) == ("resolved", "replacement", None)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已解决" in page and "企业微信" in page


def test_a_stale_page_gets_a_message_and_nothing_changes(client, db, case_id):
    sign_in(client, "li")
    before = version(db, case_id)
    response = post_action(client, db, case_id, "claim", stale=True)
    assert response.status_code == 303 and version(db, case_id) == before
    assert cases.get_case(db, case_id)["assignee"] is None
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "这个工单刚刚被其他人更新过" in page


def test_claiming_a_case_someone_holds_names_the_holder(client, db, case_id):
    cases.perform(db, case_id, cases.Actor("wang", "agent"), "claim", {}, version=version(db, case_id),
                  policy=POLICY, now=T0)
    sign_in(client, "li")
    response = post_action(client, db, case_id, "claim")
    assert "该工单已被 wang 认领" in client.get(response.headers["Location"]).get_data(as_text=True)
    assert cases.get_case(db, case_id)["assignee"] == "wang"


def test_an_agent_posting_a_supervisor_action_gets_403_and_nothing_changes(client, db, case_id):
    sign_in(client, "li")
    before = version(db, case_id)
    response = post_action(client, db, case_id, "assign", agent="li")
    assert response.status_code == 403 and "无权" in response.get_data(as_text=True)
    assert version(db, case_id) == before


def test_another_agents_case_cannot_be_resolved_from_the_page(client, db, case_id):
    li = cases.Actor("li", "agent")
    cases.perform(db, case_id, li, "claim", {}, version=version(db, case_id), policy=POLICY, now=T0)
    cases.perform(db, case_id, li, "contact", {"channel": "phone", "outcome": "reached"},
                  version=version(db, case_id), policy=POLICY, now=T0)
    sign_in(client, "wang")
    assert 'data-action="resolve"' not in client.get(f"/cases/{case_id}").get_data(as_text=True)
    response = post_action(client, db, case_id, "resolve", resolution="refund")
    assert response.status_code == 403 and cases.get_case(db, case_id)["status"] == "contacted"


def test_an_action_without_the_csrf_token_is_refused(client, db, case_id):
    sign_in(client, "li")
    response = client.post(f"/cases/{case_id}/actions", data={"action": "claim", "version": version(db, case_id)})
    assert response.status_code == 400 and "页面已过期" in response.get_data(as_text=True)
    assert cases.get_case(db, case_id)["assignee"] is None


def test_bad_fields_get_a_chinese_message(client, db, case_id):
    sign_in(client, "li")
    post_action(client, db, case_id, "claim")
    response = post_action(client, db, case_id, "contact", channel="pigeon", outcome="reached")
    assert "联系渠道" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_a_correction_in_one_click(client, db, case_id):
    sign_in(client, "li")
    post_action(client, db, case_id, "correct", review="default/r1", sentiment="negative", set_causes="1",
                causes="logistics")
    row = db.execute("SELECT agent, sentiment, causes FROM corrections").fetchone()
    assert tuple(row) == ("li", "negative", '["logistics"]')


def test_hostile_review_data_is_escaped_everywhere(client, db, people):
    cid = make_case(db, customer="evil", review_id="x1", text=XSS, customer_name=XSS, product_name=XSS,
                    category="<style>body{display:none}</style>")
    sign_in(client, "li")
    for path in ("/queue", f"/cases/{cid}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and 'href="javascript:' not in html
        assert "<style>body" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_handbook_replies_are_filled_for_the_customer(client, db, people):
    cid = make_case(db, customer_name="王女士", product_name="电热水壶", order_id="o-77")
    save_reply(db, cause="defect", title="换新", body="{customer_name}您好，「{product_name}」订单 {order_id}",
               author="boss", now=T0)
    sign_in(client, "li")
    html = client.get(f"/cases/{cid}").get_data(as_text=True)
    assert "王女士您好，「电热水壶」订单 o-77" in html and 'data-copy="reply-1"' in html


# -- handbook editor and accounts ------------------------------------------------------------


def test_agents_read_the_handbook_but_cannot_edit_it(client, db, people):
    save_reply(db, cause="logistics", title="致歉", body="抱歉", author="boss", now=T0)
    sign_in(client, "li")
    assert "致歉" in client.get("/handbook").get_data(as_text=True)
    assert client.get("/handbook/new").status_code == 403
    token = csrf_token(client, "/handbook")
    response = client.post("/handbook/logistics-1/retire", data={"csrf_token": token})
    assert response.status_code == 403


def test_a_supervisor_edits_a_reply_as_a_new_version(client, db, people):
    save_reply(db, cause="logistics", title="致歉", body="抱歉", author="boss", now=T0)
    sign_in(client, "boss")
    token = csrf_token(client, "/handbook/logistics-1")
    client.post("/handbook/logistics-1", data={"csrf_token": token, "cause": "logistics", "title": "致歉",
                                               "body": "非常抱歉，{customer_name}", "version": "1"})
    versions = [tuple(r) for r in db.execute("SELECT version, body FROM handbook_replies ORDER BY version")]
    assert versions == [(1, "抱歉"), (2, "非常抱歉，{customer_name}")]


def test_a_stale_handbook_edit_is_refused(client, db, people):
    save_reply(db, cause="logistics", title="致歉", body="抱歉", author="boss", now=T0)
    sign_in(client, "boss")
    token = csrf_token(client, "/handbook/logistics-1")
    save_reply(db, reply_key="logistics-1", cause="logistics", title="致歉", body="别人改的", author="root", now=T0)
    response = client.post("/handbook/logistics-1", data={"csrf_token": token, "cause": "logistics",
                                                          "title": "致歉", "body": "我改的", "version": "1"})
    assert response.status_code == 303
    assert db.execute("SELECT COUNT(*) FROM handbook_replies").fetchone()[0] == 2


def test_a_reply_with_an_unknown_placeholder_is_refused(client, db, people):
    sign_in(client, "boss")
    token = csrf_token(client, "/handbook/new")
    response = client.post("/handbook/new", data={"csrf_token": token, "cause": "logistics", "title": "t",
                                                  "body": "{password}"})
    assert "未知占位符" in response.get_data(as_text=True)


@pytest.mark.parametrize(("who", "status"), [("li", 403), ("boss", 200), ("root", 200)])
def test_who_may_see_the_accounts_page(client, people, who, status):
    sign_in(client, who)
    assert client.get("/accounts").status_code == status


def test_supervisors_see_accounts_read_only(client, people):
    sign_in(client, "boss")
    html = client.get("/accounts").get_data(as_text=True)
    assert "accounts/li/password" not in html and "添加账号" not in html
    token = csrf_token(client, "/handbook")
    assert client.post("/accounts/li/disable", data={"csrf_token": token}).status_code == 403


def test_an_admin_disables_sets_a_shift_and_resets_a_password(client, db, people):
    from triage.agents import authenticate, get_agent

    sign_in(client, "root")
    token = csrf_token(client, "/accounts")
    client.post("/accounts/li/shift", data={"csrf_token": token, "shift": "夜班"})
    client.post("/accounts/wang/password", data={"csrf_token": token, "password": "new-pw"})
    client.post("/accounts/li/disable", data={"csrf_token": token})
    assert get_agent(db, "li").shift == "夜班" and not get_agent(db, "li").active
    assert authenticate(db, "wang", "new-pw") is not None


def test_an_admin_revokes_a_token(client, db, people):
    from triage.tokens import create_token, list_tokens

    create_token(db, "connector")
    sign_in(client, "root")
    token_id = list_tokens(db)[0].id
    assert "connector" in client.get("/accounts/tokens").get_data(as_text=True)
    client.post(f"/accounts/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(client, "/accounts/tokens")})
    assert list_tokens(db)[0].revoked_at is not None


def test_an_admin_sees_a_locked_account_and_lifts_the_lockout(client, db, people):
    from triage.login_throttle import lockout_of, record_login_failure

    for _ in range(6):
        record_login_failure(db, "li", "10.0.0.9")
    assert lockout_of(db, "li") is not None
    sign_in(client, "root")
    html = client.get("/accounts").get_data(as_text=True)
    assert "登录已锁定" in html and "accounts/li/unlock" in html
    token = csrf_token(client, "/accounts")
    assert client.post("/accounts/li/unlock", data={"csrf_token": token}).status_code == 303
    assert lockout_of(db, "li") is None


def test_a_supervisor_cannot_lift_a_lockout(client, db, people):
    from triage.login_throttle import lockout_of, record_login_failure

    for _ in range(6):
        record_login_failure(db, "li", "10.0.0.9")
    sign_in(client, "boss")
    token = csrf_token(client, "/accounts")
    assert client.post("/accounts/li/unlock", data={"csrf_token": token}).status_code == 403
    assert lockout_of(db, "li") is not None
