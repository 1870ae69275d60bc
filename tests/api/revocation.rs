//! A staff member's rights as they are now, on a WebSocket opened before they changed: a
//! removed permission ends the live subscriptions it allowed and refuses new operations, and a
//! disabled account's sockets close with 4403 at once — also when the change is made through
//! another instance.
use std::time::Duration;

use serde_json::{Value, json};

use crate::{
    catalog::published_product,
    orders::{create_address, place},
    support::*,
};

const UPDATE_PERMS: &str = "mutation($input: UpdateStaffPermissionsInput!) { updateStaffPermissions(input: $input) { userErrors { code } } }";
const SET_DISABLED: &str = "mutation($input: SetStaffDisabledInput!) { setStaffDisabled(input: $input) { userErrors { code } } }";
const ORDER_CREATED: &str = "subscription { orderCreated(after: \"0\") { orderNo order { shippingAddress { recipient phone } } } }";
const ADJUST: &str = "mutation($input: AdjustStockInput!) { adjustStock(input: $input) { sku { stock } userErrors { code } } }";
const STOCK: &str = "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }";

async fn stock_of(s: &TestServer, token: &str, sku: &Value) -> i64 {
    s.data(Some(token), STOCK, json!({ "id": sku })).await["node"]["stock"]
        .as_i64()
        .unwrap()
}

/// The messages of operation `id` up to and including its last one (`complete` or `error`).
async fn until_done(ws: &mut WsClient, id: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    loop {
        let m = ws.recv().await.expect("the operation answers");
        assert_eq!(m["id"], id, "nothing else may arrive: {m}");
        let done = m["type"] == "complete" || m["type"] == "error";
        messages.push(m);
        if done {
            return messages;
        }
    }
}

/// The first error code among an operation's messages (`next` errors or an `error` payload).
fn first_error_code(messages: &[Value]) -> Option<String> {
    messages.iter().find_map(|m| {
        let errors = if m["type"] == "error" {
            &m["payload"]
        } else {
            &m["payload"]["errors"]
        };
        errors[0]["extensions"]["code"].as_str().map(str::to_string)
    })
}

async fn set_permissions(s: &TestServer, owner: &str, clerk: &Account, revoke: &[&str]) {
    let d = s
        .data(
            Some(owner),
            UPDATE_PERMS,
            json!({ "input": { "userId": clerk.id, "revoke": revoke } }),
        )
        .await;
    assert_eq!(d["updateStaffPermissions"]["userErrors"], json!([]), "{d}");
}

