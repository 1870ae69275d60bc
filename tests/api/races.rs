//! Many callers acting on one object at the same moment (a double tap, a retrying client):
//! each gets the first result or a user error — never `INTERNAL` — and the object changes once.
use serde_json::{Value, json};

use crate::{catalog::published_product, orders::*, support::*};

const REQUEST_REFUND: &str = "mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { refundNo } userErrors { code message } } }";
const ADJUST: &str = "mutation($input: AdjustStockInput!) { adjustStock(input: $input) { sku { stock } userErrors { code } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { status payments { outTradeNo status } refunds { status amount } } }";

/// Every response has data and no error.
fn no_errors(responses: &[Value]) {
    for r in responses {
        assert!(r["errors"].is_null(), "no caller may fail: {r:#}");
    }
}

async fn submitted_order(s: &TestServer, boss: &Account) -> (Account, Value) {
    let p = published_product(s, &boss.token, "竹纤维毛巾", "25.00", 50).await;
    let buyer = register(s, "13800000601", "Secret123").await;
    let address = create_address(s, &buyer.token, "13800000601").await;
    let placed = place(
        s,
        &buyer.token,
        &address,
        json!([{ "skuId": p["skus"][0]["id"], "quantity": 2 }]),
        "race",
    )
    .await;
    (buyer, placed["order"]["id"].clone())
}

#[tokio::test]
async fn ten_payments_started_at_once_pay_the_order_once() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let (buyer, order) = submitted_order(&s, &boss).await;
    let responses = at_once(
        &s,
        Some(&buyer.token),
        PAY,
        json!({ "id": order, "p": "DEV" }),
        10,
    )
    .await;
    no_errors(&responses);
    let d = s
        .data(Some(&buyer.token), ORDER, json!({ "id": order }))
        .await;
    assert_eq!(d["order"]["status"], "PAID");
    let paid: Vec<&Value> = d["order"]["payments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["status"] == "SUCCEEDED")
        .collect();
    assert_eq!(paid.len(), 1, "{d:#}");
}

#[tokio::test]
async fn ten_refund_requests_at_once_open_one_refund() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let (buyer, order) = submitted_order(&s, &boss).await;
    s.data(Some(&buyer.token), PAY, json!({ "id": order, "p": "DEV" }))
        .await;
    let responses = at_once(
        &s,
        Some(&buyer.token),
        REQUEST_REFUND,
        json!({ "input": { "orderId": order, "kind": "REFUND_ONLY", "reason": "拍错了" } }),
        10,
    )
    .await;
    no_errors(&responses);
    let opened = responses
        .iter()
        .filter(|r| r["data"]["requestRefund"]["refund"].is_object())
        .count();
    assert_eq!(opened, 1, "{responses:#?}");
    for r in &responses {
        let p = &r["data"]["requestRefund"];
        if p["refund"].is_null() {
            assert_eq!(user_error_codes(p), vec!["INVALID_TRANSITION"], "{p}");
        }
    }
    let d = s
        .data(Some(&buyer.token), ORDER, json!({ "id": order }))
        .await;
    assert_eq!(d["order"]["refunds"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn ten_adjustments_with_one_key_change_stock_once_and_all_get_the_first_result() {
    let s = TestServer::start().await;
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "收纳盒", "15.00", 40).await;
    let sku = p["skus"][0]["id"].clone();
    let input = json!({ "input": { "skuId": sku, "delta": 5, "reason": "RESTOCK", "reference": "PO-7", "idempotencyKey": "restock-7" } });
    let responses = at_once(&s, Some(&boss.token), ADJUST, input, 10).await;
    no_errors(&responses);
    for r in &responses {
        assert_eq!(r["data"]["adjustStock"]["userErrors"], json!([]), "{r}");
        assert_eq!(r["data"]["adjustStock"]["sku"]["stock"], 45, "{r}");
    }
    let d = s
        .data(
            Some(&boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": sku }),
        )
        .await;
    assert_eq!(d["node"]["stock"], 45);
}
