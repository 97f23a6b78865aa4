"""Signing in through the state single sign-on (ESIA) with OpenID Connect.

The controller is the relying party. `/login/sso` sends the browser to the provider (authorization
code flow with PKCE S256, a state and a nonce, kept in the signed session cookie until the callback);
`/login/sso/callback` exchanges the code and has Authlib check the ID token: its signature against the
provider's JWKS, its issuer, audience, expiry and nonce. A person is the pair (iss, sub). Once linked,
that pair finds their account; at the first sign-in the configured claim finds ONE existing active
account and links it. Nothing here creates an account: accounts and their roles come from coordinators
and the operator only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from authlib.integrations.base_client.errors import MismatchingStateError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from joserfc.errors import JoseError
from werkzeug.wrappers import Response

from controller import access
from controller.app import services
from controller.store import audit, sessions, users
from controller.web.auth import begin_session, safe_next
from controller.web.security import public

log = logging.getLogger(__name__)
blueprint = Blueprint("oidc", __name__)

CLIENT = "sso"  # the provider's name in Authlib's registry (and in its session keys)
PROVIDER_TIMEOUT = 10.0  # seconds for each call to the provider: discovery, JWKS, token, userinfo
_NEXT = "sso_next"  # where to land after signing in, kept in the session across the provider's pages


class SignOnFailed(Exception):
    """A sign-in that must not go on: `message` is for the person, the rest for the log and the audit."""

    def __init__(
        self, reason: str, status: int, message: str, login: str | None = None, **detail: str
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.message = message
        self.login = login  # what the person claimed to be (the link claim), when known
        self.detail = detail


@blueprint.record_once
def _register_client(state: BlueprintSetupState) -> None:
    """Register the provider with Authlib from the settings, once per app; nothing when SSO is off."""
    settings = state.app.extensions["classcast"].settings
    oauth = OAuth(state.app)
    problems = configuration_problems(settings)
    if problems:
        if settings["oidc_issuer"]:
            log.error("single sign-on is off: %s", "; ".join(problems))
        return
    oauth.register(
        CLIENT,
        client_id=settings["oidc_client_id"],
        client_secret=settings["oidc_client_secret"],
        server_metadata_url=discovery_url(settings["oidc_issuer"]),
        client_kwargs={
            "scope": settings["oidc_scopes"],
            "code_challenge_method": "S256",
            "default_timeout": PROVIDER_TIMEOUT,
        },
    )


def configuration_problems(settings: dict[str, Any]) -> list[str]:
    """Return what keeps single sign-on from working with these settings (empty: it can work)."""
    problems = []
    for name in ("oidc_issuer", "oidc_client_id", "oidc_link_claim"):
        if not settings[name].strip():
            problems.append(f"{name} is empty")
    if "openid" not in settings["oidc_scopes"].split():
        problems.append("oidc_scopes lacks openid")
    if settings["oidc_link_field"] not in users.LINK_FIELDS:
        problems.append(f"oidc_link_field must be one of {', '.join(users.LINK_FIELDS)}")
    return problems


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


@blueprint.get("/login/sso")
@public("starting single sign-on: sends the browser to the provider, reads nothing")
def start() -> Response | tuple[str, int]:
    client = _client()
    if client is None:
        return _not_configured()
    session[_NEXT] = safe_next(request.args.get("next"))
    with _talking_to_provider():
        _check_issuer(client)
        return client.authorize_redirect(url_for("oidc.callback", _external=True))


@blueprint.get("/login/sso/callback")
@public("the provider's answer: the checked ID token says who signs in")
def callback() -> Response | tuple[str, int]:
    client = _client()
    if client is None:
        return _not_configured()
    token = _exchange_code(client)
    claims = dict(token["userinfo"])
    subject = f"{claims['iss']}|{claims['sub']}"
    user = users.find_by_oidc_subject(services().db.read, subject)
    if user is None:
        user = _link_first_time(_link_claims(client, token, claims), subject)
    target = safe_next(session.get(_NEXT))
    begin_session(user, "oidc")
    # Kept on the server with the session, for the main system in main_credentials = user mode; never
    # in the cookie, never to a browser or a panel.
    services().db.write(
        sessions.keep_sso_token, session["sid"], token.get("access_token"), token.get("expires_at")
    )
    return redirect(target)


def _client() -> Any:
    """Return the provider's Authlib client, or None when single sign-on is not configured."""
    return current_app.extensions["authlib.integrations.flask_client"].create_client(CLIENT)


def _not_configured() -> tuple[str, int]:
    log.info("single sign-on asked for from %s, but it is not configured", request.remote_addr)
    message = _("Вход через ЕСИА не настроен. Войдите по логину и паролю или обратитесь к оператору системы.")
    return render_template("error.html", code=404, message=message), 404


@contextmanager
def _talking_to_provider() -> Iterator[None]:
    """Turn whatever goes wrong between us and the provider into a SignOnFailed with a clear message."""
    try:
        yield
    except MismatchingStateError as exc:
        message = _("Вход не завершён: ссылка устарела или открыта в другом браузере. Начните вход заново.")
        raise SignOnFailed("bad_state", 400, message) from exc
    except OAuthError as exc:
        raise SignOnFailed("token_refused", 502, _provider_failed(), error=_short(exc.error)) from exc
    except JoseError as exc:
        error = _short(getattr(exc, "error", type(exc).__name__))
        raise SignOnFailed("invalid_id_token", 502, _provider_failed(), error=error) from exc
    except (requests.exceptions.InvalidJSONError, ValueError, RuntimeError) as exc:
        # It answers, but not with the OpenID Connect its discovery document promised.
        raise SignOnFailed(
            "provider_broken", 502, _provider_failed(), error=_short(type(exc).__name__)
        ) from exc
    except requests.RequestException as exc:  # down, slow, or failing
        error = _short(type(exc).__name__)
        raise SignOnFailed("provider_unreachable", 502, _provider_unreachable(), error=error) from exc


