"""OAuth 2.0 for service accounts: the token endpoint google-auth calls with a signed JWT, and the scope each
API method demands of a bearer token."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import secrets
import time
import zlib
from dataclasses import dataclass
from typing import Any

from tests.google_emulator.common import Response, google_error

JWT_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
TOKEN_LIFETIME_SECONDS = 3600
SCOPE_ROOT = "https://www.googleapis.com/auth/"
DEFAULT_CLIENT_EMAIL = "pdn-sync@pdn-test.iam.gserviceaccount.com"


def _scopes(*names: str) -> frozenset[str]:
    return frozenset(SCOPE_ROOT + name for name in names)


# Any one of these scopes allows the call, as each method's "Authorization scopes" section lists them.
_SHEETS_READ = _scopes("spreadsheets", "spreadsheets.readonly", "drive", "drive.readonly", "drive.file")
_SHEETS_WRITE = _scopes("spreadsheets", "drive", "drive.file")
REQUIRED_SCOPES: dict[str, frozenset[str]] = {
    "metadata": _SHEETS_READ,
    "values": _SHEETS_READ,
    "batchGet": _SHEETS_READ,
    "batchUpdate": _SHEETS_WRITE,
    "valuesBatchUpdate": _SHEETS_WRITE,
    "drive": _scopes(
        "drive",
        "drive.readonly",
        "drive.file",
        "drive.metadata",
        "drive.metadata.readonly",
        "drive.appdata",
        "drive.photos.readonly",
    ),
    "forms.get": _scopes("forms.body", "forms.body.readonly", "drive", "drive.readonly", "drive.file"),
    "forms.responses": _scopes("forms.responses.readonly", "drive", "drive.file"),
    "docs.get": _scopes("documents", "documents.readonly", "drive", "drive.readonly", "drive.file"),
}
# (service, RPC method) Google names in the ErrorInfo of a refused call.
GOOGLE_METHODS = {
    "metadata": ("sheets.googleapis.com", "google.apps.sheets.v4.SpreadsheetsService.GetSpreadsheet"),
    "values": ("sheets.googleapis.com", "google.apps.sheets.v4.SpreadsheetsService.GetValues"),
    "batchGet": ("sheets.googleapis.com", "google.apps.sheets.v4.SpreadsheetsService.BatchGetValues"),
    "batchUpdate": ("sheets.googleapis.com", "google.apps.sheets.v4.SpreadsheetsService.BatchUpdateSpreadsheet"),
    "valuesBatchUpdate": ("sheets.googleapis.com", "google.apps.sheets.v4.SpreadsheetsService.BatchUpdateValues"),
    "drive": ("drive.googleapis.com", "drive.files.get"),
    "forms.get": ("forms.googleapis.com", "google.apps.forms.v1.FormsService.GetForm"),
    "forms.responses": ("forms.googleapis.com", "google.apps.forms.v1.FormsService.ListFormResponses"),
    "docs.get": ("docs.googleapis.com", "google.apps.docs.v1.DocumentsService.GetDocument"),
}


@dataclass(frozen=True)
class IssuedToken:
    """An access token the emulator's token endpoint handed out."""

    access_token: str
    client_email: str
    scopes: frozenset[str]
    subject: str | None  # domain-wide delegation: the user impersonated
    claims: dict[str, Any]  # the JWT payload as sent (not verified)


class TokenError(Exception):
    """A refused grant: the OAuth error code and description Google's token endpoint answers with."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def oauth_error(status: int, error: str, description: str) -> Response:
    """The token endpoint's error body (RFC 6749), not the JSON API one."""
    return Response(status, {"error": error, "error_description": description})


def decode_jwt_payload(assertion: str) -> dict[str, Any]:
    """Read a JWT's claims WITHOUT checking its signature (the emulator holds no public keys)."""
    parts = assertion.split(".")
    if len(parts) != 3:
        raise TokenError("invalid_grant", "Invalid JWT: the assertion is not a signed JWT.")
    try:
        header = json.loads(base64.urlsafe_b64decode(parts[0] + "=" * (-len(parts[0]) % 4)))
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        raise TokenError("invalid_grant", "Invalid JWT: the assertion cannot be decoded.") from None
    if not isinstance(header, dict) or header.get("alg") != "RS256" or not isinstance(claims, dict):
        raise TokenError("invalid_grant", "Invalid JWT Signature.")
    return claims


def check_claims(claims: dict[str, Any], token_uris: tuple[str, ...], now: float) -> None:
    """Refuse what Google refuses: wrong audience, missing issuer, a token not short-lived or not current."""
    if not claims.get("iss"):
        raise TokenError("invalid_grant", "Invalid JWT: the iss claim is missing.")
    if claims.get("aud") not in token_uris:
        raise TokenError("invalid_grant", f"Invalid JWT: audience {claims.get('aud')!r} is not the token endpoint.")
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, int)
        or not isinstance(exp, int)
        or exp - iat > TOKEN_LIFETIME_SECONDS
        or exp <= iat
        or iat > now + 300
        or exp < now - 300
    ):
        raise TokenError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    if not str(claims.get("scope") or "").split():
        raise TokenError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")


def new_access_token() -> str:
    return "ya29.emulator-" + secrets.token_urlsafe(24)


INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other "
    "valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)


def unauthenticated(reason: str) -> Response:
    """Google's 401 for a bearer token it did not issue (ACCESS_TOKEN_TYPE_UNSUPPORTED) or that expired."""
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}]
    response = google_error(401, INVALID_CREDENTIALS, details)
    response.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    return response


def scope_details(kind: str) -> list[dict[str, Any]]:
    service, method = GOOGLE_METHODS[kind]
    return [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
            "domain": "googleapis.com",
            "metadata": {"service": service, "method": method},
        }
    ]


def scope_headers(kind: str) -> dict[str, str]:
    wanted = " ".join(sorted(REQUIRED_SCOPES[kind]))
    return {
        "WWW-Authenticate": f'Bearer realm="https://accounts.google.com/", error="insufficient_scope", scope="{wanted}"'
    }


def insufficient_scopes(kind: str) -> Response:
    """The 403 of a valid token whose scopes do not cover the method (Sheets, Forms, Docs body)."""
    response = google_error(403, "Request had insufficient authentication scopes.", scope_details(kind))
    response.headers.update(scope_headers(kind))
    return response


@functools.lru_cache(maxsize=1)
def _private_key_pem() -> str:
    """One RSA key per test process: generating one costs ~50 ms, and the emulator never checks signatures."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def service_account_key(token_uri: str, client_email: str = DEFAULT_CLIENT_EMAIL) -> dict[str, str]:
    """A service-account key file's content (a real RSA key) whose ``token_uri`` is ``token_uri``."""
    return {
        "type": "service_account",
        "project_id": client_email.split("@")[-1].split(".")[0],
        "private_key_id": f"{zlib.crc32(client_email.encode()):040x}",
        "private_key": _private_key_pem(),
        "client_email": client_email,
        "client_id": "1",
        "token_uri": token_uri,
    }


def wall_clock() -> float:
    return time.time()
