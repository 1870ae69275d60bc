//! Points: the daily sign-in (once a day, also under 100 concurrent requests; streak bonuses),
//! tasks paid once, points earned by orders (pending until completion, reversed by refunds),
//! the checkout deduction (rate, cap, allocation, refusals, 100 concurrent checkouts spending
//! the same points), returns on cancel and refund, the points mall, expiry per lot (oldest
//! first), staff adjustments and reading, the reconciliation, and `pointsChanged` for the owner
//! only.
use std::time::Duration;

use chrono::Utc;
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::{Value, json};

use crate::{
    distribution::{Shop, refund, shop},
    orders::create_address,
    support::*,
};

const SIGN_IN: &str = "mutation { signIn { points signIn { signedToday streak todayPoints calendar { date signed points streak } } userErrors { code field message } } }";
const MY_SIGN_IN: &str =
    "query { mySignIn { signedToday streak todayPoints calendar { date signed points } } }";
const MY_POINTS: &str = "query { myPoints { available pending expiringSoon expiringBefore } }";
const MY_LEDGER: &str = "query($kinds: [EntryKind!]) { myPointsLedger(kinds: $kinds, first: 100) { totalCount edges { node { kind delta balanceAfter expiresAt note orderId } } } }";
const ADJUST: &str = "mutation($input: AdjustMemberPointsInput!) { adjustMemberPoints(input: $input) { points { available } userErrors { code field message } } }";
const RECONCILE: &str = "query { pointsReconciliation { consistent accounts entries ledgerTotal balanceTotal mismatchedMembers mismatchedLotMembers } }";
const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id status source payAmount pointsUsed pointsDiscount lines { payAmount pointsUsed discount } } userErrors { code field message } } }";
const PREVIEW: &str = "query($input: CheckoutInput!) { checkoutPreview(input: $input) { preview { payAmount canPlace } userErrors { code field message } } }";
const CLAIM: &str = "mutation($task: PointsTask!) { claimPointsTask(task: $task) { points userErrors { code field message } } }";
const MALL_ITEM: &str = "mutation($input: SetPointsMallItemInput!) { setPointsMallItem(input: $input) { item { id points cash active sku { id } } userErrors { code field message } } }";

async fn points(s: &TestServer, a: &Account) -> Value {
    s.data(Some(&a.token), MY_POINTS, json!({})).await["myPoints"].clone()
}

pub(crate) async fn available(s: &TestServer, a: &Account) -> i64 {
    points(s, a).await["available"].as_i64().unwrap()
}

pub(crate) async fn ledger(s: &TestServer, a: &Account) -> Vec<(String, i64)> {
    s.data(Some(&a.token), MY_LEDGER, json!({})).await["myPointsLedger"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["node"]["kind"].as_str().unwrap().to_string(),
                e["node"]["delta"].as_i64().unwrap(),
            )
        })
        .collect()
}

pub(crate) async fn give(
    s: &TestServer,
    staff: &Account,
    to: &Account,
    n: i64,
    key: &str,
) -> Value {
    s.data(
        Some(&staff.token),
        ADJUST,
        json!({ "input": { "userId": to.id, "points": n, "reason": "活动补发", "idempotencyKey": key } }),
    )
    .await["adjustMemberPoints"]
        .clone()
}

pub(crate) async fn assert_consistent(s: &TestServer, staff: &Account) -> Value {
    let r = s.data(Some(&staff.token), RECONCILE, json!({})).await["pointsReconciliation"].clone();
    assert_eq!(r["consistent"], true, "{r:#}");
    assert_eq!(r["ledgerTotal"], r["balanceTotal"], "{r:#}");
    r
}

fn checkout(shop: &Shop, quantity: i64, points: i64) -> Value {
    json!({ "addressId": shop.address, "lines": [{ "skuId": shop.sku, "quantity": quantity }], "pointsToUse": points })
}

async fn place_with(shop: &Shop, buyer: &Account, checkout: Value, key: &str) -> Value {
    shop.s
        .data(
            Some(&buyer.token),
            PLACE,
            json!({ "input": { "idempotencyKey": key, "checkout": checkout } }),
        )
        .await["placeOrder"]
        .clone()
}

