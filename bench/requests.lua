-- wrk script: POSTs prepared GraphQL requests in rotation, each with its own bearer token,
-- and counts the answers that contain a success pattern.
-- usage: wrk ... -s bench/requests.lua URL -- <requests.lua> <success pattern>
-- requests.lua returns { { token = "...", body = "..." }, ... }; a body's `%KEY%` becomes a
-- key unique to the request (idempotency keys). Thread k of T takes every T-th request from
-- its k-th, so no two threads send one buyer's requests.
local counter = 0
local threads = {}
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
  thread:set("tag", string.format("%x-%d", os.time(), nthreads))
  thread:set("ok", 0)
  thread:set("other", 0)
  table.insert(threads, thread)
end

local reqs, pattern

function init(args)
  local all = dofile(args[1])
  local n = tonumber(args[3]) or 2
  reqs = {}
  for i, r in ipairs(all) do
    if (i - 1) % n == id then table.insert(reqs, r) end
  end
  pattern = args[2] or '"userErrors":%[%]'
end

function request()
  counter = counter + 1
  local r = reqs[(counter % #reqs) + 1]
  local body = r.body:gsub("%%KEY%%", tag .. "-" .. counter)
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. r.token,
  }, body)
end

function response(status, headers, resp)
  if resp:find(pattern) then ok = ok + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local o, x = 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok")
    x = x + t:get("other")
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests=%d requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d ok=%d other=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors, o, x))
end
