//! Orders: address book, cart, checkout preview and placing orders (validation, idempotency,
//! concurrency), cancelling and timing out (stock released), dev payment, who may read an
//! order, live status, the staff list's statement count and shipping templates.
use std::time::Duration;

use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::{catalog::*, support::*};

pub const CREATE_ADDRESS: &str = "mutation($input: AddressInput!) { createAddress(input: $input) { address { id isDefault phone } userErrors { code field message } } }";
pub const ADD_TO_CART: &str = "mutation($sku: ID!, $q: Int!) { addToCart(skuId: $sku, quantity: $q) { cart { totalQuantity items { quantity selected warning unitPrice sku { id } } } userErrors { code field message } } }";
pub const PREVIEW: &str = "query($input: CheckoutInput!) { checkoutPreview(input: $input) { preview { itemsTotal shippingFee payAmount canPlace lines { productName quantity unitPrice lineTotal discount payAmount warning } } userErrors { code field message } } }";
pub const PLACE: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id orderNo status paymentStatus nextStates payAmount itemsTotal shippingFee payBefore lines { productName specText quantity unitPrice payAmount } history { fromStatus toStatus } shippingAddress { recipient phone province } } userErrors { code field message } } }";
pub const PAY: &str = "mutation($id: ID!, $p: PaymentProvider!) { createPayment(orderId: $id, provider: $p) { payment { status amount outTradeNo } order { status paymentStatus nextStates } userErrors { code field message } } }";
const CANCEL: &str = "mutation($id: ID!) { cancelOrder(id: $id, reason: \"改主意了\") { order { status cancelReason } userErrors { code message } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { id status orderNo payAmount history { fromStatus toStatus } } }";
const STOCK: &str = "query($id: ID!) { node(id: $id) { ... on Sku { stock sales } } }";

pub fn address_input(phone: &str) -> Value {
    json!({ "recipient": "张三", "phone": phone, "province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园 1 栋 101" })
}