async fn stock(shop: &Shop) -> i64 {
    shop.s
        .data(
            Some(&shop.boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": shop.sku }),
        )
        .await["node"]["stock"]
        .as_i64()
        .unwrap()
}

/// Sign-ins on the days before today, as if the member had signed in then.
async fn signed_before(s: &TestServer, user: &Account, days: i64) {
    use sea_orm::ConnectionTrait;
    let id = distmall::graphql::ids::decode("User", &async_graphql::ID(user.id.clone())).unwrap();
    let today = distmall::shop_time::shop_day(Utc::now(), 8);
    for back in 1..=days {
        let day = today - chrono::Duration::days(back);
        let streak = days - back + 1;
        s.app()
            .db
            .conn()
            .execute_raw(distmall::db::stmt(
                s.app().db.backend(),
                if s.app().db.is_postgres() {
                    "INSERT INTO points_sign_ins (user_id, day, streak, points, created_at) VALUES ($1, $2, $3, 0, $4)"
                } else {
                    "INSERT INTO points_sign_ins (user_id, day, streak, points, created_at) VALUES (?, ?, ?, 0, ?)"
                },
                [id.into(), day.into(), (streak as i32).into(), Utc::now().into()],
            ))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn signing_in_pays_once_a_day_and_streak_bonuses_come_on_their_day() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let a = register(&s, "13800030001", "Secret123").await;
    let before = s.data(Some(&a.token), MY_SIGN_IN, json!({})).await["mySignIn"].clone();
    assert_eq!(before["signedToday"], false);
    assert_eq!(before["todayPoints"], 5);
    let first = s.data(Some(&a.token), SIGN_IN, json!({})).await["signIn"].clone();
    assert_eq!(first["userErrors"], json!([]), "{first}");
    assert_eq!(first["points"], 5);
    assert_eq!(first["signIn"]["signedToday"], true);
    assert_eq!(first["signIn"]["streak"], 1);
    let cal = first["signIn"]["calendar"].as_array().unwrap();
    let today = distmall::shop_time::shop_day(Utc::now(), 8);
    assert_eq!(cal.len() as u32, chrono::Datelike::day(&today));
    assert_eq!(cal.last().unwrap()["date"], today.to_string());
    assert_eq!(cal.last().unwrap()["signed"], true);
    assert_eq!(cal.last().unwrap()["points"], 5);
    let again = s.data(Some(&a.token), SIGN_IN, json!({})).await["signIn"].clone();
    assert_eq!(user_error_codes(&again), vec!["ALREADY_SIGNED_IN"]);
    assert_eq!(again["points"], Value::Null);
    assert_eq!(available(&s, &a).await, 5);
    assert_eq!(ledger(&s, &a).await, vec![("SIGN_IN".into(), 5)]);

    // Six days signed before today: today is the seventh, with the configured bonus (7:20).
    let b = register(&s, "13800030002", "Secret123").await;
    signed_before(&s, &b, 6).await;
    let pre = s.data(Some(&b.token), MY_SIGN_IN, json!({})).await["mySignIn"].clone();
    assert_eq!(
        (pre["streak"].clone(), pre["todayPoints"].clone()),
        (json!(6), json!(25))
    );
    let seventh = s.data(Some(&b.token), SIGN_IN, json!({})).await["signIn"].clone();
    assert_eq!(seventh["points"], 25, "{seventh}");
    assert_eq!(seventh["signIn"]["streak"], 7);
    assert_eq!(available(&s, &b).await, 25);
    // Not signing in breaks the streak: a gap before yesterday starts again at 1.
    let c = register(&s, "13800030003", "Secret123").await;
    let anon = s.gql(None, SIGN_IN, json!({})).await;
    assert_eq!(error_code(&anon), "UNAUTHENTICATED");
    let first_c = s.data(Some(&c.token), SIGN_IN, json!({})).await["signIn"].clone();
    assert_eq!(first_c["signIn"]["streak"], 1);
    assert_consistent(&s, &boss).await;
}

#[tokio::test]
async fn a_hundred_concurrent_sign_ins_by_one_member_pay_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let a = register(&s, "13800030011", "Secret123").await;
    let answers = at_once(&s, Some(&a.token), SIGN_IN, json!({}), 100).await;
    let mut paid = 0;
    for r in &answers {
        assert!(r.get("errors").is_none(), "{r}");
        let p = &r["data"]["signIn"];
        if p["points"].is_i64() {
            paid += 1;
        } else {
            assert_eq!(user_error_codes(p), vec!["ALREADY_SIGNED_IN"], "{p}");
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(available(&s, &a).await, 5);
    assert_eq!(ledger(&s, &a).await.len(), 1);
    assert_consistent(&s, &boss).await;
}

#[tokio::test]
async fn a_burst_of_sign_ins_on_two_instances_pays_each_member_once_with_their_own_streak() {
    let a = TestServer::start().await;
    let b = TestServer::start_on(a.db.clone(), |_| {}).await;
    let boss = owner(&a).await;
    let mut members = Vec::new();
    for i in 0..20 {
        let m = register(&a, &format!("138000301{i:02}"), "Secret123").await;
        // Every third member is on the seventh day of a streak (7:20 bonus).
        if i % 3 == 0 {
            signed_before(&a, &m, 6).await;
        }
        members.push(m);
    }
    // Each member twice, once through each instance, all at the same moment: requests that
    // meet in one batch, and batches on two instances racing for the same members.
    let answers = futures::future::join_all(members.iter().flat_map(|m| {
        [&a, &b].map(|s| async move {
            let r = s.data(Some(&m.token), SIGN_IN, json!({})).await["signIn"].clone();
            (m.id.clone(), r)
        })
    }))
    .await;
    for (i, m) in members.iter().enumerate() {
        let mine: Vec<&Value> = answers
            .iter()
            .filter(|(id, _)| *id == m.id)
            .map(|(_, r)| r)
            .collect();
        let expected = if i % 3 == 0 { 25 } else { 5 };
        let paid: Vec<&&Value> = mine.iter().filter(|r| r["points"].is_i64()).collect();
        assert_eq!(paid.len(), 1, "member {i}: {mine:?}");
        assert_eq!(paid[0]["points"], expected, "member {i}");
        assert_eq!(paid[0]["signIn"]["streak"], if i % 3 == 0 { 7 } else { 1 });
        let refused: Vec<&&Value> = mine.iter().filter(|r| !r["points"].is_i64()).collect();
        assert_eq!(user_error_codes(refused[0]), vec!["ALREADY_SIGNED_IN"]);
        assert_eq!(available(&a, m).await, expected);
        assert_eq!(ledger(&b, m).await, vec![("SIGN_IN".into(), expected)]);
    }
    assert_consistent(&a, &boss).await;
}

#[tokio::test]
async fn tasks_pay_once_even_when_claimed_at_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let a = register(&s, "13800030021", "Secret123").await;
    let answers = at_once(&s, Some(&a.token), CLAIM, json!({ "task": "REGISTER" }), 20).await;
    let paid: Vec<_> = answers
        .iter()
        .filter(|r| r["data"]["claimPointsTask"]["points"].is_i64())
        .collect();
    assert_eq!(paid.len(), 1, "{answers:?}");
    assert_eq!(paid[0]["data"]["claimPointsTask"]["points"], 100);
    for r in &answers {
        let p = &r["data"]["claimPointsTask"];
        if !p["points"].is_i64() {
            assert_eq!(user_error_codes(p), vec!["ALREADY_CLAIMED"]);
        }
    }
    // The profile task waits for a nickname, an avatar and a birthday.
    let early = s
        .data(Some(&a.token), CLAIM, json!({ "task": "COMPLETE_PROFILE" }))
        .await;
    assert_eq!(
        user_error_codes(&early["claimPointsTask"]),
        vec!["TASK_NOT_DONE"]
    );
    let by_itself = s
        .data(Some(&a.token), CLAIM, json!({ "task": "FIRST_ORDER" }))
        .await;
    assert_eq!(
        user_error_codes(&by_itself["claimPointsTask"]),
        vec!["TASK_NOT_DONE"]
    );
    let p = s
        .data(
            Some(&a.token),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code message } } }",
            json!({ "input": { "nickname": "小王", "avatarUrl": "https://img.example.com/a.png", "birthday": "1990-05-01" } }),
        )
        .await;
    assert_eq!(p["updateProfile"]["userErrors"], json!([]), "{p}");
    let done = s
        .data(Some(&a.token), CLAIM, json!({ "task": "COMPLETE_PROFILE" }))
        .await;
    assert_eq!(done["claimPointsTask"]["points"], 50, "{done}");
    let twice = s
        .data(Some(&a.token), CLAIM, json!({ "task": "COMPLETE_PROFILE" }))
        .await;
    assert_eq!(
        user_error_codes(&twice["claimPointsTask"]),
        vec!["ALREADY_CLAIMED"]
    );
    assert_eq!(available(&s, &a).await, 150);
    assert_eq!(
        ledger(&s, &a).await,
        vec![("TASK".into(), 100), ("TASK".into(), 50)]
    );
    assert_consistent(&s, &boss).await;
}

