-- release_key: delete a serial key only if the token holding it is ours, so a holder
-- whose lease ran out cannot free the key its successor now holds. KEYS: the key (after
-- the run's 8). ARGV: token.
if redis.call('GET', KEYS[9]) == ARGV[1] then
  return redis.call('DEL', KEYS[9])
end
return 0
