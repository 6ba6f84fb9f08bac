"""What the archiver keeps of a session, as pure functions: redacted events, rounded times, numbers.

The raw session (its Redis hash and event stream) comes in; a transcript
(every text redacted, times to the minute) and a summary (no text at all)
come out. ``redact`` is passed in so that this module needs no deduce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from chat.stats import amsterdam_day, to_hour

Redact = Callable[[str], str]


def to_minute(ms: int) -> datetime:
    """A timestamp rounded down to the minute: enough for a transcript, less to identify by."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class TranscriptRecord:
    session_id: str
    audience: str
    language: str
    topic: str | None
    urgent: bool
    opened_at: datetime
    paired_at: datetime | None
    ended_at: datetime
    events: str


@dataclass(frozen=True)
class SummaryRecord:
    session_id: str
    day: date
    audience: str
    language: str
    urgent: bool
    triage_categories: str | None
    paired: bool
    wait_seconds: int | None
    duration_seconds: int | None
    end_reason: str
    messages: int
    wrapup_category: str | None
    risk_level: str | None
    referral: str | None
    # The counselor who had the chat last (their account id), and the hour it began (UTC).
    counselor_id: int | None = None
    opened_hour: datetime | None = None


def redact_events(events: list[dict[str, Any]], redact: Redact) -> list[dict[str, Any]]:
    """Keep sender, seq and kind; every text through ``redact``; snippets by id and title (public text)."""
    out: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("type")
        kept: dict[str, Any] = {"seq": event.get("seq"), "type": kind, "sender": event.get("sender", "system")}
        if kind == "message":
            kept["text"] = redact(str(event.get("text", "")))
        elif kind == "resource":
            snippet = event.get("snippet") or {}
            kept["snippet_id"] = snippet.get("id")
            kept["title"] = snippet.get("title")
        elif kind == "ended":
            kept["reason"] = event.get("reason")
        elif kind == "whisper":
            # A staff note: where it fell in the chat, who wrote it (counselor or supervisor), redacted text.
            kept = {
                "type": "staff_note",
                "sender": event.get("sender"),
                "after_seq": event.get("after_seq"),
                "text": redact(str(event.get("text", ""))),
            }
        out.append(kept)
    return out


def interleave(events: list[dict[str, Any]], notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The session's events with its staff notes placed after the event each followed."""
    out: list[dict[str, Any]] = []
    pending = sorted(notes, key=lambda n: (int(n.get("after_seq") or 0), int(n.get("note_id") or 0)))
    for event in events:
        while pending and int(pending[0].get("after_seq") or 0) < int(event.get("seq") or 0):
            out.append(pending.pop(0))
        out.append(event)
    return out + pending


def build(
    sid: str,
    meta: dict[str, str],
    events: list[dict[str, Any]],
    redact: Redact | None,
    notes: list[dict[str, Any]] | None = None,
) -> tuple[SummaryRecord, TranscriptRecord | None]:
    """The summary, and the transcript unless ``redact`` is None (transcripts switched off).

    ``notes`` are the staff-only whispers; the transcript keeps them, redacted, as ``staff_note`` entries.
    """
    opened = int(meta.get("opened_at") or meta.get("enqueued_at") or 0)
    enqueued = int(meta.get("enqueued_at") or opened)
    paired = int(meta["paired_at"]) if meta.get("paired_at") else None
    ended = int(meta.get("ended_at") or opened)
    wrapup = json.loads(meta["wrapup"]) if meta.get("wrapup") else {}
    reason = meta.get("end_reason") or next(
        (str(e.get("reason")) for e in reversed(events) if e.get("type") == "ended"), "expired"
    )
    summary = SummaryRecord(
        session_id=sid,
        day=amsterdam_day(opened),
        audience=meta.get("audience", ""),
        language=meta.get("language", ""),
        urgent=meta.get("urgent") == "1",
        triage_categories=meta.get("category") or None,
        paired=paired is not None,
        # Until a counselor took it, or until the visitor left the queue (abandoned): everyone who waited.
        wait_seconds=max(0, ((paired if paired is not None else ended) - enqueued) // 1000),
        duration_seconds=(ended - paired) // 1000 if paired is not None else None,
        end_reason=reason,
        messages=sum(1 for e in events if e.get("type") == "message"),
        wrapup_category=wrapup.get("category"),
        risk_level=wrapup.get("risk"),
        referral=wrapup.get("referral"),
        counselor_id=int(meta["counselor"]) if (meta.get("counselor") or "").isdigit() else None,
        opened_hour=to_hour(opened),
    )
    if redact is None:
        return summary, None
    topic = meta.get("topic") or None
    transcript = TranscriptRecord(
        session_id=sid,
        audience=summary.audience,
        language=summary.language,
        topic=redact(topic) if topic else None,
        urgent=summary.urgent,
        opened_at=to_minute(opened),
        paired_at=to_minute(paired) if paired is not None else None,
        ended_at=to_minute(ended),
        events=json.dumps(redact_events(interleave(events, notes or []), redact), ensure_ascii=False),
    )
    return summary, transcript
