"""The wire protocol as data: every frame a client may send, validated by pydantic.

A frame that does not parse becomes ``error``/``bad_request``; it never
raises past :func:`parse_visitor` or :func:`parse_counselor`.
"""

from __future__ import annotations

import enum
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from chat.sessions import Audience, Language
from chat.wrapup import Referral, RiskLevel, WrapupCategory


class ErrorCode(enum.StrEnum):
    BAD_REQUEST = "bad_request"
    TOO_LARGE = "too_large"
    RATE_LIMITED = "rate_limited"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    UNKNOWN_SESSION = "unknown_session"
    QUEUE_EMPTY = "queue_empty"
    SERVICE_CLOSED = "service_closed"
    NOT_IN_SESSION = "not_in_session"
    INTERNAL = "internal"
    # The store is full or unreachable: the socket closes with 1013, try again later.
    UNAVAILABLE = "unavailable"


class Frame(BaseModel):
    # Unknown extra fields are ignored so that newer clients work with older servers.
    model_config = ConfigDict(extra="ignore", frozen=True)


ClientId = Annotated[StrictStr, Field(min_length=1, max_length=128)]
SessionId = Annotated[StrictStr, Field(min_length=1, max_length=64)]
Topic = Annotated[StrictStr, Field(max_length=200)]


# -- visitor -> server ---------------------------------------------------------------
class Hello(Frame):
    type: Literal["hello"]
    audience: Audience
    language: Language = Language.NL
    topic: Topic | None = None
    first_message: StrictStr | None = None


class Resume(Frame):
    type: Literal["resume"]
    token: Annotated[StrictStr, Field(min_length=1, max_length=256)]
    last_seq: Annotated[StrictInt, Field(ge=0)] = 0


class VisitorMessage(Frame):
    type: Literal["message"]
    client_id: ClientId
    text: StrictStr


class VisitorTyping(Frame):
    type: Literal["typing"]
    active: StrictBool


class VisitorEnd(Frame):
    type: Literal["end"]


class QuickExit(Frame):
    type: Literal["quick_exit"]


class Ping(Frame):
    """Keep-alive from either client; answered with ``pong``."""

    type: Literal["ping"]


VisitorFrame = Annotated[
    Hello | Resume | VisitorMessage | VisitorTyping | VisitorEnd | QuickExit | Ping,
    Field(discriminator="type"),
]


# -- counselor -> server -------------------------------------------------------------
class Auth(Frame):
    type: Literal["auth"]
    token: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class Accept(Frame):
    type: Literal["accept"]
    audience: Audience | None = None
    language: Language | None = None


class CounselorMessage(Frame):
    type: Literal["message"]
    session_id: SessionId
    client_id: ClientId
    text: StrictStr


class Whisper(Frame):
    """A private note to supervisors inside a chat (or a supervisor's answer); never reaches the visitor."""

    type: Literal["whisper"]
    session_id: SessionId
    client_id: ClientId
    text: StrictStr


class CounselorResource(Frame):
    type: Literal["resource"]
    session_id: SessionId
    client_id: ClientId
    snippet_id: Annotated[StrictStr, Field(min_length=1, max_length=128)]


class CounselorTyping(Frame):
    type: Literal["typing"]
    session_id: SessionId
    active: StrictBool


class Receipt(Frame):
    """The console's receipts: the visitor's events up to ``delivered`` reached its screen, up to ``read`` were
    seen in a focused tab. High-water marks: a lower value than before changes nothing."""

    type: Literal["receipt"]
    session_id: SessionId
    delivered: Annotated[StrictInt, Field(ge=0)] = 0
    read: Annotated[StrictInt, Field(ge=0)] = 0


class CounselorEnd(Frame):
    type: Literal["end"]
    session_id: SessionId
    # Ended as abusive: the visitor's client hash is refused new chats for a while.
    abusive: StrictBool = False


class Wrapup(Frame):
    """The wrap-up of a chat, after (or with) its end: fixed choices, no free text."""

    type: Literal["wrapup"]
    session_id: SessionId
    category: WrapupCategory
    risk: RiskLevel
    referral: Referral


class Status(Frame):
    """Availability and how many chats at once."""

    type: Literal["status"]
    available: StrictBool
    capacity: Annotated[StrictInt, Field(ge=1, le=10)]
    # Skills: the audiences and languages this counselor takes; both or neither (unchanged).
    audiences: Annotated[list[Audience], Field(min_length=1, max_length=2)] | None = None
    languages: Annotated[list[Language], Field(min_length=1, max_length=2)] | None = None


class Transfer(Frame):
    """Hand a chat to a colleague (by username) or back to the head of its queue (``to`` null)."""

    type: Literal["transfer"]
    session_id: SessionId
    to: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    note: Annotated[StrictStr, Field(max_length=500)] = ""


