-- Moves a pending approval to its final state, exactly once.
-- KEYS[1] the record, KEYS[2] the index of pending approvals.
-- ARGV[1] id, ARGV[2] the channel to announce it on, ARGV[3] when (ms),
-- ARGV[4] the final state ('approved', 'denied' or 'expired'), ARGV[5] the
-- decision (JSON; empty for 'expired').
-- A transition at or past the expiry expires the approval instead.
-- Returns {code, pending, state, decision}: code '0' not found, '1' already
-- final (as stored), '2' expired (before or by this call), '3' done.
local cur = redis.call('HMGET', KEYS[1], 'state', 'expires', 'pending', 'decision')
local state, expires, pending = cur[1], cur[2], cur[3]
if not state then
  return {'0'}
end
if state == 'expired' then
  return {'2', pending, state, ''}
end
if state ~= 'pending' then
  return {'1', pending, state, cur[4] or ''}
end
local final = ARGV[4]
if final == 'expired' or tonumber(ARGV[3]) >= tonumber(expires) then
  redis.call('HSET', KEYS[1], 'state', 'expired')
  final = 'expired'
else
  redis.call('HSET', KEYS[1], 'state', final, 'decision', ARGV[5])
end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[1])
if final == 'expired' then
  return {'2', pending, final, ''}
end
return {'3', pending, final, ARGV[5]}