pub async fn create_address(s: &TestServer, token: &str, phone: &str) -> String {
    let d = s
        .data(
            Some(token),
            CREATE_ADDRESS,
            json!({ "input": address_input(phone) }),
        )
        .await;
    assert_eq!(d["createAddress"]["userErrors"], json!([]), "{d}");
    d["createAddress"]["address"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub async fn place(s: &TestServer, token: &str, address: &str, lines: Value, key: &str) -> Value {
    s.data(
        Some(token),
        PLACE,
        json!({ "input": { "idempotencyKey": key, "checkout": { "addressId": address, "lines": lines } } }),
    )
    .await["placeOrder"]
        .clone()
}

async fn stock_of(s: &TestServer, token: &str, sku: &Value) -> (i64, i64) {
    let d = s.data(Some(token), STOCK, json!({ "id": sku })).await;
    (
        d["node"]["stock"].as_i64().unwrap(),
        d["node"]["sales"].as_i64().unwrap_or(0),
    )
}

/// A buyer with an address, and a published product.
struct Shop {
    s: TestServer,
    boss: Account,
    buyer: Account,
    address: String,
    sku: Value,
}

async fn shop(price: &str, stock: i64) -> Shop {
    shop_on(TestServer::start().await, price, stock).await
}

async fn shop_on(s: TestServer, price: &str, stock: i64) -> Shop {
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "轻便跑步鞋", price, stock).await;
    let buyer = register(&s, "13800000201", "Secret123").await;
    let address = create_address(&s, &buyer.token, "13800000201").await;
    Shop {
        sku: p["skus"][0]["id"].clone(),
        s,
        boss,
        buyer,
        address,
    }
}

#[tokio::test]
async fn a_cart_checks_out_into_an_order_that_reserves_stock() {
    let shop = shop("129.90", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());

    let cart = s
        .data(Some(t), ADD_TO_CART, json!({ "sku": shop.sku, "q": 2 }))
        .await;
    assert_eq!(cart["addToCart"]["cart"]["totalQuantity"], 2, "{cart}");
    let cart = s
        .data(Some(t), ADD_TO_CART, json!({ "sku": shop.sku, "q": 1 }))
        .await;
    let item = &cart["addToCart"]["cart"]["items"][0];
    assert_eq!(item["quantity"], 3);
    assert_eq!(item["unitPrice"], "129.90");
    assert_eq!(item["warning"], Value::Null);

    let preview = s
        .data(
            Some(t),
            PREVIEW,
            json!({ "input": { "addressId": shop.address } }),
        )
        .await["checkoutPreview"]
        .clone();
    assert_eq!(preview["userErrors"], json!([]), "{preview}");
    let p = &preview["preview"];
    assert_eq!(p["itemsTotal"], "389.70");
    assert_eq!(p["shippingFee"], "0.00");
    assert_eq!(p["payAmount"], "389.70");
    assert_eq!(p["canPlace"], true);
    assert_eq!(p["lines"][0]["lineTotal"], "389.70");

    let placed = s
        .data(
            Some(t),
            PLACE,
            json!({ "input": { "idempotencyKey": "k1", "checkout": { "addressId": shop.address, "buyerNote": "请尽快发货" } } }),
        )
        .await["placeOrder"]
        .clone();
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let order = &placed["order"];
    assert_eq!(order["status"], "SUBMITTED");
    assert_eq!(order["paymentStatus"], "UNPAID");
    assert_eq!(order["nextStates"], json!(["PAID", "CANCELLED"]));
    assert_eq!(order["payAmount"], p["payAmount"], "charged what was shown");
    assert_eq!(order["lines"][0]["productName"], "轻便跑步鞋");
    assert_eq!(order["lines"][0]["quantity"], 3);
    assert_eq!(order["shippingAddress"]["recipient"], "张三");
    assert_eq!(
        order["history"],
        json!([{ "fromStatus": null, "toStatus": "SUBMITTED" }])
    );
    assert!(order["payBefore"].is_string());
    let no = order["orderNo"].as_str().unwrap();
    assert!(
        no.len() >= 14 && no.bytes().all(|b| b.is_ascii_digit()),
        "{no}"
    );

    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 7);
    let cart = s
        .data(Some(t), "{ cart { totalQuantity } }", json!({}))
        .await;
    assert_eq!(
        cart["cart"]["totalQuantity"], 0,
        "ordered items leave the cart"
    );
    let counts = s
        .data(Some(t), "{ myOrderCounts { status count } }", json!({}))
        .await;
    let submitted = counts["myOrderCounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "SUBMITTED")
        .unwrap()
        .clone();
    assert_eq!(submitted["count"], 1);
    let mine = s
        .data(
            Some(t),
            "{ myOrders(statuses: [SUBMITTED]) { totalCount edges { node { orderNo } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["myOrders"]["totalCount"], 1);
    assert_eq!(mine["myOrders"]["edges"][0]["node"]["orderNo"], no);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_order_and_refuses_a_different_one() {
    let shop = shop("50.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let lines = json!([{ "skuId": shop.sku, "quantity": 2 }]);
    let first = place(s, t, &shop.address, lines.clone(), "same-key").await;
    let again = place(s, t, &shop.address, lines, "same-key").await;
    assert_eq!(first["order"]["id"], again["order"]["id"]);
    assert_eq!(
        stock_of(s, &shop.boss.token, &shop.sku).await.0,
        8,
        "reserved once"
    );
    let other = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 3 }]),
        "same-key",
    )
    .await;
    assert_eq!(user_error_codes(&other), vec!["IDEMPOTENCY_KEY_REUSED"]);
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 8);
    // Five retries racing each other with a fresh key: one order.
    let lines = json!([{ "skuId": shop.sku, "quantity": 1 }]);
    let racing = (0..5).map(|_| place(s, t, &shop.address, lines.clone(), "raced-key"));
    let results = futures::future::join_all(racing).await;
    let first_id = &results[0]["order"]["id"];
    assert!(first_id.is_string(), "{}", results[0]);
    assert!(results.iter().all(|r| &r["order"]["id"] == first_id));
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 7);
}