def _check_issuer(client: Any) -> None:
    """Refuse a discovery document that names another issuer than the one configured (OIDC Discovery 4.3)."""
    configured = services().settings["oidc_issuer"].rstrip("/")
    published = str(client.load_server_metadata().get("issuer", "")).rstrip("/")
    if published != configured:
        raise SignOnFailed("issuer_mismatch", 502, _provider_failed(), error=_short(published))


def _exchange_code(client: Any) -> dict[str, Any]:
    """Return the provider's tokens for the callback's code, the checked ID token's claims as "userinfo"."""
    if request.args.get("error"):
        client.framework.clear_state_data(session, request.args.get("state"))
        description = request.args.get("error_description", "")[:200]
        log.info("provider answered error %r: %r", request.args["error"][:64], description)
        message = _("Вход через ЕСИА не выполнен. Попробуйте ещё раз или войдите по логину и паролю.")
        raise SignOnFailed("provider_error", 401, message, error=_short(request.args["error"]))
    with _talking_to_provider():
        _check_issuer(client)
        token = client.authorize_access_token(claims_options=_id_token_checks(client))
    if not token.get("userinfo"):
        raise SignOnFailed("no_id_token", 502, _provider_failed())
    return token


def _id_token_checks(client: Any) -> dict[str, Any]:
    """Return the claims the ID token must carry: its issuer, and us among its audience.

    Authlib checks the issuer by itself, but the audience only when told (it checks `azp` alone), and
    OIDC Core 3.1.3.7 says a token whose `aud` lacks our client id must be rejected.
    """
    issuer = client.load_server_metadata()["issuer"]
    return {
        "iss": {"essential": True, "values": [issuer]},
        "aud": {"essential": True, "values": [client.client_id]},
    }


def _link_claims(client: Any, token: dict[str, Any], claims: dict[str, Any]) -> dict[str, Any]:
    """Return the claims a first sign-in links by: the ID token's, or userinfo's when it lacks the claim."""
    name = services().settings["oidc_link_claim"]
    if name in claims or not client.load_server_metadata().get("userinfo_endpoint"):
        return claims
    with _talking_to_provider():
        info = client.userinfo(token=token)
    if info.get("sub") != claims["sub"]:  # OIDC Core 5.3.2: otherwise the answer is not about this person
        raise SignOnFailed("userinfo_mismatch", 502, _provider_failed())
    return {**info, "iss": claims["iss"], "sub": claims["sub"]}


def _link_first_time(claims: dict[str, Any], subject: str) -> dict[str, Any]:
    """Return the ONE active account the link claim names, now linked to `subject`; never a new one."""
    settings, db = services().settings, services().db
    claim, field = settings["oidc_link_claim"], settings["oidc_link_field"]
    value = claims.get(claim)
    if not isinstance(value, str) or not value.strip():
        raise _no_account("claim_missing", None, claim=claim)
    login = value.strip()[:128]
    if claim == "email" and claims.get("email_verified") in (False, "false"):
        # Anyone can type an address they do not own into their profile; only a verified one links.
        raise _no_account("email_unverified", login, claim=claim)
    found = users.find_by_link_field(db.read, field, value)
    if len(found) != 1:
        raise _no_account("no_account" if not found else "ambiguous", login, claim=claim)
    user = found[0]
    if not db.write(users.link_oidc_subject, user["id"], subject):
        raise _no_account("linked_to_another", login, claim=claim)
    _audit_link(user, claim)
    return users.get_user(db.read, user["id"]) or user


def _audit_link(user: dict[str, Any], claim: str) -> None:
    svc = services()
    place = access.home_of(svc.db.read, user)
    actor = audit.Actor.of(user, request.remote_addr)
    detail = {"linked": "oidc", "by_claim": claim}
    svc.db.write(audit.record, actor, "update", "ok", "user", user["id"], place, detail)
    log.info("user %s linked to single sign-on by claim %s", user["id"], claim)


def _no_account(reason: str, login: str | None, **detail: str) -> SignOnFailed:
    if reason == "email_unverified":
        message = _(
            "Адрес почты в ЕСИА не подтверждён, поэтому учётная запись не найдена: "
            "подтвердите адрес в ЕСИА или обратитесь к координатору школы."
        )
    else:
        message = _("Учётная запись не найдена: обратитесь к координатору школы.")
    return SignOnFailed(reason, 403, message, login, **detail)


def _provider_failed() -> str:
    return _("Служба входа ЕСИА ответила с ошибкой. Попробуйте ещё раз или войдите по логину и паролю.")


def _provider_unreachable() -> str:
    return _("Служба входа ЕСИА недоступна. Попробуйте позже или войдите по логину и паролю.")


def _short(text: Any) -> str:
    """Return `text` fit for a log line and the audit log: printable ASCII, at most 64 characters."""
    return re.sub(r"[^\x20-\x7e]", "?", str(text))[:64]


@blueprint.errorhandler(SignOnFailed)
def _failed(exc: SignOnFailed) -> tuple[str, int]:
    log.warning("single sign-on failed from %s: %s %s", request.remote_addr, exc.reason, exc.detail)
    actor = audit.Actor(None, exc.login, None, request.remote_addr)
    detail = {"method": "oidc", "reason": exc.reason, **exc.detail}
    services().db.write(audit.record, actor, "sign_in_failed", "failed", None, None, None, detail)
    return render_template("login.html", error=exc.message, sso=True), exc.status
