//! After-sales: partial refunds with exact amounts through WeChat Pay, the shipping fee going
//! back with the last units of an unshipped order, stock returned for units that never
//! shipped, rejections, and everything that must be refused.
use serde_json::{Value, json};

use crate::{catalog::*, fake_wechatpay::FakeWechatPay, orders::*, payments::*, support::*};

const REQUEST: &str = "mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { id refundNo status amount lines { quantity amount orderLine { id } } } order { status nextStates } userErrors { code field message } } }";
const APPROVE: &str = "mutation($id: ID!) { approveRefund(id: $id) { refund { status amount } order { status paymentStatus refundedAmount } userErrors { code message } } }";
const REJECT: &str = "mutation($id: ID!) { rejectRefund(id: $id, reason: \"已超过售后期\") { refund { status rejectReason } order { status } userErrors { code message } } }";
const LINES: &str = "query($id: ID!) { order(id: $id) { status paymentStatus refundedAmount payAmount lines { id quantity refundedQuantity refundedAmount } refunds { status amount } } }";

struct Paid {
    s: TestServer,
    boss: Account,
    buyer: Account,
    order: Value,
    line: Value,
    sku: Value,
}

/// An order of three units at ¥33.33 with a flat ¥8.00 shipping fee (¥107.99), paid with the
/// dev provider unless `wechat` is given.
async fn paid_order(s: TestServer, wechat: Option<&FakeWechatPay>) -> Paid {
    let boss = owner(&s).await;
    let p = published_product(&s, &boss.token, "羊毛袜", "33.33", 10).await;
    let rules = json!({ "kind": "FLAT", "base": { "firstUnits": 0, "firstFeeFen": 800, "additionalUnits": 0, "additionalFeeFen": 0 } });
    let t = s
        .data(
            Some(&boss.token),
            "mutation($input: ShippingTemplateInput!) { createShippingTemplate(input: $input) { userErrors { code } } }",
            json!({ "input": { "name": "统一运费", "rules": rules.to_string(), "isDefault": true } }),
        )
        .await;
    assert_eq!(t["createShippingTemplate"]["userErrors"], json!([]));
    let buyer = register(&s, "13800000501", "Secret123").await;
    if wechat.is_some() {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        let id =
            distmall::graphql::ids::decode("User", &async_graphql::ID(buyer.id.clone())).unwrap();
        let mut u: entity::user::ActiveModel = entity::user::Entity::find_by_id(id)
            .one(s.app().db.conn())
            .await
            .unwrap()
            .unwrap()
            .into();
        u.wechat_openid = Set(Some("o-refund-buyer".into()));
        u.update(s.app().db.conn()).await.unwrap();
    }
    let address = create_address(&s, &buyer.token, "13800000501").await;
    let placed = place(
        &s,
        &buyer.token,
        &address,
        json!([{ "skuId": p["skus"][0]["id"], "quantity": 3 }]),
        "k",
    )
    .await;
    assert_eq!(placed["order"]["payAmount"], "107.99", "{placed}");
    let order = placed["order"]["id"].clone();
    match wechat {
        None => {
            let paid = s
                .data(Some(&buyer.token), PAY, json!({ "id": order, "p": "DEV" }))
                .await;
            assert_eq!(paid["createPayment"]["order"]["status"], "PAID");
        }
        Some(fake) => pay_with_wechat(&s, fake, &buyer.token, &order).await,
    }
    let lines = s
        .data(Some(&buyer.token), LINES, json!({ "id": order }))
        .await;
    Paid {
        line: lines["order"]["lines"][0]["id"].clone(),
        sku: p["skus"][0]["id"].clone(),
        s,
        boss,
        buyer,
        order,
    }
}

async fn request(p: &Paid, lines: Option<Value>) -> Value {
    p.s.data(
        Some(&p.buyer.token),
        REQUEST,
        json!({ "input": { "orderId": p.order, "kind": "REFUND_ONLY", "lines": lines, "reason": "不想要了", "photos": ["/media/2026/11/a.png"] } }),
    )
    .await["requestRefund"]
        .clone()
}

