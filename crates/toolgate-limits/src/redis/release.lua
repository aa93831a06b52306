-- Gives a reservation back (see redis.rs for the key layout).
--
-- KEYS[i]  item i's counter, prefix included.
-- ARGV[2i - 1], ARGV[2i]  item i's token and amount, as the reserve script
-- returned and took them.
--
-- A token is a fixed window's start (ms) or a sliding entry's id (a µs
-- clock reading or above), so it never names both: trying each is exact.
for i = 1, #KEYS do
  local base = KEYS[i]
  local token = ARGV[2 * i - 1]
  local amount = tonumber(ARGV[2 * i])

  -- A fixed window's key expires with it: once it has, there is nothing to
  -- give back, and the next window (another key) is never touched.
  local fixed = base .. ':' .. token
  local current = tonumber(redis.call('GET', fixed))
  if current ~= nil then
    local back = math.min(current, amount)
    if back > 0 then
      redis.call('DECRBY', fixed, string.format('%d', back))
    end
  end

  local z = base .. ':sliding'
  if redis.call('ZREM', z, token .. ':' .. ARGV[2 * i]) == 1 then
    local m = z .. ':meta'
    local sum = tonumber(redis.call('HGET', m, 'sum'))
    if sum ~= nil then
      redis.call('HSET', m, 'sum', string.format('%d', math.max(sum - amount, 0)))
    end
  end
end
return 1
