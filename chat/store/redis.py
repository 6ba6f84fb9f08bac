"""The Redis adapter: sessions, queues, events, claims and timers.

On one Redis server (or a primary found by Sentinel) every change that
touches more than one key is one Lua script, so that two instances never see
half a change, and an accept or a relayed message is one round trip. Times
come in from the caller (``now_ms``) so that tests can hold the clock.

On a Redis Cluster
------------------
A script may only touch keys of one hash slot. The per-session scripts
(append, note, receipt) already do: a session's keys share the tag ``{s_…}``.
A change that spans slots (an accept touches the queue, the session, the
counselor and the idle timers) is split into steps, each one a single-slot
script or idempotent commands, in an order that leaves a state the next
reader repairs if the process dies between two steps:

accept
  1. read the counselor's state and load (slot ``{c:ID}``) and the heads of
     the queues they take (one key each), in one parallel round;
  2. claim the chosen session in its own slot: queued -> active with this
     counselor, and the ``paired`` notice (``_CLAIM_SESSION``). This is the
     one compare-and-set: two counselors can never both win a session, so
     there are no double assignments whatever happens after it;
  3. add it to the counselor's sessions and set its idle timer;
  4. only then drop it from its queue (and count the wait, tell the queues).
  A crash after 2 leaves an active session still in its queue: the next
  accept that sees it gets "taken" from step 2 with the owner's id and does
  steps 3 and 4 for that owner (``_repair_claim``); a session that is no
  longer in its queue has had step 3. The capacity is checked in step 1, so
  two accepts of one counselor at the same instant (two consoles) can take
  one chat more than their capacity; on one server the script makes it exact.
end
  1. mark it due in the archive queue if it is not there yet (``ZADD NX``);
  2. end it in its own slot (``_END_SESSION``: the ``ended`` event, status,
     TTLs, the event published);
  3. the rest, idempotent: the archive due time, out of the counselor's
     sessions and into their wrap-ups, out of its queue and the timers, the
     visitor token's TTL, the rating key.
  A crash before 2 leaves a live session in the archive queue: the archiver
  drops an entry whose session has not ended (and the real end adds it
  again). A crash before 3 leaves an ended session in the archive queue: the
  archiver removes it from the counselor's sessions when it archives; a stale
  queue entry is dropped by the next accept, a stale timer by the sweeper
  (ending an ended session is a no-op).
transfer
  1. the move in the session's slot (``_TRANSFER_SESSION``);
  2. the counselor sets, or the queue entry at the head. A crash between
     them leaves the chat with its new counselor (or queued) but missing from
     their set (or the queue) until the session's timers or TTL end it; this
     is the one step not repaired by a reader.
visitor presence
  the grace timer is set before the count goes to zero and removed after it
  went up: a timer left behind is harmless, the sweeper ends a session only
  when no visitor connection is counted (``require_offline``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError

from chat.events import Event, stream_id
from chat.queue import NORMAL_OFFSET, URGENT_OFFSET, head_score, is_urgent_score, queue_score
from chat.sessions import Audience, EndReason, Language, SessionStatus
from chat.skills import Skills
from chat.store.client import atomic, is_cluster
from chat.store.keys import Keys


class ReplicationShortfall(RedisConnectionError):
    """A stored message that fewer replicas than ``CHAT_REDIS_WAIT_REPLICAS`` confirmed: it is not acked, and the
    endpoints answer it as Redis being unavailable (the client resends)."""


# Returned by the append script when it refuses.
UNKNOWN = -1
WRONG_STATE = -2
NOT_OWNER = -3
SESSION_FULL = -4
RATE_LIMITED = -5

# Token buckets in Redis (shared by every socket and instance), from KEYS[@K + 1] on: bucket i has rate
# ARGV[@A + 2i] per second and burst ARGV[@A + 2i + 1], ARGV[@A + 1] is now in ms. A token from every bucket or
# from none: @REFUSED when one of them is empty. Used alone (TAKE, the rate limiter's) and as the first step
# of the append script, so that a rate-limited message is one round trip and is not stored.
_TAKE_TOKENS = """
local nb = #KEYS - @K
if nb > 0 then
  local now = tonumber(ARGV[@A + 1])
  local levels = {}
  for i = 1, nb do
    local rate, burst = tonumber(ARGV[@A + 2 * i]), tonumber(ARGV[@A + 2 * i + 1])
    local state = redis.call('HMGET', KEYS[@K + i], 't', 'at')
    local tokens = tonumber(state[1]) or burst
    local at = tonumber(state[2]) or now
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
    if tokens < 1 then return @REFUSED end
    levels[i] = tokens
  end
  for i = 1, nb do
    local rate, burst = tonumber(ARGV[@A + 2 * i]), tonumber(ARGV[@A + 2 * i + 1])
    redis.call('HSET', KEYS[@K + i], 't', levels[i] - 1, 'at', now)
    redis.call('PEXPIRE', KEYS[@K + i], math.ceil(burst / rate * 1000) + 1000)
  end
end
"""


def _take_tokens(key_offset: int, arg_offset: int, refused: str) -> str:
    return _TAKE_TOKENS.replace("@K", str(key_offset)).replace("@A", str(arg_offset)).replace("@REFUSED", refused)


# The rate limiter's script (chat.services.auth.RateLimiter.take): 1 when taken, 0 when a bucket is empty.
TAKE = _take_tokens(0, 0, "0") + "return 1\n"

_APPEND = (
    """
-- KEYS: meta, events, cids, then the rate buckets (none, or all in the session's slot: one server)
-- ARGV: event json without seq, client_id, owner, allowed states, now_ms, ttl, channel, max events, max bytes,
--       then for the buckets: wall now_ms and per bucket its rate and burst
-- The buckets first: a message over the limit is refused ({-5, 0}) and nothing is stored.
"""
    + _take_tokens(3, 9, "{-5, 0}")
    + """local m = redis.call('HMGET', KEYS[1], 'status', 'counselor', 'seq', 'bytes', 'xttl', 'cttl')
local status = m[1]
if not status then return {-1, 0} end
if not string.find(ARGV[4], '|' .. status .. '|', 1, true) then return {-2, 0} end
if ARGV[3] ~= '' and m[2] ~= ARGV[3] then return {-3, 0} end
if ARGV[2] ~= '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[2])
  if existing then return {0, tonumber(existing)} end
end
-- A session's stream is capped (the `ended` event, written by the end script, always fits).
local seq, stored = tonumber(m[3] or '0'), tonumber(m[4] or '0') + string.len(ARGV[1])
if seq >= tonumber(ARGV[8]) or stored > tonumber(ARGV[9]) then return {-4, 0} end
seq = seq + 1
local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], seq .. '-1', 'e', event)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], seq) end
local fields = {'seq', seq, 'bytes', stored, 'last_activity', ARGV[5]}
-- Activity does not renew the session's lifetime: its keys share the TTL the meta got at the start. A key
-- keeps its TTL until it is deleted with the others, so it is set once per key (xttl, cttl), not per message.
if not m[5] or (ARGV[2] ~= '' and not m[6]) then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 0 then ttl = tonumber(ARGV[6]) * 1000; redis.call('PEXPIRE', KEYS[1], ttl) end
  redis.call('PEXPIRE', KEYS[2], ttl)
  fields[#fields + 1] = 'xttl'; fields[#fields + 1] = '1'
  if ARGV[2] ~= '' then
    redis.call('PEXPIRE', KEYS[3], ttl)
    fields[#fields + 1] = 'cttl'; fields[#fields + 1] = '1'
  end
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PUBLISH', ARGV[7], event)
return {1, seq}
"""
)

_NOTE = """
-- KEYS: meta, notes, note cids   ARGV: note json without note_id/after_seq, client_id, ttl, staff channel
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'active' then return {-2, 0} end
if ARGV[2] ~= '' then
  local existing = redis.call('HGET', KEYS[3], ARGV[2])
  if existing then return {0, tonumber(existing)} end
end
local id = redis.call('HINCRBY', KEYS[1], 'notes', 1)
local after = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local note = '{"note_id":' .. id .. ',"after_seq":' .. after .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], id .. '-1', 'e', note)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[2], id) end
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('PUBLISH', ARGV[4], note)
return {1, id}
"""

_CLAIM = """
-- KEYS: counselor sessions set, recent waits, counselor state, idle timers, queue keys...
-- ARGV: prefix, counselor id, counselor name, now_ms, default capacity, queue channel, window_ms, random tag,
--       session ttl, idle deadline ms, paired frame json (without session_id), the counselor's channel, the
--       status frame's "audiences" and "languages" for every queue, then per queue key its audience and
--       language
-- One round trip for an accept: availability, capacity and skills, the claim, the idle timer, the `paired`
-- notice, the counselor's new `status` (load) to all their consoles, and what the reply needs. One server
-- only (the keys of several slots); a cluster takes the steps of RedisStore._accept_steps.
local state = redis.call('HMGET', KEYS[3], 'available', 'capacity', 'skills')
if state[1] == '0' then return {'unavailable'} end
local capacity = tonumber(state[2] or ARGV[5])
local skills = state[3] or ''
local active = redis.call('SCARD', KEYS[1])
if capacity > 0 and active >= capacity then return {'full', tostring(capacity), tostring(active), skills} end
local bar = string.find(skills, '|', 1, true)
local auds, langs = nil, nil
if bar then
  auds = ',' .. string.sub(skills, 1, bar - 1) .. ','
  langs = ',' .. string.sub(skills, bar + 1) .. ','
