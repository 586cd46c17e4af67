-- ack: record a chunk's results, once, if this machine still owns the chunk.
-- ARGV: chunk id, token, machine, lease ms, ttl s, result count n,
--       n x (result key, result json, final 1|0), retry chunk payloads...
local id, token, machine = ARGV[1], ARGV[2], ARGV[3]
local lease, ttl, n = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if token_of(redis.call('HGET', OWNERS, id)) ~= token then
  -- Its lease ran out and the chunk went back to the queue (or to another machine):
  -- this late result is not recorded.
  return {'stale'}
end
-- The owner entry stays after an ack and only the lease goes, so a second ack of the
-- same chunk and token finds no lease and records nothing.
local first = redis.call('ZREM', LEASES, id) == 1
local new, newly_done = 0, 0
local retries = {}
if first then
  for i = 0, n - 1 do
    local at = 7 + 3 * i
    if redis.call('HSETNX', RESULTS, ARGV[at], ARGV[at + 1]) == 1 then
      new = new + 1
      if ARGV[at + 2] == '1' then
        newly_done = newly_done + 1
      end
    end
  end
  -- Retries go to the front, the first given first.
  for at = #ARGV, 7 + 3 * n, -1 do
    local retry = redis.call('HINCRBY', META, 'seq', 1)
    redis.call('HSET', CHUNKS, retry, ARGV[at])
    redis.call('LPUSH', QUEUE, retry)
    table.insert(retries, 1, tostring(retry))
  end
  redis.call('HINCRBY', META, 'done', newly_done)
end
redis.call('ZADD', MACHINES, now_ms() + lease, machine)
touch(ttl)
local out = {'ok', tostring(new), redis.call('HGET', META, 'done'),
  redis.call('HGET', META, 'total')}
for _, r in ipairs(retries) do
  table.insert(out, r)
end
return out
