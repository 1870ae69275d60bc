-- wrk script for the catalogue benchmarks: every request differs (keyword, product, category).
-- usage: wrk ... -s bench/catalog.lua URL -- <search|detail|listing> <products> [token [member]]
-- With `member` the SKUs also ask for `memberPrice` (the member-price runs, with a member's token);
-- with `badges` the products also ask for `promotions` (the badge runs).
local mode, products, token
local member_fields = ""
local badge_fields = ""
local counter = 0

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
local function base64url(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return b64chars:sub(c + 1, c + 1)
  end))
end

local keywords = { "运动鞋", "跑步", "耐克 运动鞋", "T恤", "蓝牙耳机", "羽绒服", "双肩包", "手机壳", "纯棉", "李宁 篮球鞋" }

-- Ids are encoded once here, so the load generator spends its CPU on requests, not base64.
local product_ids, category_ids = {}, {}

function init(args)
  mode = args[1] or "search"
  products = tonumber(args[2] or "10000")
  token = args[3]
  if args[4] == "member" then member_fields = " memberPrice" end
  if args[4] == "badges" then badge_fields = " promotions" end
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
  for i = 1, products do product_ids[i] = base64url("Product:" .. i) end
  for i = 1, 25 do category_ids[i] = base64url("Category:" .. i) end
end

local function body()
  counter = counter + 1
  if mode == "search" then
    local k = keywords[math.random(#keywords)]
    return '{"query":"query($k: String!) { products(filter: { keyword: $k, priceMin: \\"50\\", priceMax: \\"800\\" }, first: 20) { totalCount edges { node { id name priceRange { min } coverImage { url } } } } }","variables":{"k":"' .. k .. '"}}'
  elseif mode == "detail" then
    local id = product_ids[math.random(products)]
    return '{"query":"query($id: ID!) { product(id: $id) { id name' .. badge_fields .. ' subtitle descriptionHtml status priceRange { min max } images { url width height } specs { name values } brand { name } category { name } skus { id code specLabel price' .. member_fields .. ' marketPrice stock inStock } } }","variables":{"id":"' .. id .. '"}}'
  else
    local category = category_ids[math.random(25)]
    return '{"query":"query($c: ID!) { products(filter: { categoryId: $c }, sortBy: { field: SALES }, first: 20) { edges { node { id name' .. badge_fields .. ' coverImage { url } skus { id specLabel price' .. member_fields .. ' stock } } } } }","variables":{"c":"' .. category .. '"}}'
  end
end

function request()
  local headers = { ["Content-Type"] = "application/json" }
  if token and token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("POST", nil, headers, body())
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "RESULT requests_per_sec=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f errors=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000, errors))
end
