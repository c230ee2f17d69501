//! The Lua scripts of the Redis provider: each runs atomically on the server, and the
//! reading ones refuse values over a size limit before they are sent.

/// `KEYS[1]` hash, `ARGV[1]` field, `ARGV[2]` largest value length: the value, nil, or
/// an error when it is too large.
pub(super) const GET: &str = r"
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return false end
if string.len(v) > tonumber(ARGV[2]) then
  return redis.error_reply('a value of ' .. string.len(v) .. ' bytes is over the limit of ' .. ARGV[2])
end
return v
";

/// `KEYS[1]` hash, `ARGV[1]` cursor, `ARGV[2]` count hint, `ARGV[3]` largest field or
/// value length, `ARGV[4]` byte budget of the page: `{next cursor, {field, value, …}}`
/// where a value past the budget is `false` (nil: the client fetches it alone).
pub(super) const SCAN: &str = r"
local r = redis.call('HSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local items = r[2]
local limit = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local out = {}
local total = 0
for i = 1, #items, 2 do
  local k = items[i]
  local v = items[i + 1]
  if string.len(k) > limit then
    return redis.error_reply('a key of ' .. string.len(k) .. ' bytes is over the limit of ' .. ARGV[3])
  end
  total = total + string.len(k) + string.len(v)
  out[#out + 1] = k
  if total > budget then
    out[#out + 1] = false
    total = total - string.len(v)
  else
    out[#out + 1] = v
  end
end
return {r[1], out}
";

/// `KEYS[1]` committed hash, `KEYS[2]` prepared hash, `KEYS[3]` txid hash, `ARGV[1]`
/// the txid (decimal): applies the prepared set of the txid, clears it and records the
/// txid as committed. Answers `{'committed'}`, `{'already', <committed txid>}` or
/// `{'notprepared'}`. Every record is checked before anything is written: a script
/// that fails half-way is not rolled back by Redis.
pub(super) const COMMIT: &str = r"
local function le(a, b)
  if string.len(a) ~= string.len(b) then return string.len(a) < string.len(b) end
  return a <= b
end
local c = redis.call('HGET', KEYS[3], 'commit')
if c and le(ARGV[1], c) then return {'already', c} end
local p = redis.call('HGET', KEYS[3], 'prepare')
if p ~= ARGV[1] then return {'notprepared'} end
local set = redis.call('HGETALL', KEYS[2])
for i = 2, #set, 2 do
  local tag = string.byte(set[i], 1)
  if not ((tag == 1) or (tag == 0 and string.len(set[i]) == 1)) then
    return redis.error_reply('a corrupt record in the prepared set (unknown tag)')
  end
end
for i = 1, #set, 2 do
  local v = set[i + 1]
  if string.byte(v, 1) == 1 then
    redis.call('HSET', KEYS[1], set[i], string.sub(v, 2))
  else
    redis.call('HDEL', KEYS[1], set[i])
  end
end
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[3], 'prepare')
redis.call('HSET', KEYS[3], 'commit', ARGV[1])
return {'committed'}
";
