-- wrk script: the `signIn` mutation, each request as the next member (bench/points.sh).
-- usage: wrk -t T ... -s bench/points.lua URL -- TOKENS_FILE T
-- Thread k of T takes every T-th token from its k-th, so no two threads sign the same member
-- in; a member's second sign-in of the day (when the run outlasts the tokens) is counted as
-- `already`.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tokens = {}
local next_token = 0
local body = '{"query":"mutation { signIn { points userErrors { code } } }"}'
paid = 0
already = 0
other = 0

function init(args)
  local n = tonumber(args[2]) or 1
  local k = 0
  for line in io.lines(args[1]) do
    if k % n == id then
      table.insert(tokens, line)
    end
    k = k + 1
  end
end

function request()
  next_token = next_token % #tokens + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[next_token],
  }, body)
end

function response(status, headers, resp)
  if resp:find('"points":%d') then
    paid = paid + 1
  elseif resp:find("ALREADY_SIGNED_IN") then
    already = already + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local p, a, o = 0, 0, 0
  for _, t in ipairs(threads) do
    p = p + t:get("paid")
    a = a + t:get("already")
    o = o + t:get("other")
  end
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d paid=%d already_signed_in=%d other=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors,
    p, a, o))
end