#[tokio::test]
async fn orders_earn_points_pending_until_completion_and_refunds_take_them_back() {
    let shop = shop().await;
    let b = &shop.buyer;
    // ¥200.00 paid: 200 points pending.
    let order = shop.buy(2, "earn").await;
    let p = points(&shop.s, b).await;
    assert_eq!(
        (p["available"].clone(), p["pending"].clone()),
        (json!(0), json!(200)),
        "{p}"
    );
    shop.complete(&order).await;
    // Credited, with the first order's task.
    let p = points(&shop.s, b).await;
    assert_eq!(
        (p["available"].clone(), p["pending"].clone()),
        (json!(300), json!(0)),
        "{p}"
    );
    assert_eq!(
        ledger(&shop.s, b).await,
        vec![("EARN".into(), 200), ("TASK".into(), 100)]
    );
    // Staff honour a claim for one unit after completion: its 100 points go back.
    refund(&shop, &order, 1, true).await;
    assert_eq!(available(&shop.s, b).await, 200);
    assert_eq!(
        ledger(&shop.s, b).await.last().unwrap(),
        &("REVERSE".to_string(), -100)
    );

    // A refund before completion shrinks what is pending; the first-order task paid once.
    let second = shop.buy(1, "second").await;
    assert_eq!(points(&shop.s, b).await["pending"], 100);
    refund(&shop, &second, 1, false).await;
    assert_eq!(points(&shop.s, b).await["pending"], 0);
    let third = shop.buy(1, "third").await;
    shop.complete(&third).await;
    assert_eq!(available(&shop.s, b).await, 300);
    assert_consistent(&shop.s, &shop.boss).await;
}

