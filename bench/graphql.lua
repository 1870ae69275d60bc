-- wrk script: POST one GraphQL query, optionally with a bearer token.
-- usage: wrk ... -s bench/graphql.lua URL -- '<query>' [token]
local req

function init(args)
  local query = args[1] or "{ __typename }"
  local token = args[2]
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  local body = '{"query":"' .. query:gsub('"', '\\"') .. '"}'
  req = wrk.format("POST", nil, headers, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors))
end