#[tokio::test]
async fn partial_refunds_go_back_through_wechat_pay_to_the_fen() {
    let fake = FakeWechatPay::start().await;
    let p = paid_order(server_with(Some(&fake), None).await, Some(&fake)).await;
    let s = &p.s;

    let first = request(&p, Some(json!([{ "orderLineId": p.line, "quantity": 1 }]))).await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    assert_eq!(first["refund"]["amount"], "33.33");
    assert_eq!(first["order"]["status"], "REFUNDING");
    let approved = s
        .data(
            Some(&p.boss.token),
            APPROVE,
            json!({ "id": first["refund"]["id"] }),
        )
        .await["approveRefund"]
        .clone();
    assert_eq!(approved["userErrors"], json!([]), "{approved}");
    assert_eq!(approved["refund"]["status"], "REFUNDED");
    assert_eq!(approved["order"]["status"], "PAID", "back to where it was");
    assert_eq!(approved["order"]["paymentStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(approved["order"]["refundedAmount"], "33.33");
    let refund_call = fake
        .requests()
        .into_iter()
        .find(|r| r.path_and_query == "/v3/refund/domestic/refunds")
        .unwrap();
    assert!(refund_call.signature_valid);
    assert_eq!(refund_call.json["amount"]["refund"], 3_333);
    assert_eq!(refund_call.json["amount"]["total"], 10_799);
    assert_eq!(
        refund_call.json["out_refund_no"],
        first["refund"]["refundNo"]
    );
    // The unit never shipped, so it is back in stock.
    let stock = s
        .data(
            Some(&p.boss.token),
            "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
            json!({ "id": p.sku }),
        )
        .await;
    assert_eq!(stock["node"]["stock"], 8);

    // The rest: the last two units, and the shipping fee since nothing shipped.
    let rest = request(&p, None).await;
    assert_eq!(rest["refund"]["amount"], "74.66", "{rest}");
    let done = s
        .data(
            Some(&p.boss.token),
            APPROVE,
            json!({ "id": rest["refund"]["id"] }),
        )
        .await["approveRefund"]
        .clone();
    assert_eq!(done["order"]["status"], "REFUNDED");
    assert_eq!(done["order"]["paymentStatus"], "REFUNDED");
    assert_eq!(done["order"]["refundedAmount"], "107.99");
    let o = s
        .data(Some(&p.buyer.token), LINES, json!({ "id": p.order }))
        .await["order"]
        .clone();
    assert_eq!(o["lines"][0]["refundedQuantity"], 3);
    assert_eq!(o["lines"][0]["refundedAmount"], "99.99");
    assert_eq!(o["refunds"].as_array().unwrap().len(), 2);
    let total_refunded: i64 = fake
        .requests()
        .iter()
        .filter(|r| r.path_and_query == "/v3/refund/domestic/refunds")
        .map(|r| r.json["amount"]["refund"].as_i64().unwrap())
        .sum();
    assert_eq!(total_refunded, 10_799, "every fen paid, not one more");
    let again = request(&p, None).await;
    assert_eq!(user_error_codes(&again), vec!["INVALID_TRANSITION"]);
}

#[tokio::test]
async fn a_rejected_request_returns_the_order_and_another_can_follow() {
    let p = paid_order(TestServer::start().await, None).await;
    let s = &p.s;
    let r = request(&p, None).await;
    let rejected = s
        .data(
            Some(&p.boss.token),
            REJECT,
            json!({ "id": r["refund"]["id"] }),
        )
        .await["rejectRefund"]
        .clone();
    assert_eq!(rejected["refund"]["status"], "REJECTED");
    assert_eq!(rejected["refund"]["rejectReason"], "已超过售后期");
    assert_eq!(rejected["order"]["status"], "PAID");
    let twice = s
        .data(
            Some(&p.boss.token),
            APPROVE,
            json!({ "id": r["refund"]["id"] }),
        )
        .await;
    assert_eq!(
        user_error_codes(&twice["approveRefund"]),
        vec!["INVALID_TRANSITION"]
    );
    let o = s
        .data(Some(&p.buyer.token), LINES, json!({ "id": p.order }))
        .await;
    assert_eq!(o["order"]["refundedAmount"], "0.00");
    let next = request(&p, None).await;
    assert_eq!(next["userErrors"], json!([]));
    assert_eq!(next["refund"]["amount"], "107.99");
}

#[tokio::test]
async fn refund_requests_that_must_be_refused_change_nothing() {
    let p = paid_order(TestServer::start().await, None).await;
    let s = &p.s;
    let too_many = request(&p, Some(json!([{ "orderLineId": p.line, "quantity": 4 }]))).await;
    assert_eq!(user_error_codes(&too_many), vec!["INVALID_QUANTITY"]);
    let none = request(&p, Some(json!([{ "orderLineId": p.line, "quantity": 0 }]))).await;
    assert_eq!(user_error_codes(&none), vec!["INVALID_QUANTITY"]);
    let ret = s
        .data(
            Some(&p.buyer.token),
            REQUEST,
            json!({ "input": { "orderId": p.order, "kind": "RETURN", "reason": "坏了" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&ret["requestRefund"]),
        vec!["INVALID_TRANSITION"],
        "nothing shipped, nothing to send back"
    );
    let stranger = register(s, "13800000502", "Secret123").await;
    let theirs = s
        .data(
            Some(&stranger.token),
            REQUEST,
            json!({ "input": { "orderId": p.order, "kind": "REFUND_ONLY", "reason": "x" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&theirs["requestRefund"]),
        vec!["ORDER_NOT_FOUND"]
    );
    let open = request(&p, None).await;
    let forbidden = s
        .gql(
            Some(&p.buyer.token),
            APPROVE,
            json!({ "id": open["refund"]["id"] }),
        )
        .await;
    assert_eq!(error_code(&forbidden), "FORBIDDEN");
    let o = s
        .data(Some(&p.buyer.token), LINES, json!({ "id": p.order }))
        .await["order"]
        .clone();
    assert_eq!(o["status"], "REFUNDING");
    assert_eq!(o["refundedAmount"], "0.00");
    // An unpaid order has nothing to refund.
    let unpaid = place(
        s,
        &p.buyer.token,
        &create_address(s, &p.buyer.token, "13800000501").await,
        json!([{ "skuId": p.sku, "quantity": 1 }]),
        "k2",
    )
    .await;
    let early = s
        .data(
            Some(&p.buyer.token),
            REQUEST,
            json!({ "input": { "orderId": unpaid["order"]["id"], "kind": "REFUND_ONLY", "reason": "x" } }),
        )
        .await;
    assert_eq!(
        user_error_codes(&early["requestRefund"]),
        vec!["INVALID_TRANSITION"]
    );
    let queue = s
        .data(
            Some(&p.boss.token),
            "{ refunds(statuses: [REQUESTED]) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(queue["refunds"]["totalCount"], 1);
}

#[tokio::test]
async fn returned_goods_go_back_into_stock_before_the_money_goes_back() {
    let fake = FakeWechatPay::start().await;
    let p = paid_order(server_with(Some(&fake), None).await, Some(&fake)).await;
    let s = &p.s;
    let t = p.boss.token.as_str();
    let approve = s
        .data(
            Some(t),
            "mutation($id: ID!) { approveOrder(id: $id) { userErrors { code } } }",
            json!({ "id": p.order }),
        )
        .await;
    assert_eq!(approve["approveOrder"]["userErrors"], json!([]));
    let shipped = s
        .data(
            Some(t),
            "mutation($input: ShipOrderInput!) { shipOrder(input: $input) { order { status } userErrors { code message } } }",
            json!({ "input": { "orderId": p.order, "carrier": "shunfeng", "trackingNo": "SF1000000000001" } }),
        )
        .await;
    assert_eq!(
        shipped["shipOrder"]["order"]["status"], "SHIPPED",
        "{shipped}"
    );

    let asked = s
        .data(
            Some(&p.buyer.token),
            REQUEST,
            json!({ "input": { "orderId": p.order, "kind": "RETURN", "lines": [{ "orderLineId": p.line, "quantity": 2 }], "reason": "尺码不合适" } }),
        )
        .await["requestRefund"]
        .clone();
    assert_eq!(asked["userErrors"], json!([]), "{asked}");
    assert_eq!(
        asked["refund"]["amount"], "66.66",
        "shipping stays: goods were shipped"
    );
    let id = asked["refund"]["id"].clone();
    let approved = s.data(Some(t), APPROVE, json!({ "id": id })).await["approveRefund"].clone();
    assert_eq!(
        approved["refund"]["status"], "APPROVED",
        "waits for the goods"
    );
    assert_eq!(approved["order"]["refundedAmount"], "0.00");
    assert_eq!(stock_of(s, t, &p.sku).await, 7);
    let received = s
        .data(
            Some(t),
            "mutation($id: ID!) { receiveReturn(id: $id) { refund { status amount } order { status paymentStatus refundedAmount } userErrors { code message } } }",
            json!({ "id": id }),
        )
        .await["receiveReturn"]
        .clone();
    assert_eq!(received["userErrors"], json!([]), "{received}");
    assert_eq!(received["refund"]["status"], "REFUNDED");
    assert_eq!(received["order"]["status"], "SHIPPED", "back where it was");
    assert_eq!(received["order"]["paymentStatus"], "PARTIALLY_REFUNDED");
    assert_eq!(received["order"]["refundedAmount"], "66.66");
    assert_eq!(
        stock_of(s, t, &p.sku).await,
        9,
        "the two pairs are back on the shelf"
    );
    let ledger = s
        .data(
            Some(t),
            "query($sku: ID) { stockMovements(filter: { skuId: $sku, reason: RETURNED }) { edges { node { delta } } } }",
            json!({ "sku": p.sku }),
        )
        .await;
    assert_eq!(
        ledger["stockMovements"]["edges"],
        json!([{ "node": { "delta": 2 } }])
    );
    let refunded: i64 = fake
        .requests()
        .iter()
        .filter(|r| r.path_and_query == "/v3/refund/domestic/refunds")
        .map(|r| r.json["amount"]["refund"].as_i64().unwrap())
        .sum();
    assert_eq!(refunded, 6_666);
}

async fn stock_of(s: &TestServer, token: &str, sku: &Value) -> i64 {
    s.data(
        Some(token),
        "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }",
        json!({ "id": sku }),
    )
    .await["node"]["stock"]
        .as_i64()
        .unwrap()
}