#[tokio::test]
async fn checkout_deducts_points_to_the_fen_and_refuses_what_it_cannot_honour() {
    let shop = shop().await;
    let b = &shop.buyer;
    assert_eq!(
        give(&shop.s, &shop.boss, b, 3_000, "g1").await["userErrors"],
        json!([])
    );
    let units = stock(&shop).await;
    // 2,000 points = ¥20.00 off ¥100.00.
    let pv = shop
        .s
        .data(
            Some(&b.token),
            PREVIEW,
            json!({ "input": checkout(&shop, 1, 2_000) }),
        )
        .await["checkoutPreview"]
        .clone();
    assert_eq!(pv["preview"]["payAmount"], "80.00", "{pv}");
    // Refusals, with nothing changed.
    for (pts, code) in [(5_001, "POINTS_OVER_CAP"), (-5, "INVALID_POINTS")] {
        let r = place_with(&shop, b, checkout(&shop, 1, pts), &format!("bad{pts}")).await;
        assert_eq!(user_error_codes(&r), vec![code], "{r}");
        assert_eq!(r["userErrors"][0]["field"], json!(["input", "pointsToUse"]));
        assert_eq!(r["order"], Value::Null);
    }
    let r = place_with(&shop, b, checkout(&shop, 2, 4_000), "toomuch").await;
    assert_eq!(user_error_codes(&r), vec!["INSUFFICIENT_POINTS"], "{r}");
    assert_eq!(available(&shop.s, b).await, 3_000);
    assert_eq!(stock(&shop).await, units);

    // Three units (¥300.00), 1,001 points: ¥10.01 over the lines, Σ line paid = order paid.
    let placed = place_with(&shop, b, checkout(&shop, 3, 1_001), "ok").await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let o = &placed["order"];
    assert_eq!(
        (
            o["payAmount"].clone(),
            o["pointsUsed"].clone(),
            o["pointsDiscount"].clone()
        ),
        (json!("289.99"), json!(1_001), json!("10.01"))
    );
    let line_paid: f64 = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["payAmount"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(format!("{line_paid:.2}"), "289.99");
    assert_eq!(available(&shop.s, b).await, 1_999);
    assert_eq!(
        ledger(&shop.s, b).await.last().unwrap(),
        &("SPEND".to_string(), -1_001)
    );

    // Cancelling returns them.
    let c = shop
        .s
        .data(
            Some(&b.token),
            "mutation($id: ID!) { cancelOrder(id: $id, reason: \"不要了\") { order { status } userErrors { code } } }",
            json!({ "id": o["id"] }),
        )
        .await;
    assert_eq!(c["cancelOrder"]["order"]["status"], "CANCELLED", "{c}");
    assert_eq!(available(&shop.s, b).await, 3_000);

    // A refund of one unit of three returns that unit's share (333 of 1,000), the last unit
    // the rest.
    let placed = place_with(&shop, b, checkout(&shop, 3, 1_000), "refunded").await;
    let id = placed["order"]["id"].clone();
    shop.pay(b, &id).await;
    assert_eq!(available(&shop.s, b).await, 2_000);
    refund(&shop, &id, 1, false).await;
    assert_eq!(available(&shop.s, b).await, 2_333);
    refund(&shop, &id, 2, false).await;
    assert_eq!(available(&shop.s, b).await, 3_000);
    let kinds: Vec<String> = ledger(&shop.s, b)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "RETURN").count(),
        3,
        "{kinds:?}"
    );
    assert_consistent(&shop.s, &shop.boss).await;
}

