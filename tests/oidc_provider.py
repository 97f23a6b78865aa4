"""A real OpenID Connect provider for the tests, built from Authlib's server components, on loopback.

    python tests/oidc_provider.py --port 0 --users users.json [--user JSON ...]
        [--client-id ID] [--client-secret SECRET] [--redirect-uri URI ...]

The first line on stdout is the base URL, which is also the issuer. The provider speaks the
authorization code flow with PKCE (S256 required), nonces, RS256 ID tokens signed by a key made at
start (its JWKS published), discovery, a token endpoint and userinfo. Only the login screen is
simplified: /authorize approves the user that `login_hint` names (their sub or email) at once, shows a
one-field form when there is no hint, and answers `access_denied` for a user it does not know.

Users are JSON objects {"sub", "email", "email_verified", "name"}; `"claims_in_id_token": false` keeps
everything but `sub` out of that user's ID token (only userinfo tells it), and `"id_token_overrides"`
replaces claims of that user's ID token, as a broken or hostile provider would (another `aud`, a stale
`nonce`). The users file is read again on every request, so a test changes a user's email by
rewriting it.
"""

from __future__ import annotations

import argparse
import hmac
import html
import ipaddress
import json
import secrets
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, TokenMixin, scope_to_list
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo, UserInfoEndpoint
from authlib.oidc.discovery import OpenIDProviderMetadata
from flask import Flask, Response, jsonify, request
from joserfc.jwk import KeySet, RSAKey
from werkzeug.serving import make_server

SCOPES = ("openid", "profile", "email")
CODE_LIFETIME = 600
DEFAULT_REDIRECTS = ("http://127.0.0.1/login/sso/callback", "http://localhost/login/sso/callback")


@dataclass
class Person:
    sub: str
    email: str | None = None
    email_verified: bool | None = None
    name: str | None = None
    claims_in_id_token: bool = True
    id_token_overrides: dict[str, Any] = field(default_factory=dict)

    def claims(self, scope: str, *, id_token: bool) -> UserInfo:
        """Return the claims this person's `scope` grants (in an ID token: maybe only `sub`)."""
        claims = {
            "sub": self.sub,
            "name": self.name,
            "email": self.email,
            "email_verified": self.email_verified,
        }
        granted = UserInfo({k: v for k, v in claims.items() if v is not None}).filter(scope)
        if not id_token:
            return granted
        shown = granted if self.claims_in_id_token else {"sub": self.sub}
        # Authlib lays these over the registered claims it has put in the ID token (iss, aud, nonce).
        return UserInfo({**shown, **self.id_token_overrides})


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: tuple[str, ...]
    client_metadata: dict[str, Any] = field(default_factory=dict)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return self.redirect_uris[0]

    def get_allowed_scope(self, scope: str | None) -> str:
        return " ".join(s for s in scope_to_list(scope or "") if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(_same_redirect(redirect_uri, registered) for registered in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(client_secret.encode(), self.client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


def _same_redirect(asked: str, registered: str) -> bool:
    """Return whether `asked` is the registered redirect URI; on loopback any port (RFC 8252, 7.3)."""
    a, r = urlsplit(asked), urlsplit(registered)
    if r.scheme == "http" and _loopback(r.hostname) and a.port is not None:
        return (a.scheme, a.hostname, a.path, a.query) == (r.scheme, r.hostname, r.path, r.query)
    return asked == registered


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    sub: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


@dataclass
class Token(TokenMixin):
    access_token: str
    client: Client
    person: Person
    scope: str
    expires_at: float

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - time.time())

    def is_expired(self) -> bool:
        return time.time() >= self.expires_at

    def is_revoked(self) -> bool:
        return False

    def get_user(self) -> Person:
        return self.person

    def get_client(self) -> Client:
        return self.client


class Provider:
    """The provider's state: issuer, signing key, the client, people, codes, tokens, seen nonces."""

    def __init__(self, client: Client, users_file: Path | None, extra_users: list[dict[str, Any]]) -> None:
        self.issuer = ""
        self.key = RSAKey.generate_key(
            2048, parameters={"kid": secrets.token_hex(8), "use": "sig", "alg": "RS256"}
        )
        self.client = client
        self.users_file = users_file
        self.extra_users = extra_users
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.nonces: set[str] = set()

    def people(self) -> list[Person]:
        listed = json.loads(self.users_file.read_text(encoding="utf-8")) if self.users_file else []
        return [Person(**entry) for entry in [*listed, *self.extra_users]]

    def person(self, login: str) -> Person | None:
        """Return the person whose sub or email (any case) is `login`."""
        wanted = login.strip().casefold()
        return next(
            (p for p in self.people() if wanted in (p.sub.casefold(), (p.email or "").casefold())), None
        )

    def metadata(self) -> dict[str, Any]:
        base = self.issuer
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": list(SCOPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "name",
                "email",
                "email_verified",
            ],
        }


class Server(AuthorizationServer):
    def __init__(self, app: Flask, provider: Provider) -> None:
        self.provider = provider
        super().__init__(app, query_client=self._query_client_by_id, save_token=self._save_token_of)

    def _query_client_by_id(self, client_id: str) -> Client | None:
        return self.provider.client if client_id == self.provider.client.client_id else None

    def _save_token_of(self, token: dict[str, Any], request: Any) -> None:
        expires_at = time.time() + token.get("expires_in", 3600)
        self.provider.tokens[token["access_token"]] = Token(
            token["access_token"], request.client, request.user, token.get("scope", ""), expires_at
        )


class CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    @property
    def provider(self) -> Provider:
        return self.server.provider

    def save_authorization_code(self, code: str, request: Any) -> None:
        data = request.payload.data
        nonce = data.get("nonce")
        if nonce:
            self.provider.nonces.add(nonce)
        self.provider.codes[code] = Code(
            code, request.client.client_id, request.payload.redirect_uri, request.scope, request.user.sub,
            nonce, data.get("code_challenge"), data.get("code_challenge_method"), int(time.time()),
            time.time() + CODE_LIFETIME,
        )  # fmt: skip

    def query_authorization_code(self, code: str, client: Client) -> Code | None:
        found = self.provider.codes.get(code)
        if found and found.client_id == client.client_id and time.time() < found.expires_at:
            return found
        return None

    def delete_authorization_code(self, authorization_code: Code) -> None:
        self.provider.codes.pop(authorization_code.code, None)  # a code is good for one exchange only

    def authenticate_user(self, authorization_code: Code) -> Person | None:
        return self.provider.person(authorization_code.sub)


class RequiredS256(CodeChallenge):
    """PKCE for every client, confidential ones too, and only with S256."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE with code_challenge_method=S256 is required")
        super().validate_code_challenge(grant, redirect_uri)


class OpenIDCodeFlow(OpenIDCode):
    def __init__(self, provider: Provider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return nonce in self.provider.nonces  # a nonce is good for one authorization only

    def resolve_client_private_key(self, client: Client) -> RSAKey:
        return self.provider.key

    def get_client_algorithm(self, client: Client) -> str:
        return "RS256"

    def get_encode_header(self, client: Client) -> dict[str, str]:
        return {"alg": "RS256", "kid": self.provider.key.kid}

    def get_client_claims(self, client: Client) -> dict[str, Any]:
        return {"iss": self.provider.issuer, "aud": [client.client_id]}

    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        return user.claims(scope, id_token=True)


class UserInfoAnswer(UserInfoEndpoint):
    def generate_user_info(self, user: Person, scope: str) -> UserInfo:
        return user.claims(scope, id_token=False)


class TokenValidator(BearerTokenValidator):
    def __init__(self, provider: Provider) -> None:
        super().__init__()
        self.provider = provider

    def authenticate_token(self, token_string: str) -> Token | None:
        return self.provider.tokens.get(token_string)


def make_app(provider: Provider) -> Flask:
    app = Flask("oidc_provider")
    server = Server(app, provider)
    server.register_grant(CodeGrant, [OpenIDCodeFlow(provider), RequiredS256(required=True)])
    protector = ResourceProtector()
    protector.register_token_validator(TokenValidator(provider))
    server.register_endpoint(UserInfoAnswer(resource_protector=protector))

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(provider.metadata())

    @app.get("/jwks")
    def jwks() -> Response:
        return jsonify(KeySet([provider.key]).as_dict(private=False))

    @app.get("/authorize")
    def authorize() -> Any:
        hint = request.args.get("login_hint", "").strip()
        person = provider.person(hint) if hint else None
        try:
            grant = server.get_consent_grant(end_user=person)
        except OAuth2Error as error:
            return server.handle_error_response(None, error)
        if not hint:
            return _login_form()
        # An unknown login ends like a person who gave up at the login screen: access_denied.
        return server.create_authorization_response(grant_user=person, grant=grant)

    @app.post("/token")
    def token() -> Response:
        return server.create_token_response()

    @app.route("/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        return server.create_endpoint_response("userinfo")

    return app


def _login_form() -> str:
    """Return the simplified login screen: the authorization request's fields, and a login to fill in."""
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in request.args.items()
        if k != "login_hint"
    )
    return (
        '<!doctype html><html lang="ru"><meta charset="utf-8"><title>Тестовый ЕСИА</title>'
        f'<form method="get" action="/authorize">{hidden}'
        '<label>Логин <input name="login_hint" autocomplete="username" required></label>'
        "<button>Войти</button></form></html>"
    )


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--users", type=Path, help="JSON file: a list of users, read on every request")
    parser.add_argument("--user", action="append", default=[], type=json.loads, help="one more user, JSON")
    parser.add_argument("--client-id", default="classcast")
    parser.add_argument("--client-secret", default="classcast-test-secret")
    parser.add_argument("--redirect-uri", action="append", help="registered; loopback ones match any port")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    client = Client(args.client_id, args.client_secret, tuple(args.redirect_uri or DEFAULT_REDIRECTS))
    provider = Provider(client, args.users, args.user)
    server = make_server(args.host, args.port, make_app(provider), threaded=True)
    provider.issuer = f"http://{args.host}:{server.server_port}"
    OpenIDProviderMetadata(provider.metadata()).validate()  # what we publish is a valid discovery document
    signal.signal(signal.SIGTERM, _exit)
    print(provider.issuer, flush=True)
    try:
        server.serve_forever()
    except SystemExit:
        pass
    finally:
        server.server_close()
    return 0


def _exit(signum: int, frame: Any) -> NoReturn:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
