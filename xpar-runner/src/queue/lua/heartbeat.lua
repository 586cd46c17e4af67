-- heartbeat: extend the leases this machine still holds (chunks whose token still
-- matches, serial keys it still holds) and its own liveness; name the ones it lost.
-- KEYS[9..]: serial keys. ARGV: machine, lease ms, ttl s, chunk count n,
--            n x (chunk id, token), one token per serial key.
local machine, lease, ttl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local now = now_ms()
local lost = {}
for i = 0, n - 1 do
  local id, token = ARGV[5 + 2 * i], ARGV[6 + 2 * i]
  if token_of(redis.call('HGET', OWNERS, id)) == token and redis.call('ZSCORE', LEASES, id) then
    redis.call('ZADD', LEASES, 'XX', now + lease, id)
  else
    table.insert(lost, 'c' .. id)
  end
end
for k = 9, #KEYS do
  local token = ARGV[4 + 2 * n + (k - 8)]
  if redis.call('GET', KEYS[k]) == token then
    redis.call('PEXPIRE', KEYS[k], lease)
  else
    table.insert(lost, 'k' .. tostring(k - 8))
  end
end
redis.call('ZADD', MACHINES, now + lease, machine)
touch(ttl)
return lost
