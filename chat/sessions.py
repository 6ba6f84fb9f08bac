"""Session state: the enums and the one place where transitions are decided."""

from __future__ import annotations

import enum


class Audience(enum.StrEnum):
    PARENT = "parent"
    YOUTH = "youth"


class Language(enum.StrEnum):
    NL = "nl"
    EN = "en"


class SessionStatus(enum.StrEnum):
    QUEUED = "queued"
    ACTIVE = "active"
    ENDED = "ended"


class EndReason(enum.StrEnum):
    VISITOR = "visitor"
    COUNSELOR = "counselor"
    QUICK_EXIT = "quick_exit"
    TIMEOUT = "timeout"
    EXPIRED = "expired"


class Sender(enum.StrEnum):
    VISITOR = "visitor"
    COUNSELOR = "counselor"
    SYSTEM = "system"


class IllegalTransition(ValueError):
    """A session was asked to move to a state it cannot reach from where it is."""


_ALLOWED: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.QUEUED: frozenset({SessionStatus.ACTIVE, SessionStatus.ENDED}),
    # ACTIVE -> QUEUED is a transfer back to the queue.
    SessionStatus.ACTIVE: frozenset({SessionStatus.ENDED, SessionStatus.QUEUED}),
    SessionStatus.ENDED: frozenset(),
}


def transition(current: SessionStatus, target: SessionStatus) -> SessionStatus:
    """Return ``target`` if a session in ``current`` may move there, else raise."""
    if target not in _ALLOWED[current]:
        raise IllegalTransition(f"a {current.value} session cannot become {target.value}")
    return target


def can_write(status: SessionStatus, sender: Sender) -> bool:
    """Who may add a message in which state: the visitor may write while queued."""
    if status is SessionStatus.ENDED:
        return False
    if sender is Sender.COUNSELOR:
        return status is SessionStatus.ACTIVE
    return True
