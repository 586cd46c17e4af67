-- requeue: a new chunk (a retry) at the front of the queue. ARGV: ttl s, payload.
local id = redis.call('HINCRBY', META, 'seq', 1)
redis.call('HSET', CHUNKS, id, ARGV[2])
redis.call('LPUSH', QUEUE, id)
touch(tonumber(ARGV[1]))
return tostring(id)
