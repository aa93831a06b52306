-- The approvals still pending at a time.
-- KEYS[1] the index of pending approvals.
-- ARGV[1] now (ms), ARGV[2] the records' key prefix.
-- Returns {id, pending JSON, id, pending JSON, ...}.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')
local out = {}
for _, id in ipairs(ids) do
  local r = redis.call('HMGET', ARGV[2] .. id, 'pending', 'state')
  if r[1] and r[2] == 'pending' then
    out[#out + 1] = id
    out[#out + 1] = r[1]
  end
end
return out
