//! Promotions: staff saving coupon templates and 满减 activities (bad input refused, nothing
//! changed), the coupon centre with exact totals and per-user limits under concurrent claims,
//! the best coupon picked by checkout and the reasons for the others, a coupon used once also by
//! two concurrent checkouts and given back by a cancellation, activities with their next-tier
//! hint and coupons that do not stack with them, and the seed's order end to end: a ¥120 cart
//! with a 满100减20 coupon pays ¥100, the 20/10/5 rules pay ¥20/¥10/¥5, and refunding one line
//! returns exactly that line's share.
use serde_json::{Value, json};

use crate::{
    catalog::{create_category, create_product},
    distribution::{Shop, shop},
    support::*,
};

const CREATE: &str = "mutation($input: CouponTemplateInput!) { createCouponTemplate(input: $input) { template { id label remaining issuedCount } userErrors { code field message } } }";
const STOP: &str = "mutation($id: ID!) { stopCouponTemplate(id: $id) { template { active } userErrors { code } } }";
const CLAIM: &str = "mutation($id: ID!) { claimCoupon(templateId: $id) { coupon { id status template { label } } userErrors { code field message } } }";
const MINE: &str = "query($status: CouponStatus) { myCoupons(status: $status) { id status orderId template { label } } }";
const CENTRE: &str = "{ availableCoupons { id label remaining } }";
const ACTIVITY: &str = "mutation($input: PromotionActivityInput!) { createPromotionActivity(input: $input) { activity { id label } userErrors { code field message } } }";
const PREVIEW: &str = "query($input: CheckoutInput!) { checkoutPreview(input: $input) { preview { payAmount promotionDiscount couponDiscount couponId hints discounts { stage label amount source sourceId lineAmounts } lines { payAmount } } userErrors { code field message } } }";
const USABLE: &str = "query($input: CheckoutInput!) { usableCoupons(input: $input) { coupons { coupon { id } usable best discount reasonCode reason } userErrors { code } } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id payAmount couponDiscount couponId lines { id payAmount discount } } userErrors { code field message } } }";

