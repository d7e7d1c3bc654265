"""Users (admins only): add people with a role, reset passwords; organisation settings."""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from distributor import organisation, users
from distributor.web.auth import ApiActor, FormActor, PageActor, db_of, user_row
from distributor.web.pages.common import UserId
from distributor.web.render import done, page

router = APIRouter()

Role = Literal["editor", "approver", "admin"]


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)
    role: Role
    password: str = Field(min_length=10, max_length=1000)


class PasswordIn(BaseModel):
    password: str = Field(min_length=10, max_length=1000)


class SettingsIn(BaseModel):
    two_person_rule: bool


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, actor: PageActor) -> HTMLResponse:
    with db_of(request).read_session() as session:
        people = users.list_users(session, user_row(session, actor))
        two_person = organisation.two_person_rule(session)
    return page(request, "users.html", actor=actor, people=people, two_person=two_person)


@router.post("/users", include_in_schema=False)
def add_form(
    request: Request,
    actor: FormActor,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=1000)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    with db_of(request).session() as session:
        user, _ = users.create_user(
            session, user_row(session, actor), email=email, name=name, role=role, password=password
        )
    return done("/users", f"{user.email} can now log in as {user.role}.")


@router.post("/users/{user_id}/password", include_in_schema=False)
def password_form(
    request: Request,
    user_id: UserId,
    actor: FormActor,
    password: Annotated[str, Form(max_length=1000)],
) -> Response:
    with db_of(request).session() as session:
        user = users.reset_password(session, user_row(session, actor), user_id, password)
    return done("/users", f"New password set for {user.email}; their sessions were ended.")


@router.post("/settings/two-person-rule", include_in_schema=False)
def two_person_form(
    request: Request, actor: FormActor, on: Annotated[Literal["1", "0"], Form()]
) -> Response:
    with db_of(request).session() as session:
        organisation.set_two_person_rule(session, on == "1", user_row(session, actor))
    state = "on: nobody approves their own edit" if on == "1" else "off"
    return done("/users", f"The two-person rule is {state}.")


@router.get("/api/users", tags=["users"])
def api_users(request: Request, actor: ApiActor) -> list[dict[str, Any]]:
    with db_of(request).read_session() as session:
        return [asdict(u) for u in users.list_users(session, user_row(session, actor))]


@router.post("/api/users", tags=["users"])
def api_add_user(request: Request, body: UserIn, actor: ApiActor) -> dict[str, Any]:
    """Add a user; the answer carries their API token, shown this once."""
    with db_of(request).session() as session:
        user, token = users.create_user(
            session,
            user_row(session, actor),
            email=body.email,
            name=body.name,
            role=body.role,
            password=body.password,
        )
        return {"id": user.id, "email": user.email, "role": user.role, "api_token": token}


@router.post("/api/users/{user_id}/password", tags=["users"])
def api_reset_password(
    request: Request, user_id: UserId, body: PasswordIn, actor: ApiActor
) -> dict[str, str]:
    with db_of(request).session() as session:
        user = users.reset_password(session, user_row(session, actor), user_id, body.password)
        return {"detail": f"new password set for {user.email}"}


@router.get("/api/settings", tags=["users"])
def api_settings(request: Request, actor: ApiActor) -> dict[str, bool]:
    with db_of(request).read_session() as session:
        return {"two_person_rule": organisation.two_person_rule(session)}


@router.post("/api/settings", tags=["users"])
def api_set_settings(request: Request, body: SettingsIn, actor: ApiActor) -> dict[str, bool]:
    """Organisation settings (admins): the two-person rule."""
    with db_of(request).session() as session:
        organisation.set_two_person_rule(session, body.two_person_rule, user_row(session, actor))
    return {"two_person_rule": body.two_person_rule}
