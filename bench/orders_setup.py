#!/usr/bin/env python3
"""Prepares a running server for the orders benchmark, over GraphQL only: the owner signs in,
creates a category and 10 products of 100 SKUs each (1,000 SKUs, 1,000,000 units each), then
32 buyers (BUYERS in the environment) register and each saves an address. With MEMBER=1 in the
environment each buyer is also made a 金卡 member (the member price) and given 1,000,000
points, and the orders spend 100 of them each (¥1.00 off). Writes the ids and tokens as a Lua
table for bench/orders.lua and as JSON for bench_ws.

Usage: bench/orders_setup.py http://host:port/graphql OWNER_PHONE OWNER_PASSWORD OUT_PREFIX"""
import json, os, sys

from gql import client, login, ok

url, phone, password, out = sys.argv[1:5]


gql = client(url)


owner = login(gql, phone, password)
cat = gql("mutation { createCategory(input: { name: \"压测\" }) { category { id } } }", token=owner)["createCategory"]["category"]["id"]
skus = []
for p in range(10):
    d = gql("""mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id skus { id } } userErrors { code message } } }""",
            {"i": {"name": f"压测商品{p}", "categoryId": cat,
                   "specs": [{"name": "颜色", "values": [f"色{i}" for i in range(10)]},
                             {"name": "尺码", "values": [f"码{i}" for i in range(10)]}],
                   "skus": [{"price": "19.90", "costPrice": "9.00", "initialStock": 1000000}]}}, owner)["createProduct"]
    if d["userErrors"]:
        sys.exit(f"refused: {d['userErrors']}")
    gql("mutation($ids: [ID!]!) { publishProducts(input: { ids: $ids }) { userErrors { code } } }", {"ids": [d["product"]["id"]]}, owner)
    skus += [s["id"] for s in d["product"]["skus"]]

member = bool(os.environ.get("MEMBER"))
gold = next(l for l in gql("{ memberLevels { id name } }")["memberLevels"] if l["name"] == "金卡")

buyers = []
for b in range(int(os.environ.get("BUYERS", "32"))):
    buyer_phone = f"139{b:08d}"
    reg = gql("mutation($i: RegisterInput!) { register(input: $i) { accessToken user { id } userErrors { code message } } }",
              {"i": {"phone": buyer_phone, "password": "Bench1234"}})["register"]
    tok = ok(reg)["accessToken"]
    if member:
        uid = reg["user"]["id"]
        ok(gql("mutation($i: SetMemberLevelInput!) { setMemberLevel(input: $i) { userErrors { code message } } }",
               {"i": {"userId": uid, "levelId": gold["id"], "reason": "benchmark"}}, owner)["setMemberLevel"])
        ok(gql("mutation($i: AdjustMemberPointsInput!) { adjustMemberPoints(input: $i) { userErrors { code message } } }",
               {"i": {"userId": uid, "points": 1000000, "reason": "benchmark", "idempotencyKey": f"bench-{b}"}},
               owner)["adjustMemberPoints"])
    addr = gql("""mutation($i: AddressInput!) { createAddress(input: $i) { address { id } userErrors { code } } }""",
               {"i": {"recipient": "压测", "phone": buyer_phone, "province": "广东省", "city": "深圳市",
                      "district": "南山区", "detail": "科技园 1 号"}}, tok)["createAddress"]["address"]["id"]
    buyers.append((tok, addr))

with open(out + ".lua", "w") as f:
    f.write("return {\n  skus = {" + ",".join(f'"{s}"' for s in skus) + "},\n")
    f.write("  buyers = {" + ",".join(f'{{"{t}","{a}"}}' for t, a in buyers) + "},\n")
    f.write(f'  staff = "{owner}",\n')
    f.write(f'  points = {100 if member else 0},\n}}\n')
with open(out + ".json", "w") as f:
    json.dump({"skus": skus, "buyers": buyers, "staff": owner}, f)
print(f"skus={len(skus)} buyers={len(buyers)}")