/// `changes` is where the owner works; `socket` is where the clerk's WebSocket is open.
async fn revocation_reaches_an_open_socket(changes: &TestServer, socket: &TestServer) {
    let boss = owner(changes).await;
    let clerk = staff(
        changes,
        &boss.token,
        "13700000301",
        &["ORDERS", "INVENTORY"],
    )
    .await;
    let product = published_product(changes, &boss.token, "保温杯", "59.00", 100).await;
    let sku = product["skus"][0]["id"].clone();
    let buyer = register(changes, "13800000301", "Secret123").await;
    let address = create_address(changes, &buyer.token, "13800000301").await;
    let line = json!([{ "skuId": sku, "quantity": 1 }]);
    place(changes, &buyer.token, &address, line.clone(), "first").await;

    let mut ws = WsClient::connect_and_init(&socket.ws_url(), Some(&clerk.token)).await;
    ws.subscribe("live", ORDER_CREATED, json!({})).await;
    let first = ws.recv().await.unwrap();
    assert_eq!(
        first["payload"]["data"]["orderCreated"]["order"]["shippingAddress"]["phone"],
        "13800000301",
        "{first}"
    );

    // ORDERS goes: the live subscription ends with FORBIDDEN and nothing more is delivered.
    set_permissions(changes, &boss.token, &clerk, &["ORDERS"]).await;
    let ended = until_done(&mut ws, "live").await;
    assert_eq!(
        first_error_code(&ended).as_deref(),
        Some("FORBIDDEN"),
        "{ended:#?}"
    );
    assert_eq!(ended.last().unwrap()["type"], "complete");
    place(changes, &buyer.token, &address, line.clone(), "second").await;

    // A new subscription and a query on the same socket are refused, and nothing else arrives.
    ws.subscribe("again", ORDER_CREATED, json!({})).await;
    let refused = until_done(&mut ws, "again").await;
    assert_eq!(first_error_code(&refused).as_deref(), Some("FORBIDDEN"));
    ws.subscribe("list", "{ orders(first: 5) { totalCount } }", json!({}))
        .await;
    let refused = until_done(&mut ws, "list").await;
    assert_eq!(
        first_error_code(&refused).as_deref(),
        Some("FORBIDDEN"),
        "{refused:#?}"
    );

    // The permission still held works on the socket; once removed, the same mutation is refused.
    let adjust = json!({ "input": { "skuId": sku, "delta": 1000, "reason": "RESTOCK", "reference": "PO-9" } });
    ws.subscribe("restock", ADJUST, adjust.clone()).await;
    let done = until_done(&mut ws, "restock").await;
    assert_eq!(
        done[0]["payload"]["data"]["adjustStock"]["userErrors"],
        json!([]),
        "{done:#?}"
    );
    let before = stock_of(changes, &boss.token, &sku).await;
    assert_eq!(before, 100 - 2 + 1000);
    set_permissions(changes, &boss.token, &clerk, &["INVENTORY"]).await;
    // The socket learns of the change from the account's event: on another instance, once the
    // event has arrived there, which the next subscription sees first.
    let mut refused = None;
    for _ in 0..50 {
        ws.subscribe("restock", ADJUST, adjust.clone()).await;
        let done = until_done(&mut ws, "restock").await;
        if let Some(code) = first_error_code(&done) {
            refused = Some(code);
            break;
        }
        assert_eq!(
            done[0]["payload"]["data"]["adjustStock"]["userErrors"],
            json!([])
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(refused.as_deref(), Some("FORBIDDEN"));
    let after_refusal = stock_of(changes, &boss.token, &sku).await;
    ws.subscribe("restock", ADJUST, adjust).await;
    let done = until_done(&mut ws, "restock").await;
    assert_eq!(first_error_code(&done).as_deref(), Some("FORBIDDEN"));
    assert_eq!(
        stock_of(changes, &boss.token, &sku).await,
        after_refusal,
        "a refused mutation changes nothing"
    );

    // Disabled: the socket closes with 4403 (well before the access token's 900 s).
    let mut idle = WsClient::connect_and_init(&socket.ws_url(), Some(&clerk.token)).await;
    let d = changes
        .data(
            Some(&boss.token),
            SET_DISABLED,
            json!({ "input": { "userId": clerk.id, "disabled": true } }),
        )
        .await;
    assert_eq!(d["setStaffDisabled"]["userErrors"], json!([]));
    assert_eq!(ws.closed().await.0, 4403);
    assert_eq!(idle.closed().await.0, 4403);
}

#[tokio::test]
async fn revocation_reaches_an_open_socket_on_the_same_instance() {
    let s = TestServer::start().await;
    revocation_reaches_an_open_socket(&s, &s).await;
}

#[tokio::test]
async fn revocation_reaches_an_open_socket_on_another_instance() {
    let a = TestServer::start().await;
    let b = TestServer::start_on(a.db.clone(), |_| {}).await;
    revocation_reaches_an_open_socket(&a, &b).await;
}

/// A subscription that follows only what the account may still see (a buyer's own orders)
/// keeps running when an unrelated right is added.
#[tokio::test]
async fn gaining_a_right_leaves_live_subscriptions_running() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let clerk = staff(&s, &boss.token, "13700000302", &["INVENTORY"]).await;
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&clerk.token)).await;
    ws.subscribe(
        "mine",
        "subscription { notificationReceived { notification { title } } }",
        json!({}),
    )
    .await;
    let d = s
        .data(
            Some(&boss.token),
            UPDATE_PERMS,
            json!({ "input": { "userId": clerk.id, "grant": ["ORDERS"] } }),
        )
        .await;
    assert_eq!(d["updateStaffPermissions"]["userErrors"], json!([]));
    ws.expect_silence(Duration::from_millis(500)).await;
    s.data(
        Some(&boss.token),
        "mutation($input: NotifyUserInput!) { notifyUser(input: $input) { userErrors { code } } }",
        json!({ "input": { "userId": clerk.id, "title": "排班" } }),
    )
    .await;
    let m = ws.recv().await.unwrap();
    assert_eq!(
        m["payload"]["data"]["notificationReceived"]["notification"]["title"], "排班",
        "{m}"
    );
}
