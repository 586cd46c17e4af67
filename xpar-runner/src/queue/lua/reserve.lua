-- reserve: re-queue the chunks whose lease ran out (their machine is presumed dead), then
-- hand the next chunk to this machine under a lease and a new fencing token.
-- ARGV: machine, worker, lease ms, ttl s
local machine, worker = ARGV[1], ARGV[2]
local lease, ttl = tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', BUILD) == 0 then
  return {'gone'}
end
local reason = redis.call('HGET', META, 'cancelled')
if reason then
  return {'cancelled', reason}
end
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', LEASES, '-inf', now)
for _, id in ipairs(expired) do
  redis.call('ZREM', LEASES, id)
  redis.call('HDEL', OWNERS, id)
  redis.call('LPUSH', QUEUE, id)
end
if #expired > 0 then
  redis.call('HINCRBY', META, 'expired', #expired)
end
local id = redis.call('LPOP', QUEUE)
if not id then
  local first = redis.call('ZRANGE', LEASES, 0, 0, 'WITHSCORES')
  if first[1] then
    local alive = redis.call('ZCOUNT', MACHINES, now, '+inf')
    return {'wait', tostring(tonumber(first[2]) - now), tostring(alive)}
  end
  return {'done'}
end
local token = redis.call('HINCRBY', META, 'token', 1)
redis.call('HSET', OWNERS, id, token .. '|' .. machine .. '|' .. worker)
redis.call('ZADD', LEASES, now + lease, id)
redis.call('ZADD', MACHINES, now + lease, machine)
-- What this step may have created: the leases and owners of the run's first reserve,
-- the queue re-created by an expired lease (its list emptied, and Redis deleted it).
touch_only(ttl, LEASES, OWNERS, QUEUE, MACHINES)
return {'chunk', id, redis.call('HGET', CHUNKS, id), tostring(token)}
