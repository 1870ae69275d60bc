-- wrk script: placeOrder with a fresh idempotency key per request, buyers in rotation.
-- usage: wrk ... -s bench/orders.lua URL -- <data.lua> <hot|spread>
local data, mode
local points = ''
local counter = 0
local thread_tag = "t"

-- Keys must differ between runs: a key sent again is answered from the first order (a replay,
-- or a refusal when the lines differ), not placed. Lua's generator is unseeded in setup, so the
-- tag is the start time (runs are seconds long) and the thread's number.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tag", string.format("%x-%d", os.time(), threads))
end

function init(args)
  data = dofile(args[1])
  mode = args[2] or "hot"
  thread_tag = tag
  -- Member runs (MEMBER=1 in bench/orders.sh) spend points on every order.
  if (data.points or 0) > 0 then points = ',"pointsToUse":' .. data.points else points = '' end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  counter = counter + 1
  local buyer = data.buyers[(counter % #data.buyers) + 1]
  local sku = data.skus[1]
  if mode == "spread" then sku = data.skus[math.random(#data.skus)] end
  local body = '{"query":"mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { orderNo } userErrors { code } } }","variables":{"i":{"idempotencyKey":"'
    .. thread_tag .. "-" .. counter .. '","checkout":{"addressId":"' .. buyer[2]
    .. '","lines":[{"skuId":"' .. sku .. '","quantity":1}]' .. points .. '}}}}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. buyer[1],
  }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors))
end