#[tokio::test]
async fn bad_checkouts_are_refused_and_change_nothing() {
    let shop = shop("50.00", 5).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let draft = create_product(
        s,
        &shop.boss.token,
        json!({ "name": "未上架", "skus": [{ "price": "9.00", "initialStock": 5 }] }),
    )
    .await;
    let stranger = register(s, "13800000202", "Secret123").await;
    let strangers_address = create_address(s, &stranger.token, "13800000202").await;
    let line = |q: i64| json!([{ "skuId": shop.sku, "quantity": q }]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (line(0), &shop.address, "INVALID_QUANTITY"),
        (line(-3), &shop.address, "INVALID_QUANTITY"),
        (line(1000), &shop.address, "INVALID_QUANTITY"),
        (line(6), &shop.address, "OUT_OF_STOCK"),
        (json!([]), &shop.address, "EMPTY_ORDER"),
        (
            json!([{ "skuId": "bm90LWFuLWlk", "quantity": 1 }]),
            &shop.address,
            "SKU_NOT_FOUND",
        ),
        (
            json!([{ "skuId": draft["skus"][0]["id"], "quantity": 1 }]),
            &shop.address,
            "SKU_NOT_FOUND",
        ),
        (line(1), &strangers_address, "ADDRESS_NOT_FOUND"),
    ];
    for (i, (lines, address, code)) in cases.into_iter().enumerate() {
        let r = place(s, t, address, lines, &format!("bad-{i}")).await;
        assert_eq!(user_error_codes(&r), vec![code], "case {i}: {r}");
    }
    let coupon = s
        .data(
            Some(t),
            PLACE,
            json!({ "input": { "idempotencyKey": "c", "checkout": { "addressId": shop.address, "lines": line(1), "couponId": "Q291cG9uOjk5OTk=" } } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&coupon["placeOrder"]),
        vec!["COUPON_NOT_FOUND"]
    );
    let points = s
        .data(
            Some(t),
            PLACE,
            json!({ "input": { "idempotencyKey": "p", "checkout": { "addressId": shop.address, "lines": line(1), "pointsToUse": 100 } } }),
        )
        .await;
    // The buyer has no points yet.
    assert_eq!(
        user_error_codes(&points["placeOrder"]),
        vec!["INSUFFICIENT_POINTS"]
    );
    let no_address = s
        .data(
            Some(t),
            PLACE,
            json!({ "input": { "idempotencyKey": "a", "checkout": { "lines": line(1) } } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&no_address["placeOrder"]),
        vec!["INVALID_ADDRESS"]
    );
    let anonymous = s
        .gql(
            None,
            PLACE,
            json!({ "input": { "idempotencyKey": "x", "checkout": { "addressId": shop.address, "lines": line(1) } } }),
        )
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let huge = s
        .gql(
            Some(t),
            PLACE,
            json!({ "input": { "idempotencyKey": "h", "checkout": { "addressId": shop.address, "lines": [{ "skuId": shop.sku, "quantity": 99999999999999999u64 }] } } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&huge["data"]["placeOrder"]),
        vec!["INVALID_QUANTITY"]
    );

    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 5);
    let orders = s
        .data(Some(t), "{ myOrders { totalCount } }", json!({}))
        .await;
    assert_eq!(orders["myOrders"]["totalCount"], 0);
    // The preview shows the same problem as a warning instead.
    let preview = s
        .data(
            Some(t),
            PREVIEW,
            json!({ "input": { "addressId": shop.address, "lines": line(6) } }),
        )
        .await;
    let p = &preview["checkoutPreview"]["preview"];
    assert_eq!(p["canPlace"], false);
    assert_eq!(p["lines"][0]["warning"], "INSUFFICIENT_STOCK");
}

#[tokio::test]
async fn cancelling_releases_stock_once() {
    let shop = shop("50.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 4 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 6);
    let c = s.data(Some(t), CANCEL, json!({ "id": id })).await;
    assert_eq!(c["cancelOrder"]["order"]["status"], "CANCELLED", "{c}");
    assert_eq!(c["cancelOrder"]["order"]["cancelReason"], "改主意了");
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 10);
    let again = s.data(Some(t), CANCEL, json!({ "id": id })).await;
    assert_eq!(
        user_error_codes(&again["cancelOrder"]),
        vec!["INVALID_TRANSITION"]
    );
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 10);
    let pay = s.data(Some(t), PAY, json!({ "id": id, "p": "DEV" })).await;
    assert_eq!(
        user_error_codes(&pay["createPayment"]),
        vec!["INVALID_TRANSITION"]
    );
    let ledger = s
        .data(
            Some(&shop.boss.token),
            "query($sku: ID) { stockMovements(filter: { skuId: $sku, reason: ORDER_RELEASED }) { edges { node { delta reference } } } }",
            json!({ "sku": shop.sku }),
        )
        .await;
    let edges = ledger["stockMovements"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["delta"], 4);
    assert_eq!(edges[0]["node"]["reference"], placed["order"]["orderNo"]);
}

#[tokio::test]
async fn unpaid_orders_time_out_and_release_stock() {
    let s = TestServer::start_with(|c| {
        c.order_payment_timeout_secs = 1;
        c.order_timer_interval_secs = 1;
    })
    .await;
    let shop = shop_on(s, "50.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 3 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    let mut status = Value::Null;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        status = s.data(Some(t), ORDER, json!({ "id": id })).await["order"]["status"].clone();
        if status == "CANCELLED" {
            break;
        }
    }
    assert_eq!(status, "CANCELLED");
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 10);
}

