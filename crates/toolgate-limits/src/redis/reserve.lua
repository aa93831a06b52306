-- Reserves every charge, or none (see redis.rs for the key layout).
--
-- KEYS[i]  charge i's counter, prefix included.
-- ARGV[1]  the time in ms, or '' for the server's clock (tests fix it).
-- ARGV[2 + 4(i-1) ..]  charge i's max, amount, window (ms), sliding (1 or 0).
--
-- Returns {1, token...} (a fixed window's start in ms, or a sliding entry's
-- id, per charge) or {0, index (from 0), current, resets_at (ms)}.
--
-- Lua numbers are doubles: every number here stays below 2^53 (the store
-- clamps counts), and big ones are formatted with %d, never tostring().

-- Keys outlive their window by this much, so that a release racing the
-- boundary still finds its key (giving back to a window nobody reads any
-- more is harmless) and the last count stays visible for diagnostics.
local SLACK = 1000
-- Oldest sliding entries read per step when working out resets_at.
local BATCH = 64

local now, now_us
if ARGV[1] ~= '' then
  now = tonumber(ARGV[1])
  now_us = now * 1000
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function fixed_key(base, start)
  return base .. ':' .. string.format('%d', start)
end

-- Sets a TTL of at least ttl ms; never shortens one (a policy reload may
-- have another replica charge the same key with a longer window).
local function extend(key, ttl)
  if redis.call('PTTL', key) < ttl then
    redis.call('PEXPIRE', key, string.format('%d', ttl))
  end
end

local function amount_of(member)
  return tonumber(string.match(member, ':(%d+)$')) or 0
end

-- Drops entries that left the window and returns the sum of those left.
local function sliding_sum(z, m, window)
  local horizon = string.format('%d', now - window)
  local gone = redis.call('ZRANGEBYSCORE', z, '-inf', horizon)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', z, '-inf', horizon)
  end
  local sum = tonumber(redis.call('HGET', m, 'sum'))
  if redis.call('EXISTS', z) == 0 then
    -- Every entry has left (an empty set is deleted), or the set was evicted.
    if sum ~= nil and sum ~= 0 then
      redis.call('HSET', m, 'sum', '0')
    end
    return 0
  end
  if sum == nil then
    -- The running sum is gone (evicted): count the entries again.
    sum = 0
    for _, e in ipairs(redis.call('ZRANGE', z, 0, -1)) do
      sum = sum + amount_of(e)
    end
    redis.call('HSET', m, 'sum', string.format('%d', sum))
    extend(m, window + SLACK)
  elseif #gone > 0 then
    local removed = 0
    for _, e in ipairs(gone) do
      removed = removed + amount_of(e)
    end
    sum = redis.call('HINCRBY', m, 'sum', string.format('%d', -removed))
  end
  return sum
end

-- When `amount` fits: as soon as enough of the oldest entries have left.
local function sliding_room_at(z, sum, amount, max, window)
  local left = sum
  local from = 0
  while true do
    local batch = redis.call('ZRANGE', z, from, from + BATCH - 1, 'WITHSCORES')
    if #batch == 0 then
      break
    end
    for j = 1, #batch, 2 do
      left = left - amount_of(batch[j])
      if left + amount <= max then
        return tonumber(batch[j + 1]) + window
      end
    end
    from = from + BATCH
  end
  -- Larger than max on its own: it never fits; say "a window from now".
  return now + window
end

local n = #KEYS
local charges = {}

-- Check every charge before charging any.
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local c = {
    base = KEYS[i],
    max = tonumber(ARGV[a]),
    amount = tonumber(ARGV[a + 1]),
    window = tonumber(ARGV[a + 2]),
    sliding = ARGV[a + 3] == '1',
  }
  local current, resets_at
  if c.sliding then
    c.z = c.base .. ':sliding'
    c.m = c.z .. ':meta'
    current = sliding_sum(c.z, c.m, c.window)
    if current + c.amount > c.max then
      resets_at = sliding_room_at(c.z, current, c.amount, c.max, c.window)
    end
  else
    c.start = now - now % c.window
    c.key = fixed_key(c.base, c.start)
    current = tonumber(redis.call('GET', c.key)) or 0
    resets_at = c.start + c.window
  end
  if current + c.amount > c.max then
    return {0, i - 1, current, resets_at}
  end
  charges[i] = c
end

-- Every counter has room: charge them all.
local tokens = {1}
for i = 1, n do
  local c = charges[i]
  if c.sliding then
    local id = redis.call('HINCRBY', c.m, 'next', 1)
    if id == 1 then
      -- A new sequence starts at the clock (in µs), above every id the
      -- previous one (expired with its window) handed out.
      id = now_us
      redis.call('HSET', c.m, 'next', string.format('%d', id))
    end
    redis.call('ZADD', c.z, string.format('%d', now), string.format('%d:%d', id, c.amount))
    redis.call('HINCRBY', c.m, 'sum', string.format('%d', c.amount))
    extend(c.z, c.window + SLACK)
    extend(c.m, c.window + SLACK)
    tokens[i + 1] = id
  else
    redis.call('INCRBY', c.key, string.format('%d', c.amount))
    extend(c.key, c.start + c.window - now + SLACK)
    tokens[i + 1] = c.start
  end
end
return tokens
