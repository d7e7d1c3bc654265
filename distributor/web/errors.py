"""One place that turns a refusal into an answer a person understands: JSON ``{"detail": …}``
under /api/, an HTML page elsewhere, with the status code that fits."""

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from distributor import approval
from distributor.accounts import AccountError
from distributor.comments import CommentError
from distributor.editing import EditRejected
from distributor.inbox import FilterError
from distributor.logins import LoginRefused, TooManyAttempts
from distributor.ops import OpsError
from distributor.scheduling import ScheduleError
from distributor.subscribers import SubscriberError
from distributor.testmail import TestEmailError
from distributor.web.auth import LoginRequired, session_actor
from distributor.web.csrf import CsrfFailed
from distributor.web.render import page

INVALID = (
    ScheduleError,
    approval.ApprovalError,
    EditRejected,
    SubscriberError,
    AccountError,
    CommentError,
    OpsError,
    TestEmailError,
    FilterError,
)
TITLES = {
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    422: "That did not work",
    429: "Too many attempts",
}


def _answer(request: Request, status: int, message: str) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=status)
    return page(
        request,
        "error.html",
        actor=session_actor(request),
        status_code=status,
        title=TITLES.get(status, "Something went wrong"),
        message=message,
        back=(urlsplit(request.headers.get("referer", "")).path or "/")
        if status != 401
        else "/login",
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    def _login(request: Request, error: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(error.next_url)}", status_code=303)

    @app.exception_handler(CsrfFailed)
    @app.exception_handler(approval.NotAllowed)
    def _forbidden(request: Request, error: Exception) -> Response:
        return _answer(request, 403, str(error))

    @app.exception_handler(TooManyAttempts)
    def _slow_down(request: Request, error: Exception) -> Response:
        return _answer(request, 429, str(error))

    @app.exception_handler(LoginRefused)
    def _refused(request: Request, error: Exception) -> Response:
        return _answer(request, 401, str(error))

    @app.exception_handler(LookupError)
    def _missing(request: Request, error: LookupError) -> Response:
        return _answer(request, 404, str(error).strip("'\""))

    for kind in INVALID:
        app.add_exception_handler(kind, _invalid)

    @app.exception_handler(RequestValidationError)
    def _malformed(request: Request, error: RequestValidationError) -> Response:
        problems = "; ".join(_problem(e) for e in error.errors())
        message = f"the request is not valid: {problems}"
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": message, "errors": jsonable_encoder(error.errors())}, status_code=422
            )
        return _answer(request, 422, message)

    @app.exception_handler(HTTPException)
    def _http(request: Request, error: HTTPException) -> Response:
        response = _answer(request, error.status_code, str(error.detail))
        if error.headers:
            response.headers.update(error.headers)
        return response


def _problem(error: dict[str, Any]) -> str:
    where = ".".join(str(part) for part in error.get("loc", ())[1:]) or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


def _invalid(request: Request, error: Exception) -> Response:
    return _answer(request, 422, str(error))