#[tokio::test]
async fn the_dev_provider_pays_once_and_counts_sales() {
    let shop = shop("88.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 2 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    let paid = s.data(Some(t), PAY, json!({ "id": id, "p": "DEV" })).await["createPayment"].clone();
    assert_eq!(paid["userErrors"], json!([]), "{paid}");
    assert_eq!(paid["payment"]["status"], "SUCCEEDED");
    assert_eq!(paid["payment"]["amount"], "176.00");
    assert_eq!(paid["order"]["status"], "PAID");
    assert_eq!(paid["order"]["paymentStatus"], "PAID");
    assert_eq!(
        paid["order"]["nextStates"],
        json!(["APPROVED", "REFUNDING"])
    );
    let again = s.data(Some(t), PAY, json!({ "id": id, "p": "DEV" })).await;
    assert_eq!(
        user_error_codes(&again["createPayment"]),
        vec!["INVALID_TRANSITION"]
    );
    let o = s.data(Some(t), ORDER, json!({ "id": id })).await;
    assert_eq!(
        o["order"]["history"],
        json!([{ "fromStatus": null, "toStatus": "SUBMITTED" }, { "fromStatus": "SUBMITTED", "toStatus": "PAID" }])
    );
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await, (8, 2));
    let wechat = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 1 }]),
        "k2",
    )
    .await;
    let unconfigured = s
        .data(
            Some(t),
            PAY,
            json!({ "id": wechat["order"]["id"], "p": "WECHAT_PAY" }),
        )
        .await;
    assert_eq!(
        user_error_codes(&unconfigured["createPayment"]),
        vec!["PAYMENT_UNAVAILABLE"]
    );
}

