-- cancel: stop handing out chunks; the first reason given stays. ARGV: ttl s, reason.
redis.call('HSETNX', META, 'cancelled', ARGV[2])
touch(tonumber(ARGV[1]))
return redis.call('HGET', META, 'cancelled')