#[tokio::test]
async fn a_hundred_concurrent_checkouts_spending_the_same_points_never_overdraw() {
    let shop = shop().await;
    let b = &shop.buyer;
    give(&shop.s, &shop.boss, b, 1_000, "g").await;
    let tasks = (0..100).map(|i| {
        let req = reqwest::Client::new()
            .post(shop.s.url("/graphql"))
            .bearer_auth(&b.token)
            .json(&json!({ "query": PLACE, "variables": { "input": { "idempotencyKey": format!("k{i}"), "checkout": checkout(&shop, 1, 1_000) } } }));
        tokio::spawn(async move { req.send().await.unwrap().json::<Value>().await.unwrap() })
    });
    let answers: Vec<Value> = futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut placed = 0;
    for r in &answers {
        assert!(r.get("errors").is_none(), "{r}");
        let p = &r["data"]["placeOrder"];
        if p["order"].is_object() {
            placed += 1;
        } else {
            assert_eq!(user_error_codes(p), vec!["INSUFFICIENT_POINTS"], "{p}");
        }
    }
    assert_eq!(placed, 1);
    assert_eq!(available(&shop.s, b).await, 0);
    assert_eq!(stock(&shop).await, 499);
    assert_consistent(&shop.s, &shop.boss).await;
}

#[tokio::test]
async fn the_points_mall_redeems_skus_as_orders() {
    let shop = shop().await;
    let b = &shop.buyer;
    // Only marketing staff put SKUs in the mall.
    let denied = shop
        .s
        .gql(
            Some(&b.token),
            MALL_ITEM,
            json!({ "input": { "skuId": shop.sku, "points": 1_000 } }),
        )
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    for (input, code) in [
        (json!({ "skuId": shop.sku, "points": 0 }), "INVALID_POINTS"),
        (
            json!({ "skuId": shop.sku, "points": 10, "cash": "100.00" }),
            "INVALID_CASH",
        ),
        (
            json!({ "skuId": "U2t1Ojk5OTk", "points": 10 }),
            "SKU_NOT_FOUND",
        ),
    ] {
        let r = shop
            .s
            .data(Some(&shop.boss.token), MALL_ITEM, json!({ "input": input }))
            .await;
        assert_eq!(user_error_codes(&r["setPointsMallItem"]), vec![code], "{r}");
    }
    let set = shop
        .s
        .data(
            Some(&shop.boss.token),
            MALL_ITEM,
            json!({ "input": { "skuId": shop.sku, "points": 1_000, "cash": "9.90" } }),
        )
        .await;
    assert_eq!(set["setPointsMallItem"]["item"]["cash"], "9.90", "{set}");
    let listed = shop
        .s
        .data(
            None,
            "query { pointsMallItems { edges { node { points cash sku { id } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["pointsMallItems"]["edges"][0]["node"]["points"],
        1_000
    );

    give(&shop.s, &shop.boss, b, 1_500, "g").await;
    let mall = |q: i64| json!({ "addressId": shop.address, "lines": [{ "skuId": shop.sku, "quantity": q }], "pointsMall": true });
    let units = stock(&shop).await;
    let short = place_with(&shop, b, mall(2), "two").await;
    assert_eq!(
        user_error_codes(&short),
        vec!["INSUFFICIENT_POINTS"],
        "{short}"
    );
    let r = place_with(&shop, b, mall(1), "one").await;
    assert_eq!(r["userErrors"], json!([]), "{r}");
    let o = &r["order"];
    assert_eq!(
        (
            o["source"].clone(),
            o["payAmount"].clone(),
            o["pointsUsed"].clone()
        ),
        (json!("POINTS_MALL"), json!("9.90"), json!(1_000))
    );
    assert_eq!(stock(&shop).await, units - 1);
    assert_eq!(available(&shop.s, b).await, 500);
    // It is paid and shipped like any order; a redemption earns no points.
    shop.pay(b, &o["id"]).await;
    shop.complete(&o["id"]).await;
    assert_eq!(points(&shop.s, b).await["pending"], 0);
    assert_eq!(available(&shop.s, b).await, 500);

    // A SKU not in the mall, and one out of stock.
    let other =
        crate::catalog::published_product(&shop.s, &shop.boss.token, "限量帆布包", "59.00", 1)
            .await;
    let other_sku = other["skus"][0]["id"].clone();
    let not_mall = place_with(&shop, b, json!({ "addressId": shop.address, "lines": [{ "skuId": other_sku, "quantity": 1 }], "pointsMall": true }), "nm").await;
    assert_eq!(
        user_error_codes(&not_mall),
        vec!["NOT_REDEEMABLE"],
        "{not_mall}"
    );
    shop.s
        .data(
            Some(&shop.boss.token),
            MALL_ITEM,
            json!({ "input": { "skuId": other_sku, "points": 100 } }),
        )
        .await;
    // Points only, nothing to pay: the redemption is paid as it is placed.
    let free = place_with(&shop, b, json!({ "addressId": shop.address, "lines": [{ "skuId": other_sku, "quantity": 1 }], "pointsMall": true }), "free").await;
    assert_eq!(free["userErrors"], json!([]), "{free}");
    assert_eq!(
        (
            free["order"]["status"].clone(),
            free["order"]["payAmount"].clone()
        ),
        (json!("PAID"), json!("0.00"))
    );
    assert_eq!(available(&shop.s, b).await, 400);
    // The last unit is gone: out of stock, and no points taken.
    let gone = place_with(&shop, b, json!({ "addressId": shop.address, "lines": [{ "skuId": other_sku, "quantity": 1 }], "pointsMall": true }), "oos").await;
    assert_eq!(user_error_codes(&gone), vec!["OUT_OF_STOCK"], "{gone}");
    assert_eq!(available(&shop.s, b).await, 400);
    assert_consistent(&shop.s, &shop.boss).await;
}

