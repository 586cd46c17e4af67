-- join: the first machine of the run seeds its queue; every machine registers.
-- ARGV: build id, format version, machine, lease ms, ttl s, tests total, chunk payloads...
local build, format, machine = ARGV[1], ARGV[2], ARGV[3]
local lease, ttl, total = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local now = now_ms()
local role = 'follower'
if redis.call('SET', BUILD, build, 'NX') then
  local n = #ARGV - 6
  for i = 1, n do
    redis.call('HSET', CHUNKS, i, ARGV[6 + i])
    redis.call('RPUSH', QUEUE, i)
  end
  redis.call('HSET', META, 'format', format, 'total', total, 'done', 0, 'failures', 0,
    'seq', n, 'token', 0, 'expired', 0)
  role = 'leader'
else
  local theirs_format = redis.call('HGET', META, 'format')
  if theirs_format and theirs_format ~= format then
    return {'format', theirs_format}
  end
  local theirs = redis.call('GET', BUILD)
  if theirs ~= build then
    local done = tonumber(redis.call('HGET', META, 'done') or '0')
    local all = tonumber(redis.call('HGET', META, 'total') or '0')
    if done >= all then
      return {'reused', theirs}
    end
    return {'mismatch', theirs}
  end
end
redis.call('ZADD', MACHINES, now + lease, machine)
touch(ttl)
return {role}
