"""Who may do what on the desk (pure): reviewers decide, auditors only read, admins manage people."""

from __future__ import annotations

ROLES = ("reviewer", "auditor", "admin")

PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset({"reviewer", "auditor", "admin"}),  # queue, a request, search, statistics
    "decide": frozenset({"reviewer"}),  # approve, ask to read again, reject
    "reveal": frozenset({"reviewer"}),  # show a national ID or mobile in full
    "audit": frozenset({"auditor", "admin"}),  # read the audit log
    "manage_users": frozenset({"admin"}),  # add and disable people
}


def allowed(role: str, permission: str) -> bool:
    """An unknown permission or role is refused, so a typo never opens a page."""
    return role in PERMISSIONS.get(permission, frozenset())


def check_role(role: str) -> str:
    """The role as given, or ValueError naming the ones that exist."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    return role