end
local best_key, best_sid, best_score = nil, nil, nil
local nq = #KEYS - 4
for i = 1, nq do
  local a, l = ARGV[14 + 2 * i - 1], ARGV[14 + 2 * i]
  if auds == nil or (string.find(auds, ',' .. a .. ',', 1, true) and string.find(langs, ',' .. l .. ',', 1, true)) then
    local key = KEYS[4 + i]
    local head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    if head[1] then
      local score = tonumber(head[2])
      if best_score == nil or score < best_score or (score == best_score and key < best_key) then
        best_key, best_sid, best_score = key, head[1], score
      end
    end
  end
end
if best_key == nil then return {'empty'} end
redis.call('ZREM', best_key, best_sid)
local meta = ARGV[1] .. ':{' .. best_sid .. '}:meta'
if redis.call('HGET', meta, 'status') ~= 'queued' then return {'retry'} end
redis.call('HSET', meta, 'status', 'active', 'counselor', ARGV[2], 'counselor_name', ARGV[3],
  'paired_at', ARGV[4], 'last_activity', ARGV[4])
redis.call('SADD', KEYS[1], best_sid)
redis.call('EXPIRE', KEYS[1], ARGV[9])
local wait = tonumber(ARGV[4]) - tonumber(redis.call('HGET', meta, 'enqueued_at'))
-- A random tag, not the session id: the statistics must not outlive the session as a link to it.
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[8] .. ':' .. wait)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[7]))
redis.call('ZADD', KEYS[4], ARGV[10], best_sid)
redis.call('PUBLISH', ARGV[6], 'claimed')
redis.call('PUBLISH', ARGV[1] .. ':{' .. best_sid .. '}:ch',
  '{"type":"paired","session_id":"' .. best_sid .. '",' .. string.sub(ARGV[11], 2))
-- The status frame of RedisStore.publish_status_frame; stored skills are Skills.dump()'s sorted lists.
local function quoted(csv)
  local out = {}
  for v in string.gmatch(csv, '[^,]+') do out[#out + 1] = '"' .. v .. '"' end
  return table.concat(out, ',')
end
local shown_auds, shown_langs = ARGV[13], ARGV[14]
if bar then shown_auds, shown_langs = quoted(string.sub(skills, 1, bar - 1)), quoted(string.sub(skills, bar + 1)) end
redis.call('PUBLISH', ARGV[12], '{"type":"status","available":true,"capacity":' .. capacity .. ',"active":' ..
  (active + 1) .. ',"audiences":[' .. shown_auds .. '],"languages":[' .. shown_langs .. ']}')
return {'ok', best_sid, redis.call('HGETALL', meta), tostring(capacity), tostring(active + 1), skills}
"""

_END = """
-- KEYS: meta, events, cids, archive queue, grace timers, idle timers
-- ARGV: ended event json without seq, now_ms, ended ttl, prefix, queue channel, sid, require_offline, wrap-up wait ms,
--       end reason
-- One server only (the keys of several slots); a cluster runs _END_SESSION and RedisStore._end_steps.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1, 0} end
if status == 'ended' then return {0, tonumber(redis.call('HGET', KEYS[1], 'seq'))} end
if ARGV[7] == '1' and tonumber(redis.call('HGET', KEYS[1], 'visitor_conns') or '0') > 0 then return {-2, 0} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], seq .. '-1', 'e', event)
redis.call('HSET', KEYS[1], 'status', 'ended', 'ended_at', ARGV[2], 'end_reason', ARGV[9])
local fields = redis.call('HMGET', KEYS[1], 'audience', 'language', 'counselor')
if status == 'queued' then
  redis.call('ZREM', ARGV[4] .. ':queue:' .. fields[1] .. ':' .. fields[2], ARGV[6])
  redis.call('PUBLISH', ARGV[5], 'ended')
end
if fields[3] then
  redis.call('SREM', ARGV[4] .. ':{c:' .. fields[3] .. '}:sessions', ARGV[6])
  if not redis.call('HGET', KEYS[1], 'wrapup') then
    -- The counselor's console finds it again after a reload, to fill in the wrap-up.
    local pending = ARGV[4] .. ':{c:' .. fields[3] .. '}:wrapups'
    redis.call('SADD', pending, ARGV[6])
    redis.call('EXPIRE', pending, ARGV[3])
  end