fn in_a_day() -> String {
    (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339()
}

fn yesterday() -> String {
    (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339()
}

/// 满`threshold`减`amount`, valid 7 days from claiming, `total` of them.
fn amount_off(name: &str, threshold: &str, amount: &str, total: i64) -> Value {
    json!({ "name": name, "benefit": "AMOUNT_OFF", "threshold": threshold, "amount": amount, "validDays": 7, "totalQuantity": total })
}

async fn template(s: &TestServer, staff: &Account, input: Value) -> Value {
    let r = s
        .data(Some(&staff.token), CREATE, json!({ "input": input }))
        .await["createCouponTemplate"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    r["template"].clone()
}

async fn claim(s: &TestServer, who: &Account, template_id: &Value) -> Value {
    s.data(Some(&who.token), CLAIM, json!({ "id": template_id }))
        .await["claimCoupon"]
        .clone()
}

fn checkout(shop: &Shop, lines: Value, extra: Value) -> Value {
    let mut c = json!({ "addressId": shop.address, "lines": lines });
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

async fn preview(shop: &Shop, buyer: &Account, checkout: Value) -> Value {
    let r = shop
        .s
        .data(Some(&buyer.token), PREVIEW, json!({ "input": checkout }))
        .await["checkoutPreview"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    r["preview"].clone()
}

async fn place(shop: &Shop, buyer: &Account, checkout: Value, key: &str) -> Value {
    shop.s
        .data(
            Some(&buyer.token),
            PLACE,
            json!({ "input": { "idempotencyKey": key, "checkout": checkout } }),
        )
        .await["placeOrder"]
        .clone()
}

/// A second, ¥20.00 product in the shop.
async fn cup(shop: &Shop) -> Value {
    let cat = create_category(&shop.s, &shop.boss.token, "杯具", None).await;
    let p = create_product(
        &shop.s,
        &shop.boss.token,
        json!({ "name": "随行杯", "categoryId": cat, "skus": [{ "price": "20.00", "costPrice": "8.00", "initialStock": 100 }] }),
    )
    .await;
    let d = shop
        .s
        .data(
            Some(&shop.boss.token),
            "mutation($ids: [ID!]!) { publishProducts(input: { ids: $ids }) { userErrors { code } } }",
            json!({ "ids": [p["id"]] }),
        )
        .await;
    assert_eq!(d["publishProducts"]["userErrors"], json!([]), "{d}");
    p["skus"][0]["id"].clone()
}

#[tokio::test]
async fn staff_save_coupon_templates_and_activities_and_bad_input_changes_nothing() {
    let shop = shop().await;
    let s = &shop.s;
    let staff = &shop.boss;
    let base = amount_off("满减券", "100.00", "20.00", 10);
    let with = |changes: Value| {
        let mut v = base.clone();
        for (k, x) in changes.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    for (input, code, field) in [
        (with(json!({ "name": " " })), "INVALID_NAME", "name"),
        (
            with(json!({ "amount": "120.00" })),
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            with(json!({ "amount": "-1.00" })),
            "INVALID_AMOUNT",
            "amount",
        ),
        (
            with(json!({ "benefit": "PERCENT_OFF", "rate": "100.00" })),
            "INVALID_AMOUNT",
            "rate",
        ),
        (
            with(json!({ "benefit": "PERCENT_OFF", "rate": "85.00", "cap": "-5.00" })),
            "INVALID_AMOUNT",
            "cap",
        ),
        (
            with(json!({ "scope": "PRODUCTS", "scopeIds": ["UHJvZHVjdDo5OTk5"] })),
            "INVALID_SCOPE",
            "scopeIds",
        ),
        (
            with(json!({ "scope": "CATEGORIES" })),
            "INVALID_SCOPE",
            "scopeIds",
        ),
        (
            with(json!({ "validFrom": yesterday(), "validUntil": in_a_day() })),
            "INVALID_VALIDITY",
            "validUntil",
        ),
        (
            with(json!({ "validDays": 0 })),
            "INVALID_VALIDITY",
            "validUntil",
        ),
        (
            with(json!({ "totalQuantity": 0 })),
            "INVALID_QUANTITY",
            "totalQuantity",
        ),
        (
            with(json!({ "audience": "LEVELS" })),
            "INVALID_AUDIENCE",
            "levelIds",
        ),
    ] {
        let r = s
            .data(Some(&staff.token), CREATE, json!({ "input": input }))
            .await["createCouponTemplate"]
            .clone();
        assert_eq!(user_error_codes(&r), vec![code], "{r}");
        assert_eq!(r["userErrors"][0]["field"], json!(["input", field]), "{r}");
        assert_eq!(r["template"], Value::Null);
    }
    let all = s
        .data(Some(&staff.token), "{ couponTemplates { id } }", json!({}))
        .await;
    assert_eq!(
        all["couponTemplates"],
        json!([]),
        "nothing was saved: {all}"
    );
    // A buyer may not create one.
    let r = s
        .gql(Some(&shop.buyer.token), CREATE, json!({ "input": base }))
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");

    let t = template(s, staff, base.clone()).await;
    assert_eq!(t["label"], "满100减20");
    let pct = template(
        s,
        staff,
        json!({ "name": "85折券", "benefit": "PERCENT_OFF", "rate": "85.00", "cap": "50.00", "validFrom": yesterday(), "validUntil": in_a_day(), "totalQuantity": 5 }),
    )
    .await;
    assert_eq!(pct["label"], "8.5折，最高减50");

    // Activities: overlapping tiers, a tier taking more than its threshold, no rule, a window
    // in the past.
    let tiers = |t: Value| json!({ "name": "双十二", "tiers": t, "startsAt": yesterday(), "endsAt": in_a_day() });
    for (input, code) in [
        (
            tiers(
                json!([{ "threshold": "100.00", "off": "10.00" }, { "threshold": "100.00", "off": "20.00" }]),
            ),
            "INVALID_TIERS",
        ),
        (
            tiers(
                json!([{ "threshold": "100.00", "off": "30.00" }, { "threshold": "200.00", "off": "20.00" }]),
            ),
            "INVALID_TIERS",
        ),
        (
            tiers(json!([{ "threshold": "10.00", "off": "30.00" }])),
            "INVALID_TIERS",
        ),
        (
            json!({ "name": "空", "startsAt": yesterday(), "endsAt": in_a_day() }),
            "INVALID_TIERS",
        ),
        (
            json!({ "name": "过期", "tiers": [{ "threshold": "100.00", "off": "10.00" }], "startsAt": yesterday(), "endsAt": yesterday() }),
            "INVALID_WINDOW",
        ),
    ] {
        let r = s
            .data(Some(&staff.token), ACTIVITY, json!({ "input": input }))
            .await["createPromotionActivity"]
            .clone();
        assert_eq!(user_error_codes(&r), vec![code], "{r}");
    }
    let none = s
        .data(None, "{ promotionActivities { id } }", json!({}))
        .await;
    assert_eq!(none["promotionActivities"], json!([]));
    let a = s
        .data(
            Some(&staff.token),
            ACTIVITY,
            json!({ "input": tiers(json!([{ "threshold": "100.00", "off": "10.00" }, { "threshold": "200.00", "off": "30.00" }])) }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(a["activity"]["label"], "满100减10 / 满200减30", "{a}");
}

#[tokio::test]
async fn claims_never_pass_the_total_nor_the_per_user_limit_even_at_once() {
    let shop = shop().await;
    let s = &shop.s;
    let t = template(s, &shop.boss, amount_off("限量券", "0.00", "5.00", 10)).await;
    let mut buyers = Vec::new();
    for i in 0..25 {
        buyers.push(register(s, &format!("138000402{i:02}"), "Secret123").await);
    }
    // 25 people at once for the last 10.
    let answers = futures::future::join_all(buyers.iter().map(|b| claim(s, b, &t["id"]))).await;
    let got = answers.iter().filter(|a| a["coupon"].is_object()).count();
    assert_eq!(got, 10, "{answers:?}");
    for a in answers.iter().filter(|a| a["coupon"].is_null()) {
        assert_eq!(user_error_codes(a), vec!["SOLD_OUT"], "{a}");
    }
    let centre = s.data(None, CENTRE, json!({})).await;
    assert_eq!(centre["availableCoupons"], json!([]), "sold out: {centre}");

    // One person, a limit of 2, six claims at once: two coupons.
    let t2 = template(
        s,
        &shop.boss,
        json!({ "name": "每人两张", "benefit": "FREE_SHIPPING", "validDays": 3, "totalQuantity": 100, "perUserLimit": 2 }),
    )
    .await;
    let b = &shop.buyer;
    let answers = at_once(s, Some(&b.token), CLAIM, json!({ "id": t2["id"] }), 6).await;
    let ok = answers
        .iter()
        .filter(|a| a["data"]["claimCoupon"]["coupon"].is_object())
        .count();
    assert_eq!(ok, 2, "{answers:?}");
    for a in answers
        .iter()
        .filter(|a| a["data"]["claimCoupon"]["coupon"].is_null())
    {
        assert_eq!(
            user_error_codes(&a["data"]["claimCoupon"]),
            vec!["LIMIT_REACHED"]
        );
    }
    let mine = s
        .data(Some(&b.token), MINE, json!({ "status": "USABLE" }))
        .await;
    assert_eq!(mine["myCoupons"].as_array().unwrap().len(), 2, "{mine}");
    let centre = s.data(None, CENTRE, json!({})).await;
    assert_eq!(centre["availableCoupons"][0]["remaining"], 98);

    // New customers only: a buyer with a paid order is refused; a stopped template gives none.
    let fresh = template(
        s,
        &shop.boss,
        json!({ "name": "新人券", "benefit": "AMOUNT_OFF", "amount": "10.00", "audience": "NEW_USERS", "validDays": 7, "totalQuantity": 100 }),
    )
    .await;
    shop.buy(1, "paid-before").await;
    assert_eq!(
        user_error_codes(&claim(s, b, &fresh["id"]).await),
        vec!["NOT_ELIGIBLE"]
    );
    assert!(claim(s, &buyers[0], &fresh["id"]).await["coupon"].is_object());
    let stopped = s
        .data(Some(&shop.boss.token), STOP, json!({ "id": fresh["id"] }))
        .await;
    assert_eq!(stopped["stopCouponTemplate"]["template"]["active"], false);
    assert_eq!(
        user_error_codes(&claim(s, &buyers[1], &fresh["id"]).await),
        vec!["TEMPLATE_UNAVAILABLE"]
    );
    assert_eq!(
        user_error_codes(&claim(s, b, &json!("Q291cG9uVGVtcGxhdGU6OTk5")).await),
        vec!["TEMPLATE_NOT_FOUND"]
    );
}

#[tokio::test]
async fn checkout_picks_the_best_coupon_says_why_not_the_others_and_uses_it_once() {
    let shop = shop().await;
    let s = &shop.s;
    let b = &shop.buyer;
    let small = template(s, &shop.boss, amount_off("小券", "50.00", "5.00", 10)).await;
    let big = template(s, &shop.boss, amount_off("大券", "100.00", "20.00", 10)).await;
    let far = template(s, &shop.boss, amount_off("远券", "500.00", "80.00", 10)).await;
    let other_scope = {
        let cup_sku = cup(&shop).await;
        let cup_product = s
            .data(
                None,
                "query($id: ID!) { node(id: $id) { ... on Sku { product { id } } } }",
                json!({ "id": cup_sku }),
            )
            .await["node"]["product"]["id"]
            .clone();
        let mut t = amount_off("杯子券", "0.00", "3.00", 10);
        t["scope"] = json!("PRODUCTS");
        t["scopeIds"] = json!([cup_product]);
        template(s, &shop.boss, t).await
    };
    let mut coupon = std::collections::HashMap::new();
    for (name, t) in [
        ("small", &small),
        ("big", &big),
        ("far", &far),
        ("cup", &other_scope),
    ] {
        coupon.insert(name, claim(s, b, &t["id"]).await["coupon"]["id"].clone());
    }
    let one = json!([{ "skuId": shop.sku, "quantity": 1 }]);

    // ¥100.00 of shoes: the 满100减20 coupon is the best; the others say why not.
    let pv = preview(&shop, b, checkout(&shop, one.clone(), json!({}))).await;
    assert_eq!(pv["payAmount"], "80.00", "{pv}");
    assert_eq!(pv["couponId"], coupon["big"]);
    assert_eq!(pv["discounts"][0]["source"], "COUPON");
    assert_eq!(pv["discounts"][0]["sourceId"], coupon["big"]);
    assert!(
        pv["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("满500减80")),
        "{pv}"
    );
    let options = s
        .data(
            Some(&b.token),
            USABLE,
            json!({ "input": checkout(&shop, one.clone(), json!({})) }),
        )
        .await["usableCoupons"]["coupons"]
        .clone();
    let by_id = |id: &Value| {
        options
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["coupon"]["id"] == *id)
            .cloned()
            .unwrap()
    };
    assert_eq!(options[0]["coupon"]["id"], coupon["big"], "{options}");
    assert_eq!(options[0]["best"], true);
    assert_eq!(by_id(&coupon["small"])["discount"], "5.00");
    assert_eq!(
        by_id(&coupon["far"])["reasonCode"],
        "COUPON_BELOW_THRESHOLD"
    );
    assert!(
        by_id(&coupon["far"])["reason"]
            .as_str()
            .unwrap()
            .contains("¥400.00")
    );
    assert_eq!(by_id(&coupon["cup"])["reasonCode"], "COUPON_NOT_IN_SCOPE");

    // Naming another, or none.
    let pv = preview(
        &shop,
        b,
        checkout(&shop, one.clone(), json!({ "couponId": coupon["small"] })),
    )
    .await;
    assert_eq!(pv["payAmount"], "95.00");
    let pv = preview(
        &shop,
        b,
        checkout(&shop, one.clone(), json!({ "noCoupon": true })),
    )
    .await;
    assert_eq!(
        (pv["payAmount"].clone(), pv["couponId"].clone()),
        (json!("100.00"), Value::Null)
    );
    for (id, code) in [
        (coupon["far"].clone(), "COUPON_BELOW_THRESHOLD"),
        (coupon["cup"].clone(), "COUPON_NOT_IN_SCOPE"),
        (json!("Q291cG9uOjk5OTk="), "COUPON_NOT_FOUND"),
    ] {
        let r = place(
            &shop,
            b,
            checkout(&shop, one.clone(), json!({ "couponId": id })),
            &format!("bad-{code}"),
        )
        .await;
        assert_eq!(user_error_codes(&r), vec![code], "{r}");
        assert_eq!(r["userErrors"][0]["field"], json!(["input", "couponId"]));
    }

    // Two checkouts with the same coupon at once: one order gets it, the other is refused
    // and leaves no order.
    let chosen = checkout(&shop, one.clone(), json!({ "couponId": coupon["big"] }));
    let (x, y) = tokio::join!(
        place(&shop, b, chosen.clone(), "race-1"),
        place(&shop, b, chosen.clone(), "race-2")
    );
    let (won, lost) = if x["order"].is_object() {
        (x, y)
    } else {
        (y, x)
    };
    assert_eq!(won["order"]["couponDiscount"], "20.00", "{won}");
    assert_eq!(won["order"]["couponId"], coupon["big"]);
    assert_eq!(
        user_error_codes(&lost),
        vec!["COUPON_ALREADY_USED"],
        "{lost}"
    );
    let orders = s
        .data(
            Some(&b.token),
            "{ myOrders(first: 10) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(orders["myOrders"]["totalCount"], 1, "{orders}");
    let used = s
        .data(Some(&b.token), MINE, json!({ "status": "USED" }))
        .await;
    assert_eq!(used["myCoupons"][0]["id"], coupon["big"]);
    assert_eq!(used["myCoupons"][0]["orderId"], won["order"]["id"]);
    // The next checkout picks the next best.
    let pv = preview(&shop, b, checkout(&shop, one.clone(), json!({}))).await;
    assert_eq!(pv["couponId"], coupon["small"]);

    // Cancelling the unpaid order gives the coupon back.
    let c = s
        .data(
            Some(&b.token),
            "mutation($id: ID!) { cancelOrder(id: $id, reason: \"不要了\") { order { status } userErrors { code } } }",
            json!({ "id": won["order"]["id"] }),
        )
        .await;
    assert_eq!(c["cancelOrder"]["order"]["status"], "CANCELLED", "{c}");
    let usable = s
        .data(Some(&b.token), MINE, json!({ "status": "USABLE" }))
        .await;
    assert!(
        usable["myCoupons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == coupon["big"]),
        "{usable}"
    );
}

#[tokio::test]
async fn activities_take_their_tier_hint_the_next_and_refuse_coupons_that_do_not_stack() {
    let shop = shop().await;
    let s = &shop.s;
    let b = &shop.buyer;
    let a = s
        .data(
            Some(&shop.boss.token),
            ACTIVITY,
            json!({ "input": { "name": "双十二满减", "tiers": [{ "threshold": "100.00", "off": "10.00" }, { "threshold": "200.00", "off": "30.00" }], "startsAt": yesterday(), "endsAt": in_a_day() } }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(a["userErrors"], json!([]), "{a}");
    let lines = |n: i64| json!([{ "skuId": shop.sku, "quantity": n }]);
    let pv = preview(&shop, b, checkout(&shop, lines(1), json!({}))).await;
    assert_eq!(pv["promotionDiscount"], "10.00", "{pv}");
    assert_eq!(pv["payAmount"], "90.00");
    assert_eq!(pv["discounts"][0]["source"], "ACTIVITY");
    assert_eq!(pv["discounts"][0]["sourceId"], a["activity"]["id"]);
    assert_eq!(
        pv["hints"],
        json!(["再买 ¥100.00 可减 ¥30.00（双十二满减）"])
    );
    let pv = preview(&shop, b, checkout(&shop, lines(3), json!({}))).await;
    assert_eq!(pv["promotionDiscount"], "30.00");
    assert_eq!(pv["hints"], json!([]));

    // A coupon that does not stack with activities: refused by name, skipped by the best pick.
    let mut lone = amount_off("不叠加券", "0.00", "15.00", 10);
    lone["stacksWithActivities"] = json!(false);
    let t = template(s, &shop.boss, lone).await;
    let id = claim(s, b, &t["id"]).await["coupon"]["id"].clone();
    let r = place(
        &shop,
        b,
        checkout(&shop, lines(1), json!({ "couponId": id })),
        "lone",
    )
    .await;
    assert_eq!(user_error_codes(&r), vec!["COUPON_NOT_STACKABLE"], "{r}");
    let pv = preview(&shop, b, checkout(&shop, lines(1), json!({}))).await;
    assert_eq!(
        (pv["couponId"].clone(), pv["payAmount"].clone()),
        (Value::Null, json!("90.00"))
    );
    // A stacking coupon applies after the activity, on what the lines still cost.
    let t = template(s, &shop.boss, amount_off("叠加券", "80.00", "8.00", 10)).await;
    claim(s, b, &t["id"]).await;
    let pv = preview(&shop, b, checkout(&shop, lines(1), json!({}))).await;
    assert_eq!(pv["payAmount"], "82.00", "{pv}");
    assert_eq!(
        pv["discounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["stage"].as_str().unwrap())
            .collect::<Vec<_>>(),
        vec!["PROMOTION", "COUPON"]
    );
}

#[tokio::test]
async fn the_seeds_order_a_120_cart_with_a_100_minus_20_coupon_pays_100_and_commissions_on_it() {
    let shop = shop().await;
    let s = &shop.s;
    let b = &shop.buyer;
    let (d1, d2, d3) = shop.chain().await;
    let cup = cup(&shop).await;
    let t = template(
        s,
        &shop.boss,
        amount_off("满100减20", "100.00", "20.00", 100),
    )
    .await;
    let coupon = claim(s, b, &t["id"]).await["coupon"]["id"].clone();
    let lines = json!([{ "skuId": shop.sku, "quantity": 1 }, { "skuId": cup, "quantity": 1 }]);
    let placed = place(
        &shop,
        b,
        checkout(&shop, lines, json!({ "couponId": coupon })),
        "seed",
    )
    .await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let o = &placed["order"];
    // ¥20.00 over ¥100.00 and ¥20.00: 16.666… and 3.333…, the fen left over to the larger
    // remainder.
    assert_eq!(o["payAmount"], "100.00");
    assert_eq!(
        o["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["discount"].clone(), l["payAmount"].clone()))
            .collect::<Vec<_>>(),
        vec![
            (json!("16.67"), json!("83.33")),
            (json!("3.33"), json!("16.67"))
        ]
    );
    let order = o["id"].clone();
    shop.pay(b, &order).await;
    // 20 / 10 / 5 % of what was paid: ¥20.00, ¥10.00, ¥5.00.
    for (d, total) in [(&d1, "20.00"), (&d2, "10.00"), (&d3, "5.00")] {
        let c = shop.commissions(d).await;
        let sum: rust_decimal::Decimal = c
            .iter()
            .map(|c| {
                c["amount"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(sum.to_string(), total, "{c:?}");
        let base: rust_decimal::Decimal = c
            .iter()
            .map(|c| {
                c["base"]
                    .as_str()
                    .unwrap()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(base.to_string(), "100.00", "{c:?}");
    }
    // Refunding the cup returns exactly its share: ¥16.67; the coupon stays used (the order
    // still stands).
    let cup_line = o["lines"][1]["id"].clone();
    let r = s
        .data(
            Some(&b.token),
            "mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { id amount } userErrors { code message } } }",
            json!({ "input": { "orderId": order, "kind": "REFUND_ONLY", "lines": [{ "orderLineId": cup_line, "quantity": 1 }], "reason": "不想要了" } }),
        )
        .await["requestRefund"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    assert_eq!(r["refund"]["amount"], "16.67", "{r}");
    let ok = s
        .data(
            Some(&shop.boss.token),
            "mutation($id: ID!) { approveRefund(id: $id) { refund { status } userErrors { code } } }",
            json!({ "id": r["refund"]["id"] }),
        )
        .await;
    assert_eq!(ok["approveRefund"]["refund"]["status"], "REFUNDED", "{ok}");
    let used = s
        .data(Some(&b.token), MINE, json!({ "status": "USED" }))
        .await;
    assert_eq!(used["myCoupons"][0]["id"], coupon, "{used}");
    // Refunding the rest: the whole order is refunded and the coupon, still valid, comes back.
    let r = s
        .data(
            Some(&b.token),
            "mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { id amount } userErrors { code message } } }",
            json!({ "input": { "orderId": order, "kind": "REFUND_ONLY", "lines": [{ "orderLineId": o["lines"][0]["id"], "quantity": 1 }], "reason": "不想要了" } }),
        )
        .await["requestRefund"]
        .clone();
    assert_eq!(r["refund"]["amount"], "83.33", "{r}");
    let ok = s
        .data(
            Some(&shop.boss.token),
            "mutation($id: ID!) { approveRefund(id: $id) { refund { status } userErrors { code } } }",
            json!({ "id": r["refund"]["id"] }),
        )
        .await;
    assert_eq!(ok["approveRefund"]["refund"]["status"], "REFUNDED", "{ok}");
    let usable = s
        .data(Some(&b.token), MINE, json!({ "status": "USABLE" }))
        .await;
    assert_eq!(usable["myCoupons"][0]["id"], coupon, "{usable}");
    assert_eq!(usable["myCoupons"][0]["orderId"], Value::Null);
}

const GENERATE: &str = "mutation($id: ID!, $n: Int!) { generateCouponCodes(templateId: $id, count: $n) { codes userErrors { code field } } }";
const REDEEM: &str = "mutation($code: String!) { redeemCouponCode(code: $code) { coupon { id template { label } } userErrors { code field } } }";

#[tokio::test]
async fn redeem_codes_give_one_coupon_each_and_guessing_is_locked_out() {
    let shop = shop().await;
    let s = &shop.s;
    let staff = &shop.boss;
    let mut offline = amount_off("线下券", "0.00", "10.00", 2);
    offline["claimable"] = json!(false);
    let t = template(s, staff, offline).await;
    for n in [0, 10_001] {
        let r = s
            .data(
                Some(&staff.token),
                GENERATE,
                json!({ "id": t["id"], "n": n }),
            )
            .await;
        assert_eq!(
            user_error_codes(&r["generateCouponCodes"]),
            vec!["INVALID_QUANTITY"]
        );
    }
    let r = s
        .gql(
            Some(&shop.buyer.token),
            GENERATE,
            json!({ "id": t["id"], "n": 3 }),
        )
        .await;
    assert_eq!(error_code(&r), "FORBIDDEN");
    let codes: Vec<String> = s
        .data(
            Some(&staff.token),
            GENERATE,
            json!({ "id": t["id"], "n": 3 }),
        )
        .await["generateCouponCodes"]["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 3);
    assert!(codes.iter().all(|c| c.len() == 16), "{codes:?}");
    assert_eq!(
        codes.iter().collect::<std::collections::HashSet<_>>().len(),
        3
    );

    // Typed with a dash and in lower case: one coupon; the same code again is spent.
    let b = &shop.buyer;
    let typed = format!("{}-{}", &codes[0][..8], &codes[0][8..]).to_lowercase();
    let r = s
        .data(Some(&b.token), REDEEM, json!({ "code": typed }))
        .await["redeemCouponCode"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    assert_eq!(r["coupon"]["template"]["label"], "无门槛减10");
    let again = register(s, "13800040301", "Secret123").await;
    let r = s
        .data(Some(&again.token), REDEEM, json!({ "code": codes[0] }))
        .await["redeemCouponCode"]
        .clone();
    assert_eq!(user_error_codes(&r), vec!["INVALID_CODE"]);
    // A template of 2: the second code gives the last coupon, the third finds none left and
    // stays unspent.
    let r = s
        .data(Some(&again.token), REDEEM, json!({ "code": codes[1] }))
        .await["redeemCouponCode"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    let third = register(s, "13800040302", "Secret123").await;
    let r = s
        .data(Some(&third.token), REDEEM, json!({ "code": codes[2] }))
        .await["redeemCouponCode"]
        .clone();
    assert_eq!(user_error_codes(&r), vec!["SOLD_OUT"]);

    // Guessing: twenty wrong codes — the first five are refused as wrong, then the guesser is
    // locked out, even with a right code (another template's).
    let guesser = register(s, "13800040303", "Secret123").await;
    let more = template(s, staff, amount_off("再来一张", "0.00", "1.00", 10)).await;
    let good = s
        .data(
            Some(&staff.token),
            GENERATE,
            json!({ "id": more["id"], "n": 1 }),
        )
        .await["generateCouponCodes"]["codes"][0]
        .clone();
    let mut wrong = 0;
    let mut limited = 0;
    for i in 0..20 {
        let r = s
            .gql(
                Some(&guesser.token),
                REDEEM,
                json!({ "code": format!("ZZZZZZZZZZZZZ{i:03}") }),
            )
            .await;
        if r.get("errors").is_some() {
            assert_eq!(error_code(&r), "RATE_LIMITED", "{r}");
            limited += 1;
        } else {
            assert_eq!(
                user_error_codes(&r["data"]["redeemCouponCode"]),
                vec!["INVALID_CODE"]
            );
            wrong += 1;
        }
    }
    assert_eq!((wrong, limited), (5, 15));
    let r = s
        .gql(Some(&guesser.token), REDEEM, json!({ "code": good }))
        .await;
    assert_eq!(error_code(&r), "RATE_LIMITED");
    // Others are not affected.
    let r = s
        .data(Some(&third.token), REDEEM, json!({ "code": good }))
        .await["redeemCouponCode"]
        .clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
}

#[tokio::test]
async fn gifts_come_with_their_tier_reserve_stock_and_are_left_out_when_gone() {
    let shop = shop().await;
    let s = &shop.s;
    let b = &shop.buyer;
    let gift = {
        let cat = create_category(s, &shop.boss.token, "赠品", None).await;
        create_product(
            s,
            &shop.boss.token,
            json!({ "name": "运动袜", "categoryId": cat, "skus": [{ "price": "15.00", "costPrice": "3.00", "initialStock": 1 }] }),
        )
        .await["skus"][0]["id"]
            .clone()
    };
    let bad = s
        .data(
            Some(&shop.boss.token),
            ACTIVITY,
            json!({ "input": { "name": "满赠", "gifts": [{ "spend": "150.00", "skuId": "U2t1Ojk5OTk=", "quantity": 1 }], "startsAt": yesterday(), "endsAt": in_a_day() } }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(user_error_codes(&bad), vec!["INVALID_TIERS"], "{bad}");
    let a = s
        .data(
            Some(&shop.boss.token),
            ACTIVITY,
            json!({ "input": { "name": "买鞋送袜", "gifts": [{ "spend": "150.00", "skuId": gift, "quantity": 1 }], "startsAt": yesterday(), "endsAt": in_a_day() } }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(a["activity"]["label"], "满150赠", "{a}");
    let gift_stock = || async {
        s.data(
            Some(&shop.boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": gift }),
        )
        .await["node"]["stock"]
            .as_i64()
            .unwrap()
    };
    const GIFTS: &str = "query($input: CheckoutInput!) { checkoutPreview(input: $input) { preview { payAmount hints gifts { productName quantity available label } } } }";
    let one = json!([{ "skuId": shop.sku, "quantity": 1 }]);
    let two = json!([{ "skuId": shop.sku, "quantity": 2 }]);
    // Below the tier: the hint, no gift.
    let pv = s
        .data(
            Some(&b.token),
            GIFTS,
            json!({ "input": checkout(&shop, one, json!({})) }),
        )
        .await["checkoutPreview"]["preview"]
        .clone();
    assert_eq!(pv["gifts"], json!([]));
    assert_eq!(
        pv["hints"],
        json!(["再买 ¥50.00 可得赠品（买鞋送袜）"]),
        "{pv}"
    );
    let pv = s
        .data(
            Some(&b.token),
            GIFTS,
            json!({ "input": checkout(&shop, two.clone(), json!({})) }),
        )
        .await["checkoutPreview"]["preview"]
        .clone();
    assert_eq!(
        pv["gifts"],
        json!([{ "productName": "运动袜", "quantity": 1, "available": true, "label": "满150赠（买鞋送袜）" }])
    );
    assert_eq!(pv["payAmount"], "200.00");
    // Placed: the gift is a free line, its stock reserved.
    let placed = s
        .data(
            Some(&b.token),
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { payAmount lines { productName isGift quantity payAmount } } userErrors { code } } }",
            json!({ "input": { "idempotencyKey": "gift-1", "checkout": checkout(&shop, two.clone(), json!({})) } }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    assert_eq!(placed["order"]["payAmount"], "200.00");
    assert_eq!(
        placed["order"]["lines"][1],
        json!({ "productName": "运动袜", "isGift": true, "quantity": 1, "payAmount": "0.00" })
    );
    assert_eq!(gift_stock().await, 0);
    // Gone: the preview says so and the next order goes through without it.
    let pv = s
        .data(
            Some(&b.token),
            GIFTS,
            json!({ "input": checkout(&shop, two.clone(), json!({})) }),
        )
        .await["checkoutPreview"]["preview"]
        .clone();
    assert_eq!(pv["gifts"][0]["available"], false);
    assert_eq!(
        pv["hints"],
        json!(["赠品运动袜已赠完，订单照常提交"]),
        "{pv}"
    );
    let placed = s
        .data(
            Some(&b.token),
            "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { lines { isGift } } userErrors { code } } }",
            json!({ "input": { "idempotencyKey": "gift-2", "checkout": checkout(&shop, two, json!({})) } }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    assert_eq!(placed["order"]["lines"], json!([{ "isGift": false }]));
    assert_eq!(gift_stock().await, 0);
}

#[tokio::test]
async fn points_buy_coupons_that_have_a_points_price() {
    let shop = shop().await;
    let s = &shop.s;
    let b = &shop.buyer;
    let mut priced = amount_off("积分兑券", "0.00", "5.00", 10);
    priced["pointsPrice"] = json!(500);
    priced["claimable"] = json!(false);
    // Two per person: the refused exchange below must not have used up one of them.
    priced["perUserLimit"] = json!(2);
    let t = template(s, &shop.boss, priced).await;
    let plain = template(s, &shop.boss, amount_off("不可兑换", "0.00", "5.00", 10)).await;
    const EXCHANGE: &str = "mutation($id: ID!) { exchangePointsForCoupon(templateId: $id) { coupon { id template { pointsPrice } } userErrors { code field message } } }";
    let points = || async {
        s.data(Some(&b.token), "{ myPoints { available } }", json!({}))
            .await["myPoints"]["available"]
            .as_i64()
            .unwrap()
    };
    // Too few points: refused, nothing changed.
    let r = s
        .data(Some(&b.token), EXCHANGE, json!({ "id": t["id"] }))
        .await["exchangePointsForCoupon"]
        .clone();
    assert_eq!(user_error_codes(&r), vec!["INSUFFICIENT_POINTS"], "{r}");
    let mine = s.data(Some(&b.token), MINE, json!({})).await;
    assert_eq!(mine["myCoupons"], json!([]));
    let centre = s
        .data(
            Some(&shop.boss.token),
            "{ couponTemplates { name issuedCount } }",
            json!({}),
        )
        .await;
    assert!(centre.to_string().contains("\"issuedCount\":0"), "{centre}");
    let r = crate::points::give(s, &shop.boss, b, 1_200, "for-coupons").await;
    assert_eq!(r["userErrors"], json!([]), "{r}");
    // Two coupons for 1,000 points; a template without a price cannot be exchanged.
    for _ in 0..2 {
        let r = s
            .data(Some(&b.token), EXCHANGE, json!({ "id": t["id"] }))
            .await["exchangePointsForCoupon"]
            .clone();
        assert_eq!(r["userErrors"], json!([]), "{r}");
        assert_eq!(r["coupon"]["template"]["pointsPrice"], 500);
    }
    assert_eq!(points().await, 200);
    let r = s
        .data(Some(&b.token), EXCHANGE, json!({ "id": plain["id"] }))
        .await["exchangePointsForCoupon"]
        .clone();
    assert_eq!(user_error_codes(&r), vec!["TEMPLATE_UNAVAILABLE"]);
    assert_eq!(
        crate::points::ledger(s, b).await,
        vec![
            ("ADJUST".into(), 1_200),
            ("SPEND".into(), -500),
            ("SPEND".into(), -500)
        ]
    );
    crate::points::assert_consistent(s, &shop.boss).await;
}

/// `Product.promotions` of the shop's product as `s` shows it.
async fn badges_on(s: &TestServer, product: &Value) -> Value {
    s.data(
        None,
        "query($id: ID!) { product(id: $id) { promotions } }",
        json!({ "id": product }),
    )
    .await["product"]["promotions"]
        .clone()
}

/// `badges_on` once it is `expected`, or what it still is after two seconds (the README's bound
/// for a change made on another instance).
async fn badges_within_bound(s: &TestServer, product: &Value, expected: Value) -> Value {
    let mut seen = Value::Null;
    for _ in 0..20 {
        seen = badges_on(s, product).await;
        if seen == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    seen
}

#[tokio::test]
async fn products_wear_running_promotions_and_a_change_is_seen_on_every_instance() {
    let shop = shop().await;
    let a = &shop.s;
    let b = TestServer::start_on(a.db.clone(), |_| {}).await;
    let p = &shop.product;
    // Both instances have read (and kept) the list of activities: none.
    assert_eq!(badges_on(a, p).await, json!([]));
    assert_eq!(badges_on(&b, p).await, json!([]));
    let created = a
        .data(
            Some(&shop.boss.token),
            ACTIVITY,
            json!({ "input": { "name": "双十二", "tiers": [{ "threshold": "100.00", "off": "10.00" }, { "threshold": "200.00", "off": "30.00" }], "startsAt": yesterday(), "endsAt": in_a_day() } }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(created["userErrors"], json!([]), "{created}");
    // Not shown: an activity for some levels only, and one that has not started.
    let gold = s_level(a, "金卡").await;
    for input in [
        json!({ "name": "金卡专享", "tiers": [{ "threshold": "50.00", "off": "5.00" }], "levelIds": [gold], "startsAt": yesterday(), "endsAt": in_a_day() }),
        json!({ "name": "明天开始", "tiers": [{ "threshold": "50.00", "off": "5.00" }], "startsAt": in_a_day(), "endsAt": (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339() }),
    ] {
        let r = a
            .data(Some(&shop.boss.token), ACTIVITY, json!({ "input": input }))
            .await;
        assert_eq!(r["createPromotionActivity"]["userErrors"], json!([]), "{r}");
    }
    let expected = json!(["满100减10 / 满200减30"]);
    assert_eq!(badges_on(a, p).await, expected);
    assert_eq!(badges_within_bound(&b, p, expected.clone()).await, expected);
    // Listings carry the badges too, without a query per product.
    let mut list = Value::Null;
    for _ in 0..50 {
        list = a
            .data(
                None,
                "{ products(first: 10) { edges { node { id promotions } } } }",
                json!({}),
            )
            .await;
        if list["products"]["edges"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        list["products"]["edges"][0]["node"]["promotions"], expected,
        "{list}"
    );
    // Ended through `b`: `b` at once, `a` within the bound; checkout there stops applying it.
    let ended = b
        .data(
            Some(&shop.boss.token),
            "mutation($id: ID!) { endPromotionActivity(id: $id) { activity { active } userErrors { code } } }",
            json!({ "id": created["activity"]["id"] }),
        )
        .await;
    assert_eq!(
        ended["endPromotionActivity"]["activity"]["active"], false,
        "{ended}"
    );
    assert_eq!(badges_on(&b, p).await, json!([]));
    assert_eq!(badges_within_bound(a, p, json!([])).await, json!([]));
    let pv = preview(
        &shop,
        &shop.buyer,
        checkout(
            &shop,
            json!([{ "skuId": shop.sku, "quantity": 1 }]),
            json!({}),
        ),
    )
    .await;
    assert_eq!(pv["promotionDiscount"], "0.00", "{pv}");
}

async fn s_level(s: &TestServer, name: &str) -> Value {
    s.data(None, "{ memberLevels { id name } }", json!({}))
        .await["memberLevels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name)
        .unwrap()["id"]
        .clone()
}

/// `n` customers written directly (registering each through the API would hash `n`
/// passwords), phones starting with `prefix`, each with an access token as sign-in issues it.
pub(crate) async fn customers(s: &TestServer, n: usize, prefix: &str) -> Vec<String> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};
    let app = s.app();
    let now = chrono::Utc::now();
    let width = 11 - prefix.len();
    let rows: Vec<entity::user::ActiveModel> = (0..n)
        .map(|i| entity::user::ActiveModel {
            phone: Set(Some(format!("{prefix}{i:0width$}"))),
            nickname: Set(format!("抢券{i}")),
            gender: Set("UNKNOWN".into()),
            is_staff: Set(false),
            is_owner: Set(false),
            is_distributor: Set(false),
            disabled: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            revision: Set(0),
            ..Default::default()
        })
        .collect();
    for part in rows.chunks(200) {
        entity::user::Entity::insert_many(part.to_vec())
            .exec_without_returning(app.db.conn())
            .await
            .unwrap();
    }
    let ids: Vec<i64> = entity::user::Entity::find()
        .filter(entity::user::Column::Phone.like(format!("{prefix}%")))
        .all(app.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.id)
        .collect();
    assert_eq!(ids.len(), n);
    ids.iter()
        .map(|id| app.jwt.issue(*id).unwrap().token)
        .collect()
}

#[tokio::test]
async fn a_thousand_claims_at_once_for_the_last_hundred_coupons_issue_exactly_a_hundred() {
    use futures::StreamExt;
    use sea_orm::EntityTrait;
    let shop = shop().await;
    let s = &shop.s;
    let t = template(s, &shop.boss, amount_off("秒杀券", "0.00", "5.00", 100)).await;
    let tokens = customers(s, 1_000, "1371").await;
    let answers: Vec<Value> = futures::stream::iter(
        tokens
            .iter()
            .map(|tok| s.data(Some(tok), CLAIM, json!({ "id": t["id"] }))),
    )
    .buffer_unordered(250)
    .collect()
    .await;
    let issued = answers
        .iter()
        .filter(|a| a["claimCoupon"]["coupon"].is_object())
        .count();
    assert_eq!(issued, 100);
    for a in answers
        .iter()
        .filter(|a| a["claimCoupon"]["coupon"].is_null())
    {
        assert_eq!(user_error_codes(&a["claimCoupon"]), vec!["SOLD_OUT"], "{a}");
    }
    let rows = entity::coupon::Entity::find()
        .all(s.app().db.conn())
        .await
        .unwrap()
        .len();
    assert_eq!(rows, 100);
    let staff = s
        .data(
            Some(&shop.boss.token),
            "{ couponTemplates { issuedCount remaining } }",
            json!({}),
        )
        .await;
    assert_eq!(
        staff["couponTemplates"][0],
        json!({ "issuedCount": 100, "remaining": 0 })
    );
}

const MY_SOURCES: &str = "{ myCoupons { source template { name } } }";

async fn sources(s: &TestServer, token: &str) -> Vec<(String, String)> {
    s.data(Some(token), MY_SOURCES, json!({})).await["myCoupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["source"].as_str().unwrap().to_string(),
                c["template"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn new_customers_get_their_welcome_coupon_and_members_one_birthday_coupon_a_year() {
    let wechat = crate::accounts::fake_wechat().await;
    let with_wechat = |c: &mut distmall::config::Config| {
        c.wechat_appid = Some("wx-test-app".into());
        c.wechat_secret = Some("wx-test-secret".into());
        c.wechat_api_base = wechat.clone();
    };
    let a = TestServer::start_with(with_wechat).await;
    let b = TestServer::start_on(a.db.clone(), with_wechat).await;
    let boss = owner(&a).await;
    let mut welcome = amount_off("新人券", "0.00", "10.00", 2);
    welcome["audience"] = json!("NEW_USERS");
    welcome["issueOn"] = json!("REGISTRATION");
    welcome["claimable"] = json!(false);
    let welcome = template(&a, &boss, welcome).await;
    // A registration template for a level no new customer holds gives nothing.
    let mut gold_only = amount_off("金卡礼", "0.00", "30.00", 10);
    gold_only["audience"] = json!("LEVELS");
    gold_only["levelIds"] = json!([s_level(&a, "金卡").await]);
    gold_only["issueOn"] = json!("REGISTRATION");
    template(&a, &boss, gold_only).await;

    // By phone on one instance, by WeChat on the other: each gets the 新人券 with the account.
    let by_phone = register(&a, "13800031001", "Secret123").await;
    assert_eq!(
        sources(&a, &by_phone.token).await,
        vec![("REGISTRATION".to_string(), "新人券".to_string())]
    );
    let w = b
        .data(
            None,
            crate::accounts::WECHAT_LOGIN,
            json!({ "code": "good-7" }),
        )
        .await;
    let by_wechat = w["wechatLogin"]["accessToken"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sources(&b, &by_wechat).await,
        vec![("REGISTRATION".to_string(), "新人券".to_string())]
    );
    // Signing in again is no registration.
    let again = b
        .data(
            None,
            crate::accounts::WECHAT_LOGIN,
            json!({ "code": "good-7" }),
        )
        .await;
    assert_eq!(
        again["wechatLogin"]["user"]["id"],
        w["wechatLogin"]["user"]["id"]
    );
    assert_eq!(sources(&b, &by_wechat).await.len(), 1);
    // The two are gone: the third customer registers all the same, without one.
    let late = register(&a, "13800031002", "Secret123").await;
    assert_eq!(sources(&a, &late.token).await, vec![]);
    let staff = a
        .data(
            Some(&boss.token),
            "{ couponTemplates { id issuedCount remaining issueOn } }",
            json!({}),
        )
        .await;
    let row = staff["couponTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == welcome["id"])
        .unwrap()
        .clone();
    assert_eq!(
        row,
        json!({ "id": welcome["id"], "issuedCount": 2, "remaining": 0, "issueOn": "REGISTRATION" })
    );

    // Birthday coupons: one per member and year, however often and wherever the job runs,
    // whatever the per-user limit.
    let mut birthday = amount_off("生日券", "0.00", "20.00", 100);
    birthday["issueOn"] = json!("BIRTHDAY");
    birthday["claimable"] = json!(false);
    template(&a, &boss, birthday).await;
    let now = chrono::Utc::now();
    let today = distmall::shop_time::shop_day(now, 8);
    let p = a
        .data(
            Some(&late.token),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code } } }",
            json!({ "input": { "birthday": format!("1990-{}", today.format("%m-%d")) } }),
        )
        .await;
    assert_eq!(p["updateProfile"]["userErrors"], json!([]), "{p}");
    for _ in 0..3 {
        let (x, y) = tokio::join!(
            distmall::promotions::occasions::give_birthday_coupons(a.app(), now),
            distmall::promotions::occasions::give_birthday_coupons(b.app(), now),
        );
        x.unwrap();
        y.unwrap();
    }
    assert_eq!(
        sources(&a, &late.token).await,
        vec![("BIRTHDAY".to_string(), "生日券".to_string())]
    );
    // Nobody else's birthday: nothing for them.
    assert_eq!(sources(&a, &by_phone.token).await.len(), 1);
    // The same day a year on gives the next one.
    use chrono::Datelike;
    let next_year = now
        .with_year(now.year() + 1)
        .unwrap_or(now + chrono::Duration::days(365));
    let given = distmall::promotions::occasions::give_birthday_coupons(b.app(), next_year)
        .await
        .unwrap();
    assert_eq!(given, 1);
    assert_eq!(sources(&a, &late.token).await.len(), 2);
}

#[tokio::test]
async fn claims_on_two_instances_at_once_give_the_total_and_each_their_limit() {
    use futures::StreamExt;
    let shop = shop().await;
    let a = &shop.s;
    let b = TestServer::start_on(a.db.clone(), |_| {}).await;
    let mut input = amount_off("双实例券", "0.00", "3.00", 150);
    input["perUserLimit"] = json!(2);
    let t = &template(a, &shop.boss, input).await;
    // 100 customers each claim three times, half of the claims on each instance: 150 coupons
    // go out, nobody holds more than two, and every refusal says why.
    let tokens = customers(a, 100, "1372").await;
    let mut requests: Vec<(&TestServer, &String)> = Vec::new();
    for (j, tok) in tokens.iter().enumerate() {
        for k in 0..3 {
            requests.push((if (j + k) % 2 == 0 { a } else { &b }, tok));
        }
    }
    let answers: Vec<(String, Value)> =
        futures::stream::iter(requests.into_iter().map(|(s, tok)| async move {
            (
                tok.clone(),
                s.data(Some(tok), CLAIM, json!({ "id": t["id"] })).await["claimCoupon"].clone(),
            )
        }))
        .buffer_unordered(100)
        .collect()
        .await;
    let mut per_user: std::collections::HashMap<String, usize> = Default::default();
    for (tok, a) in &answers {
        if a["coupon"].is_object() {
            *per_user.entry(tok.clone()).or_default() += 1;
        } else {
            let codes = user_error_codes(a);
            assert!(
                codes == vec!["SOLD_OUT"] || codes == vec!["LIMIT_REACHED"],
                "{a}"
            );
        }
    }
    assert_eq!(per_user.values().sum::<usize>(), 150);
    assert!(per_user.values().all(|n| *n <= 2), "{per_user:?}");
    for tok in tokens.iter().take(5) {
        let held = a.data(Some(tok), MINE, json!({})).await["myCoupons"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(held, per_user.get(tok).copied().unwrap_or(0));
    }
    let staff = a
        .data(
            Some(&shop.boss.token),
            "{ couponTemplates { name issuedCount remaining } }",
            json!({}),
        )
        .await;
    let row = staff["couponTemplates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "双实例券")
        .unwrap()
        .clone();
    assert_eq!(row["issuedCount"], 150);
    assert_eq!(row["remaining"], 0);
}

#[tokio::test]
async fn listings_with_badges_come_from_memory_until_an_activity_starts_or_ends() {
    let shop = shop().await;
    let s = &shop.s;
    const LIST: &str = "{ products(first: 10) { edges { node { id promotions } } } }";
    let read = || async {
        let r = s.post_gql(None, LIST, json!({})).await;
        let cache = r
            .headers()
            .get("x-cache")
            .map(|v| v.to_str().unwrap().to_string());
        let v: Value = r.json().await.unwrap();
        assert!(v.get("errors").is_none(), "{v}");
        (
            cache,
            v["data"]["products"]["edges"][0]["node"]["promotions"].clone(),
        )
    };
    // Once the shop's setup has reached the index, the listing is stored and served again.
    let mut seen = (None, Value::Null);
    for _ in 0..50 {
        seen = read().await;
        if seen.0.as_deref() == Some("hit") && seen.1.is_array() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen, (Some("hit".into()), json!([])));
    // An activity saved to start in two seconds: the save is seen at once (not yet shown), and
    // its start by the clock alone, with no event, also reaches the stored listing.
    let starts = chrono::Utc::now() + chrono::Duration::seconds(2);
    let created = s
        .data(
            Some(&shop.boss.token),
            ACTIVITY,
            json!({ "input": { "name": "整点开抢", "tiers": [{ "threshold": "100.00", "off": "10.00" }], "startsAt": starts.to_rfc3339(), "endsAt": in_a_day() } }),
        )
        .await["createPromotionActivity"]
        .clone();
    assert_eq!(created["userErrors"], json!([]), "{created}");
    // Stored again once the change's own event has come back through the dispatcher too
    // (each forget makes what was stored before it stale), showing the right labels throughout.
    let until_hit = |expected: Value| async move {
        for _ in 0..20 {
            let (cache, labels) = read().await;
            assert_eq!(labels, expected);
            if cache.as_deref() == Some("hit") {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    };
    assert!(until_hit(json!([])).await);
    let wait = (starts - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait + std::time::Duration::from_millis(50)).await;
    let shown = json!(["满100减10"]);
    assert_eq!(read().await, (Some("miss".into()), shown.clone()));
    assert!(until_hit(shown).await);
    // Ended by staff: the next read.
    let ended = s
        .data(
            Some(&shop.boss.token),
            "mutation($id: ID!) { endPromotionActivity(id: $id) { userErrors { code } } }",
            json!({ "id": created["activity"]["id"] }),
        )
        .await;
    assert_eq!(
        ended["endPromotionActivity"]["userErrors"],
        json!([]),
        "{ended}"
    );
    assert_eq!(read().await.1, json!([]));
}
