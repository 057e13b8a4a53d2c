"""Who may see and do what: an anonymous visitor sees the login page and nothing else; sessions
are cookies with HttpOnly, SameSite=Strict and (over https) Secure; every action needs the
session's CSRF token; wrong passwords lock the account; a viewer reads but cannot act; the
operations API takes a session (with X-CSRF-Token) or an operator token, else 401."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from hub.console.operators import add_operator, create_token, set_disabled
from tests.console.conftest import PASSWORD, csrf_of, login, park, push

PAGES = ["/", "/messages", "/messages/some-id", "/dead-letters", "/dead-letters/confirm?action=replay", "/review",
         "/trail?number=1", "/partners", "/partners/P-0042", "/audit", "/operators", "/messages/x/raw"]
API = ["/api/v1/ops/overview", "/api/v1/ops/messages", "/api/v1/ops/dead-letters", "/api/v1/ops/exceptions",
       "/api/v1/ops/audit", "/api/v1/ops/partners", "/api/v1/ops/me", "/api/v1/ops/documents/1/trail"]


def test_an_anonymous_visitor_sees_the_login_page_and_nothing_else(clients) -> None:
    anon = clients["anonymous"]
    for path in PAGES:
        resp = anon.get(path)
        assert resp.status_code == 303 and resp.headers["location"].startswith("/login"), path
    for path in API:
        resp = anon.get(path)
        assert resp.status_code == 401 and set(resp.json()) == {"error"}, path
        assert resp.headers["WWW-Authenticate"] == "Bearer"
    for path in ("/messages/x/rerun", "/dead-letters/act", "/review/resolve", "/operators", "/partners/reload"):
        assert anon.post(path, data={"reason": "x"}).status_code == 303
    assert anon.post("/api/v1/ops/dead-letters/replay", json={"ids": ["x"], "reason": "x"}).status_code == 401
    page = anon.get("/login")
    assert page.status_code == 200 and 'name="password"' in page.text and "Dead letters" not in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Frame-Options"] == "DENY"


def test_the_session_cookie_is_httponly_strict_and_secure_over_https(app) -> None:
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        resp = login(client, "vera")
        assert resp.status_code == 303
        cookie = resp.headers["set-cookie"]
        assert "hub_console=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "Secure" in cookie
    with TestClient(app, follow_redirects=False) as plain:
        assert "Secure" not in login(plain, "vera").headers["set-cookie"]


def test_login_needs_its_form_token_and_goes_only_to_local_pages(app) -> None:
    with TestClient(app, follow_redirects=False) as client:
        refused = client.post("/login", data={"login_csrf": "forged", "name": "vera", "password": PASSWORD})
        assert refused.status_code == 400 and "hub_console=" not in refused.headers.get("set-cookie", "")
        assert login(client, "vera", next_="//evil.example/").headers["location"] == "/"
    with TestClient(app, follow_redirects=False) as client:
        assert login(client, "vera", next_="/review?kind=unknown_item").headers["location"] == "/review?kind=unknown_item"


def test_wrong_passwords_lock_the_account_and_are_audited(console_hub, app) -> None:
    add_operator(console_hub.db, "lock-me", "viewer", password=PASSWORD)
    with TestClient(app, follow_redirects=False) as client:
        for _ in range(5):
            assert login(client, "lock-me", "not the password").status_code == 401
        locked = login(client, "lock-me", PASSWORD)
        assert locked.status_code == 401 and "locked" in locked.text
        unknown = login(client, "nobody-here", PASSWORD)
        assert unknown.status_code == 401 and "wrong name or password" in unknown.text
    audit = TestClient(app)
    login(audit, "vera")
    rows = audit.get("/api/v1/ops/audit", params={"operator": "lock-me", "action": "login"}).json()["entries"]
    assert [r["outcome"] for r in rows] == ["refused"] * 6


def test_every_action_needs_the_csrf_token(clients, console_hub) -> None:
    message_id = push(console_hub, b"Facility,Location,Item,Counted Qty\nH1,A,1,x\n")
    otto = clients["otto"]
    forged = otto.post(f"/messages/{message_id}/rerun", data={"reason": "forged", "csrf": "not-it"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert otto.post(f"/messages/{message_id}/rerun", data={"reason": "no token"}).status_code == 403
    api = otto.post(f"/api/v1/ops/messages/{message_id}/rerun", json={"reason": "no header"})
    assert api.status_code == 403 and "CSRF" in api.json()["error"]
    ok = otto.post(f"/api/v1/ops/messages/{message_id}/rerun", json={"reason": "with the header"},
                   headers={"X-CSRF-Token": csrf_of(otto)})
    assert ok.status_code == 200 and ok.json()["done"] == [message_id]


def test_a_viewer_reads_but_cannot_act(clients, console_hub) -> None:
    message_id = push(console_hub, b"Facility,Location,Item,Counted Qty\nH1,A,1,x\n")
    letter = park(console_hub, message_id)
    vera = clients["vera"]
    page = vera.get(f"/messages/{message_id}")
    assert page.status_code == 200 and 'action="/messages/' not in page.text  # no action forms for a viewer
    token = csrf_of(vera)
    for path in (f"/messages/{message_id}/replay", f"/messages/{message_id}/discard", "/review/resolve",
                 "/partners/reload", "/operators"):
        resp = vera.post(path, data={"csrf": token, "reason": "try", "id": letter, "name": "x", "role": "admin"})
        assert resp.status_code == 403, path
    api = vera.post("/api/v1/ops/dead-letters/replay", json={"ids": [letter], "reason": "try"},
                    headers={"X-CSRF-Token": token})
    assert api.status_code == 403 and "viewer" in api.json()["error"]
    assert vera.get("/api/v1/ops/dead-letters").json()["dead_letters"][0]["state"] == "parked"


def test_operator_tokens_act_with_their_operators_role(app, console_hub) -> None:
    _, viewer_token = create_token(console_hub.db, "vera")
    _, operator_token = create_token(console_hub.db, "otto")
    message_id = push(console_hub, b"Facility,Location,Item,Counted Qty\nH1,A,1,2\n")
    with TestClient(app) as client:
        me = client.get("/api/v1/ops/me", headers={"Authorization": f"Bearer {viewer_token}"})
        assert me.json() == {"name": "vera", "role": "viewer"}
        body = {"reason": "scripted re-run"}
        denied = client.post(f"/api/v1/ops/messages/{message_id}/rerun", json=body,
                             headers={"Authorization": f"Bearer {viewer_token}"})
        assert denied.status_code == 403
        done = client.post(f"/api/v1/ops/messages/{message_id}/rerun", json=body,
                           headers={"Authorization": f"Bearer {operator_token}"})
        assert done.status_code == 200  # a token needs no CSRF token: browsers never send it by themselves
        bad = client.get("/api/v1/ops/me", headers={"Authorization": "Bearer hot_0000000000000000_" + "A" * 43})
        assert bad.status_code == 401


@pytest.mark.parametrize("how", ["logout", "disable"])
def test_a_session_ends_at_logout_or_when_the_operator_is_disabled(app, console_hub, how: str) -> None:
    name = f"leaving-{how}"
    add_operator(console_hub.db, name, "operator", password=PASSWORD)
    with TestClient(app, follow_redirects=False) as client:
        login(client, name)
        assert client.get("/").status_code == 200
        cookie = client.cookies.get("hub_console")
        if how == "logout":
            assert client.post("/logout", data={"csrf": csrf_of(client)}).status_code == 303
        else:
            set_disabled(console_hub.db, name, True)
        client.cookies.set("hub_console", cookie)  # the old cookie, sent again, opens nothing
        assert client.get("/").status_code == 303
        assert client.get("/api/v1/ops/me").status_code == 401


def test_login_attempts_are_throttled_per_address(console_hub) -> None:
    from hub.console.login import Throttle
    from tests.console.conftest import app_for

    app = app_for(console_hub)
    app.state.console.throttle = Throttle(per_minute=3)
    with TestClient(app, follow_redirects=False) as client:
        codes = [login(client, "vera", "wrong password here").status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        assert login(client, "vera").status_code == 429  # even the right password waits its minute
