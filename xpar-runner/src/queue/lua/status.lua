-- status (reads only): now; total, done, queued, failures, expired leases; cancelled as
-- '+reason' or ''; machine count, then (name, ms left) each; lease count, then (chunk id,
-- owner, ms left) each.
local now = now_ms()
local reason = redis.call('HGET', META, 'cancelled')
local out = {tostring(now),
  redis.call('HGET', META, 'total') or '0',
  redis.call('HGET', META, 'done') or '0',
  tostring(redis.call('LLEN', QUEUE)),
  redis.call('HGET', META, 'failures') or '0',
  redis.call('HGET', META, 'expired') or '0',
  reason and ('+' .. reason) or ''}
local machines = redis.call('ZRANGE', MACHINES, 0, -1, 'WITHSCORES')
table.insert(out, tostring(#machines / 2))
for i = 1, #machines, 2 do
  table.insert(out, machines[i])
  table.insert(out, tostring(tonumber(machines[i + 1]) - now))
end
local leases = redis.call('ZRANGE', LEASES, 0, -1, 'WITHSCORES')
table.insert(out, tostring(#leases / 2))
for i = 1, #leases, 2 do
  table.insert(out, leases[i])
  table.insert(out, redis.call('HGET', OWNERS, leases[i]) or '')
  table.insert(out, tostring(tonumber(leases[i + 1]) - now))
end
return out
