"""The door to the main system in-process: its settings, its templates, and whose credential it sends.

The attacks run against a real controller and the stand-in in tests/e2e/test_proxy_attacks.py; here
httpx's MockTransport stands in for the network, to see exactly what would be sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from classcast.settings import SettingsError
from controller.config import load_config
from controller.db import DB_FILE, Database
from controller.upstream import MainSystem, UpstreamError, teacher_id

ITEM = "/api/v1/items/{item}"
OPERATOR = {"id": 1, "login": "op", "role": "operator", "node_type": None, "node_id": None}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / DB_FILE)
    yield database
    database.close()


def main_system(db: Database, sent: list[httpx.Request], **settings: Any) -> MainSystem:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": "lib-0001"})

    values = load_config(None, {"library_url": "http://library.test/lib", "main_token": "svc", **settings})
    user_tokens = {1: "the-users-own-token"}
    return MainSystem(values, db, httpx.MockTransport(answer), lambda user: user_tokens.get(user["id"]))


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"main_allowed_paths": "library:/api/../items"}, "main_allowed_paths"),
        ({"main_allowed_paths": "library:/api//items"}, "main_allowed_paths"),
        ({"main_allowed_paths": "library:api/v1/items"}, "main_allowed_paths"),
        ({"main_allowed_paths": "shop:/api/v1/items"}, "main_allowed_paths"),
        ({"main_allowed_paths": "library:/api/v1/items/{item}?x=1"}, "main_allowed_paths"),
        ({"library_url": "ftp://library.test/"}, "library_url"),
        ({"library_url": "http://user:pw@library.test/"}, "library_url"),
        ({"journal_url": "http://journal.test/?as=admin"}, "journal_url"),
        ({"main_credentials": "both"}, "main_credentials"),
        ({"main_token": ""}, "main_token"),
    ],
)
def test_a_bad_setting_stops_the_start_naming_it(db: Database, settings: dict[str, Any], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        main_system(db, [], **settings)


def test_a_path_matches_a_template_exactly_or_not_at_all(db: Database) -> None:
    main = main_system(db, [])
    assert main.match("library", "api/v1/items/lib-0001/media") == (
        "/api/v1/items/{item}/media",
        {"item": "lib-0001"},
    )
    assert main.match("library", "/api/v1/items") == ("/api/v1/items", {})
    for path in ("api/v1/items/lib-0001/media/x", "api/v1/teachers/t/timetable", "api/v1/items;/x"):
        with pytest.raises(UpstreamError) as refused:
            main.match("library", path)
        assert (refused.value.code, refused.value.status) == ("not_allowed", 404)
    # A dot inside a value is a login's (ivanova.m); a leading one or two together never pass.
    assert main.match("library", "api/v1/items/ivanova.m") == ("/api/v1/items/{item}", {"item": "ivanova.m"})
    for path in (
        "api/v1/items/",
        "api/v1/items/..",
        "api/v1/items/.b",
        "api/v1/items/a..b",
        "api/v1/items/" + "x" * 65,
    ):
        with pytest.raises(UpstreamError) as refused:
            main.match("library", path)
        assert (refused.value.code, refused.value.status) == ("bad_value", 400)


def test_service_credentials_send_the_service_token_and_nothing_of_the_client(db: Database) -> None:
    sent: list[httpx.Request] = []
    main = main_system(db, sent)
    client = [("Authorization", "Bearer client"), ("Cookie", "a=b"), ("Accept-Language", "ru"), ("TE", "x")]
    assert main.get_json("library", ITEM, {"item": "lib-0001"}, {"q": "дроби"}, OPERATOR, client) == {
        "id": "lib-0001"
    }
    (request,) = sent
    assert (
        str(request.url) == "http://library.test/lib/api/v1/items/lib-0001?q=%D0%B4%D1%80%D0%BE%D0%B1%D0%B8"
    )
    assert request.headers.get_list("authorization") == ["Bearer svc"]
    assert "cookie" not in request.headers and "te" not in request.headers
    assert request.headers["accept-language"] == "ru"


def test_user_credentials_send_the_users_own_token_or_nothing_at_all(db: Database) -> None:
    sent: list[httpx.Request] = []
    main = main_system(db, sent, main_credentials="user")
    main.get_json("library", ITEM, {"item": "lib-0001"}, None, OPERATOR)
    assert [request.headers["authorization"] for request in sent] == ["Bearer the-users-own-token"]
    for user in (None, {**OPERATOR, "id": 2}):  # a background job, a user signed in with a password
        with pytest.raises(UpstreamError) as refused:
            main.get_json("library", ITEM, {"item": "lib-0001"}, None, user)
        assert (refused.value.code, refused.value.status) == ("sso_required", 401)
    assert len(sent) == 1


def test_the_teachers_id_is_their_sso_subject_else_their_login() -> None:
    assert teacher_id({"login": "anna", "oidc_subject": "https://esia.example/|1000299353"}) == "1000299353"
    assert teacher_id({"login": "anna", "oidc_subject": None}) == "anna"


def test_refusals_are_audited_but_an_unconfigured_upstream_is_no_access(db: Database) -> None:
    main = main_system(db, [])
    for upstream, template, params in (
        ("journal", "/api/v1/teachers/{teacher}/timetable", {"teacher": "anna"}),
        ("library", ITEM, {"item": "../x"}),
    ):
        with pytest.raises(UpstreamError):
            main.get_json(upstream, template, params, None, OPERATOR)
    rows = list(db.read.query("SELECT action, outcome, object_kind FROM audit_event"))
    assert rows == [{"action": "proxy", "outcome": "denied", "object_kind": "library"}]
