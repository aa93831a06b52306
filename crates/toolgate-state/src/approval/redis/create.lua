-- Stores a new pending approval, unless its id is taken.
-- KEYS[1] the record (a hash), KEYS[2] the index of pending approvals (a
-- sorted set scored by expiry, ms).
-- ARGV[1] id, ARGV[2] the pending approval (JSON), ARGV[3] its expiry (ms),
-- ARGV[4] the record's TTL (ms), ARGV[5] its creation time (ms).
-- Returns 1, or 0 when the id is taken.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'pending', ARGV[2], 'state', 'pending', 'expires', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
-- Index entries that expired before this approval was asked for are no
-- longer pending: drop them, so the index stays small without a sweeper.
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
-- The index outlives its newest entry's record, and no longer.
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[4]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
