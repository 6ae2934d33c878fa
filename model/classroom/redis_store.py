"""The class store in Redis, for app processes on several machines behind one proxy.

Every limited change is one Lua script: Redis runs it whole, so limits hold across processes.
Keys of a class, all expiring 12 h after the last touch: ``c:CODE`` (hash: secret, state,
version, ended, locked, approve), ``c:CODE:s`` (hash: seat -> "seen following sent"),
``c:CODE:d`` (hash: digit id -> JSON), ``c:CODE:m`` (hash: digit id -> "approved seat", what the
scripts read), ``c:CODE:n`` (the last digit id), ``c:CODE:b`` (hash: rate bucket -> "tokens at").
"""

from __future__ import annotations

import json
from typing import Any

from model.classroom import rules
from model.classroom.rules import ClassError
from model.classroom.store import (
    ENDED,
    GAP,
    LOCKED,
    NEW_SEAT_SOON,
    SEND_SOON,
    ClassInfo,
    Digit,
    NotTeacher,
    Seat,
    Store,
    bound_key,
    check_state,
    full,
    not_seated,
    unknown,
)
from viz import limits

_LIB = """
local function touch(code, ttl)
  for _, s in ipairs({'', ':s', ':d', ':m', ':n', ':b'}) do
    local k = 'c:' .. code .. s
    if redis.call('EXISTS', k) == 1 then redis.call('EXPIRE', k, ttl) end
  end
end
local function teacher(code, secret)
  local s = redis.call('HGET', 'c:' .. code, 'secret')
  if not s then return 'unknown' end
  if s ~= secret then return 'not teacher' end
  return nil
end
local function open(c)
  if redis.call('EXISTS', c) == 0 then return 'unknown' end
  if redis.call('HGET', c, 'ended') == '1' then return 'ended' end
  return nil
end
local function fresh(c, now, fresh_s, but)
  local n = 0
  local all = redis.call('HGETALL', c .. ':s')
  for i = 1, #all, 2 do
    if all[i] ~= but and now - tonumber(string.match(all[i + 1], '^(%S+)')) < fresh_s then
      n = n + 1 end
  end
  return n
end
local function wait(k, f, burst, per, now)
  local v = redis.call('HGET', k, f)
  local tokens = burst
  if v then
    local t, a = string.match(v, '(%S+) (%S+)')
    tokens = math.min(burst, tonumber(t) + math.max(0, now - tonumber(a)) / per)
  end
  if tokens >= 1 then return 0, tokens end
  return (1 - tokens) * per, tokens
end
local function take(k, f, burst, per, now)
  local _, tokens = wait(k, f, burst, per, now)
  redis.call('HSET', k, f, string.format('%.6f %.6f', tokens - 1, now))
end
local function ids_of(c, seat)
  local out = {}
  local all = redis.call('HGETALL', c .. ':m')
  for i = 1, #all, 2 do
    if seat == nil or string.match(all[i + 1], '^%S+ (.*)$') == seat then
      table.insert(out, tonumber(all[i])) end
  end
  table.sort(out)
  return out
end
local function drop(c, ids, first, last)
  for i = first, last do
    redis.call('HDEL', c .. ':d', tostring(ids[i])); redis.call('HDEL', c .. ':m', tostring(ids[i]))
  end
end
"""
_SCRIPTS = {
    "publish": """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
redis.call('HSET', 'c:' .. ARGV[1], 'state', ARGV[3])
local v = redis.call('HINCRBY', 'c:' .. ARGV[1], 'version', 1)
touch(ARGV[1], tonumber(ARGV[4])); return v""",
    "end": """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
redis.call('HSET', 'c:' .. ARGV[1], 'ended', 1)
redis.call('HINCRBY', 'c:' .. ARGV[1], 'version', 1)
touch(ARGV[1], tonumber(ARGV[3])); return 1""",
    "teach": """
local bad = teacher(ARGV[1], ARGV[2]); if bad then return {err = bad} end
local c = 'c:' .. ARGV[1]
local what, arg = ARGV[4], ARGV[5]
if what == 'clear' then redis.call('DEL', c .. ':d', c .. ':m')
elseif what == 'locked' or what == 'approve' then redis.call('HSET', c, what, arg)
elseif what == 'remove_seat' then
  redis.call('HDEL', c .. ':s', arg); local ids = ids_of(c, arg); drop(c, ids, 1, #ids)
elseif what == 'remove_digit' then redis.call('HDEL', c .. ':d', arg); redis.call('HDEL', c .. ':m', arg)
elseif what == 'approve_digit' then
  local all = redis.call('HGETALL', c .. ':m')
  for i = 1, #all, 2 do
    if arg == '' or all[i] == arg then
      redis.call('HSET', c .. ':m', all[i], '1 ' .. string.match(all[i + 1], '^%S+ (.*)$')) end
  end
end
touch(ARGV[1], tonumber(ARGV[3])); return 1""",
    "join": """
local c, student, now = 'c:' .. ARGV[1], ARGV[2], tonumber(ARGV[3])
local bad = open(c); if bad then return {err = bad} end
local fresh_s, max = tonumber(ARGV[6]), tonumber(ARGV[4])
local n = fresh(c, now, fresh_s, student)
local known = redis.call('HGET', c .. ':s', student)
local stale = (not known) or now - tonumber(string.match(known, '^(%S+)')) >= fresh_s
if stale then
  if (not known) and redis.call('HGET', c, 'locked') == '1' then return {err = 'locked'} end
  if n >= max then return {err = 'full'} end
end
if known then
  redis.call('HSET', c .. ':s', student, ARGV[3] .. string.match(known, '^%S+( .*)$'))
else
  local limits = {}
  if ARGV[7] ~= '' then table.insert(limits, {'a:' .. ARGV[7], tonumber(ARGV[9]), tonumber(ARGV[10]), 'address'}) end
  if ARGV[8] ~= '' then table.insert(limits, {'b:' .. ARGV[8], tonumber(ARGV[11]), tonumber(ARGV[12]), 'browser'}) end
  for _, l in ipairs(limits) do
    local w = wait(c .. ':b', l[1], l[2], l[3], now)
    if w > 0 then return {err = 'soon ' .. l[4] .. ' ' .. w} end
  end
  for _, l in ipairs(limits) do take(c .. ':b', l[1], l[2], l[3], now) end
  local kept = redis.call('HLEN', c .. ':s')
  if kept >= tonumber(ARGV[13]) then
    local old = {}
    local all = redis.call('HGETALL', c .. ':s')
    for i = 1, #all, 2 do
      local seen = tonumber(string.match(all[i + 1], '^(%S+)'))
      if now - seen >= fresh_s then table.insert(old, {seen, all[i]}) end
    end
    table.sort(old, function(a, b) return a[1] < b[1] end)
    for i = 1, math.min(#old, kept - tonumber(ARGV[13]) + 1) do
      redis.call('HDEL', c .. ':s', old[i][2]); local ids = ids_of(c, old[i][2]); drop(c, ids, 1, #ids)
    end
  end
  redis.call('HSET', c .. ':s', student, ARGV[3] .. ' 1 0')
end
touch(ARGV[1], tonumber(ARGV[5])); return n + 1""",
    "seen": """
local c, now, fresh_s = 'c:' .. ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[5])
local who = redis.call('HGET', c .. ':s', ARGV[2]); if not who then return 0 end
local seen, sent = string.match(who, '^(%S+) %S+ (%S+)')
if now - tonumber(seen) >= fresh_s and fresh(c, now, fresh_s, '') >= tonumber(ARGV[6]) then
  return 0 end
redis.call('HSET', c .. ':s', ARGV[2], ARGV[3] .. ' ' .. ARGV[4] .. ' ' .. sent); return 1""",
    "send": """
local c, student, now = 'c:' .. ARGV[1], ARGV[2], tonumber(ARGV[3])
local bad = open(c); if bad then return {err = bad} end
local who = redis.call('HGET', c .. ':s', student)
if not who then return {err = 'not seated'} end
local seen, f, sent = string.match(who, '^(%S+) (%S+) (%S+)')
local fresh_s = tonumber(ARGV[7])
if now - tonumber(seen) >= fresh_s and fresh(c, now, fresh_s, '') >= tonumber(ARGV[8]) then
  return {err = 'full'} end
if now - tonumber(sent) < tonumber(ARGV[5]) then return {err = 'gap'} end
local limits = {{'s:' .. student, tonumber(ARGV[10]), tonumber(ARGV[11]), 'seat'}}
if ARGV[9] ~= '' then table.insert(limits, {'sb:' .. ARGV[9], tonumber(ARGV[12]), tonumber(ARGV[13]), 'browser'}) end
for _, l in ipairs(limits) do
  local w = wait(c .. ':b', l[1], l[2], l[3], now)
  if w > 0 then return {err = 'soon ' .. l[4] .. ' ' .. w} end
end
for _, l in ipairs(limits) do take(c .. ':b', l[1], l[2], l[3], now) end
local mine = ids_of(c, student)
drop(c, mine, 1, #mine - tonumber(ARGV[14]) + 1)
local all = ids_of(c, nil)
drop(c, all, 1, #all - tonumber(ARGV[15]) + 1)
local id = redis.call('INCR', c .. ':n')
local approved = redis.call('HGET', c, 'approve') == '1' and '0' or '1'
redis.call('HSET', c .. ':d', tostring(id), ARGV[4])
redis.call('HSET', c .. ':m', tostring(id), approved .. ' ' .. student)
redis.call('HSET', c .. ':s', student, ARGV[3] .. ' ' .. f .. ' ' .. ARGV[3])
touch(ARGV[1], tonumber(ARGV[6])); return id""",
}


