"""The Lua script that stores one unit of work in Redis, and what it answers.

:class:`~signalling_server.backend.redis.RedisBackend` lays out a
:class:`~signalling_server.backend.base.Changes` as the keys and arguments
below; the script checks every claim and version before it writes anything,
so a commit is stored whole or not at all.
"""

from __future__ import annotations

from typing import Final

# One unit of work's writes, all or nothing: every check first, then every write
# (a Lua script runs alone, but what it wrote before an error would stay, so
# nothing after the checks can fail on keys this backend owns).
# A commit whose reply was lost is sent again (redis-py retries once on a dropped
# connection): its marker key makes the second run a no-op that says "committed".
# KEYS: [1] the lobby index, [2] the changes channel, [3] this commit's marker,
# then one key per item, in order.
# ARGV: [1] the node index key prefix, [2..9] how many items of each kind, then theirs:
#   added lobbies:   key; id, record, nodes     saved lobbies:   key; id, version, record, nodes
#   removed lobbies: key; id, version or ''     tokens put:      key; data
#   tokens dropped:  key                        records claimed: hash; field, data
#   records written: hash; field, '1' and data to store or '0' and '' to remove, then
#                    'n' (never read here: no check), 'a' (read as absent: still absent)
#                    or 'e' and the bytes read (still those bytes)
#   timers planned:  sorted set; score, member
# Returns {1, ''}, or {-1, id} (a code or record taken, a lobby changed) or
# {-2, id} (a saved lobby is gone), and then nothing is written.
COMMIT_SCRIPT: Final = """
if redis.call('EXISTS', KEYS[3]) == 1 then return {1, ''} end
local n = {}
for i = 1, 8 do n[i] = tonumber(ARGV[i + 1]) end
local k, a = 4, 10
for _ = 1, n[1] do
  if redis.call('EXISTS', KEYS[k]) == 1 then return {-1, ARGV[a]} end
  k = k + 1; a = a + 3
end
for _ = 1, n[2] do
  local version = redis.call('HGET', KEYS[k], 'v')
  if not version then return {-2, ARGV[a]} end
  if version ~= ARGV[a + 1] then return {-1, ARGV[a]} end
  k = k + 1; a = a + 4
end
for _ = 1, n[3] do
  if ARGV[a + 1] ~= '' then
    local version = redis.call('HGET', KEYS[k], 'v')
    if not version then return {-2, ARGV[a]} end
    if version ~= ARGV[a + 1] then return {-1, ARGV[a]} end
  end
  k = k + 1; a = a + 2
end
local ck, ca = k + n[4] + n[5], a + n[4]
for _ = 1, n[6] do
  if redis.call('HEXISTS', KEYS[ck], ARGV[ca]) == 1 then return {-1, ARGV[ca]} end
  ck = ck + 1; ca = ca + 2
end
for _ = 1, n[7] do
  local check = ARGV[ca + 3]
  if check ~= 'n' then
    local current = redis.call('HGET', KEYS[ck], ARGV[ca])
    if check == 'a' then
      if current then return {-1, ARGV[ca]} end
    elseif current ~= ARGV[ca + 4] then
      return {-1, ARGV[ca]}
    end
  end
  ck = ck + 1; ca = ca + 5
end
redis.call('SET', KEYS[3], 1, 'EX', 60)
local prefix = ARGV[1]
local function index(id, before, after)
  if before then
    for node in string.gmatch(before, '%S+') do redis.call('SREM', prefix .. node, id) end
  end
  for node in string.gmatch(after, '%S+') do redis.call('SADD', prefix .. node, id) end
end
k, a = 4, 10
for _ = 1, n[1] do
  redis.call('HSET', KEYS[k], 'v', 1, 'd', ARGV[a + 1], 'n', ARGV[a + 2])
  redis.call('SADD', KEYS[1], ARGV[a])
  index(ARGV[a], false, ARGV[a + 2])
  k = k + 1; a = a + 3
end
for _ = 1, n[2] do
  local saved = tonumber(ARGV[a + 1]) + 1
  local before = redis.call('HGET', KEYS[k], 'n')
  redis.call('HSET', KEYS[k], 'v', saved, 'd', ARGV[a + 2], 'n', ARGV[a + 3])
  index(ARGV[a], before, ARGV[a + 3])
  redis.call('PUBLISH', KEYS[2], ARGV[a] .. ' ' .. saved)
  k = k + 1; a = a + 4
end
for _ = 1, n[3] do
  local before = redis.call('HGET', KEYS[k], 'n')
  redis.call('DEL', KEYS[k])
  redis.call('SREM', KEYS[1], ARGV[a])
  index(ARGV[a], before, '')
  redis.call('PUBLISH', KEYS[2], ARGV[a] .. ' 0')
  k = k + 1; a = a + 2
end
for _ = 1, n[4] do
  redis.call('SET', KEYS[k], ARGV[a])
  k = k + 1; a = a + 1
end
for _ = 1, n[5] do
  redis.call('DEL', KEYS[k])
  k = k + 1
end
for _ = 1, n[6] do
  redis.call('HSET', KEYS[k], ARGV[a], ARGV[a + 1])
  k = k + 1; a = a + 2
end
for _ = 1, n[7] do
  if ARGV[a + 1] == '1' then
    redis.call('HSET', KEYS[k], ARGV[a], ARGV[a + 2])
  else
    redis.call('HDEL', KEYS[k], ARGV[a])
  end
  k = k + 1; a = a + 5
end
for _ = 1, n[8] do
  redis.call('ZADD', KEYS[k], ARGV[a], ARGV[a + 1])
  k = k + 1; a = a + 2
end
return {1, ''}
"""

#: The script's answers: stored, or refused because a code or record was taken,
#: a record read here changed, or a lobby changed, or because a lobby it saves or removes is gone.
COMMITTED: Final = 1
CHANGED: Final = -1
GONE: Final = -2
