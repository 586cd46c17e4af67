-- Prefixed to every script of the run. The run's keys come in the order of
-- `RunKeys::all`: every script declares every key it touches, as Redis Cluster asks
-- (they share one hash slot through the `{run}` tag of their prefix).
local BUILD, META, CHUNKS, QUEUE, LEASES, OWNERS, RESULTS, MACHINES =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]

-- Milliseconds on the Redis server's clock: every machine's leases are measured on this
-- one clock, never on the machines' own, which may disagree.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Every key of the run lives `ttl` seconds after the run's last write, so an abandoned
-- run leaves nothing behind. (EXPIRE on a key that does not exist does nothing.)
local function touch(ttl)
  for i = 1, 8 do
    redis.call('EXPIRE', KEYS[i], ttl)
  end
end

-- Only the keys given: for reserve, the most frequent step, which would spend about
-- 40% of its time refreshing all eight (queue_sim). The others keep the TTL that join,
-- ack and heartbeat set, as writes to an existing key keep its TTL.
local function touch_only(ttl, ...)
  for _, key in ipairs({...}) do
    redis.call('EXPIRE', key, ttl)
  end
end

-- The fencing token of an owner entry, `token|machine|worker`.
local function token_of(owner)
  if not owner then
    return nil
  end
  return string.match(owner, '^([^|]*)')
end