class Monitor(Frame):
    type: Literal["monitor"]
    session_id: SessionId


class Unmonitor(Frame):
    type: Literal["unmonitor"]
    session_id: SessionId


CounselorFrame = Annotated[
    Auth
    | Accept
    | CounselorMessage
    | CounselorResource
    | CounselorTyping
    | Receipt
    | CounselorEnd
    | Wrapup
    | Status
    | Transfer
    | Monitor
    | Unmonitor
    | Whisper
    | Ping,
    Field(discriminator="type"),
]

_visitor_adapter: TypeAdapter[VisitorFrame] = TypeAdapter(VisitorFrame)
_counselor_adapter: TypeAdapter[CounselorFrame] = TypeAdapter(CounselorFrame)


class ProtocolError(Exception):
    """A frame that cannot be understood; carries the error frame to send back."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self) -> dict[str, Any]:
        return error_frame(self.code, self.message)


def error_frame(code: ErrorCode, message: str, **extra: Any) -> dict[str, Any]:
    return {"type": "error", "code": code.value, "message": message, **extra}


def _valid_unicode(value: Any, depth: int = 0) -> bool:
    """No lone surrogates anywhere (JSON allows ``"\\ud800"``; UTF-8, Redis and the browsers do not)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if depth > 32:
        return False
    if isinstance(value, dict):
        return all(_valid_unicode(k, depth + 1) and _valid_unicode(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_valid_unicode(v, depth + 1) for v in value)
    return True


def _load(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid JSON") from exc
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame must be a JSON object")
    if not isinstance(data.get("type"), str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame has no string 'type'")
    if not _valid_unicode(data):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame holds invalid Unicode")
    return data


def _describe(exc: ValidationError, known: frozenset[str]) -> str:
    """A fixed message naming at most the field (one of ours): never anything of what was sent."""
    err = exc.errors()[0]
    fields = [p for p in err["loc"][1:] if isinstance(p, str) and p in known]
    where = fields[0] if fields else "frame"
    return f"{where}: missing" if err["type"] == "missing" else f"{where}: invalid"


# Every field name a client frame may carry: the only words of a frame an error message may repeat.
_FIELDS = frozenset(
    name
    for model in (
        Hello,
        Resume,
        VisitorMessage,
        VisitorTyping,
        Auth,
        Accept,
        Receipt,
        CounselorMessage,
        CounselorResource,
        CounselorTyping,
        CounselorEnd,
        Wrapup,
        Status,
        Transfer,
        Monitor,
        Unmonitor,
    )
    for name in model.model_fields
)


def _fast_message(data: dict[str, Any], with_session: bool) -> Any:
    """The hot frame, a chat message, without pydantic when its fields are plainly right (else None).

    The same checks as the model's (strict strings, the id lengths); anything else goes through
    pydantic, which gives the documented answer.
    """
    client_id, text = data.get("client_id"), data.get("text")
    if type(client_id) is not str or type(text) is not str or not 0 < len(client_id) <= 128:
        return None
    if not with_session:
        return VisitorMessage.model_construct(type="message", client_id=client_id, text=text)
    sid = data.get("session_id")
    if type(sid) is not str or not 0 < len(sid) <= 64:
        return None
    return CounselorMessage.model_construct(type="message", session_id=sid, client_id=client_id, text=text)


def _parse(adapter: TypeAdapter[Any], raw: str, allowed: frozenset[str]) -> Any:
    data = _load(raw)
    if data["type"] not in allowed:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "unknown frame type")
    if data["type"] == "message" and (fast := _fast_message(data, adapter is _counselor_adapter)) is not None:
        return fast
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(ErrorCode.BAD_REQUEST, _describe(exc, _FIELDS)) from None


VISITOR_TYPES = frozenset({"hello", "resume", "message", "typing", "end", "quick_exit", "ping"})
COUNSELOR_TYPES = frozenset(
    {
        "whisper",
        "auth",
        "accept",
        "message",
        "resource",
        "typing",
        "receipt",
        "end",
        "wrapup",
        "status",
        "transfer",
        "monitor",
        "unmonitor",
        "ping",
    }
)


def parse_visitor(raw: str) -> VisitorFrame:
    """Parse one text frame from a visitor, or raise :class:`ProtocolError`."""
    result: VisitorFrame = _parse(_visitor_adapter, raw, VISITOR_TYPES)
    return result


def parse_counselor(raw: str) -> CounselorFrame:
    """Parse one text frame from a counselor, or raise :class:`ProtocolError`."""
    result: CounselorFrame = _parse(_counselor_adapter, raw, COUNSELOR_TYPES)
    return result
