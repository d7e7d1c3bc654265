"""CSRF: a synchronizer token per session, sent back as a form field or, from scripts, as the
``X-CSRF-Token`` header; compared in constant time before any state changes."""

import hmac
import secrets

from fastapi import Request

FIELD = "csrf_token"
HEADER = "x-csrf-token"
LOGIN_COOKIE = "distributor_login_csrf"


class CsrfFailed(PermissionError):
    pass


def matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


async def submitted_token(request: Request) -> str | None:
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(FIELD)
        return value if isinstance(value, str) else None
    return None


async def require(request: Request, expected: str | None) -> None:
    if not matches(expected, await submitted_token(request)):
        raise CsrfFailed(
            "this form has expired or did not come from this site: reload the page and try again"
        )


def new_token() -> str:
    return secrets.token_urlsafe(32)