#[tokio::test]
async fn staff_adjust_once_per_key_and_read_a_members_points() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let marketing = staff(&s, &boss.token, "13900000031", &["MARKETING"]).await;
    let orders_staff = staff(&s, &boss.token, "13900000032", &["ORDERS"]).await;
    let a = register(&s, "13800030041", "Secret123").await;
    let other = register(&s, "13800030042", "Secret123").await;
    let first = give(&s, &marketing, &a, 100, "k1").await;
    assert_eq!(first["points"]["available"], 100, "{first}");
    let again = give(&s, &marketing, &a, 100, "k1").await;
    assert_eq!(again["points"]["available"], 100);
    assert_eq!(available(&s, &a).await, 100);
    let reused = give(&s, &marketing, &a, 50, "k1").await;
    assert_eq!(user_error_codes(&reused), vec!["INVALID_IDEMPOTENCY_KEY"]);
    let over = give(&s, &marketing, &a, -500, "k2").await;
    assert_eq!(user_error_codes(&over), vec!["INSUFFICIENT_POINTS"]);
    let zero = give(&s, &marketing, &a, 0, "k3").await;
    assert_eq!(user_error_codes(&zero), vec!["INVALID_POINTS"]);
    let no_reason = s
        .data(
            Some(&marketing.token),
            ADJUST,
            json!({ "input": { "userId": a.id, "points": 5, "reason": " ", "idempotencyKey": "k4" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&no_reason["adjustMemberPoints"]),
        vec!["INVALID_REASON"]
    );
    let take = give(&s, &marketing, &a, -30, "k5").await;
    assert_eq!(take["points"]["available"], 70);
    assert_eq!(
        ledger(&s, &a).await,
        vec![("ADJUST".into(), 100), ("ADJUST".into(), -30)]
    );
    // Who may do and read what.
    for who in [&orders_staff, &other] {
        let r = s
            .gql(
                Some(&who.token),
                ADJUST,
                json!({ "input": { "userId": a.id, "points": 5, "reason": "x", "idempotencyKey": "z" } }),
            )
            .await;
        assert_eq!(error_code(&r), "FORBIDDEN");
        let r = s
            .gql(
                Some(&who.token),
                "query($id: ID!) { memberPoints(userId: $id) { available } }",
                json!({ "id": a.id }),
            )
            .await;
        assert_eq!(error_code(&r), "FORBIDDEN");
        let r = s.gql(Some(&who.token), RECONCILE, json!({})).await;
        assert_eq!(error_code(&r), "FORBIDDEN");
    }
    let read = s
        .data(
            Some(&marketing.token),
            "query($id: ID!) { memberPoints(userId: $id) { available } memberPointsLedger(userId: $id) { totalCount edges { node { kind delta note } } } }",
            json!({ "id": a.id }),
        )
        .await;
    assert_eq!(read["memberPoints"]["available"], 70);
    assert_eq!(read["memberPointsLedger"]["totalCount"], 2);
    assert_eq!(
        read["memberPointsLedger"]["edges"][0]["node"]["note"],
        "活动补发"
    );
    let own = s
        .data(
            Some(&a.token),
            "query($id: ID!) { memberPoints(userId: $id) { available } }",
            json!({ "id": a.id }),
        )
        .await;
    assert_eq!(own["memberPoints"]["available"], 70);
    let r = assert_consistent(&s, &boss).await;
    assert_eq!(r["ledgerTotal"], 70);
}

#[tokio::test]
async fn points_expire_per_lot_and_spending_takes_the_oldest_first() {
    // Points given under a policy of never expiring, then under the default policy (end of
    // next year) by a second instance: two lots.
    let first =
        TestServer::start_with(|c| c.points_expiry = distmall::config::PointsExpiry::Never).await;
    let boss = owner(&first).await;
    let a = register(&first, "13800030051", "Secret123").await;
    give(&first, &boss, &a, 100, "never").await;
    let second = TestServer::start_on(first.db.clone(), |_| {}).await;
    give(&second, &boss, &a, 60, "yearly").await;
    let soon = points(&second, &a).await;
    assert_eq!(soon["available"], 160);
    // Taking 50 takes them from the lot that expires first (the yearly one).
    give(&second, &boss, &a, -50, "take").await;
    let entries = second
        .data(Some(&a.token), MY_LEDGER, json!({ "kinds": ["ADJUST"] }))
        .await;
    let newest = &entries["myPointsLedger"]["edges"][0]["node"];
    assert_eq!(newest["delta"], -50);
    assert!(newest["expiresAt"].is_string(), "{newest}");
    // Three years on, the yearly lot's 10 points expire, the others never; running again
    // changes nothing.
    let later = Utc::now() + chrono::Duration::days(3 * 366);
    let n = distmall::points::ledger::expire_due(&second.app().db, later, 1_000)
        .await
        .unwrap();
    assert_eq!(n, 1);
    let n = distmall::points::ledger::expire_due(&second.app().db, later, 1_000)
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(available(&second, &a).await, 100);
    assert_eq!(
        ledger(&second, &a).await,
        vec![
            ("ADJUST".into(), 100),
            ("ADJUST".into(), 60),
            ("ADJUST".into(), -50),
            ("EXPIRE".into(), -10)
        ]
    );
    assert_consistent(&second, &boss).await;
    drop(second);
}

#[tokio::test]
async fn the_birthday_job_gives_each_member_their_levels_gift_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let a = register(&s, "13800030061", "Secret123").await;
    let today = distmall::shop_time::shop_day(Utc::now(), 8);
    let p = s
        .data(
            Some(&a.token),
            "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { userErrors { code message } } }",
            json!({ "input": { "birthday": format!("1990-{}", today.format("%m-%d")) } }),
        )
        .await;
    assert_eq!(p["updateProfile"]["userErrors"], json!([]), "{p}");
    // The gift is what the member's level gives (nothing before levels exist), once however
    // often the job runs (the job also runs by itself at start).
    let id = distmall::graphql::ids::decode("User", &async_graphql::ID(a.id.clone())).unwrap();
    let benefits = distmall::members::benefits_of(s.app().db.conn(), id)
        .await
        .unwrap();
    let mut given = 0;
    for _ in 0..3 {
        given += distmall::points::service::give_birthday_points(s.app(), Utc::now())
            .await
            .unwrap();
    }
    assert!(given <= 1);
    assert_eq!(available(&s, &a).await, benefits.birthday_points.max(0));
    let kinds: Vec<String> = ledger(&s, &a).await.into_iter().map(|(k, _)| k).collect();
    assert!(
        kinds.iter().all(|k| k == "BIRTHDAY") && kinds.len() <= 1,
        "{kinds:?}"
    );
    assert_consistent(&s, &boss).await;
}

