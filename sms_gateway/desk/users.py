"""The desk's people in SQL: add, disable, log in with a lockout, and the audit log every change writes to."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from sms_gateway.desk.roles import check_role
from storage.staff import AuditEntry, StaffUser

MAX_FAILURES = 5  # failed logins in a row before the account locks
LOCK_MINUTES = 15
MIN_PASSWORD = 10
NAME = re.compile(r"[A-Za-z0-9._-]{2,64}")
_DUMMY_HASH = generate_password_hash("not-a-password", method="scrypt")  # unknown names cost the same time


@dataclass(frozen=True)
class Login:
    """The result of a login attempt: the user when it worked, else why not (bad, locked)."""

    user: StaffUser | None
    outcome: str


def audit(db: Session, actor: str, action: str, subject: str, detail: str, now: datetime) -> None:
    """Append one line to the audit log, in the caller's transaction (it commits or rolls back with the act)."""
    db.add(AuditEntry(at=now, actor=actor, action=action, subject=subject[:100], detail=detail))


def hash_password(password: str) -> str:
    """scrypt via werkzeug: salted, memory-hard."""
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"the password must have at least {MIN_PASSWORD} characters")
    return generate_password_hash(password, method="scrypt")


def add_user(db: Session, name: str, role: str, password: str, actor: str, now: datetime) -> StaffUser:
    """A new person with a role; a taken or malformed name is refused with ValueError."""
    if not NAME.fullmatch(name):
        raise ValueError("a name has 2 to 64 letters, digits, dots, dashes or underscores")
    check_role(role)
    if db.scalar(select(StaffUser).where(StaffUser.name == name)) is not None:
        raise ValueError(f"user {name!r} exists")
    user = StaffUser(
        name=name, role=role, password_hash=hash_password(password), active=True, failed_logins=0, created_at=now
    )
    db.add(user)
    audit(db, actor, "user_added", name, role, now)
    db.flush()
    return user


def disable_user(db: Session, name: str, actor: str, now: datetime) -> bool:
    """Disabled people cannot log in and their open sessions stop working at the next page."""
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None:
        return False
    user.active = False
    audit(db, actor, "user_disabled", name, "", now)
    return True


def authenticate(db: Session, name: str, password: str, now: datetime) -> Login:
    """Check the password; MAX_FAILURES wrong ones in a row lock the account for LOCK_MINUTES."""
    user = db.scalar(select(StaffUser).where(StaffUser.name == name))
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        audit(db, name[:64], "login_failed", name, "unknown or disabled", now)
        return Login(None, "bad")
    if user.locked_until is not None and user.locked_until > now:
        audit(db, name, "login_refused", name, "locked", now)
        return Login(None, "locked")
    if not check_password_hash(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + timedelta(minutes=LOCK_MINUTES), 0
        audit(db, name, "login_failed", name, "locked" if user.locked_until and user.locked_until > now else "", now)
        return Login(None, "bad")
    user.failed_logins, user.locked_until = 0, None
    audit(db, name, "login", name, user.role, now)
    return Login(user, "ok")


def active_user(db: Session, user_id: int) -> StaffUser | None:
    """The signed-in person, if still active (a disabled account's cookie stops working at once)."""
    user = db.get(StaffUser, user_id)
    return user if user is not None and user.active else None


def all_users(db: Session) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).order_by(StaffUser.name)))


def bootstrap_admin(factory: sessionmaker[Session], now: datetime) -> str | None:
    """On a desk with nobody, an `admin` with a random password (returned once, to print); else None."""
    password = secrets.token_urlsafe(12)
    try:
        with factory.begin() as db:
            if db.scalar(select(func.count()).select_from(StaffUser)):
                return None
            add_user(db, "admin", "admin", password, "kontor", now)
    except (IntegrityError, ValueError):  # another desk process made it a moment ago
        return None
    return password