end
redis.call('ZREM', KEYS[5], ARGV[6])
redis.call('ZREM', KEYS[6], ARGV[6])
-- A chat a counselor had waits for the wrap-up (or the wait runs out) before it is archived.
local ready = tonumber(ARGV[2])
if fields[3] and not redis.call('HGET', KEYS[1], 'wrapup') then ready = ready + tonumber(ARGV[8]) end
redis.call('ZADD', KEYS[4], ready, ARGV[6])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
local vtoken = redis.call('HGET', KEYS[1], 'vtoken')
if vtoken then redis.call('EXPIRE', ARGV[4] .. ':vtoken:' .. vtoken, ARGV[3]) end
-- The visitor's one rating of this chat counts for its counselor (Keys.rateable): no session id in it.
if vtoken and fields[3] then redis.call('SET', ARGV[4] .. ':rateable:' .. vtoken, fields[3], 'EX', ARGV[3]) end
redis.call('PUBLISH', ARGV[4] .. ':{' .. ARGV[6] .. '}:ch', event)
return {1, seq}
"""


def _handover_event(channel_arg: int) -> str:
    """The handover event of both transfer scripts (one server, and a cluster's single-slot step): stored with the
    next seq (ARGV[1] is its JSON without seq, ARGV[5] now_ms), kept as long as the session, published on the
    session's channel (ARGV[channel_arg]). KEYS[1] meta, KEYS[2] events. Leaves ``seq`` set for the reply."""
    return f"""local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local event = '{{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], seq .. '-1', 'e', event)
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('HSET', KEYS[1], 'last_activity', ARGV[5])
redis.call('PUBLISH', ARGV[{channel_arg}], event)
"""


_TRANSFER = (
    """
-- KEYS: meta, events, cids, from set, to set
-- ARGV: handover event json without seq, from id, to id ('' = back to the queue), to name, now_ms, ttl,
--       session channel, prefix, sid, head score, queue channel, from name, note
-- One server only; a cluster runs _TRANSFER_SESSION and then the set and queue commands.
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {-2, 0} end
if redis.call('HGET', KEYS[1], 'counselor') ~= ARGV[2] then return {-3, 0} end
redis.call('SREM', KEYS[4], ARGV[9])
-- The note stays with the chat (never with the events) for whoever has it next, after a reload too.
redis.call('HSET', KEYS[1], 'transfer_from', ARGV[12], 'transfer_note', ARGV[13])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'counselor', ARGV[3], 'counselor_name', ARGV[4])
  redis.call('SADD', KEYS[5], ARGV[9])
  redis.call('EXPIRE', KEYS[5], ARGV[6])
else
  local fields = redis.call('HMGET', KEYS[1], 'audience', 'language')
  redis.call('HSET', KEYS[1], 'status', 'queued', 'enqueued_at', ARGV[5])
  redis.call('HDEL', KEYS[1], 'counselor', 'counselor_name', 'paired_at')
  redis.call('ZADD', ARGV[8] .. ':queue:' .. fields[1] .. ':' .. fields[2], ARGV[10], ARGV[9])
  redis.call('PUBLISH', ARGV[11], 'requeued')
end
"""
    + _handover_event(channel_arg=7)
    + """return {1, seq}
"""
)

_CREATE = """
-- KEYS: arrivals, meta, visitor token, queue, idle timers, the instance's visitor index (or the meta again)
-- ARGV: ttl, sid, score offset, idle deadline ('' for none), queue channel, notice,
--       instance id ('' when the socket is counted later), index ttl, meta field/value pairs...
-- Returns {arrival, queue position}.
local arrival = redis.call('INCR', KEYS[1])
local fields = {}
for i = 9, #ARGV do fields[#fields + 1] = ARGV[i] end
fields[#fields + 1] = 'arrival'
fields[#fields + 1] = arrival
if ARGV[7] ~= '' then
  -- The first socket, counted on this instance as InstanceStore.visitor and index_visitor would.
  fields[#fields + 1] = 'conns:' .. ARGV[7]
  fields[#fields + 1] = 1
  fields[#fields + 1] = 'visitor_conns'
  fields[#fields + 1] = 1
  redis.call('SADD', KEYS[6], ARGV[2])
  redis.call('EXPIRE', KEYS[6], ARGV[8])
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('SET', KEYS[3], ARGV[2], 'EX', ARGV[1])
redis.call('ZADD', KEYS[4], string.format('%d', tonumber(ARGV[3]) + arrival), ARGV[2])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[5], ARGV[4], ARGV[2]) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {arrival, redis.call('ZRANK', KEYS[4], ARGV[2]) + 1}
"""

_PRESENCE = """
-- KEYS: meta, grace timers   ARGV: delta, now_ms, grace deadline_ms, sid, queued grace deadline_ms
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return -1 end
local n = redis.call('HINCRBY', KEYS[1], 'visitor_conns', tonumber(ARGV[1]))
if n < 0 then redis.call('HSET', KEYS[1], 'visitor_conns', 0); n = 0 end
if n == 0 then
  redis.call('HSET', KEYS[1], 'away_since', ARGV[2])
  -- The grace follows the session's state here and now, not what the dropping socket last heard: a visitor
  -- claimed a moment before the drop (the `paired` notice still on its way) gets a chat's grace.
  local deadline = ARGV[3]
  if status == 'queued' then deadline = ARGV[5] end
  redis.call('ZADD', KEYS[2], deadline, ARGV[4])
else
  redis.call('ZREM', KEYS[2], ARGV[4])
end
return n
"""

_RECEIPT = """
-- KEYS: meta   ARGV: delivered, read, counselor id, channel, session id
-- High-water marks of an active session of this counselor, never past its last seq; read implies delivered.
-- A change is published to the session's channel: the ownership check, the marks and the notice in one trip.
local state = redis.call('HMGET', KEYS[1], 'status', 'counselor')
if state[1] ~= 'active' or state[2] ~= ARGV[3] then return nil end
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
local d0 = tonumber(redis.call('HGET', KEYS[1], 'delivered_seq') or '0')
local r0 = tonumber(redis.call('HGET', KEYS[1], 'read_seq') or '0')
local r = math.min(seq, math.max(r0, tonumber(ARGV[2])))
local d = math.min(seq, math.max(d0, r, tonumber(ARGV[1])))
if d == d0 and r == r0 then return {d, r, 0} end
redis.call('HSET', KEYS[1], 'delivered_seq', d, 'read_seq', r)
redis.call('PUBLISH', ARGV[4],
  '{"type":"receipt","session_id":"' .. ARGV[5] .. '","delivered":' .. d .. ',"read":' .. r .. '}')
return {d, r, 1}
"""


# -- single-slot steps for a Redis Cluster (see the module's docstring) ------------------------------------------

_CLAIM_SESSION = """
-- KEYS: meta   ARGV: counselor id, counselor name, now_ms, paired frame json (without session_id), sid, channel
-- The compare-and-set of an accept on a cluster: only a queued session is taken, by one counselor.
local status = redis.call('HGET', KEYS[1], 'status')
if status ~= 'queued' then return {'taken', status or '', redis.call('HGET', KEYS[1], 'counselor') or ''} end
redis.call('HSET', KEYS[1], 'status', 'active', 'counselor', ARGV[1], 'counselor_name', ARGV[2],
  'paired_at', ARGV[3], 'last_activity', ARGV[3])
redis.call('PUBLISH', ARGV[6], '{"type":"paired","session_id":"' .. ARGV[5] .. '",' .. string.sub(ARGV[4], 2))
return {'ok', redis.call('HGETALL', KEYS[1])}
"""

_END_SESSION = """
-- KEYS: meta, events, cids   ARGV: ended event json without seq, now_ms, ended ttl, channel, require_offline,
--                                  end reason
-- Returns {code, seq, status before, audience, language, counselor, vtoken, has wrap-up}.
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {-1, 0} end
local fields = redis.call('HMGET', KEYS[1], 'audience', 'language', 'counselor', 'vtoken', 'wrapup')
local info = {fields[1] or '', fields[2] or '', fields[3] or '', fields[4] or '', fields[5] and '1' or ''}
if status == 'ended' then
  return {0, tonumber(redis.call('HGET', KEYS[1], 'seq')), status, info[1], info[2], info[3], info[4], info[5]}
end
if ARGV[5] == '1' and tonumber(redis.call('HGET', KEYS[1], 'visitor_conns') or '0') > 0 then return {-2, 0} end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
local event = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('XADD', KEYS[2], seq .. '-1', 'e', event)
redis.call('HSET', KEYS[1], 'status', 'ended', 'ended_at', ARGV[2], 'end_reason', ARGV[6])
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[3]) end
redis.call('PUBLISH', ARGV[4], event)
return {1, seq, status, info[1], info[2], info[3], info[4], info[5]}
"""

_TRANSFER_SESSION = (
    """
-- KEYS: meta, events   ARGV: handover event json without seq, from id, to id ('' = back to the queue), to name,
--                            now_ms, channel, from name, note
-- Returns {code, seq, audience, language}.
if redis.call('HGET', KEYS[1], 'status') ~= 'active' then return {-2, 0} end
if redis.call('HGET', KEYS[1], 'counselor') ~= ARGV[2] then return {-3, 0} end
redis.call('HSET', KEYS[1], 'transfer_from', ARGV[7], 'transfer_note', ARGV[8])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'counselor', ARGV[3], 'counselor_name', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'status', 'queued', 'enqueued_at', ARGV[5])
  redis.call('HDEL', KEYS[1], 'counselor', 'counselor_name', 'paired_at')
end
"""
    + _handover_event(channel_arg=6)
    + """local fields = redis.call('HMGET', KEYS[1], 'audience', 'language')
return {1, seq, fields[1], fields[2]}
"""
)

_COUNT_VISITOR = """
-- KEYS: meta   ARGV: delta, now_ms
if not redis.call('HGET', KEYS[1], 'status') then return -1 end
local n = redis.call('HINCRBY', KEYS[1], 'visitor_conns', tonumber(ARGV[1]))
if n < 0 then redis.call('HSET', KEYS[1], 'visitor_conns', 0); n = 0 end
if n == 0 then redis.call('HSET', KEYS[1], 'away_since', ARGV[2]) end
return n
"""


def sharded(script: str) -> str:
    """The script for sharded pub/sub (Redis 7 cluster): the channels it publishes on are in its keys' slot."""
    return script.replace("redis.call('PUBLISH',", "redis.call('SPUBLISH',")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_id() -> str:
    return "s_" + secrets.token_urlsafe(12)


@dataclass(frozen=True)
class Created:
    """A session just queued (``RedisStore.create_queued``): its id, the visitor's token, its place in the
    queue when the create read it (else None), and whether its first socket was counted with it."""

    sid: str
    token: str
    position: int | None
    counted: bool


@dataclass(frozen=True)
class SessionInfo:
    sid: str
    status: SessionStatus
    audience: str
    language: str
    topic: str | None
    urgent: bool
    counselor: str | None
    counselor_name: str | None
    seq: int
    enqueued_at: int
    paired_at: int | None
    visitor_online: bool
    categories: tuple[str, ...]
    # The last transfer's sender and internal note, for the counselor who has the chat now.
    transfer_from: str | None = None
    transfer_note: str | None = None
    # The chat's correlation id for the lifecycle log lines (chat.services.metrics), once one was made.
    log_id: str | None = None

    @property
    def category(self) -> str | None:
        """The first matched triage category, if any."""
        return self.categories[0] if self.categories else None

    @classmethod
    def from_hash(cls, sid: str, raw: dict[str, str]) -> SessionInfo:
        return cls(
            sid=sid,
            status=SessionStatus(raw["status"]),
            audience=raw.get("audience", ""),
            language=raw.get("language", ""),
            topic=raw.get("topic") or None,
            urgent=raw.get("urgent") == "1",
            counselor=raw.get("counselor") or None,
            counselor_name=raw.get("counselor_name") or None,
            seq=int(raw.get("seq", "0")),
            enqueued_at=int(raw.get("enqueued_at", "0")),
            paired_at=int(raw["paired_at"]) if raw.get("paired_at") else None,
            visitor_online=int(raw.get("visitor_conns", "0")) > 0,
            categories=tuple(c for c in raw.get("category", "").split(",") if c),
            transfer_from=raw.get("transfer_from") if "transfer_from" in raw else None,
            transfer_note=raw.get("transfer_note") if "transfer_from" in raw else None,
            log_id=raw.get("log_id") or None,
        )


@dataclass(frozen=True)
class AppendResult:
    code: int  # 1 stored, 0 duplicate client_id, negative: refused
    seq: int
    event_json: str = ""  # stored (code 1): the event as stored and published, byte for byte


def stored_json(payload: str, seq: int) -> str:
    """An event's JSON as the append script stores and publishes it: ``seq`` first, then the rest."""
    return f'{{"seq":{seq},{payload[1:]}'


@dataclass(frozen=True)
class QueueStat:
    audience: str
    language: str
    waiting: int
    urgent: int
    oldest_ms: int | None
    urgent_categories: tuple[str, ...] = ()
    urgent_oldest_ms: int | None = None  # when the longest-waiting urgent visitor arrived


class RedisStore:
    """Everything live, in Redis. One instance per process, shared by all connections."""

    def __init__(
        self,
        redis: Redis,
        keys: Keys,
        *,
        session_ttl: int,
        ended_ttl: int,
        wrapup_wait_ms: int = 600_000,
        max_events: int = 2000,
        max_bytes: int = 2 * 1024 * 1024,
        sharded_pubsub: bool = False,
        wait_replicas: int = 0,
        wait_timeout_ms: int = 100,
    ) -> None:
        self.max_events = max_events
        self.cluster = is_cluster(redis)
        # On a cluster with sharded pub/sub (Hub.sharded) the session scripts SPUBLISH on the session's channel.
        self.sharded_pubsub = sharded_pubsub
        # WAIT after a stored message, before it is acked (one server or Sentinel; docs/deploy.md).
        self.wait_replicas = 0 if self.cluster else wait_replicas
        self.wait_timeout_ms = wait_timeout_ms
        self.wait_shortfalls = 0  # stored messages that fewer replicas than asked confirmed in time
        self.max_bytes = max_bytes
        self.redis = redis
        self.keys = keys
        self.session_ttl = session_ttl
        self.ended_ttl = ended_ttl
        self.wrapup_wait_ms = wrapup_wait_ms
        self.use_sharded_pubsub(sharded_pubsub)
        if self.cluster:
            self._count_visitor = redis.register_script(_COUNT_VISITOR)
            self._take = redis.register_script(TAKE)
        else:
            self._claim = redis.register_script(_CLAIM)
            self._end = redis.register_script(_END)
            self._presence = redis.register_script(_PRESENCE)
            self._transfer = redis.register_script(_TRANSFER)
            self._create = redis.register_script(_CREATE)

    def use_sharded_pubsub(self, on: bool) -> None:
        """Publish with SPUBLISH (scripts too) when the Hub listens with SSUBSCRIBE (``Hub.sharded``)."""
        self.sharded_pubsub = on and self.cluster
        script = sharded if self.sharded_pubsub else (lambda text: text)
        self._append = self.redis.register_script(script(_APPEND))
        self._note = self.redis.register_script(script(_NOTE))
        self._receipt = self.redis.register_script(script(_RECEIPT))
        if self.cluster:
            self._claim_session = self.redis.register_script(script(_CLAIM_SESSION))
            self._end_session = self.redis.register_script(script(_END_SESSION))
            self._transfer_session = self.redis.register_script(script(_TRANSFER_SESSION))

    async def publish(self, channel: str, message: str) -> None:
        """PUBLISH, or SPUBLISH with sharded pub/sub (the Hub listens the same way)."""
        if self.sharded_pubsub:
            await self.redis.execute_command("SPUBLISH", channel, message)  # type: ignore[no-untyped-call]
        else:
            await self.redis.publish(channel, message)

    # -- sessions ---------------------------------------------------------------
    async def create_session(
        self,
        *,
        audience: Audience,
        language: Language,
        topic: str | None,
        urgent: bool,
        category: str | None,
        now_ms: int,
        client: str = "",
    ) -> tuple[str, str]:
        """Create a queued session; returns (session id, visitor token)."""
        created = await self.create_queued(
            audience=audience,
            language=language,
            topic=topic,
            urgent=urgent,
            category=category,
            now_ms=now_ms,
            client=client,
        )
        return created.sid, created.token

    async def create_queued(
        self,
        *,
        audience: Audience,
        language: Language,
        topic: str | None,
        urgent: bool,
        category: str | None,
        now_ms: int,
        client: str = "",
        log_id: str = "",
        idle_deadline_ms: int | None = None,
        counted_on: tuple[str, str, int] | None = None,
    ) -> Created:
        """Create a queued session, in one round trip on one server. ``log_id``: its correlation id for the
        log lines (``chat.services.metrics``); ``idle_deadline_ms``: the idle timer, set in the same step;
        ``counted_on``: (instance id, that instance's visitor index, its TTL) to count the visitor's first
        socket there in the same step (``chat.ws.instance.InstanceKeeper.new_visitor``; on a cluster the
        caller counts it afterwards, and ``Created.position`` is None)."""
        sid = new_session_id()
        token = secrets.token_urlsafe(32)  # 256 bits
        k = self.keys
        meta: dict[str, Any] = {
            "status": SessionStatus.QUEUED.value,
            "audience": audience.value,
            "language": language.value,
            "topic": topic or "",
            "urgent": "1" if urgent else "0",
            "category": category or "",
            "seq": 0,
            "enqueued_at": now_ms,
            "opened_at": now_ms,
            "last_activity": now_ms,
            "visitor_conns": 0,
            # The hash of the resume token, so that the archiver can delete its key.
            "vtoken": token_hash(token),
            # The client hash (HMAC, daily salt; never the address), to block the visitor if the chat is abusive.
            "client": client,
        }
        if log_id:
            meta["log_id"] = log_id
        if not self.cluster:
            # One round trip: the arrival number, the session, its token, the queue entry, the silent-queue
            # timer and the queue notice, in one script (a hello was four round trips).
            _, position = await self._create(
                keys=[
                    k.arrivals,
                    k.session(sid),
                    k.visitor_token(token_hash(token)),
                    k.queue(audience.value, language.value),
                    k.idle_timers,
                    counted_on[1] if counted_on else k.session(sid),
                ],
                args=[
                    self.session_ttl,
                    sid,
                    URGENT_OFFSET if urgent else NORMAL_OFFSET,
                    "" if idle_deadline_ms is None else idle_deadline_ms,
                    k.queue_channel,
                    # A tail arrival moves nobody's position: the queue watcher tells only the counselors.
                    "enqueued:urgent" if urgent else "enqueued",
                    counted_on[0] if counted_on else "",
                    counted_on[2] if counted_on else 0,
                    *[x for kv in meta.items() for x in kv],
                ],
            )
            return Created(sid, token, int(position), counted_on is not None)
        # The session and its token first, then the queue entry that makes it visible to an accept.
        arrival = int(await self.redis.incr(k.arrivals))
        meta["arrival"] = arrival
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(k.session(sid), mapping=cast(Any, meta))
            pipe.expire(k.session(sid), self.session_ttl)
            pipe.set(k.visitor_token(token_hash(token)), sid, ex=self.session_ttl)
            await pipe.execute()
        await self.redis.zadd(k.queue(audience.value, language.value), {sid: queue_score(arrival, urgent)})
        await self.publish(k.queue_channel, "enqueued:urgent" if urgent else "enqueued")
        if idle_deadline_ms is not None:
            await self.touch_idle(sid, idle_deadline_ms)
        return Created(sid, token, None, False)

    async def session_of_token(self, token: str) -> str | None:
        sid = await self.redis.get(self.keys.visitor_token(token_hash(token)))
        return sid.decode() if isinstance(sid, bytes) else sid

    async def get_session(self, sid: str) -> SessionInfo | None:
        raw = await self.redis.hgetall(self.keys.session(sid))
        if not raw:
            return None
        return SessionInfo.from_hash(sid, {_s(a): _s(b) for a, b in raw.items()})

    async def raise_risk(self, sid: str, category: str, now_ms: int) -> SessionStatus | None:
        """Triage found danger: a queued session moves ahead, an active one is flagged to its counselor and
        to every supervisor. Returns the status it was raised in, None when it already was (or is over)."""
        info = await self.get_session(sid)
        if info is None or info.urgent:
            return None
        if info.status is SessionStatus.QUEUED:
            return SessionStatus.QUEUED if await self.mark_urgent(sid, category, now_ms) else None
        if info.status is not SessionStatus.ACTIVE:
            return None
        risk = {"type": "risk", "session_id": sid, "category": category}
        alert = {**risk, "audience": info.audience, "language": info.language, "counselor_name": info.counselor_name}
        if self.cluster:
            await self.redis.hset(self.keys.session(sid), mapping={"urgent": "1", "category": category})
            await self.publish(self.keys.session_channel(sid), json.dumps(risk))
            await self.publish(self.keys.supervisors_channel, json.dumps(alert))
            return SessionStatus.ACTIVE
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.session(sid), mapping={"urgent": "1", "category": category})
            pipe.publish(self.keys.session_channel(sid), json.dumps(risk))
            pipe.publish(self.keys.supervisors_channel, json.dumps(alert))
            await pipe.execute()
        return SessionStatus.ACTIVE

    async def mark_urgent(self, sid: str, category: str, now_ms: int) -> bool:
        """Move a queued session ahead of the normal ones, keeping its arrival time."""
        info = await self.get_session(sid)
        if info is None or info.status is not SessionStatus.QUEUED or info.urgent:
            return False
        arrival = int(await self.redis.hget(self.keys.session(sid), "arrival") or 0)
        qkey = self.keys.queue(info.audience, info.language)
        if self.cluster:
            await self.redis.hset(self.keys.session(sid), mapping={"urgent": "1", "category": category})
            await self.redis.zadd(qkey, {sid: queue_score(arrival, True)}, xx=True)
            await self.publish(self.keys.queue_channel, "urgent")
            return True
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.session(sid), mapping={"urgent": "1", "category": category})
            pipe.zadd(qkey, {sid: queue_score(arrival, True)}, xx=True)
            pipe.publish(self.keys.queue_channel, "urgent")
            await pipe.execute()
        return True

    async def append(
        self,
        sid: str,
        event: Event,
        *,
        client_id: str | None,
        owner: str | None,
        allowed: tuple[SessionStatus, ...],
        now_ms: int,
        limits: Sequence[tuple[str, str, float, int]] = (),
        limits_now_ms: int = 0,
    ) -> AppendResult:
        """Store one event with the next seq and publish it; a known client_id is not stored twice.

        ``limits``: token buckets (bucket, subject hash, rate per second, burst, as ``RateLimiter.take``) to take
        one token from first, at ``limits_now_ms``: when one is empty the answer is ``RATE_LIMITED`` and nothing
        is stored. On one server that is the same round trip; on a cluster (the buckets are in another slot)
        the limiter's script runs first, then the append.
        """
        payload = orjson.dumps(event).decode()  # compact, UTF-8 as is (as json.dumps(ensure_ascii=False))
        allowed_s = "|" + "|".join(s.value for s in allowed) + "|"
        keys = self.keys.session_keys(sid)
        limit_keys = [self.keys.rate(b, h) for b, h, _r, _u in limits]
        limit_args: list[str | int | float] = [limits_now_ms] if limits else []
        for _b, _h, rate, burst in limits:
            limit_args += [rate, burst]
        if limits and self.cluster:
            if int(await self._take(keys=limit_keys, args=limit_args)) != 1:
                return AppendResult(RATE_LIMITED, 0)
        elif limits:
            keys = [*keys, *limit_keys]
        args: list[str | int | float] = [
            payload,
            client_id or "",
            owner or "",
            allowed_s,
            now_ms,
            self.session_ttl,
            self.keys.session_channel(sid),
            self.max_events,
            self.max_bytes,
        ]
        if limits and not self.cluster:
            args += limit_args
        if not self.wait_replicas:
            try:
                # EVALSHA itself: redis-py's script object adds type checks per call (a tenth of the append's
                # client side cost); on NOSCRIPT (a restarted Redis) the script object loads it and runs it.
                code, seq = await self.redis.evalsha(self._append.sha, len(keys), *keys, *args)
            except NoScriptError:
                code, seq = await self._append(keys=keys, args=args)
            return AppendResult(int(code), int(seq), stored_json(payload, seq) if code == 1 else "")
        # WAIT counts the writes of its own connection: the script and the WAIT go in one pipeline.
        async with self.redis.pipeline(transaction=False) as pipe:
            await self._append(keys=keys, args=args, client=pipe)
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_timeout_ms)
            (code, seq), replicas = await pipe.execute()
        if int(code) >= 0 and int(replicas) < self.wait_replicas:
            # Not acked: the primary has it but too few replicas do. After a failover this is the old primary,
            # which keeps answering until the Sentinels demote it; new connections ask the Sentinels again, and
            # the client's resend (same client_id) is stored on the primary they name.
            self.wait_shortfalls += 1
            await self.redis.connection_pool.disconnect()
            raise ReplicationShortfall(f"{replicas} of {self.wait_replicas} replicas confirmed the write in time")
        return AppendResult(int(code), int(seq), stored_json(payload, seq) if code == 1 else "")

    async def end(
        self, sid: str, reason: EndReason, ts: str, now_ms: int, *, require_offline: bool = False
    ) -> AppendResult:
        """End a session: the ``ended`` event, out of every queue and set, handed to the archiver."""
        event = {"type": "ended", "session_id": sid, "ts": ts, "reason": reason.value}
        payload = json.dumps(event, separators=(",", ":"))
        k = self.keys
        if self.cluster:
            return await self._end_steps(sid, reason, payload, now_ms, require_offline)
        code, seq = await self._end(
            keys=[*k.session_keys(sid), k.archive_queue, k.grace_timers, k.idle_timers],
            args=[
                payload,
                now_ms,
                self.ended_ttl,
                k.prefix,
                k.queue_channel,
                sid,
                "1" if require_offline else "0",
                self.wrapup_wait_ms,
                reason.value,
            ],
        )
        return AppendResult(int(code), int(seq))

    async def _end_steps(
        self, sid: str, reason: EndReason, payload: str, now_ms: int, require_offline: bool
    ) -> AppendResult:
        """``end`` on a cluster, in the order of the module's docstring."""
        k = self.keys
        marked = await self.redis.zadd(k.archive_queue, {sid: now_ms + self.wrapup_wait_ms}, nx=True)
        out = await self._end_session(
            keys=k.session_keys(sid),
            args=[payload, now_ms, self.ended_ttl, k.session_channel(sid), int(require_offline), reason.value],
        )
        code, seq = int(out[0]), int(out[1])
        if code < 0:
            if marked:
                await self.redis.zrem(k.archive_queue, sid)
            return AppendResult(code, seq)
        status, audience, language, counselor, vtoken, has_wrapup = (_s(x) for x in out[2:8])
        if code == 0 and not marked:
            return AppendResult(code, seq)  # ended before, and its steps were done (it is in the archive queue)
        ready = now_ms + (self.wrapup_wait_ms if counselor and not has_wrapup else 0)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(k.archive_queue, {sid: ready}, xx=True)
            pipe.zrem(k.grace_timers, sid)
            pipe.zrem(k.idle_timers, sid)
            if status == SessionStatus.QUEUED.value:
                pipe.zrem(k.queue(audience, language), sid)
            if counselor:
                pipe.srem(k.counselor_sessions(int(counselor)), sid)
                if not has_wrapup:
                    pipe.sadd(k.counselor_wrapups(int(counselor)), sid)
                    pipe.expire(k.counselor_wrapups(int(counselor)), self.ended_ttl)
            if vtoken:
                pipe.expire(k.visitor_token(vtoken), self.ended_ttl)
                if counselor:
                    pipe.set(k.rateable(vtoken), counselor, ex=self.ended_ttl)
            await pipe.execute()
        if status == SessionStatus.QUEUED.value:
            await self.publish(k.queue_channel, "ended")
        return AppendResult(code, seq)

    async def save_wrapup(self, sid: str, counselor_id: int, wrapup: dict[str, str], now_ms: int) -> bool:
        """Keep the counselor's wrap-up with the session; an ended session is then archived at once."""
        meta = self.keys.session(sid)
        owner = await self.redis.hget(meta, "counselor")
        if owner is None or _s(owner) != str(counselor_id):
            return False
        if self.cluster:  # the wrap-up is kept before the archiver may take the session
            await self.redis.hset(meta, "wrapup", json.dumps(wrapup, separators=(",", ":")))
        async with atomic(self.redis) as pipe:
            if not self.cluster:
                pipe.hset(meta, "wrapup", json.dumps(wrapup, separators=(",", ":")))
            pipe.zadd(self.keys.archive_queue, {sid: now_ms}, xx=True)
            pipe.srem(self.keys.counselor_wrapups(counselor_id), sid)
            await pipe.execute()
        return True

    async def take_rateable(self, token: str) -> int | None:
        """The counselor a visitor's rating counts for, once: the key is deleted as it is read."""
        value = await self.redis.getdel(self.keys.rateable(token_hash(token)))
        return int(_s(value)) if value is not None and _s(value).isdigit() else None

    async def awaiting_wrapup(self, counselor_id: int) -> list[str]:
        """The counselor's ended chats that still wait for a wrap-up (and are not archived yet)."""
        return sorted(_s(x) for x in await self.redis.smembers(self.keys.counselor_wrapups(counselor_id)))

    async def events_after(self, sid: str, last_seq: int, *, count: int | None = None) -> list[Event]:
        """Events with seq > last_seq, in order, from the stream."""
        entries = await self.redis.xrange(self.keys.events(sid), min=f"({stream_id(last_seq)}", max="+", count=count)
        return decode_entries(entries)

    async def add_note(self, sid: str, note: Event, *, client_id: str) -> AppendResult:
        """Store a staff-only note (a whisper) of an active session and publish it to staff; code as ``append``,
        ``seq`` is the note's id. It goes to its own stream and channel, which no visitor connection reads."""
        payload = json.dumps(note, ensure_ascii=False, separators=(",", ":"))
        code, note_id = await self._note(
            keys=self.keys.note_keys(sid),
            args=[payload, client_id, self.session_ttl, self.keys.staff_channel(sid)],
        )
        return AppendResult(int(code), int(note_id))

    async def publish_supervisors(self, frame: dict[str, Any]) -> None:
        """An alert for every supervisor on every instance (the watchers forward it)."""
        await self.publish(self.keys.supervisors_channel, json.dumps(frame))

    async def notes(self, sid: str) -> list[Event]:
        """Every staff note of the session, in order."""
        return decode_entries(await self.redis.xrange(self.keys.notes(sid)))

    async def publish_control(self, sid: str, frame: dict[str, Any]) -> None:
        """Typing, presence, paired: relayed to the other side, never stored."""
        await self.publish(self.keys.session_channel(sid), json.dumps(frame, ensure_ascii=False))

    def queue_publish_control(self, pipe: Any, sid: str, frame: dict[str, Any]) -> None:
        """``publish_control`` queued on a pipeline."""
        channel, message = self.keys.session_channel(sid), json.dumps(frame, ensure_ascii=False)
        if self.sharded_pubsub:
            pipe.execute_command("SPUBLISH", channel, message)
        else:
            pipe.publish(channel, message)

    async def visitor_presence(
        self, sid: str, delta: int, now_ms: int, grace_ms: int, queued_grace_ms: int | None = None
    ) -> int:
        """Count the visitor's connections; at zero the grace timer starts: ``grace_ms`` for a chat,
        ``queued_grace_ms`` (default the same) for a session that is queued at that moment in Redis."""
        queued = grace_ms if queued_grace_ms is None else queued_grace_ms
        if self.cluster:
            # The timer first, the count second: a timer left behind is harmless (the sweeper ends only an
            # offline visitor's session), a count of zero without a timer would never end.
            grace = self.keys.grace_timers
            if delta < 0:
                status = await self.redis.hget(self.keys.session(sid), "status")
                deadline = now_ms + (queued if status in (b"queued", "queued") else grace_ms)
                await self.redis.zadd(grace, {sid: deadline})
            n = int(await self._count_visitor(keys=[self.keys.session(sid)], args=[delta, now_ms]))
            if n != 0:
                await self.redis.zrem(grace, sid)
            return n
        n = await self._presence(
            keys=[self.keys.session(sid), self.keys.grace_timers],
            args=[delta, now_ms, now_ms + grace_ms, sid, now_ms + queued],
        )
        return int(n)

    async def receipt(self, sid: str, counselor: str, delivered: int, read: int) -> tuple[int, int, bool] | None:
        """Raise the session's delivered and read marks and publish them when they changed (one round trip);
        None when it is not an active session of this counselor. ``changed`` is the third."""
        out = await self._receipt(
            keys=[self.keys.session(sid)], args=[delivered, read, counselor, self.keys.session_channel(sid), sid]
        )
        if not out:
            return None
        return int(out[0]), int(out[1]), bool(int(out[2]))

    async def receipts(self, sid: str) -> tuple[int, int]:
        """The session's delivered and read marks (0 when nothing was acknowledged)."""
        d, r = await self.redis.hmget(self.keys.session(sid), ["delivered_seq", "read_seq"])
        return int(d or 0), int(r or 0)

    async def touch_idle(self, sid: str, deadline_ms: int) -> None:
        await self.redis.zadd(self.keys.idle_timers, {sid: deadline_ms})

    async def due_timers(self, key: str, now_ms: int, limit: int = 100) -> list[str]:
        raw = await self.redis.zrangebyscore(key, "-inf", now_ms, start=0, num=limit)
        return [_s(x) for x in raw]

    # -- queues and claims ----------------------------------------------------------
    def queue_keys(self, audience: str | None = None, language: str | None = None) -> list[str]:
        return [
            self.keys.queue(a.value, lang.value)
            for a in Audience
            for lang in Language
            if (audience is None or a.value == audience) and (language is None or lang.value == language)
        ]

    async def accept(
        self,
        counselor_id: int,
        counselor_name: str,
        now_ms: int,
        *,
        default_capacity: int,
        idle_deadline_ms: int,
        audience: str | None = None,
        language: str | None = None,
    ) -> Accepted:
        """A counselor's accept in one round trip: their availability, capacity and skills (from their
        state hash), the claim of the next visitor they take (urgent first, then oldest), the idle timer
        and the ``paired`` notice to the visitor. ``audience``/``language`` narrow it."""
        k = self.keys
        queues = [
            (a.value, x.value)
            for a in Audience
            for x in Language
            if (audience is None or a.value == audience) and (language is None or x.value == language)
        ]
        paired = json.dumps({"counselor_name": counselor_name}, ensure_ascii=False, separators=(",", ":"))
        if self.cluster:
            return await self._accept_steps(
                counselor_id, counselor_name, now_ms, paired, queues, default_capacity, idle_deadline_ms
            )
        while True:
            result = await self._claim(
                keys=[
                    k.counselor_sessions(counselor_id),
                    k.recent_waits,
                    k.counselor_state(counselor_id),
                    k.idle_timers,
                    *(k.queue(a, x) for a, x in queues),
                ],
                args=[
                    k.prefix,
                    str(counselor_id),
                    counselor_name,
                    now_ms,
                    default_capacity,
                    k.queue_channel,
                    3600 * 1000,
                    secrets.token_hex(6),
                    self.session_ttl,
                    idle_deadline_ms,
                    paired,
                    k.counselor_channel(counselor_id),
                    _EVERY_AUDIENCE,
                    _EVERY_LANGUAGE,
                    *(part for queue in queues for part in queue),
                ],
            )
            verdict = _s(result[0])
            if verdict == "retry":
                continue  # a stale queue entry (the session ended meanwhile) was dropped; try the next
            if verdict != "ok":
                return Accepted(verdict)
            flat = [_s(x) for x in result[2]]
            info = SessionInfo.from_hash(_s(result[1]), dict(zip(flat[::2], flat[1::2], strict=True)))
            return Accepted(
                "ok", info, int(_s(result[3])), int(_s(result[4])), Skills.parse(_s(result[5])), status_sent=True
            )

    async def _accept_steps(
        self,
        counselor_id: int,
        counselor_name: str,
        now_ms: int,
        paired: str,
        queues: list[tuple[str, str]],
        default_capacity: int,
        idle_deadline_ms: int,
    ) -> Accepted:
        """``accept`` on a cluster, in the order of the module's docstring."""
        k = self.keys
        while True:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(k.counselor_state(counselor_id), ["available", "capacity", "skills"])
                pipe.scard(k.counselor_sessions(counselor_id))
                for a, x in queues:
                    pipe.zrange(k.queue(a, x), 0, 0, withscores=True)
                state, active, *heads = await pipe.execute()
            available, capacity_raw, skills_raw = (_s(v) if v is not None else None for v in state)
            if available == "0":
                return Accepted("unavailable")
            capacity = int(capacity_raw or default_capacity)
            skills_text = skills_raw or ""
            skills = Skills.parse(skills_text)
            if capacity > 0 and int(active) >= capacity:
                return Accepted("full", None, capacity, int(active), skills)
            auds, bar, langs = skills_text.partition("|")
            best: tuple[float, str, str, str, str] | None = None
            for (a, x), head in zip(queues, heads, strict=True):
                if bar and (a not in auds.split(",") or x not in langs.split(",")):
                    continue
                if head:
                    member, score = head[0]
                    candidate = (float(score), k.queue(a, x), _s(member), a, x)
                    if best is None or candidate[:2] < best[:2]:
                        best = candidate
            if best is None:
                return Accepted("empty")
            _score, qkey, sid, _a, _x = best
            out = await self._claim_session(
                keys=[k.session(sid)],
                args=[str(counselor_id), counselor_name, now_ms, paired, sid, k.session_channel(sid)],
            )
            if _s(out[0]) != "ok":
                await self._repair_claim(sid, qkey, _s(out[1]), _s(out[2]), idle_deadline_ms)
                continue  # a session another counselor took (or that ended) was in the queue; try the next
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(k.counselor_sessions(counselor_id), sid)
                pipe.expire(k.counselor_sessions(counselor_id), self.session_ttl)
                pipe.zadd(k.idle_timers, {sid: idle_deadline_ms})
                await pipe.execute()
            flat = [_s(x) for x in out[1]]
            info = SessionInfo.from_hash(sid, dict(zip(flat[::2], flat[1::2], strict=True)))
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(qkey, sid)
                # A random tag, not the session id: the statistics must not outlive the session as a link to it.
                pipe.zadd(k.recent_waits, {f"{secrets.token_hex(6)}:{now_ms - info.enqueued_at}": now_ms})
                pipe.zremrangebyscore(k.recent_waits, "-inf", now_ms - 3600 * 1000)
                await pipe.execute()
            await self.publish(k.queue_channel, "claimed")
            return Accepted("ok", info, capacity, int(active) + 1, skills)

    async def _repair_claim(self, sid: str, qkey: str, status: str, owner: str, idle_deadline_ms: int) -> None:
        """A queue entry whose session is no longer queued: finish the claim that left it (steps 3, 4), or drop it."""
        k = self.keys
        if status == SessionStatus.ACTIVE.value and owner.isdigit():
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.sadd(k.counselor_sessions(int(owner)), sid)
                pipe.expire(k.counselor_sessions(int(owner)), self.session_ttl)
                pipe.zadd(k.idle_timers, {sid: idle_deadline_ms}, nx=True)
                await pipe.execute()
        await self.redis.zrem(qkey, sid)

    async def queue_stats(self) -> list[QueueStat]:
        """Per queue: how many wait, the urgent ones and their categories, and the earliest arrival time.

        Each band (handed back, urgent, normal) keeps arrival order, so the
        earliest arrival is the head of one of the three.
        """
        keys = self.queue_keys()
        async with self.redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zcard(key)
                pipe.zrangebyscore(key, URGENT_OFFSET, f"({NORMAL_OFFSET}")
                pipe.zrangebyscore(key, "-inf", f"({URGENT_OFFSET}", start=0, num=1)
                pipe.zrangebyscore(key, NORMAL_OFFSET, "+inf", start=0, num=1)
            raw = await pipe.execute()
        urgent_ids = [[_s(m) for m in raw[4 * i + 1]] for i in range(len(keys))]
        heads = [
            [_s(m) for m in raw[4 * i + 2]] + u[:1] + [_s(m) for m in raw[4 * i + 3]] for i, u in enumerate(urgent_ids)
        ]
        async with self.redis.pipeline(transaction=False) as pipe:
            for i in range(len(keys)):
                for sid in heads[i]:
                    pipe.hget(self.keys.session(sid), "enqueued_at")
                for sid in urgent_ids[i]:
                    pipe.hget(self.keys.session(sid), "category")
                for sid in urgent_ids[i][:1]:
                    pipe.hget(self.keys.session(sid), "enqueued_at")
            answers = iter(await pipe.execute())
        stats = []
        for i, key in enumerate(keys):
            _, _, audience, language = key.rsplit(":", 3)
            times = [int(t) for t in (next(answers) for _ in heads[i]) if t is not None]
            categories: set[str] = set()
            for _ in urgent_ids[i]:
                categories.update(c for c in _s(next(answers) or "").split(",") if c)
            urgent_times = [int(t) for t in (next(answers) for _ in urgent_ids[i][:1]) if t is not None]
            stats.append(
                QueueStat(
                    audience,
                    language,
                    int(raw[4 * i]),
                    len(urgent_ids[i]),
                    min(times, default=None),
                    tuple(sorted(categories)),
                    min(urgent_times, default=None),
                )
            )
        return stats

    # -- counselor state and transfers -------------------------------------------------
    async def counselor_status(self, counselor_id: int, default_capacity: int) -> tuple[bool, int]:
        raw = await self.redis.hgetall(self.keys.counselor_state(counselor_id))
        state = {_s(a): _s(b) for a, b in raw.items()}
        return state.get("available", "1") == "1", int(state.get("capacity", default_capacity))

    async def set_counselor_status(self, counselor_id: int, available: bool, capacity: int, ttl: int) -> None:
        key = self.keys.counselor_state(counselor_id)
        async with atomic(self.redis) as pipe:
            pipe.hset(key, mapping={"available": "1" if available else "0", "capacity": capacity})
            pipe.expire(key, ttl)
            await pipe.execute()

    async def publish_counselor_status(self, counselor_id: int, default_capacity: int) -> None:
        """Tell every console of this counselor, on every instance, their availability, capacity, load and skills."""
        available, capacity = await self.counselor_status(counselor_id, default_capacity)
        frame = {
            "type": "status",
            "available": available,
            "capacity": capacity,
            "active": await self.active_count(counselor_id),
            **(await self.counselor_skills(counselor_id)).public(),
        }
        await self.publish(self.keys.counselor_channel(counselor_id), json.dumps(frame))

    async def publish_status_frame(
        self, counselor_id: int, *, available: bool, capacity: int, active: int, skills: Skills
    ) -> None:
        """``publish_counselor_status`` from values the caller already has (the accept script's)."""
        frame = {"type": "status", "available": available, "capacity": capacity, "active": active, **skills.public()}
        await self.publish(self.keys.counselor_channel(counselor_id), json.dumps(frame))

    async def active_count(self, counselor_id: int) -> int:
        return int(await self.redis.scard(self.keys.counselor_sessions(counselor_id)))

    async def transfer(
        self,
        sid: str,
        from_id: int,
        to_id: int | None,
        to_name: str | None,
        now_ms: int,
        ts: str,
        *,
        from_name: str = "",
        note: str = "",
    ) -> AppendResult:
        """Move an active chat to another counselor, or back to the head of its queue (``to_id`` None).

        One script: ownership, the move, the note kept in the meta for the next counselor
        (``transfer_from``, ``transfer_note``; replaced by a later transfer) and the ``handover`` event
        happen together.
        """
        k = self.keys
        event = {"type": "handover", "session_id": sid, "sender": "system", "ts": ts, "counselor_name": to_name}
        payload = json.dumps(event, ensure_ascii=False, separators=(",", ":"))
        if self.cluster:
            out = await self._transfer_session(
                keys=[k.session(sid), k.events(sid)],
                args=[
                    payload,
                    str(from_id),
                    str(to_id) if to_id is not None else "",
                    to_name or "",
                    now_ms,
                    k.session_channel(sid),
                    from_name,
                    note,
                ],
            )
            if int(out[0]) != 1:
                return AppendResult(int(out[0]), int(out[1]))
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.srem(k.counselor_sessions(from_id), sid)
                if to_id is not None:
                    pipe.sadd(k.counselor_sessions(to_id), sid)
                    pipe.expire(k.counselor_sessions(to_id), self.session_ttl)
                else:
                    pipe.zadd(k.queue(_s(out[2]), _s(out[3])), {sid: head_score(now_ms)})
                await pipe.execute()
            if to_id is None:
                await self.publish(k.queue_channel, "requeued")
            return AppendResult(1, int(out[1]))
        code, seq = await self._transfer(
            keys=[
                *k.session_keys(sid),
                k.counselor_sessions(from_id),
                k.counselor_sessions(to_id) if to_id is not None else k.counselor_sessions(from_id),
            ],
            args=[
                payload,
                str(from_id),
                str(to_id) if to_id is not None else "",
                to_name or "",
                now_ms,
                self.session_ttl,
                k.session_channel(sid),
                k.prefix,
                sid,
                head_score(now_ms),
                k.queue_channel,
                from_name,
                note,
            ],
        )
        return AppendResult(int(code), int(seq))

    async def positions(self, sids: list[tuple[str, str, str]]) -> dict[str, int | None]:
        """Queue position (1-based) of each (sid, audience, language); None when not queued.

        One ZRANGE per queue that has any of them (not a ZRANK per visitor): a round of updates
        for 10,000 queued visitors is a handful of commands.
        """
        queues = sorted({(a, x) for _sid, a, x in sids})
        async with self.redis.pipeline(transaction=False) as pipe:
            for audience, language in queues:
                pipe.zrange(self.keys.queue(audience, language), 0, -1)
            members = await pipe.execute()
        ranks: dict[tuple[str, str], dict[str, int]] = {
            queue: {_s(m): i + 1 for i, m in enumerate(ids)} for queue, ids in zip(queues, members, strict=True)
        }
        return {sid: ranks[(a, x)].get(sid) for sid, a, x in sids}

    async def recent_waits(self, now_ms: int, window_ms: int = 3600 * 1000) -> list[tuple[float, float]]:
        """(pairing time in s, wait in s) for pairings in the last window."""
        raw = await self.redis.zrangebyscore(self.keys.recent_waits, now_ms - window_ms, "+inf", withscores=True)
        out = []
        for member, score in cast(list[tuple[bytes, float]], raw):
            wait_ms = _s(member).rsplit(":", 1)[1]
            out.append((float(score) / 1000, float(wait_ms) / 1000))
        return out

    async def counselor_session_ids(self, counselor_id: int) -> list[str]:
        return sorted(_s(x) for x in await self.redis.smembers(self.keys.counselor_sessions(counselor_id)))

    async def counselor_skills(self, counselor_id: int) -> Skills:
        return Skills.parse(_s(await self.redis.hget(self.keys.counselor_state(counselor_id), "skills") or ""))

    async def set_counselor_skills(self, counselor_id: int, skills: Skills, ttl: int) -> None:
        key = self.keys.counselor_state(counselor_id)
        async with atomic(self.redis) as pipe:
            pipe.hset(key, "skills", skills.dump())
            pipe.expire(key, ttl)
            await pipe.execute()

    async def skilled_online(self, now_ms: int, horizon_ms: int = 60_000) -> dict[tuple[str, str], int]:
        """Per queue, how many counselors online take it (whatever their availability)."""
        ids = await self.redis.zrangebyscore(self.keys.counselors_online, now_ms - horizon_ms, "+inf")
        counts: dict[tuple[str, str], int] = {}
        if not ids:
            return counts
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in ids:
                pipe.hget(self.keys.counselor_state(int(_s(cid))), "skills")
            raw = await pipe.execute()
        for text in raw:
            for queue in Skills.parse(_s(text or "")).queues():
                counts[queue] = counts.get(queue, 0) + 1
        return counts

    async def counselors_online(self, now_ms: int, horizon_ms: int = 60_000) -> int:
        return int(await self.redis.zcount(self.keys.counselors_online, now_ms - horizon_ms, "+inf"))

    async def heartbeat_counselor(self, counselor_id: int, now_ms: int) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(self.keys.counselors_online, {str(counselor_id): now_ms})
            pipe.zremrangebyscore(self.keys.counselors_online, "-inf", now_ms - 3600_000)
            pipe.expire(self.keys.counselors_online, 3600)
            await pipe.execute()

    async def counselor_offline(self, counselor_id: int) -> None:
        await self.redis.zrem(self.keys.counselors_online, str(counselor_id))

    async def active_sessions(self) -> int:
        total = 0
        async for _ in self.redis.scan_iter(match=f"{self.keys.prefix}:{{c:*}}:sessions", count=500):
            total += int(await self.redis.scard(_s(_)))
        return total


@dataclass(frozen=True)
class Accepted:
    """What an accept came to: "ok" (with the session), "unavailable", "full" or "empty"."""

    verdict: str
    info: SessionInfo | None = None
    capacity: int = 0
    active: int = 0
    skills: Skills | None = None
    # Whether the counselor's new `status` went out with the claim (one server); else the caller publishes it.
    status_sent: bool = False


# The claim script's `status` frame for skills of every queue (Skills.public() of Skills.every()).
_EVERY_AUDIENCE = ",".join(json.dumps(a) for a in Skills.every().public()["audiences"])
_EVERY_LANGUAGE = ",".join(json.dumps(x) for x in Skills.every().public()["languages"])


def decode_entries(entries: Any) -> list[Event]:
    """Stream entries (id, {"e": json}) as events, in stream order."""
    return [json.loads(_s(fields.get(b"e", fields.get("e")))) for _id, fields in entries or []]


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def urgent_of(score: float) -> bool:
    return is_urgent_score(score)
