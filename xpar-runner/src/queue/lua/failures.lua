-- failures: add to the run's failure count across machines (--maxfail); the new total.
-- ARGV: ttl s, count.
local total = redis.call('HINCRBY', META, 'failures', ARGV[2])
touch(tonumber(ARGV[1]))
return total