#[tokio::test]
async fn an_order_is_visible_only_to_its_buyer_and_order_staff() {
    let shop = shop("50.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 1 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    let other = register(s, "13800000203", "Secret123").await;
    let merch = staff(s, &shop.boss.token, "13700000201", &["CATALOG"]).await;
    let clerk = staff(s, &shop.boss.token, "13700000202", &["ORDERS"]).await;
    for token in [&other.token, &merch.token] {
        let by_id = s.data(Some(token), ORDER, json!({ "id": id })).await;
        assert_eq!(by_id["order"], Value::Null);
        let by_node = s
            .data(
                Some(token),
                "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(by_node["node"], Value::Null);
        assert_eq!(by_node["nodes"], json!([null]));
        let mine = s
            .data(Some(token), "{ myOrders { totalCount } }", json!({}))
            .await;
        assert_eq!(mine["myOrders"]["totalCount"], 0);
        let cancel = s.data(Some(token), CANCEL, json!({ "id": id })).await;
        assert_eq!(
            user_error_codes(&cancel["cancelOrder"]),
            vec!["ORDER_NOT_FOUND"]
        );
        let pay = s
            .data(Some(token), PAY, json!({ "id": id, "p": "DEV" }))
            .await;
        assert_eq!(
            user_error_codes(&pay["createPayment"]),
            vec!["ORDER_NOT_FOUND"]
        );
    }
    let list = s
        .gql(Some(&merch.token), "{ orders { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&list), "FORBIDDEN");
    let seen = s.data(Some(&clerk.token), ORDER, json!({ "id": id })).await;
    assert_eq!(seen["order"]["id"], id);
    let list = s
        .data(
            Some(&clerk.token),
            "query($k: String) { orders(filter: { keyword: $k }) { totalCount } }",
            json!({ "k": "13800000201" }),
        )
        .await;
    assert_eq!(list["orders"]["totalCount"], 1);
    // A stranger cannot follow the order live either.
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&other.token)).await;
    ws.subscribe(
        "1",
        "subscription($id: ID) { orderStatusChanged(orderId: $id) { toStatus } }",
        json!({ "id": id }),
    )
    .await;
    let msg = ws.recv().await.unwrap();
    assert_eq!(msg["type"], "error", "{msg}");
}

/// Ten buyers with an address each, the shop's buyer first.
async fn ten_buyers(shop: &Shop) -> Vec<(String, String)> {
    let mut buyers = vec![(shop.buyer.token.clone(), shop.address.clone())];
    for i in 0..9 {
        let phone = format!("1380000030{i}");
        let b = register(&shop.s, &phone, "Secret123").await;
        let a = create_address(&shop.s, &b.token, &phone).await;
        buyers.push((b.token, a));
    }
    buyers
}

/// Places `count` orders at once, the buyers taking turns; order `i` has `lines(i)`. Returns
/// how many were placed and how many refused; a refusal must be `OUT_OF_STOCK` and nothing may
/// fail otherwise.
async fn place_at_once(
    s: &TestServer,
    buyers: &[(String, String)],
    count: usize,
    lines: impl Fn(usize) -> Value,
) -> (usize, usize) {
    let tasks = (0..count).map(|i| {
        let (token, address) = buyers[i % buyers.len()].clone();
        let body = json!({ "query": PLACE, "variables": { "input": { "idempotencyKey": format!("c{i}"), "checkout": { "addressId": address, "lines": lines(i) } } } });
        let url = s.url("/graphql");
        tokio::spawn(async move {
            let resp: Value = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            resp
        })
    });
    let (mut placed, mut refused) = (0, 0);
    for r in futures::future::join_all(tasks).await {
        let resp = r.unwrap();
        assert!(resp["errors"].is_null(), "no request may fail: {resp}");
        let p = &resp["data"]["placeOrder"];
        if p["order"].is_object() {
            placed += 1;
        } else {
            assert_eq!(user_error_codes(p), vec!["OUT_OF_STOCK"], "{p}");
            refused += 1;
        }
    }
    (placed, refused)
}

#[tokio::test]
async fn two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty() {
    let shop = shop("19.90", 50).await;
    let s = &shop.s;
    let buyers = ten_buyers(&shop).await;
    let sku = shop.sku.clone();
    let outcome = place_at_once(
        s,
        &buyers,
        200,
        |_| json!([{ "skuId": sku, "quantity": 1 }]),
    )
    .await;
    assert_eq!(outcome, (50, 150));
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 0);
    let all = s
        .data(
            Some(&shop.boss.token),
            "{ orders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(all["orders"]["totalCount"], 50);
}

/// Orders arriving together are written in one transaction (`orders::placement`), each in its
/// own savepoint. Thirty orders of one buyer at once for ten units: ten are placed and the
/// buyer hears of exactly those ten — a refused order's writes and its announced events are
/// undone with it, and the others of its group are not.
#[tokio::test]
async fn a_refused_order_of_a_group_leaves_no_trace_and_the_rest_of_its_group_lands() {
    let shop = shop("19.90", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(t)).await;
    ws.subscribe(
        "1",
        "subscription { orderStatusChanged(after: \"0\") { toStatus order { id } } }",
        json!({}),
    )
    .await;
    let buyer = vec![(shop.buyer.token.clone(), shop.address.clone())];
    let sku = shop.sku.clone();
    let outcome = place_at_once(s, &buyer, 30, |_| json!([{ "skuId": sku, "quantity": 1 }])).await;
    assert_eq!(outcome, (10, 20));
    let mine = s
        .data(
            Some(t),
            "{ myOrders(first: 50) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let placed: std::collections::HashSet<String> = mine["myOrders"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(placed.len(), 10);
    let mut heard = std::collections::HashSet::new();
    while let Some(msg) = ws.recv_within(Duration::from_secs(2)).await {
        if msg["type"] != "next" {
            continue;
        }
        let e = &msg["payload"]["data"]["orderStatusChanged"];
        assert_eq!(e["toStatus"], "SUBMITTED", "{msg}");
        let id = e["order"]["id"].as_str().unwrap_or_default().to_string();
        assert!(
            placed.contains(&id),
            "an event of an order that was not placed: {msg}"
        );
        assert!(heard.insert(id), "one event per order: {msg}");
    }
    assert_eq!(heard, placed);
    assert_eq!(stock_of(s, &shop.boss.token, &shop.sku).await.0, 0);
}

/// The retry of an order that took the last unit gets that order back, not `OUT_OF_STOCK`; a
/// different order under its key is still refused as such.
#[tokio::test]
async fn a_retry_of_the_order_that_took_the_last_unit_gets_that_order_back() {
    let shop = shop("50.00", 1).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let one = json!([{ "skuId": shop.sku, "quantity": 1 }]);
    let first = place(s, t, &shop.address, one.clone(), "last-unit").await;
    assert!(first["order"]["id"].is_string(), "{first}");
    let retry = place(s, t, &shop.address, one.clone(), "last-unit").await;
    assert_eq!(retry["order"]["id"], first["order"]["id"], "{retry}");
    let another = place(s, t, &shop.address, one, "another-key").await;
    assert_eq!(user_error_codes(&another), vec!["OUT_OF_STOCK"]);
    let two = json!([{ "skuId": shop.sku, "quantity": 2 }]);
    let different = place(s, t, &shop.address, two, "last-unit").await;
    assert_eq!(user_error_codes(&different), vec!["IDEMPOTENCY_KEY_REUSED"]);
}

/// Orders that name the same two SKUs in opposite orders, all at once, neither deadlock nor
/// fail: stock is always taken SKU by SKU in one order (on PostgreSQL, behind `stock_gates`).
#[tokio::test]
async fn concurrent_orders_naming_two_skus_in_opposite_orders_all_complete() {
    let shop = shop("19.90", 30).await;
    let s = &shop.s;
    let other = published_product(s, &shop.boss.token, "儿童运动袜", "9.90", 30).await;
    let (a, b) = (shop.sku.clone(), other["skus"][0]["id"].clone());
    let buyers = ten_buyers(&shop).await;
    let outcome = place_at_once(s, &buyers, 80, |i| {
        let (first, second) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        json!([{ "skuId": first, "quantity": 1 }, { "skuId": second, "quantity": 1 }])
    })
    .await;
    assert_eq!(outcome, (30, 50));
    assert_eq!(stock_of(s, &shop.boss.token, &a).await.0, 0);
    assert_eq!(stock_of(s, &shop.boss.token, &b).await.0, 0);
}

#[tokio::test]
async fn the_buyer_follows_an_order_live_and_can_resume() {
    let shop = shop("30.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 1 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(t)).await;
    ws.subscribe(
        "1",
        "subscription($id: ID) { orderStatusChanged(orderId: $id, after: \"0\") { eventId fromStatus toStatus order { status } } }",
        json!({ "id": id }),
    )
    .await;
    let first = ws.recv().await.unwrap();
    assert_eq!(
        first["payload"]["data"]["orderStatusChanged"]["toStatus"], "SUBMITTED",
        "{first}"
    );
    s.data(Some(t), PAY, json!({ "id": id, "p": "DEV" })).await;
    let paid = ws.recv().await.unwrap();
    let e = &paid["payload"]["data"]["orderStatusChanged"];
    assert_eq!(e["fromStatus"], "SUBMITTED", "{paid}");
    assert_eq!(e["toStatus"], "PAID");
    assert_eq!(e["order"]["status"], "PAID");
    // Resuming after the first event replays only what came after it.
    let after = first["payload"]["data"]["orderStatusChanged"]["eventId"].clone();
    let mut again = WsClient::connect_and_init(&s.ws_url(), Some(t)).await;
    again
        .subscribe(
            "2",
            "subscription($id: ID, $after: String) { orderStatusChanged(orderId: $id, after: $after) { toStatus } }",
            json!({ "id": id, "after": after }),
        )
        .await;
    let replayed = again.recv().await.unwrap();
    assert_eq!(
        replayed["payload"]["data"]["orderStatusChanged"]["toStatus"],
        "PAID"
    );
    again.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_staff_order_list_runs_a_constant_number_of_statements() {
    let shop = shop("30.00", 100).await;
    let s = &shop.s;
    let clerk = staff(s, &shop.boss.token, "13700000203", &["ORDERS"]).await;
    let list = "{ orders(first: 20) { edges { node { orderNo status lines { productName quantity sku { id } } buyer { id nickname phone } history { toStatus } payments { status } } } } }";
    let mut counts = Vec::new();
    for round in 0..2 {
        for i in 0..3 {
            let r = place(
                s,
                &shop.buyer.token,
                &shop.address,
                json!([{ "skuId": shop.sku, "quantity": 1 }]),
                &format!("r{round}-{i}"),
            )
            .await;
            assert_eq!(r["userErrors"], json!([]));
        }
        // The first request may refresh the clerk's cached principal; count the second.
        s.gql(Some(&clerk.token), list, json!({})).await;
        let resp = s.gql(Some(&clerk.token), list, json!({})).await;
        assert!(resp["errors"].is_null(), "{resp}");
        assert_eq!(
            resp["data"]["orders"]["edges"].as_array().unwrap().len(),
            3 * (round + 1)
        );
        counts.push(statements(&resp));
    }
    assert_eq!(counts[0], counts[1], "3 and 6 orders cost the same");
    // The buyers come from memory: asking for them costs no statement once they are known.
    let without_buyer = list.replace(" buyer { id nickname phone }", "");
    let resp = s.gql(Some(&clerk.token), &without_buyer, json!({})).await;
    assert!(resp["errors"].is_null(), "{resp}");
    assert_eq!(statements(&resp), counts[1], "buyers read no user rows");
}

/// The list keeps decoded orders and their buyers in memory; whatever changes an order, one of
/// its lines or its buyer afterwards — this instance, another instance, or someone at the
/// database — shows at once.
#[tokio::test]
async fn the_order_list_shows_every_change_made_after_it_was_read() {
    let shop = shop("30.00", 100).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let clerk = staff(s, &shop.boss.token, "13700000205", &["ORDERS"]).await;
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.sku, "quantity": 2 }]),
        "cache",
    )
    .await;
    let id = placed["order"]["id"].clone();
    let list = "{ orders(first: 5) { edges { node { status staffNote lines { quantity shippedQuantity } buyer { nickname } } } } }";
    let read = || async {
        let resp = s.gql(Some(&clerk.token), list, json!({})).await;
        assert!(resp["errors"].is_null(), "{resp}");
        let node = resp["data"]["orders"]["edges"][0]["node"].clone();
        (node, statements(&resp))
    };
    let (first, cold) = read().await;
    assert_eq!(first["status"], "SUBMITTED");
    let (again, warm) = read().await;
    assert_eq!(again, first);
    assert!(
        warm < cold,
        "an unchanged order is not read again ({cold} statements, then {warm})"
    );

    // Through the API.
    s.data(Some(t), PAY, json!({ "id": id, "p": "DEV" })).await;
    assert_eq!(read().await.0["status"], "PAID");

    // Behind this instance's back: another instance or a hand-written fix.
    let db = s.app().db.conn();
    let order_id = distmall::graphql::ids::decode_any(id.as_str().unwrap())
        .unwrap()
        .1;
    db.execute_unprepared(&format!(
        "UPDATE order_lines SET shipped_quantity = 1 WHERE order_id = {order_id}"
    ))
    .await
    .unwrap();
    assert_eq!(read().await.0["lines"][0]["shippedQuantity"], 1);
    db.execute_unprepared(&format!(
        "UPDATE orders SET staff_note = '加急' WHERE id = {order_id}"
    ))
    .await
    .unwrap();
    let (last, _) = read().await;
    assert_eq!(last["staffNote"], "加急");
    assert_eq!(last["lines"][0]["shippedQuantity"], 1);
    assert_eq!(last["status"], "PAID");

    // The buyer, through the API and behind this instance's back.
    let renamed = s
        .data(
            Some(t),
            "mutation { updateProfile(input: { nickname: \"小王\" }) { userErrors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(renamed["updateProfile"]["userErrors"], json!([]));
    assert_eq!(read().await.0["buyer"]["nickname"], "小王");
    let buyer_id = distmall::graphql::ids::decode_any(shop.buyer.id.as_str())
        .unwrap()
        .1;
    db.execute_unprepared(&format!(
        "UPDATE users SET nickname = '老王' WHERE id = {buyer_id}"
    ))
    .await
    .unwrap();
    assert_eq!(read().await.0["buyer"]["nickname"], "老王");
}

#[tokio::test]
async fn the_default_shipping_template_prices_checkout() {
    let shop = shop("30.00", 100).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let clerk = staff(s, &shop.boss.token, "13700000204", &["ORDERS"]).await;
    let rules = json!({
        "kind": "BY_QUANTITY",
        "base": { "firstUnits": 1, "firstFeeFen": 800, "additionalUnits": 1, "additionalFeeFen": 200 },
        "regions": [],
        "freeAboveFen": 10000,
        "excludedProvinces": ["广东"]
    });
    let save = "mutation($input: ShippingTemplateInput!) { createShippingTemplate(input: $input) { template { id isDefault kind } userErrors { code field } } }";
    let bad = s
        .data(
            Some(&clerk.token),
            save,
            json!({ "input": { "name": "坏", "rules": "{\"kind\":1}" } }),
        )
        .await;
    assert_eq!(
        bad["createShippingTemplate"]["userErrors"][0]["field"],
        json!(["input", "rules"])
    );
    let denied = s
        .gql(
            Some(t),
            save,
            json!({ "input": { "name": "x", "rules": rules.to_string(), "isDefault": true } }),
        )
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");
    let preview = |q: i64, address: Value| {
        let lines = json!([{ "skuId": shop.sku, "quantity": q }]);
        async move {
            s.data(
                Some(t),
                PREVIEW,
                json!({ "input": { "addressId": address, "lines": lines } }),
            )
            .await["checkoutPreview"]
                .clone()
        }
    };
    // Read before any template exists: what the server remembers of it must not outlive it.
    let before = preview(1, json!(shop.address)).await;
    assert_eq!(before["preview"]["shippingFee"], "0.00", "{before}");
    let made = s
        .data(
            Some(&clerk.token),
            save,
            json!({ "input": { "name": "按件", "rules": rules.to_string(), "isDefault": true } }),
        )
        .await;
    assert_eq!(
        made["createShippingTemplate"]["template"]["kind"],
        "BY_QUANTITY"
    );
    let beijing = s
        .data(
            Some(t),
            CREATE_ADDRESS,
            json!({ "input": { "recipient": "李四", "phone": "13800000204", "province": "北京市", "city": "北京市", "district": "朝阳区", "detail": "建国路 1 号" } }),
        )
        .await["createAddress"]["address"]["id"]
        .clone();
    let two = preview(2, beijing.clone()).await;
    assert_eq!(two["preview"]["shippingFee"], "10.00", "{two}");
    assert_eq!(two["preview"]["payAmount"], "70.00");
    let four = preview(4, beijing.clone()).await;
    assert_eq!(four["preview"]["shippingFee"], "0.00", "free from ¥100.00");
    let guangdong = preview(1, json!(shop.address)).await;
    assert_eq!(user_error_codes(&guangdong), vec!["NOT_DELIVERABLE"]);
    let deleted = s
        .data(
            Some(&clerk.token),
            "mutation($id: ID!) { deleteShippingTemplate(id: $id) { userErrors { code } } }",
            json!({ "id": made["createShippingTemplate"]["template"]["id"] }),
        )
        .await;
    assert_eq!(deleted["deleteShippingTemplate"]["userErrors"], json!([]));
    let after = preview(2, beijing).await;
    assert_eq!(after["preview"]["shippingFee"], "0.00", "no template, free");
}

/// Until the distribution work binds buyers, attribution is written directly.
async fn attribute(s: &TestServer, order: &Value, distributor: &Account) {
    use sea_orm::{ConnectionTrait, Statement};
    let order_id =
        distmall::graphql::ids::decode("Order", &async_graphql::ID(order.as_str().unwrap().into()))
            .unwrap();
    let user_id =
        distmall::graphql::ids::decode("User", &async_graphql::ID(distributor.id.clone())).unwrap();
    let db = s.app().db.conn();
    let backend = s.app().db.backend();
    for sql in [
        format!("UPDATE users SET is_distributor = TRUE WHERE id = {user_id}"),
        format!(
            "UPDATE orders SET distributor_user_id = {user_id}, source = 'DISTRIBUTOR' WHERE id = {order_id}"
        ),
    ] {
        db.execute_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
    }
    s.app().principals.invalidate(user_id);
}

#[tokio::test]
async fn a_distributor_follows_attributed_orders_with_the_buyer_masked() {
    let shop = shop("66.00", 10).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let line = json!([{ "skuId": shop.sku, "quantity": 1 }]);
    let theirs = place(s, t, &shop.address, line.clone(), "a").await["order"]["id"].clone();
    let not_theirs = place(s, t, &shop.address, line, "b").await["order"]["id"].clone();
    let d = register(s, "13800000210", "Secret123").await;
    let before = s
        .gql(
            Some(&d.token),
            "{ myDistributedOrders { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&before), "FORBIDDEN");
    attribute(s, &theirs, &d).await;

    let seen = s
        .data(
            Some(&d.token),
            "query($id: ID!) { order(id: $id) { status buyer { id } buyerNote shippingAddress { recipient phone city detail } } }",
            json!({ "id": theirs }),
        )
        .await;
    let o = &seen["order"];
    assert_eq!(o["buyer"], Value::Null);
    assert_eq!(o["shippingAddress"]["recipient"], "张*");
    assert_eq!(o["shippingAddress"]["phone"], "138****0201");
    assert_eq!(o["shippingAddress"]["city"], "深圳市");
    assert_eq!(o["shippingAddress"]["detail"], "****");
    let other = s
        .data(Some(&d.token), ORDER, json!({ "id": not_theirs }))
        .await;
    assert_eq!(other["order"], Value::Null);
    let list = s
        .data(
            Some(&d.token),
            "{ myDistributedOrders { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["myDistributedOrders"]["totalCount"], 1);

    // (The attribution above came after the order was placed, so its SUBMITTED event does
    // not name the distributor; from now on every event does.)
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&d.token)).await;
    ws.subscribe(
        "1",
        "subscription { orderStatusChanged { orderId toStatus order { shippingAddress { phone } } } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    s.data(Some(t), PAY, json!({ "id": not_theirs, "p": "DEV" }))
        .await;
    s.data(Some(t), PAY, json!({ "id": theirs, "p": "DEV" }))
        .await;
    let paid = ws.recv().await.unwrap();
    let e = &paid["payload"]["data"]["orderStatusChanged"];
    assert_eq!(e["orderId"], theirs, "only attributed orders: {paid}");
    assert_eq!(e["toStatus"], "PAID");
    assert_eq!(e["order"]["shippingAddress"]["phone"], "138****0201");
    ws.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn the_product_page_shows_stock_as_orders_take_and_return_it() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "限量帆布鞋", "99.00", 10).await;
    let buyer = register(&s, "13800000220", "Secret123").await;
    let address = create_address(&s, &buyer.token, "13800000220").await;
    let page = "query($id: ID!) { product(id: $id) { skus { stock inStock } } }";
    let shown = |v: Value| v["product"]["skus"][0]["stock"].as_i64().unwrap();
    // Read once so the product is in the catalogue cache.
    assert_eq!(
        shown(s.data(None, page, json!({ "id": p["id"] })).await),
        10
    );
    let placed = place(
        &s,
        &buyer.token,
        &address,
        json!([{ "skuId": p["skus"][0]["id"], "quantity": 4 }]),
        "k",
    )
    .await;
    assert_eq!(shown(s.data(None, page, json!({ "id": p["id"] })).await), 6);
    s.data(
        Some(&buyer.token),
        CANCEL,
        json!({ "id": placed["order"]["id"] }),
    )
    .await;
    assert_eq!(
        shown(s.data(None, page, json!({ "id": p["id"] })).await),
        10
    );
    let everything = place(
        &s,
        &buyer.token,
        &address,
        json!([{ "skuId": p["skus"][0]["id"], "quantity": 10 }]),
        "k2",
    )
    .await;
    assert_eq!(everything["userErrors"], json!([]));
    let sold_out = s.data(None, page, json!({ "id": p["id"] })).await;
    assert_eq!(sold_out["product"]["skus"][0]["stock"], 0);
    assert_eq!(sold_out["product"]["skus"][0]["inStock"], false);
}
