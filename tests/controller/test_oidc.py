"""Single sign-on against a real OpenID Connect provider process on loopback (tests/oidc_provider.py).

The app runs in Flask's test client; the browser's part is played by hand: the test client's redirect
to the provider is followed with requests over real HTTP, and the provider's redirect comes back to the
callback. The controller itself talks to the provider over HTTP too (discovery, JWKS, token, userinfo).
"""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from controller.app import Services, create_app
from controller.store import orgs, users

PROVIDER_SCRIPT = Path(__file__).resolve().parent.parent / "oidc_provider.py"
CLIENT_ID, CLIENT_SECRET = "classcast", "classcast-test-secret"
ANNA_EMAIL = "Anna.Petrova@School54.ru"
NOT_FOUND = "Учётная запись не найдена: обратитесь к координатору школы."
PEOPLE = [
    # The provider's spelling of Anna's address differs in case from the account's: email is caseless.
    {"sub": "esia-anna", "email": "anna.petrova@school54.ru", "email_verified": True, "name": "Анна П."},
    {"sub": "esia-stranger", "email": "stranger@mail.ru", "email_verified": True, "name": "Незнакомец"},
    {"sub": "esia-liar", "email": ANNA_EMAIL, "email_verified": False, "name": "Не Анна"},
    {"sub": "esia-twin", "email": ANNA_EMAIL, "email_verified": True, "name": "Вторая Анна"},
    {"sub": "esia-quiet", "email": ANNA_EMAIL, "email_verified": True, "claims_in_id_token": False},
]


@dataclass
class Provider:
    url: str
    users_file: Path

    def set_people(self, people: list[dict[str, Any]]) -> None:
        self.users_file.write_text(json.dumps(people, ensure_ascii=False), encoding="utf-8")