class RedisStore(Store):
    """Classes in Redis (``redis://host:port/db``)."""

    def __init__(self, url: str) -> None:
        import redis  # only where Redis is configured
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.FAULTS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                       redis.exceptions.BusyLoadingError, redis.exceptions.ReadOnlyError,
                       OSError)
        self._scripts = {name: self.client.register_script(_LIB + text)
                         for name, text in _SCRIPTS.items()}
        self._ttl = int(rules.EXPIRY_S)

    def _run(self, name: str, code: str, *args: Any) -> Any:
        import redis
        try:
            return self._scripts[name](args=[code, *args])
        except redis.exceptions.ResponseError as exc:
            if isinstance(exc, self.FAULTS):
                raise
            reason = str(exc)
            if "not teacher" in reason:
                raise NotTeacher() from None
            for word, error in (("unknown", unknown(code)),
                                ("ended", ClassError(ENDED.format(code=code))),
                                ("locked", ClassError(LOCKED.format(code=code))),
                                ("full", full(code)), ("gap", ClassError(GAP)),
                                ("not seated", not_seated(code))):
                if reason.startswith(word) or reason.endswith(word):
                    raise error from None
            if "soon" in reason:
                what, wait = reason.split("soon ", 1)[1].split()[:2]
                text = NEW_SEAT_SOON if name == "join" else SEND_SOON
                raise ClassError(text.format(what=what, wait=max(1.0, float(wait)))) from None
            raise

    def create(self, code: str, secret_hash: str, now: float) -> bool:
        key = f"c:{code}"
        with self.client.pipeline() as pipe:
            pipe.hsetnx(key, "secret", secret_hash)
            for field in ("version", "ended", "locked", "approve"):
                pipe.hsetnx(key, field, 0)
            pipe.hsetnx(key, "state", "{}")
            pipe.expire(key, self._ttl)
            made = pipe.execute()[0]
        return bool(made)

    def info(self, code: str, now: float) -> ClassInfo | None:
        v = self.client.hmget(f"c:{code}", "state", "version", "ended", "locked", "approve")
        if v[1] is None:
            return None
        return ClassInfo(code, int(v[1]), v[0].decode("utf-8"), v[2] == b"1", v[3] == b"1",
                         v[4] == b"1")

    def is_teacher(self, code: str, secret_hash: str, now: float) -> bool:
        secret, ended = self.client.hmget(f"c:{code}", "secret", "ended")
        return (secret is not None and ended != b"1"
                and rules.same_hash(secret.decode(), secret_hash))

    def _teacher(self, code: str, secret_hash: str) -> None:
        secret = self.client.hget(f"c:{code}", "secret")
        if secret is None:
            raise unknown(code)
        if not rules.same_hash(secret.decode(), secret_hash):
            raise NotTeacher()

    def publish(self, code: str, secret_hash: str, state: str, now: float) -> int:
        check_state(state)
        return int(self._run("publish", code, secret_hash, state, self._ttl))

    def end(self, code: str, secret_hash: str, now: float) -> None:
        self._run("end", code, secret_hash, self._ttl)

    def _teach(self, code: str, secret_hash: str, what: str, arg: str = "") -> None:
        self._run("teach", code, secret_hash, self._ttl, what, arg)

    def options(self, code: str, secret_hash: str, now: float, locked: bool | None = None,
                approve: bool | None = None) -> None:
        self._teacher(code, secret_hash)
        if locked is not None:
            self._teach(code, secret_hash, "locked", str(int(locked)))
        if approve is not None:
            self._teach(code, secret_hash, "approve", str(int(approve)))

    def join(self, code: str, student: str, now: float, browser: str = "",
             address: str = "") -> int:
        (ab, ap), (bb, bp) = rules.NEW_SEATS_PER_ADDRESS, rules.NEW_SEATS_PER_BROWSER
        return int(self._run("join", code, student, repr(now), limits.CLASS_STUDENTS, self._ttl,
                             rules.SEAT_FRESH_S, bound_key(address), bound_key(browser), ab, ap,
                             bb, bp, limits.CLASS_SEATS_KEPT))

    def seen(self, code: str, student: str, following: bool, now: float) -> None:
        self._run("seen", code, student, repr(now), int(bool(following)), rules.SEAT_FRESH_S,
                  limits.CLASS_STUDENTS)

    def counts(self, code: str, now: float) -> tuple[int, int]:
        fresh = here = 0
        for row in self.client.hvals(f"c:{code}:s"):
            seen, following, _ = row.decode().split()
            fresh += now - float(seen) < rules.SEAT_FRESH_S
            here += following == "1" and now - float(seen) < rules.FOLLOWING_S
        return fresh, here

    def seats(self, code: str, secret_hash: str, now: float) -> list[Seat]:
        self._teacher(code, secret_hash)
        owned: dict[str, int] = {}
        for meta in self.client.hvals(f"c:{code}:m"):
            seat = meta.decode().partition(" ")[2]
            owned[seat] = owned.get(seat, 0) + 1
        out = []
        for seat, row in self.client.hgetall(f"c:{code}:s").items():
            seen, following, _ = row.decode().split()
            name = seat.decode()
            out.append(Seat(name, float(seen), following == "1",
                            now - float(seen) < rules.SEAT_FRESH_S, owned.get(name, 0)))
        return sorted(out, key=lambda s: -s.seen)[: limits.CLASS_SEATS_KEPT]

    def remove_seat(self, code: str, secret_hash: str, student: str, now: float) -> None:
        self._teach(code, secret_hash, "remove_seat", str(student))

    def send(self, code: str, student: str, pixels: bytes, label: int, prediction: int,
             nickname: str, now: float, browser: str = "") -> int:
        record = json.dumps({"label": rules.label(label), "prediction": rules.label(prediction),
                             "nickname": rules.nickname(nickname),
                             "pixels": rules.pixels(pixels).hex()})
        (sb, sp), (bb, bp) = rules.SENDS_PER_SEAT, rules.SENDS_PER_BROWSER
        return int(self._run("send", code, student, repr(now), record, rules.SEND_GAP_S,
                             self._ttl, rules.SEAT_FRESH_S, limits.CLASS_STUDENTS,
                             bound_key(browser), sb, sp, bb, bp, rules.SHOWN_PER_SEAT,
                             limits.CLASS_GALLERY_DIGITS))

    def digits(self, code: str, waiting: bool = False) -> list[Digit]:
        with self.client.pipeline() as pipe:  # one moment's gallery
            pipe.hgetall(f"c:{code}:m")
            pipe.hgetall(f"c:{code}:d")
            metas, records = pipe.execute()
        out = []
        for ident, meta in metas.items():
            approved, _, seat = meta.decode().partition(" ")
            raw = records.get(ident)
            if raw is None or (approved == "1") == waiting:
                continue
            d = json.loads(raw)
            out.append(Digit(int(ident), int(d["label"]), int(d["prediction"]),
                             str(d["nickname"]), bytes.fromhex(d["pixels"]), seat,
                             approved == "1"))
        return sorted(out, key=lambda d: d.id)[: limits.CLASS_GALLERY_DIGITS]

    def clear(self, code: str, secret_hash: str, now: float) -> None:
        self._teach(code, secret_hash, "clear")

    def remove_digit(self, code: str, secret_hash: str, digit: int, now: float) -> None:
        self._teach(code, secret_hash, "remove_digit", str(int(digit)))

    def approve(self, code: str, secret_hash: str, digit: int | None, now: float) -> None:
        self._teach(code, secret_hash, "approve_digit", "" if digit is None else str(int(digit)))

    def close(self) -> None:
        self.client.close()
