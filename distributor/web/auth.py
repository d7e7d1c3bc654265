"""Who is asking: a session cookie for people (HttpOnly, SameSite=Lax, Secure behind HTTPS),
a Bearer token for scripts. Pages send strangers to the login form; state changes from a
session need the CSRF token; the roles themselves are checked by the services."""

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from distributor import accounts, logins
from distributor.config import Settings
from distributor.logins import Actor
from distributor.storage import Database
from distributor.storage import tables as t
from distributor.storage.tables import utcnow
from distributor.web import csrf
from distributor.web.render import page

SESSION_COOKIE = "distributor_session"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        super().__init__("log in first")
        self.next_url = next_url


def db_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def session_actor(request: Request) -> Actor | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with db_of(request).session() as session:
        return logins.actor_for(session, token, now=utcnow())


def page_actor(request: Request) -> Actor:
    actor = session_actor(request)
    if actor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return actor


async def form_actor(request: Request) -> Actor:
    """A logged-in person posting a form (or a script of the page) with the CSRF token."""
    actor = page_actor(request)
    await csrf.require(request, actor.csrf_token)
    return actor


async def api_actor(request: Request) -> Actor:
    """A script with a Bearer token, or the dashboard's own script with the session cookie
    and, for anything but reading, the CSRF header."""
    authorization = request.headers.get("authorization")
    if authorization:
        if not authorization.startswith("Bearer "):
            raise HTTPException(401, "send your API token as 'Authorization: Bearer <token>'")
        with db_of(request).session() as session:
            user = accounts.user_by_token(session, authorization.removeprefix("Bearer ").strip())
            if user is None:
                raise HTTPException(401, "this API token is not valid")
            return logins.actor_of(user)
    actor = session_actor(request)
    if actor is None:
        raise HTTPException(
            401, "log in, or send your API token as 'Authorization: Bearer <token>'"
        )
    if request.method not in SAFE_METHODS:
        await csrf.require(request, actor.csrf_token)
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]
FormActor = Annotated[Actor, Depends(form_actor)]
ApiActor = Annotated[Actor, Depends(api_actor)]


def user_row(session: Session, actor: Actor) -> t.User:
    user = session.get(t.User, actor.id)
    if user is None:
        raise HTTPException(401, "this user no longer exists")
    return user


def safe_next(value: str | None) -> str:
    """Only a path on this site: never an absolute or protocol-relative URL."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    return value


router = APIRouter(include_in_schema=False)


def _login_form(
    request: Request, *, next_url: str, error: str = "", email: str = "", status_code: int = 200
) -> HTMLResponse:
    token = csrf.new_token()
    response = page(
        request,
        "login.html",
        actor=None,
        status_code=status_code,
        login_csrf=token,
        next_url=safe_next(next_url),
        error=error,
        email=email,
    )
    response.set_cookie(
        csrf.LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return response


def _secure(request: Request) -> bool:
    return settings_of(request).public_url.startswith("https://")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    if session_actor(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_form(request, next_url=next)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    if not csrf.matches(request.cookies.get(csrf.LOGIN_COOKIE), csrf_token):
        return _login_form(
            request,
            next_url=next,
            email=email,
            error="The login form expired. Please try again.",
            status_code=403,
        )
    ip = request.client.host if request.client else "unknown"
    with db_of(request).session() as session:
        try:
            _, token = logins.log_in(session, email, password, ip=ip, now=utcnow())
        except logins.TooManyAttempts as refused:
            error, status = str(refused).capitalize() + ".", 429
        except logins.LoginRefused as refused:
            error, status = str(refused).capitalize() + ".", 401
        else:
            error, status = "", 303
    if error:
        return _login_form(request, next_url=next, email=email, error=error, status_code=status)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=logins.SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(csrf.LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, actor: FormActor) -> Response:
    with db_of(request).session() as session:
        logins.log_out(session, request.cookies.get(SESSION_COOKIE, ""), actor.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
