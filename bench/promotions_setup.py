#!/usr/bin/env python3
"""Prepares a running server for bench/promotions.sh, over GraphQL only. The owner signs in,
creates 5 products (¥39.90, 1,000,000 units each) in one category, two 满减 activities
(满100减10 / 满200减30 over the shop; 每满50减5 up to ¥20 over the category), ten coupon
templates (满N减M, stacking with activities) and one 无门槛减1 template (100 per person), and a
claim template with 1,000,000 coupons. 96 buyers (the first 96 tokens of TOKENS) become 金卡
members with 1,000,000 points and an address, each claiming one of each of the ten coupons; the
first 48 (who place the orders) also 100 of the 无门槛 one, the other 48 (who preview) one, so a
preview weighs 11 held coupons. Writes three request lists for bench/requests.lua: claims (every
token claims the claim template), previews (5-line carts with points) and orders (the hot SKU,
the best coupon picked by checkout).

Usage: bench/promotions_setup.py URL OWNER_PHONE OWNER_PASSWORD TOKENS OUT_DIR"""
import json, sys

from gql import client, login, ok

url, phone, password, tokens_file, out = sys.argv[1:6]


gql = client(url)


owner = login(gql, phone, password)
cat = gql("mutation { createCategory(input: { name: \"压测\" }) { category { id } } }", token=owner)["createCategory"]["category"]["id"]
skus = []
for p in range(5):
    d = ok(gql("mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id skus { id } } userErrors { code message } } }",
               {"i": {"name": f"促销商品{p}", "categoryId": cat,
                      "skus": [{"price": "39.90", "costPrice": "20.00", "initialStock": 1000000}]}}, owner)["createProduct"])
    gql("mutation($ids: [ID!]!) { publishProducts(input: { ids: $ids }) { userErrors { code } } }", {"ids": [d["product"]["id"]]}, owner)
    skus.append(d["product"]["skus"][0]["id"])

window = {"startsAt": "2026-01-01T00:00:00Z", "endsAt": "2030-01-01T00:00:00Z"}
ok(gql("mutation($i: PromotionActivityInput!) { createPromotionActivity(input: $i) { userErrors { code message } } }",
       {"i": {"name": "满减", "tiers": [{"threshold": "100.00", "off": "10.00"}, {"threshold": "200.00", "off": "30.00"}], **window}},
       owner)["createPromotionActivity"])
ok(gql("mutation($i: PromotionActivityInput!) { createPromotionActivity(input: $i) { userErrors { code message } } }",
       {"i": {"name": "每满减", "repeating": {"step": "50.00", "off": "5.00", "cap": "20.00"},
              "scope": "CATEGORIES", "scopeIds": [cat], **window}}, owner)["createPromotionActivity"])
CREATE = "mutation($i: CouponTemplateInput!) { createCouponTemplate(input: $i) { template { id } userErrors { code message } } }"
templates = []
for n in range(10):
    t = ok(gql(CREATE, {"i": {"name": f"券{n}", "benefit": "AMOUNT_OFF", "threshold": f"{50 + 20 * n}.00",
                              "amount": f"{3 + n}.00", "validDays": 30, "totalQuantity": 100000}}, owner)["createCouponTemplate"])
    templates.append(t["template"]["id"])
one = ok(gql(CREATE, {"i": {"name": "无门槛", "benefit": "AMOUNT_OFF", "amount": "1.00", "validDays": 30,
                           "totalQuantity": 100000, "perUserLimit": 100}}, owner)["createCouponTemplate"])["template"]["id"]
claim_t = ok(gql(CREATE, {"i": {"name": "领券压测", "benefit": "AMOUNT_OFF", "amount": "1.00", "validDays": 30,
                               "totalQuantity": 1000000, "perUserLimit": 100}}, owner)["createCouponTemplate"])["template"]["id"]
gold = next(l for l in gql("{ memberLevels { id name } }")["memberLevels"] if l["name"] == "金卡")

tokens = [t.strip() for t in open(tokens_file) if t.strip()]
CLAIM = "mutation($id: ID!) { claimCoupon(templateId: $id) { coupon { id } userErrors { code } } }"
buyers = []
for b, tok in enumerate(tokens[:96]):
    me = gql("{ me { id phone } }", token=tok)["me"]
    ok(gql("mutation($i: SetMemberLevelInput!) { setMemberLevel(input: $i) { userErrors { code message } } }",
           {"i": {"userId": me["id"], "levelId": gold["id"], "reason": "benchmark"}}, owner)["setMemberLevel"])
    ok(gql("mutation($i: AdjustMemberPointsInput!) { adjustMemberPoints(input: $i) { userErrors { code message } } }",
           {"i": {"userId": me["id"], "points": 1000000, "reason": "benchmark", "idempotencyKey": f"bench-{b}"}},
           owner)["adjustMemberPoints"])
    addr = ok(gql("mutation($i: AddressInput!) { createAddress(input: $i) { address { id } userErrors { code message } } }",
                  {"i": {"recipient": "压测", "phone": f"139{b:08d}", "province": "广东省", "city": "深圳市",
                         "district": "南山区", "detail": "科技园 1 号"}}, tok)["createAddress"])["address"]["id"]
    for t in templates:
        ok(gql(CLAIM, {"id": t}, tok)["claimCoupon"])
    for _ in range(100 if b < 48 else 1):
        ok(gql(CLAIM, {"id": one}, tok)["claimCoupon"])
    buyers.append((tok, addr))


def lua(path, entries):
    with open(path, "w") as f:
        f.write("return {\n")
        for tok, body in entries:
            f.write("  { token = %s, body = %s },\n" % (json.dumps(tok), json.dumps(body)))
        f.write("}\n")


lua(f"{out}/claims.lua", [(t, json.dumps({"query": CLAIM, "variables": {"id": claim_t}})) for t in tokens])
PREVIEW = "query($i: CheckoutInput!) { checkoutPreview(input: $i) { preview { payAmount couponId hints discounts { label amount } } userErrors { code } } }"
lua(f"{out}/previews.lua", [(t, json.dumps({"query": PREVIEW, "variables": {"i": {
    "addressId": a, "pointsToUse": 100, "lines": [{"skuId": s, "quantity": 1} for s in skus]}}})) for t, a in buyers[48:]])
PLACE = "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { orderNo couponDiscount } userErrors { code } } }"
lua(f"{out}/orders.lua", [(t, json.dumps({"query": PLACE, "variables": {"i": {"idempotencyKey": "%KEY%", "checkout": {
    "addressId": a, "lines": [{"skuId": skus[0], "quantity": 3}]}}}})) for t, a in buyers[:48]])
json.dump({"staff": owner, "claim_template": claim_t}, open(f"{out}/data.json", "w"))