#[tokio::test]
async fn points_changed_reaches_only_the_owner() {
    let s = TestServer::start().await;
    let a = register(&s, "13800030071", "Secret123").await;
    let b = register(&s, "13800030072", "Secret123").await;
    let sub = "subscription { pointsChanged { eventId kind delta balance } }";
    let mut wa = WsClient::connect_and_init(&s.ws_url(), Some(&a.token)).await;
    wa.subscribe("p", sub, json!({})).await;
    let mut wb = WsClient::connect_and_init(&s.ws_url(), Some(&b.token)).await;
    wb.subscribe("p", sub, json!({})).await;
    let mut anon = WsClient::connect_and_init(&s.ws_url(), None).await;
    anon.subscribe("p", sub, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.data(Some(&a.token), SIGN_IN, json!({})).await;
    let msg = wa.recv().await.expect("a change");
    let change = &msg["payload"]["data"]["pointsChanged"];
    assert_eq!(
        (
            change["kind"].clone(),
            change["delta"].clone(),
            change["balance"].clone()
        ),
        (json!("SIGN_IN"), json!(5), json!(5)),
        "{msg}"
    );
    wb.expect_silence(Duration::from_millis(500)).await;
    let refused = anon.recv().await.expect("an answer");
    assert_eq!(refused["type"], "error", "{refused}");
}

/// Random adjustments, sign-ins, checkouts with points and cancellations for a few members:
/// after each step the ledger of every member sums to their balance, and the reconciliation
/// agrees.
#[tokio::test]
async fn the_ledger_sums_to_the_balance_after_random_operations() {
    let shop = shop().await;
    let mut rng = StdRng::seed_from_u64(18);
    let mut members = vec![];
    for i in 0..3 {
        let m = register(&shop.s, &format!("1380003008{i}"), "Secret123").await;
        let address = create_address(&shop.s, &m.token, &format!("1380003008{i}")).await;
        members.push((m, address));
    }
    let mut orders: Vec<(usize, Value)> = vec![];
    for step in 0..40 {
        let who = rng.gen_range(0..members.len());
        let (m, address) = &members[who];
        match rng.gen_range(0..5) {
            0 | 1 => {
                let n: i64 = rng.gen_range(-300..600);
                if n != 0 {
                    give(&shop.s, &shop.boss, m, n, &format!("s{step}")).await;
                }
            }
            2 => {
                shop.s.data(Some(&m.token), SIGN_IN, json!({})).await;
            }
            3 => {
                let pts = rng.gen_range(0..=5) * 100;
                let r = place_with(
                    &shop,
                    m,
                    json!({ "addressId": address, "lines": [{ "skuId": shop.sku, "quantity": 1 }], "pointsToUse": pts }),
                    &format!("o{step}"),
                )
                .await;
                if r["order"].is_object() {
                    orders.push((who, r["order"]["id"].clone()));
                }
            }
            _ => {
                if let Some((owner_ix, id)) = orders.pop() {
                    let (o, _) = &members[owner_ix];
                    shop.s
                        .data(Some(&o.token), "mutation($id: ID!) { cancelOrder(id: $id, reason: \"x\") { userErrors { code } } }", json!({ "id": id }))
                        .await;
                }
            }
        }
        for (m, _) in &members {
            let sum: i64 = ledger(&shop.s, m).await.iter().map(|(_, d)| d).sum();
            assert_eq!(sum, available(&shop.s, m).await, "step {step}");
            assert!(available(&shop.s, m).await >= 0);
        }
    }
    let clean = assert_consistent(&shop.s, &shop.boss).await;

    // The reconciliation finds what does not add up: a balance changed behind the ledger's
    // back, a lot changed behind it, and entries of a member without an account.
    use sea_orm::{ConnectionTrait, Statement};
    let ids: Vec<i64> = members
        .iter()
        .map(|(m, _)| {
            distmall::graphql::ids::decode("User", &async_graphql::ID(m.id.clone())).unwrap()
        })
        .collect();
    let conn = shop.s.app().db.conn();
    for sql in [
        format!(
            "UPDATE points_accounts SET balance = balance + 7 WHERE user_id = {}",
            ids[0]
        ),
        format!(
            "UPDATE points_lots SET remaining = remaining - 3 WHERE user_id = {} AND expires_at = (SELECT MAX(expires_at) FROM points_lots WHERE user_id = {})",
            ids[1], ids[1]
        ),
        format!("DELETE FROM points_accounts WHERE user_id = {}", ids[2]),
    ] {
        conn.execute_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await
            .unwrap();
    }
    let r = shop
        .s
        .data(Some(&shop.boss.token), RECONCILE, json!({}))
        .await["pointsReconciliation"]
        .clone();
    assert_eq!(r["consistent"], false, "{r:#}");
    assert_eq!(r["entries"], clean["entries"]);
    assert_eq!(
        r["mismatchedMembers"],
        json!([members[0].0.id, members[2].0.id]),
        "{r:#}"
    );
    assert_eq!(r["mismatchedLotMembers"], json!([members[1].0.id]), "{r:#}");
}

#[tokio::test]
async fn sharing_pays_for_visits_by_others_up_to_the_daily_cap() {
    let shop = shop().await;
    let d = shop.distributor("13800030091", None).await;
    let visit = "mutation($code: String!) { recordShareVisit(code: $code) { recorded userErrors { code } } }";
    // Anonymous visits and the sharer's own pay nothing.
    shop.s.data(None, visit, json!({ "code": d.code })).await;
    shop.s
        .data(Some(&d.a.token), visit, json!({ "code": d.code }))
        .await;
    assert_eq!(available(&shop.s, &d.a).await, 0);
    // Each other member pays once a day, at most three a day (the default cap).
    let mut visitors = vec![];
    for i in 0..5 {
        visitors.push(register(&shop.s, &format!("1380003010{i}"), "Secret123").await);
    }
    for v in &visitors[..2] {
        for _ in 0..2 {
            let r = shop
                .s
                .data(Some(&v.token), visit, json!({ "code": d.code }))
                .await;
            assert_eq!(r["recordShareVisit"]["recorded"], true);
        }
    }
    assert_eq!(available(&shop.s, &d.a).await, 10);
    for v in &visitors[2..] {
        shop.s
            .data(Some(&v.token), visit, json!({ "code": d.code }))
            .await;
    }
    assert_eq!(available(&shop.s, &d.a).await, 15);
    assert_eq!(ledger(&shop.s, &d.a).await, vec![("TASK".into(), 5); 3]);
    assert_consistent(&shop.s, &shop.boss).await;
}