@contextmanager
def provider_process(users_file: Path, log: Path) -> Iterator[str]:
    """Run tests/oidc_provider.py; give its base URL (the issuer); stop it at the end."""
    with log.open("wb") as stderr:
        argv = [sys.executable, str(PROVIDER_SCRIPT), "--port", "0", "--users", str(users_file)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline().decode().strip() if ready else ""
        assert line.startswith("http://"), f"the provider did not start; its log:\n{log.read_text()}"
        yield line
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


@pytest.fixture(scope="module")
def provider_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    folder = tmp_path_factory.mktemp("provider")
    site = Provider("", folder / "users.json")
    site.set_people(PEOPLE)
    with provider_process(site.users_file, folder / "provider.log") as url:
        site.url = url
        yield site


@pytest.fixture
def provider(provider_site: Provider) -> Provider:
    provider_site.set_people(PEOPLE)  # what an earlier test changed at the provider is undone
    return provider_site


def sso_app(data_dir: Path, issuer: str) -> Flask:
    settings = {"oidc_issuer": issuer, "oidc_client_id": CLIENT_ID, "oidc_client_secret": CLIENT_SECRET}
    return create_app({"data_dir": str(data_dir), "secure_cookies": False, **settings})


@pytest.fixture
def app(tmp_path: Path, provider: Provider) -> Iterator[Flask]:
    app = sso_app(tmp_path / "controller", provider.url)
    yield app
    app.extensions["classcast"].db.close()


@pytest.fixture
def accounts(svc: Services) -> dict[str, int]:
    """A school with Anna (a teacher who has no password, only single sign-on) and an operator."""

    def build(db: Any) -> dict[str, int]:
        region = orgs.create_region(db, "54", "Новосибирская область")
        school = orgs.create_school(
            db, orgs.create_municipality(db, region, "Новосибирск"), "Школа № 54", "СОШ 54"
        )
        anna = {"login": "anna", "full_name": "Анна Петрова", "email": ANNA_EMAIL, "role": "teacher"}
        operator = {"login": "op", "full_name": "Оператор", "email": "op@region54.ru", "role": "operator"}
        return {
            "anna": users.create_account(db, {**anna, "node_type": "school", "node_id": school}, None)["id"],
            "operator": users.create_account(db, {**operator, "node_type": None, "node_id": None}, "x" * 12)[
                "id"
            ],
        }

    return svc.db.write(build)


def sign_on(client: FlaskClient, login_hint: str, start: str = "/login/sso", **tamper: str) -> TestResponse:
    """Go through single sign-on as the provider's person `login_hint`; return the callback's answer.

    `tamper` replaces parameters of the provider's redirect back, as an attacker in the middle would.
    """
    started = client.get(start)
    assert started.status_code == 302, started.get_data(as_text=True)
    authorize = started.headers["Location"]
    with requests.get(
        authorize, params={"login_hint": login_hint}, allow_redirects=False, timeout=10
    ) as answer:
        assert answer.status_code == 302, answer.text
        back = urlsplit(answer.headers["Location"])
    query = {**{k: v[0] for k, v in parse_qs(back.query).items()}, **tamper}
    return client.get(urlunsplit(back._replace(query=urlencode(query))))


def audit_rows(svc: Services) -> list[dict[str, Any]]:
    rows = svc.db.read.query(
        "SELECT action, outcome, actor_login, object_id, detail FROM audit_event ORDER BY id"
    )
    return [{**row, "detail": json.loads(row["detail"]) if row["detail"] else None} for row in rows]


def user_count(svc: Services, where: str = "1") -> int:
    return svc.db.read.execute(f"SELECT count(*) FROM user WHERE {where}").fetchone()[0]


def subject_of(svc: Services, user_id: int) -> str | None:
    return svc.db.read.execute("SELECT oidc_subject FROM user WHERE id = ?", [user_id]).fetchone()[0]


def signed_in_login(client: FlaskClient) -> str | None:
    answer = client.get("/api/session")
    return answer.json["user"]["login"] if answer.status_code == 200 else None


def test_the_login_page_offers_sso_and_the_start_sends_a_pkce_request_with_state_and_nonce(
    client: FlaskClient, provider: Provider
) -> None:
    assert "Войти через ЕСИА" in client.get("/login").get_data(as_text=True)
    started = client.get("/login/sso")
    assert started.status_code == 302
    url = urlsplit(started.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == provider.url + "/authorize"
    assert params["response_type"] == "code" and params["client_id"] == CLIENT_ID
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) >= 43
    assert params["state"] and params["nonce"] and params["scope"] == "openid profile email"
    assert params["redirect_uri"] == "http://localhost/login/sso/callback"


def test_first_sign_in_links_the_account_by_email_and_signs_in(
    client: FlaskClient, svc: Services, provider: Provider, accounts: dict[str, int]
) -> None:
    answer = sign_on(client, "esia-anna")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"
    assert signed_in_login(client) == "anna"
    assert subject_of(svc, accounts["anna"]) == f"{provider.url}|esia-anna"
    link, sign_in = audit_rows(svc)
    assert (link["action"], link["object_id"], link["detail"]) == (
        "update", accounts["anna"], {"linked": "oidc", "by_claim": "email"}
    )  # fmt: skip
    assert (sign_in["action"], sign_in["outcome"], sign_in["actor_login"]) == ("sign_in", "ok", "anna")
    assert sign_in["detail"] == {"method": "oidc"}


def test_a_second_sign_in_finds_the_account_by_subject_after_the_email_changed(
    app: Flask, svc: Services, provider: Provider, accounts: dict[str, int]
) -> None:
    assert sign_on(app.test_client(), "esia-anna").status_code == 302
    moved = [{**PEOPLE[0], "email": "anna@new-school.ru"}]  # no account has this address
    provider.set_people(moved)
    svc.db.write(users.update_account, accounts["anna"], {"email": "a.petrova@school54.ru"})
    client = app.test_client()
    answer = sign_on(client, "esia-anna", start="/login/sso?next=/api/session")
    assert answer.status_code == 302 and answer.headers["Location"] == "/api/session"
    assert signed_in_login(client) == "anna"
    actions = [(row["action"], row["outcome"]) for row in audit_rows(svc)]
    assert actions == [("update", "ok"), ("sign_in", "ok"), ("sign_in", "ok")]  # linked once, not again


def test_an_unknown_email_is_refused_and_no_account_is_made(
    client: FlaskClient, svc: Services, accounts: dict[str, int]
) -> None:
    before = user_count(svc)
    answer = sign_on(client, "stranger@mail.ru")
    assert answer.status_code == 403
    assert NOT_FOUND in answer.get_data(as_text=True)
    assert user_count(svc) == before and signed_in_login(client) is None
    [failed] = audit_rows(svc)
    assert (failed["action"], failed["outcome"], failed["actor_login"]) == (
        "sign_in_failed", "failed", "stranger@mail.ru"
    )  # fmt: skip
    assert failed["detail"] == {"method": "oidc", "reason": "no_account", "claim": "email"}


def test_an_unknown_subject_never_gets_a_privileged_account(
    app: Flask, svc: Services, provider: Provider, accounts: dict[str, int]
) -> None:
    # Someone the provider knows asks for the operator's role in every way a claim could.
    intruder = {"sub": "esia-root", "email": "root@region54.ru", "email_verified": True, "name": "operator"}
    provider.set_people([intruder])
    before, operators = user_count(svc), user_count(svc, "role = 'operator'")
    for _ in range(2):
        assert sign_on(app.test_client(), "esia-root").status_code == 403
    assert (user_count(svc), user_count(svc, "role = 'operator'")) == (before, operators)
    assert user_count(svc, "oidc_subject IS NOT NULL") == 0
    rows = audit_rows(svc)
    assert [(r["action"], r["detail"]["reason"]) for r in rows] == [("sign_in_failed", "no_account")] * 2


def test_an_unverified_email_does_not_link(
    client: FlaskClient, svc: Services, accounts: dict[str, int]
) -> None:
    answer = sign_on(client, "esia-liar")
    assert answer.status_code == 403
    assert "не подтверждён" in answer.get_data(as_text=True)
    assert subject_of(svc, accounts["anna"]) is None and signed_in_login(client) is None
    [failed] = audit_rows(svc)
    assert failed["action"] == "sign_in_failed" and failed["detail"]["reason"] == "email_unverified"


def test_an_account_linked_to_one_person_is_not_taken_by_another_with_the_same_email(
    app: Flask, svc: Services, provider: Provider, accounts: dict[str, int]
) -> None:
    assert sign_on(app.test_client(), "esia-anna").status_code == 302
    client = app.test_client()
    assert sign_on(client, "esia-twin").status_code == 403
    assert subject_of(svc, accounts["anna"]) == f"{provider.url}|esia-anna"
    assert signed_in_login(client) is None
    assert audit_rows(svc)[-1]["detail"] == {
        "method": "oidc",
        "reason": "linked_to_another",
        "claim": "email",
    }


def test_a_link_claim_only_userinfo_tells_is_fetched_from_userinfo(
    client: FlaskClient, svc: Services, provider: Provider, accounts: dict[str, int]
) -> None:
    assert sign_on(client, "esia-quiet").status_code == 302
    assert signed_in_login(client) == "anna"
    assert subject_of(svc, accounts["anna"]) == f"{provider.url}|esia-quiet"
    assert [row["action"] for row in audit_rows(svc)] == ["update", "sign_in"]


def test_a_tampered_state_is_refused(client: FlaskClient, svc: Services, accounts: dict[str, int]) -> None:
    answer = sign_on(client, "esia-anna", state="forged-by-someone-else")
    assert answer.status_code == 400
    assert "Начните вход заново" in answer.get_data(as_text=True)
    assert signed_in_login(client) is None and subject_of(svc, accounts["anna"]) is None
    [failed] = audit_rows(svc)
    assert failed["action"] == "sign_in_failed" and failed["detail"] == {
        "method": "oidc",
        "reason": "bad_state",
    }


def test_a_callback_replayed_in_another_browser_signs_no_one_in(
    app: Flask, svc: Services, accounts: dict[str, int]
) -> None:
    # Someone who got hold of the callback URL (code and state) but not the browser that started it.
    started = app.test_client().get("/login/sso")
    hint = {"login_hint": "esia-anna"}
    with requests.get(started.headers["Location"], params=hint, allow_redirects=False, timeout=10) as answer:
        callback = answer.headers["Location"]
    other = app.test_client()
    assert other.get(callback).status_code == 400
    assert signed_in_login(other) is None and subject_of(svc, accounts["anna"]) is None
    assert [row["detail"]["reason"] for row in audit_rows(svc)] == ["bad_state"]


def test_a_refusal_at_the_provider_is_a_clear_page(client: FlaskClient, svc: Services) -> None:
    answer = sign_on(client, "nobody-the-provider-knows")  # the provider answers error=access_denied
    assert answer.status_code == 401
    assert "Вход через ЕСИА не выполнен" in answer.get_data(as_text=True)
    [failed] = audit_rows(svc)
    assert failed["detail"] == {"method": "oidc", "reason": "provider_error", "error": "access_denied"}


def test_a_provider_that_is_down_gives_a_clear_page(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = sso_app(tmp_path / "controller", f"http://127.0.0.1:{port}")
    svc: Services = app.extensions["classcast"]
    try:
        answer = app.test_client().get("/login/sso")
        assert answer.status_code == 502
        assert "Служба входа ЕСИА недоступна" in answer.get_data(as_text=True)
        assert "Traceback" not in answer.get_data(as_text=True)
        [failed] = audit_rows(svc)
        assert failed["detail"] == {
            "method": "oidc",
            "reason": "provider_unreachable",
            "error": "ConnectionError",
        }
    finally:
        svc.db.close()


def test_a_provider_that_dies_before_the_code_exchange_gives_a_clear_page(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(json.dumps(PEOPLE), encoding="utf-8")
    with provider_process(users_file, tmp_path / "provider.log") as url:
        app = sso_app(tmp_path / "controller", url)
        client = app.test_client()
        started = client.get("/login/sso")
        with requests.get(
            started.headers["Location"], params={"login_hint": "esia-anna"}, allow_redirects=False, timeout=10
        ) as answer:
            callback = answer.headers["Location"]
    svc: Services = app.extensions["classcast"]
    try:
        answer = client.get(callback)  # the provider is gone: the token endpoint does not answer
        assert answer.status_code == 502
        assert "Служба входа ЕСИА недоступна" in answer.get_data(as_text=True)
        assert signed_in_login(client) is None
        [failed] = audit_rows(svc)
        assert failed["detail"]["reason"] == "provider_unreachable"
    finally:
        svc.db.close()


def test_without_settings_there_is_no_sso(tmp_path: Path) -> None:
    app = create_app({"data_dir": str(tmp_path / "controller"), "secure_cookies": False})
    try:
        client = app.test_client()
        assert "ЕСИА" not in client.get("/login").get_data(as_text=True)
        for path in ("/login/sso", "/login/sso/callback?code=x&state=y"):
            answer = client.get(path)
            assert answer.status_code == 404
            assert "Вход через ЕСИА не настроен" in answer.get_data(as_text=True)
    finally:
        app.extensions["classcast"].db.close()


def test_next_never_leaves_the_site(client: FlaskClient, accounts: dict[str, int]) -> None:
    answer = sign_on(client, "esia-anna", start="/login/sso?next=//evil.example/steal")
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "another-client"},
        {"aud": "another-client", "azp": CLIENT_ID},  # Authlib alone would take this one
        {"aud": ["another-client", "a-third"], "azp": CLIENT_ID},
        {"nonce": "stale-nonce"},
        {"iss": "http://127.0.0.2:1"},
        {"exp": 1_000_000},
    ],
    ids=["audience", "audience-with-azp", "audiences-with-azp", "nonce", "issuer", "expired"],
)
def test_an_id_token_that_fails_a_check_signs_no_one_in(
    client: FlaskClient,
    svc: Services,
    provider: Provider,
    accounts: dict[str, int],
    overrides: dict[str, Any],
) -> None:
    provider.set_people([{**PEOPLE[0], "id_token_overrides": overrides}])
    answer = sign_on(client, "esia-anna")
    assert answer.status_code == 502
    assert "Служба входа ЕСИА ответила с ошибкой" in answer.get_data(as_text=True)
    assert signed_in_login(client) is None and subject_of(svc, accounts["anna"]) is None
    [failed] = audit_rows(svc)
    assert failed["detail"]["reason"] == "invalid_id_token", failed


def test_a_discovery_document_naming_another_issuer_is_refused(tmp_path: Path, provider: Provider) -> None:
    # The same provider reached by another name: what it publishes is not the issuer configured.
    app = sso_app(tmp_path / "controller", provider.url.replace("127.0.0.1", "localhost"))
    svc: Services = app.extensions["classcast"]
    try:
        answer = app.test_client().get("/login/sso")
        assert answer.status_code == 502
        [failed] = audit_rows(svc)
        assert failed["detail"] == {"method": "oidc", "reason": "issuer_mismatch", "error": provider.url}
    finally:
        svc.db.close()
