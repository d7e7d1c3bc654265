"""Organisation-wide policy switches, kept as rows in ``flags`` beside the kill switch."""

from __future__ import annotations

from sqlalchemy.orm import Session

from distributor.approval import require_role
from distributor.domain import Role
from distributor.storage import tables as t

TWO_PERSON_FLAG = "two_person_rule"


def two_person_rule(session: Session) -> bool:
    """On: an approver may not approve a rendition they were the last to edit."""
    flag = session.get(t.Flag, TWO_PERSON_FLAG)
    return flag is not None and flag.value == "1"


def set_two_person_rule(session: Session, on: bool, user: t.User) -> None:
    require_role(user, Role.ADMIN)
    flag = session.get(t.Flag, TWO_PERSON_FLAG)
    if flag is None:
        session.add(t.Flag(name=TWO_PERSON_FLAG, value="1" if on else "0"))
    else:
        flag.value = "1" if on else "0"
    session.add(t.AuditEvent(user_id=user.id, action="setting", detail={"two_person_rule": on}))
