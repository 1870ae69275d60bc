-- wrk script: everyone orders one unit of one SKU (a launch burst), and every answer is
-- tallied: an order placed, a refusal with OUT_OF_STOCK, or anything else (which must not
-- happen). usage: wrk ... -s bench/hot_sku.lua URL -- <data.lua> <sku index>
local data, sku
local counter = 0
-- Globals, so that done() can read each thread's through thread:get (`tag` is set by setup).
placed, out_of_stock, other = 0, 0, 0

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  -- Keys differ between runs and threads (see orders.lua).
  thread:set("tag", string.format("%x-%d-%d", os.time(), math.random(1000000), #threads))
end

function init(args)
  data = dofile(args[1])
  sku = data.skus[tonumber(args[2] or "1")]
end

function request()
  counter = counter + 1
  local buyer = data.buyers[(counter % #data.buyers) + 1]
  local body = '{"query":"mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { orderNo } userErrors { code } } }","variables":{"i":{"idempotencyKey":"'
    .. tag .. "-" .. counter .. '","checkout":{"addressId":"' .. buyer[2]
    .. '","lines":[{"skuId":"' .. sku .. '","quantity":1}]}}}}'
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. buyer[1],
  }, body)
end

function response(status, headers, body)
  if status == 200 and body:find('"orderNo"', 1, true) then
    placed = placed + 1
  elseif status == 200 and body:find('"OUT_OF_STOCK"', 1, true) then
    out_of_stock = out_of_stock + 1
  else
    other = other + 1
    if other <= 3 then io.stderr:write("unexpected answer: " .. status .. " " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  local p, o, x = 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("placed")
    o = o + t:get("out_of_stock")
    x = x + t:get("other")
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d placed=%d placed_per_sec=%.0f out_of_stock=%d other=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests, p, p / seconds, o, x,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors))
end
