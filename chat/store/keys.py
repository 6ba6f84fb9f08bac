"""Every Redis key and channel name, in one place.

Keys that belong to one session carry the session id as a hash tag
(``chat:{s_…}:events``) so that a Lua script can touch all of them on one
Redis Cluster slot. The same holds for one counselor (``chat:{c:7}:state``,
``:sessions``, ``:wrapups``, ``:tokens``), for the archive hand-off
(``chat:{archive}:…``), the rate limits (``chat:{rate}:…``) and the blocks
(``chat:{blocks}:…``): whatever one script or one MULTI touches together
hashes to one slot. Work that spans slots (an accept: the queue, the session,
the counselor) is done in ordered, idempotent steps, see
``chat/store/redis.py`` "On a Redis Cluster". Every key that is not
configuration gets a TTL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "chat"

    # -- one session ---------------------------------------------------------
    def session(self, sid: str) -> str:
        """Hash: status, audience, language, topic, urgent, counselor, timestamps, seq."""
        return f"{self.prefix}:{{{sid}}}:meta"

    def events(self, sid: str) -> str:
        """Stream: the session's events, entry id ``<seq>-1``; the source of truth for replay."""
        return f"{self.prefix}:{{{sid}}}:events"

    def client_ids(self, sid: str) -> str:
        """Hash: client_id -> seq, so that a resent message is stored once."""
        return f"{self.prefix}:{{{sid}}}:cids"

    def session_channel(self, sid: str) -> str:
        """Pub/sub channel: events, typing and presence of one session."""
        return f"{self.prefix}:{{{sid}}}:ch"

    def notes(self, sid: str) -> str:
        """Stream: staff-only notes of the session (whispers), entry id ``<note_id>-1``; never read for a visitor."""
        return f"{self.prefix}:{{{sid}}}:notes"

    def note_ids(self, sid: str) -> str:
        """Hash: client_id -> note_id, so that a resent whisper is stored once."""
        return f"{self.prefix}:{{{sid}}}:notecids"

    def staff_channel(self, sid: str) -> str:
        """Pub/sub channel: staff-only notes of one session; only counselor connections subscribe."""
        return f"{self.prefix}:{{{sid}}}:staff"

    def note_keys(self, sid: str) -> list[str]:
        return [self.session(sid), self.notes(sid), self.note_ids(sid)]

    def session_keys(self, sid: str) -> list[str]:
        return [self.session(sid), self.events(sid), self.client_ids(sid)]

    # -- visitor credentials ---------------------------------------------------
    def visitor_token(self, token_hash: str) -> str:
        """String: sha256(token) -> session id, with the session's TTL."""
        return f"{self.prefix}:vtoken:{token_hash}"

    def rateable(self, token_hash: str) -> str:
        """String: sha256(token) -> the id of the counselor who had the chat when it ended.

        Left by the end of a chat with a counselor (``RedisStore.end``), with the ended TTL, and taken
        (GETDEL) by the one rating it allows: the rating counts for that counselor without naming the
        session. Outlives the session's own keys by design; it holds no session id.
        """
        return f"{self.prefix}:rateable:{token_hash}"

    # -- queues --------------------------------------------------------------
    # Each queue is one key (its own slot on a cluster); an accept reads the heads of several queues
    # without a script spanning them (``RedisStore.accept``).
    def queue(self, audience: str, language: str) -> str:
        """Sorted set of session ids; the score orders urgent first, then oldest."""
        return f"{self.prefix}:queue:{audience}:{language}"

    @property
    def arrivals(self) -> str:
        """Counter: the arrival number of each new session, for a strict queue order."""
        return f"{self.prefix}:queue:arrivals"

    @property
    def queue_channel(self) -> str:
        """Pub/sub channel: 'the queues changed', for position and overview updates."""
        return f"{self.prefix}:queues:ch"

    @property
    def recent_waits(self) -> str:
        """Sorted set: recent pairings (member ``<random tag>:<wait ms>``, score = pairing time)."""
        return f"{self.prefix}:stats:waits"

    # -- timers swept by every instance -----------------------------------------
    @property
    def grace_timers(self) -> str:
        """Sorted set: session id -> time at which a dropped visitor's session ends."""
        return f"{self.prefix}:timers:grace"

    @property
    def idle_timers(self) -> str:
        """Sorted set: session id -> time at which an idle active session ends."""
        return f"{self.prefix}:timers:idle"

    # -- archive hand-off --------------------------------------------------------
    @property
    def archive_queue(self) -> str:
        """Sorted set: ended session id -> when it may be archived (after the wrap-up, or its wait)."""
        return f"{self.prefix}:{{archive}}:todo"

    @property
    def archive_processing(self) -> str:
        """Sorted set: session id -> lease deadline while an archiver works on it."""
        return f"{self.prefix}:{{archive}}:doing"

    @property
    def archivers(self) -> str:
        """Sorted set: archiver id (random, per process) -> its last heartbeat (ms); /readyz and /metrics read it."""
        return f"{self.prefix}:{{archive}}:heartbeats"

    @property
    def redaction_stats(self) -> str:
        """Hash: the archivers' redaction-time histogram (bucket counts, sum, count), shared by every archiver."""
        return f"{self.prefix}:{{archive}}:redaction"

    # -- counselors ----------------------------------------------------------
    def counselor_token(self, token_hash: str) -> str:
        """Hash: sha256(token) -> counselor id, name, role; TTL = token lifetime."""
        return f"{self.prefix}:ctoken:{token_hash}"

    def counselor_tokens(self, counselor_id: int) -> str:
        """Set of token hashes of one counselor, to revoke them all on disable."""
        return f"{self.prefix}:{{c:{counselor_id}}}:tokens"

    def counselor_sessions(self, counselor_id: int) -> str:
        """Set of the counselor's active session ids."""
        return f"{self.prefix}:{{c:{counselor_id}}}:sessions"

    def counselor_state(self, counselor_id: int) -> str:
        """Hash: available, capacity; shared by all the counselor's consoles and all instances."""
        return f"{self.prefix}:{{c:{counselor_id}}}:state"

    def counselor_wrapups(self, counselor_id: int) -> str:
        """Set of the counselor's ended chats that still wait for a wrap-up."""
        return f"{self.prefix}:{{c:{counselor_id}}}:wrapups"

    def counselor_channel(self, counselor_id: int) -> str:
        """Pub/sub channel: control messages for one counselor (assigned, revoked)."""
        return f"{self.prefix}:{{c:{counselor_id}}}:ch"

    def webhook_sent(self, kind: str, dedup: str) -> str:
        """String with a TTL: this alert went out through the webhook, so no other instance sends it again."""
        return f"{self.prefix}:alerts:hook:{kind}:{dedup}"

    @property
    def supervisors_channel(self) -> str:
        """Pub/sub channel: alerts for every supervisor on every instance (a risk raised in an active chat)."""
        return f"{self.prefix}:supervisors:ch"

    @property
    def counselors_online(self) -> str:
        """Sorted set: counselor id -> last heartbeat; members older than a minute are offline."""
        return f"{self.prefix}:counselors:online"

    def counselor_conns(self, counselor_id: int) -> str:
        """Hash: instance id -> how many of the counselor's sockets that instance holds."""
        return f"{self.prefix}:{{c:{counselor_id}}}:conns"

    def counselor_lost(self, counselor_id: int) -> str:
        """Set of the chats handed back to the queue while the counselor was away, to tell them on return."""
        return f"{self.prefix}:{{c:{counselor_id}}}:lost"

    @property
    def counselor_grace_timers(self) -> str:
        """Sorted set: counselor id -> time at which a counselor with no socket left loses their open chats."""
        return f"{self.prefix}:timers:counselor"

    # -- server instances (each with its own hash tag) -------------------------------
    def instance_alive(self, instance_id: str) -> str:
        """String with a TTL: the instance's last heartbeat (ms); gone means the instance is dead."""
        return f"{self.prefix}:instance:{{{instance_id}}}:alive"

    def instance_visitors(self, instance_id: str) -> str:
        """Set of the sessions whose visitor had a socket on this instance (an index; the meta is the truth)."""
        return f"{self.prefix}:instance:{{{instance_id}}}:visitors"

    def instance_counselors(self, instance_id: str) -> str:
        """Set of the counselor ids with a socket on this instance (an index; ``counselor_conns`` is the truth)."""
        return f"{self.prefix}:instance:{{{instance_id}}}:counselors"

    def instance_claim(self, instance_id: str) -> str:
        """String with a TTL: the living instance that takes over this dead one (a lease)."""
        return f"{self.prefix}:instance:{{{instance_id}}}:claim"

    @property
    def instances(self) -> str:
        """Sorted set: instance id -> its last heartbeat (ms), for finding the dead ones."""
        return f"{self.prefix}:instances"

    # -- abuse control -------------------------------------------------------------
    def rate(self, bucket: str, subject_hash: str) -> str:
        """Counter for a rate limit; the subject is an HMAC, never an address or a name."""
        return f"{self.prefix}:{{rate}}:{bucket}:{subject_hash}"

    def address_salt(self, epoch: int) -> str:
        """The salt of one day (``epoch``) for hashing client addresses and names; expires after two days."""
        return f"{self.prefix}:salt:address:{epoch}"

    def block(self, subject_hash: str) -> str:
        """String: an abusive visitor's client hash -> the block's id; TTL = the block's length."""
        return f"{self.prefix}:{{blocks}}:block:{subject_hash}"

    def block_info(self, block_id: str) -> str:
        """Hash: one block's subject hash, since, until, by; TTL = the block's length."""
        return f"{self.prefix}:{{blocks}}:info:{block_id}"

    @property
    def blocks(self) -> str:
        """Sorted set: block id -> until (ms), for supervisors' list and count."""
        return f"{self.prefix}:{{blocks}}:all"

    @property
    def blocks_total(self) -> str:
        """Counter: blocks made (expires a day after the last one)."""
        return f"{self.prefix}:{{blocks}}:total"

    @property
    def stats_events_relayed(self) -> str:
        return f"{self.prefix}:stats:relayed"
