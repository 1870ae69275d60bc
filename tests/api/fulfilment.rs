//! Fulfilment: approval, whole and split shipments, carrier pushes (signed, idempotent), the
//! polling fallback, receipt by the buyer and by the timer, completion, who may do and see what,
//! and the order export.
use std::time::Duration;

use distmall::Config;
use serde_json::{Value, json};

use crate::{
    catalog::published_product,
    fake_kuaidi100::{self, Entry, FakeKuaidi100},
    fake_wechatpay::FakeWechatPay,
    orders::{PAY, address_input, create_address, place},
    payments::{give_openid, pay_with_wechat, wechat_settings},
    support::*,
};

const SALT: &str = "test-kuaidi100-salt-0123456789";

const APPROVE: &str = "mutation($id: ID!, $note: String) { approveOrder(id: $id, note: $note) { order { status approvedAt nextStates } userErrors { code field message } } }";
const SHIP: &str = "mutation($input: ShipOrderInput!) { shipOrder(input: $input) { order { status shippedAt shippingStatus } shipment { id carrier carrierName trackingNo status lines { quantity orderLine { id productName } } } userErrors { code field message } } }";
const CONFIRM: &str = "mutation($id: ID!) { confirmReceipt(orderId: $id) { order { status deliveredAt } userErrors { code message } } }";
const CHANGE_ADDRESS: &str = "mutation($id: ID!, $input: ShippingAddressInput!) { changeShippingAddress(orderId: $id, input: $input) { order { shippingAddress { recipient phone city detail } history { fromStatus toStatus note } } userErrors { code field message } } }";
const STAFF_NOTE: &str = "mutation($id: ID!, $note: String) { setStaffNote(orderId: $id, note: $note) { order { staffNote } userErrors { code field message } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { status nextStates approvedAt shippedAt deliveredAt completedAt shippingStatus staffNote lines { id productName quantity shippedQuantity } history { fromStatus toStatus note } shipments { carrier carrierName trackingNo status shippedAt deliveredAt lastTrackedAt lines { quantity orderLine { productName } } events { occurredAt context state area } } } }";

/// A shop with two products on sale, a buyer with an address, and order staff.
struct Shop {
    s: TestServer,
    boss: Account,
    clerk: Account,
    buyer: Account,
    address: String,
    shoes: Value,
    cup: Value,
}

async fn shop_with(adjust: impl FnOnce(&mut Config)) -> Shop {
    let s = TestServer::start_with(|c| {
        c.kuaidi100_salt = Some(SALT.into());
        adjust(c);
    })
    .await;
    let boss = owner(&s).await;
    let shoes = published_product(&s, &boss.token, "轻便跑步鞋", "129.90", 50).await;
    let cup = published_product(&s, &boss.token, "保温水杯", "39.00", 50).await;
    let clerk = staff(&s, &boss.token, "13700000501", &["ORDERS"]).await;
    let buyer = register(&s, "13800000501", "Secret123").await;
    let address = create_address(&s, &buyer.token, "13800000501").await;
    Shop {
        shoes: shoes["skus"][0]["id"].clone(),
        cup: cup["skus"][0]["id"].clone(),
        s,
        boss,
        clerk,
        buyer,
        address,
    }
}

async fn shop() -> Shop {
    shop_with(|_| {}).await
}

impl Shop {
    /// Places and pays (DEV) an order of `shoes` pairs and `cups` cups; returns its id.
    async fn paid_order(&self, shoes: i64, cups: i64, key: &str) -> Value {
        let mut lines = vec![json!({ "skuId": self.shoes, "quantity": shoes })];
        if cups > 0 {
            lines.push(json!({ "skuId": self.cup, "quantity": cups }));
        }
        let placed = place(&self.s, &self.buyer.token, &self.address, json!(lines), key).await;
        assert_eq!(placed["userErrors"], json!([]), "{placed}");
        let id = placed["order"]["id"].clone();
        let paid = self
            .s
            .data(
                Some(&self.buyer.token),
                PAY,
                json!({ "id": id, "p": "DEV" }),
            )
            .await;
        assert_eq!(paid["createPayment"]["order"]["status"], "PAID", "{paid}");
        id
    }

    async fn approve(&self, id: &Value) -> Value {
        self.s
            .data(Some(&self.clerk.token), APPROVE, json!({ "id": id }))
            .await["approveOrder"]
            .clone()
    }

    async fn ship(&self, id: &Value, carrier: &str, number: &str, lines: Option<Value>) -> Value {
        let mut input = json!({ "orderId": id, "carrier": carrier, "trackingNo": number });
        if let Some(l) = lines {
            input["lines"] = l;
        }
        self.s
            .data(Some(&self.clerk.token), SHIP, json!({ "input": input }))
            .await["shipOrder"]
            .clone()
    }

    /// A paid, approved order shipped whole in one parcel.
    async fn shipped_order(&self, key: &str, carrier: &str, number: &str) -> Value {
        let id = self.paid_order(1, 0, key).await;
        assert_eq!(self.approve(&id).await["userErrors"], json!([]));
        let shipped = self.ship(&id, carrier, number, None).await;
        assert_eq!(shipped["userErrors"], json!([]), "{shipped}");
        id
    }

    async fn order(&self, token: &str, id: &Value) -> Value {
        self.s.data(Some(token), ORDER, json!({ "id": id })).await["order"].clone()
    }

    /// Waits (up to 10 s) for the order to reach `status`; returns the order.
    async fn wait_for(&self, id: &Value, status: &str) -> Value {
        let mut o = Value::Null;
        for _ in 0..50 {
            o = self.order(&self.clerk.token, id).await;
            if o["status"] == status {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        panic!("order never became {status}: {o:#}");
    }
}

/// POSTs a push to the logistics webhook: the HTTP status and the acknowledgement.
async fn push(s: &TestServer, body: String) -> (u16, Value) {
    let resp = s
        .http
        .post(s.url("/webhooks/logistics"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn picked_up() -> Vec<Entry> {
    vec![Entry::new(
        "2026-11-20 09:30:00",
        "【深圳市】快件已由【南山营业部】揽收",
    )]
}

fn on_the_way() -> Vec<Entry> {
    let mut e = vec![Entry::new(
        "2026-11-20 21:10:00",
        "【深圳市】快件已发往【杭州转运中心】",
    )];
    e.extend(picked_up());
    e
}

fn signed_for() -> Vec<Entry> {
    let mut e = vec![Entry {
        area_name: Some("浙江,杭州市".into()),
        ..Entry::new("2026-11-22 14:03:11", "【杭州市】快件已签收，签收人：本人")
    }];
    e.extend(on_the_way());
    e
}

fn statuses(history: &Value) -> Vec<String> {
    history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["toStatus"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn an_order_goes_from_payment_to_completion_while_the_buyer_watches() {
    let wechat = FakeWechatPay::start().await;
    let pay_by_wechat = wechat_settings(&wechat);
    let shop = shop_with(|c| {
        pay_by_wechat(c);
        c.order_after_sales_days = 0;
        c.order_timer_interval_secs = 1;
    })
    .await;
    give_openid(&shop.s, &shop.buyer).await;
    let (s, t) = (&shop.s, shop.buyer.token.as_str());
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(t)).await;
    // From the start of the outbox: every change of the buyer's orders, in order.
    ws.subscribe(
        "1",
        "subscription { orderStatusChanged(after: \"0\") { fromStatus toStatus orderNo } }",
        json!({}),
    )
    .await;

    // Paid with WeChat Pay: the prepay, then the platform's signed notification.
    let placed = place(
        s,
        t,
        &shop.address,
        json!([{ "skuId": shop.shoes, "quantity": 2 }]),
        "k",
    )
    .await;
    let id = placed["order"]["id"].clone();
    pay_with_wechat(s, &wechat, t, &id).await;
    let approved = s
        .data(
            Some(&shop.clerk.token),
            APPROVE,
            json!({ "id": id, "note": "地址核对无误" }),
        )
        .await["approveOrder"]
        .clone();
    assert_eq!(approved["userErrors"], json!([]), "{approved}");
    assert_eq!(approved["order"]["status"], "APPROVED");
    assert!(approved["order"]["approvedAt"].is_string());
    assert_eq!(
        approved["order"]["nextStates"],
        json!(["SHIPPED", "REFUNDING"])
    );

    let shipped = shop.ship(&id, "YuanTong", "yt7000000000001", None).await;
    assert_eq!(shipped["userErrors"], json!([]), "{shipped}");
    assert_eq!(shipped["order"]["status"], "SHIPPED");
    assert_eq!(shipped["order"]["shippingStatus"], "SHIPPED");
    let parcel = &shipped["shipment"];
    assert_eq!(parcel["carrier"], "yuantong", "codes are lower case");
    assert_eq!(parcel["carrierName"], "圆通速递");
    assert_eq!(
        parcel["trackingNo"], "YT7000000000001",
        "numbers upper case"
    );
    assert_eq!(parcel["lines"][0]["quantity"], 2);
    assert_eq!(parcel["lines"][0]["orderLine"]["productName"], "轻便跑步鞋");

    let body = fake_kuaidi100::push_body(SALT, "yuantong", "YT7000000000001", "0", &on_the_way());
    assert_eq!(
        push(s, body).await,
        (
            200,
            json!({"result": true, "returnCode": "200", "message": "成功"})
        )
    );
    let o = shop.order(t, &id).await;
    assert_eq!(o["status"], "IN_TRANSIT");
    assert_eq!(o["shipments"][0]["status"], "IN_TRANSIT");

    let body = fake_kuaidi100::push_body(SALT, "yuantong", "YT7000000000001", "3", &signed_for());
    assert_eq!(push(s, body).await.0, 200);
    let o = shop.wait_for(&id, "COMPLETED").await;
    assert!(
        o["deliveredAt"].is_string() && o["completedAt"].is_string(),
        "{o}"
    );
    assert_eq!(o["shippingStatus"], "DELIVERED");
    let parcel = &o["shipments"][0];
    assert_eq!(parcel["status"], "DELIVERED");
    assert_eq!(
        parcel["deliveredAt"], "2026-11-22T06:03:11.000Z",
        "the carrier's signing time, Beijing time to UTC"
    );
    let events = parcel["events"].as_array().unwrap();
    assert_eq!(events.len(), 3, "{parcel}");
    assert_eq!(events[0]["context"], "【杭州市】快件已签收，签收人：本人");
    assert_eq!(events[0]["state"], "3");
    assert_eq!(events[0]["area"], "浙江,杭州市");
    assert_eq!(events[2]["context"], "【深圳市】快件已由【南山营业部】揽收");
    assert_eq!(
        statuses(&o["history"]),
        [
            "SUBMITTED",
            "PAID",
            "APPROVED",
            "SHIPPED",
            "IN_TRANSIT",
            "DELIVERED",
            "COMPLETED"
        ]
    );
    assert_eq!(o["history"][2]["note"], "地址核对无误");
    assert_eq!(o["history"][3]["note"], "yuantong YT7000000000001");

    let mut seen = Vec::new();
    for _ in 0..7 {
        let msg = ws.recv().await.expect("a status event");
        let e = &msg["payload"]["data"]["orderStatusChanged"];
        seen.push((e["fromStatus"].clone(), e["toStatus"].clone()));
    }
    assert_eq!(
        seen,
        [
            (Value::Null, json!("SUBMITTED")),
            (json!("SUBMITTED"), json!("PAID")),
            (json!("PAID"), json!("APPROVED")),
            (json!("APPROVED"), json!("SHIPPED")),
            (json!("SHIPPED"), json!("IN_TRANSIT")),
            (json!("IN_TRANSIT"), json!("DELIVERED")),
            (json!("DELIVERED"), json!("COMPLETED")),
        ]
    );
    ws.expect_silence(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn an_order_ships_in_several_parcels_and_is_delivered_when_all_are() {
    let shop = shop().await;
    let s = &shop.s;
    let id = shop.paid_order(3, 1, "k").await;
    shop.approve(&id).await;
    let lines = shop.order(&shop.clerk.token, &id).await["lines"].clone();
    let (shoes, cup) = (lines[0]["id"].clone(), lines[1]["id"].clone());

    let first = shop
        .ship(
            &id,
            "shunfeng",
            "SF1001",
            Some(json!([{ "orderLineId": shoes, "quantity": 2 }])),
        )
        .await;
    assert_eq!(first["userErrors"], json!([]), "{first}");
    assert_eq!(first["order"]["status"], "SHIPPED");
    assert_eq!(first["order"]["shippingStatus"], "PARTIALLY_SHIPPED");

    let too_many = shop
        .ship(
            &id,
            "shunfeng",
            "SF1002",
            Some(json!([{ "orderLineId": shoes, "quantity": 2 }])),
        )
        .await;
    assert_eq!(
        user_error_codes(&too_many),
        vec!["INVALID_QUANTITY"],
        "{too_many}"
    );
    assert_eq!(
        too_many["userErrors"][0]["field"],
        json!(["input", "lines"])
    );
    let not_ours = shop
        .ship(
            &id,
            "shunfeng",
            "SF1002",
            Some(json!([{ "orderLineId": id, "quantity": 1 }])),
        )
        .await;
    assert_eq!(user_error_codes(&not_ours), vec!["ORDER_LINE_NOT_FOUND"]);

    // The first parcel is signed for while a shoe and the cup are still in the warehouse: the
    // order is on its way, not delivered, and the buyer cannot confirm it either.
    let body = fake_kuaidi100::push_body(SALT, "shunfeng", "SF1001", "3", &signed_for());
    assert_eq!(push(s, body).await.0, 200);
    let o = shop.order(&shop.clerk.token, &id).await;
    assert_eq!(o["status"], "IN_TRANSIT");
    assert_eq!(o["shippingStatus"], "PARTIALLY_SHIPPED");
    let confirm = s
        .data(Some(&shop.buyer.token), CONFIRM, json!({ "id": id }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(user_error_codes(&confirm), vec!["INVALID_TRANSITION"]);

    // More parcels while in transit: the shoe, then (without lines) everything left.
    let second = shop
        .ship(
            &id,
            "zhongtong",
            "ZT2002",
            Some(json!([{ "orderLineId": shoes, "quantity": 1 }])),
        )
        .await;
    assert_eq!(second["userErrors"], json!([]), "{second}");
    let third = shop.ship(&id, "zhongtong", "ZT2003", None).await;
    assert_eq!(third["userErrors"], json!([]), "{third}");
    assert_eq!(third["order"]["shippingStatus"], "IN_TRANSIT");
    let held: Vec<(Value, Value)> = third["shipment"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["orderLine"]["id"].clone(), l["quantity"].clone()))
        .collect();
    assert_eq!(held, vec![(cup.clone(), json!(1))]);
    let nothing = shop.ship(&id, "zhongtong", "ZT2004", None).await;
    assert_eq!(user_error_codes(&nothing), vec!["NOTHING_TO_SHIP"]);

    let o = shop.order(&shop.clerk.token, &id).await;
    let shipped: Vec<i64> = o["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["shippedQuantity"].as_i64().unwrap())
        .collect();
    assert_eq!(shipped, vec![3, 1]);
    assert_eq!(o["shipments"].as_array().unwrap().len(), 3);
    let last = o["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last,
        json!({ "fromStatus": "IN_TRANSIT", "toStatus": "IN_TRANSIT", "note": "another parcel shipped: zhongtong ZT2003" })
    );

    // Everything shipped, but one parcel is still on its way: not delivered yet.
    let body = fake_kuaidi100::push_body(SALT, "zhongtong", "ZT2003", "3", &signed_for());
    assert_eq!(push(s, body).await.0, 200);
    assert_eq!(
        shop.order(&shop.clerk.token, &id).await["status"],
        "IN_TRANSIT"
    );
    let body = fake_kuaidi100::push_body(SALT, "zhongtong", "ZT2002", "3", &signed_for());
    assert_eq!(push(s, body).await.0, 200);
    let o = shop.order(&shop.clerk.token, &id).await;
    assert_eq!(o["status"], "DELIVERED");
    assert_eq!(o["shippingStatus"], "DELIVERED");
    assert_eq!(
        statuses(&o["history"]),
        [
            "SUBMITTED",
            "PAID",
            "APPROVED",
            "SHIPPED",
            "IN_TRANSIT",
            "IN_TRANSIT",
            "IN_TRANSIT",
            "DELIVERED"
        ]
    );
}

#[tokio::test]
async fn transitions_out_of_turn_are_refused_and_change_nothing() {
    let shop = shop().await;
    let (s, clerk) = (&shop.s, shop.clerk.token.as_str());

    // Before payment: neither approval nor shipping.
    let placed = place(
        s,
        &shop.buyer.token,
        &shop.address,
        json!([{ "skuId": shop.shoes, "quantity": 1 }]),
        "unpaid",
    )
    .await;
    let unpaid = placed["order"]["id"].clone();
    assert_eq!(
        user_error_codes(&shop.approve(&unpaid).await),
        vec!["INVALID_TRANSITION"]
    );
    assert_eq!(
        user_error_codes(&shop.ship(&unpaid, "yuantong", "YT1", None).await),
        vec!["INVALID_TRANSITION"]
    );

    // Paid but not approved: no shipping.
    let id = shop.paid_order(2, 0, "k").await;
    let early = shop.ship(&id, "yuantong", "YT1", None).await;
    assert_eq!(
        user_error_codes(&early),
        vec!["INVALID_TRANSITION"],
        "{early}"
    );
    assert_eq!(shop.order(clerk, &id).await["shipments"], json!([]));

    // Approving twice.
    assert_eq!(shop.approve(&id).await["userErrors"], json!([]));
    let again = shop.approve(&id).await;
    assert_eq!(user_error_codes(&again), vec!["INVALID_TRANSITION"]);

    // The address can change before shipping, with a note in the history.
    let mut new_address = address_input("13800000599");
    new_address["city"] = json!("杭州市");
    new_address["detail"] = json!("西湖区文三路 1 号");
    let changed = s
        .data(
            Some(clerk),
            CHANGE_ADDRESS,
            json!({ "id": id, "input": new_address }),
        )
        .await["changeShippingAddress"]
        .clone();
    assert_eq!(changed["userErrors"], json!([]), "{changed}");
    assert_eq!(changed["order"]["shippingAddress"]["city"], "杭州市");
    assert_eq!(changed["order"]["shippingAddress"]["phone"], "13800000599");
    let note = changed["order"]["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(note["fromStatus"], "APPROVED");
    assert_eq!(note["toStatus"], "APPROVED");
    let note = note["note"].as_str().unwrap();
    assert!(note.contains("深圳市") && note.contains("杭州市"), "{note}");
    let mut bad = address_input("123");
    bad["recipient"] = json!("李四");
    let refused = s
        .data(
            Some(clerk),
            CHANGE_ADDRESS,
            json!({ "id": id, "input": bad }),
        )
        .await["changeShippingAddress"]
        .clone();
    assert_eq!(user_error_codes(&refused), vec!["INVALID_ADDRESS"]);
    assert_eq!(refused["userErrors"][0]["field"], json!(["input", "phone"]));

    // Bad tracking input.
    let bad = shop.ship(&id, "圆通", "YT1", None).await;
    assert_eq!(user_error_codes(&bad), vec!["INVALID_TRACKING"]);
    assert_eq!(bad["userErrors"][0]["field"], json!(["input", "carrier"]));
    let bad = shop.ship(&id, "yuantong", "YT 1", None).await;
    assert_eq!(
        bad["userErrors"][0]["field"],
        json!(["input", "trackingNo"])
    );

    // The buyer cannot confirm an order that has not shipped.
    let confirm = s
        .data(Some(&shop.buyer.token), CONFIRM, json!({ "id": id }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(user_error_codes(&confirm), vec!["INVALID_TRANSITION"]);

    assert_eq!(
        shop.ship(&id, "yuantong", "YT1", None).await["userErrors"],
        json!([])
    );
    let after = s
        .data(
            Some(clerk),
            CHANGE_ADDRESS,
            json!({ "id": id, "input": address_input("13800000598") }),
        )
        .await["changeShippingAddress"]
        .clone();
    assert_eq!(user_error_codes(&after), vec!["INVALID_TRANSITION"]);
    assert_eq!(
        shop.order(clerk, &id).await["history"]
            .as_array()
            .unwrap()
            .len(),
        5,
        "a refused change writes no history"
    );

    // One tracking number per carrier: a second order cannot reuse it, and stays as it was.
    let other = shop.paid_order(1, 0, "k2").await;
    shop.approve(&other).await;
    let taken = shop.ship(&other, "yuantong", "yt1", None).await;
    assert_eq!(
        user_error_codes(&taken),
        vec!["TRACKING_NUMBER_TAKEN"],
        "{taken}"
    );
    let o = shop.order(clerk, &other).await;
    assert_eq!(o["status"], "APPROVED");
    assert_eq!(o["lines"][0]["shippedQuantity"], 0);
    assert_eq!(o["shipments"], json!([]));
    // Another carrier may use the same number.
    assert_eq!(
        shop.ship(&other, "shunfeng", "YT1", None).await["userErrors"],
        json!([])
    );

    // An order being refunded does not ship.
    let refunding = shop.paid_order(1, 0, "k3").await;
    shop.approve(&refunding).await;
    let key = db_id(&refunding);
    sea_orm::ConnectionTrait::execute_unprepared(
        s.app().db.conn(),
        &format!("UPDATE orders SET status = 'REFUNDING', status_before_refund = 'APPROVED' WHERE id = {key}"),
    )
    .await
    .unwrap();
    let refused = shop.ship(&refunding, "yuantong", "YT3", None).await;
    assert_eq!(user_error_codes(&refused), vec!["INVALID_TRANSITION"]);

    // The buyer confirms receipt once.
    let confirmed = s
        .data(Some(&shop.buyer.token), CONFIRM, json!({ "id": id }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(confirmed["userErrors"], json!([]), "{confirmed}");
    assert_eq!(confirmed["order"]["status"], "DELIVERED");
    assert!(confirmed["order"]["deliveredAt"].is_string());
    let twice = s
        .data(Some(&shop.buyer.token), CONFIRM, json!({ "id": id }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(user_error_codes(&twice), vec!["INVALID_TRANSITION"]);
}

/// The database id inside a global id, for the rare test that edits a row directly (refunds
/// are not built yet, so REFUNDING is set by hand).
fn db_id(id: &Value) -> i64 {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id.as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(raw).unwrap();
    text.split_once(':').unwrap().1.parse().unwrap()
}

#[tokio::test]
async fn only_order_staff_approve_ship_and_annotate_and_only_the_buyer_confirms() {
    let shop = shop().await;
    let s = &shop.s;
    let id = shop.paid_order(1, 0, "k").await;
    let merch = staff(s, &shop.boss.token, "13700000502", &["CATALOG"]).await;
    let stranger = register(s, "13800000502", "Secret123").await;
    let staff_ops = [
        (APPROVE, json!({ "id": id })),
        (
            SHIP,
            json!({ "input": { "orderId": id, "carrier": "yuantong", "trackingNo": "YT9" } }),
        ),
        (
            CHANGE_ADDRESS,
            json!({ "id": id, "input": address_input("13800000509") }),
        ),
        (STAFF_NOTE, json!({ "id": id, "note": "偷看" })),
    ];
    for token in [&shop.buyer.token, &merch.token, &stranger.token] {
        for (op, vars) in &staff_ops {
            let resp = s.gql(Some(token), op, vars.clone()).await;
            assert_eq!(error_code(&resp), "FORBIDDEN", "{op}: {resp}");
        }
    }
    let anonymous = s.gql(None, APPROVE, json!({ "id": id })).await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    let o = shop.order(&shop.clerk.token, &id).await;
    assert_eq!(o["status"], "PAID", "nothing changed");
    assert_eq!(o["staffNote"], Value::Null);

    // The staff note is for staff only.
    let noted = s
        .data(
            Some(&shop.clerk.token),
            STAFF_NOTE,
            json!({ "id": id, "note": " 客户要求周末送达 " }),
        )
        .await["setStaffNote"]
        .clone();
    assert_eq!(noted["order"]["staffNote"], "客户要求周末送达");
    assert_eq!(
        shop.order(&shop.buyer.token, &id).await["staffNote"],
        Value::Null
    );
    let long = s
        .data(
            Some(&shop.clerk.token),
            STAFF_NOTE,
            json!({ "id": id, "note": "长".repeat(1001) }),
        )
        .await["setStaffNote"]
        .clone();
    assert_eq!(user_error_codes(&long), vec!["INVALID_NOTE"]);

    // Only the buyer confirms receipt; to anyone else the order does not exist.
    shop.approve(&id).await;
    shop.ship(&id, "yuantong", "YT9", None).await;
    let confirm = s
        .data(Some(&stranger.token), CONFIRM, json!({ "id": id }))
        .await["confirmReceipt"]
        .clone();
    assert_eq!(user_error_codes(&confirm), vec!["ORDER_NOT_FOUND"]);
    assert_eq!(
        shop.order(&shop.clerk.token, &id).await["status"],
        "SHIPPED"
    );
}

#[tokio::test]
async fn forged_pushes_are_refused_and_change_nothing() {
    let shop = shop().await;
    let s = &shop.s;
    let id = shop.shipped_order("k", "yuantong", "YT5000").await;
    let wrong_salt =
        fake_kuaidi100::push_body("not-our-salt", "yuantong", "YT5000", "3", &signed_for());
    let genuine = fake_kuaidi100::push_body(SALT, "yuantong", "YT5000", "3", &signed_for());
    let (param, sign): (String, String) = {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&genuine).unwrap();
        (pairs[0].1.clone(), pairs[1].1.clone())
    };
    // Signed for one state, claiming another.
    let tampered = serde_urlencoded::to_string([
        (
            "param",
            param.replace("\"state\":\"3\"", "\"state\":\"0\"").as_str(),
        ),
        ("sign", sign.as_str()),
    ])
    .unwrap();
    let unsigned = serde_urlencoded::to_string([("param", param.as_str())]).unwrap();
    for body in [wrong_salt, tampered, unsigned] {
        let (status, ack) = push(s, body).await;
        assert_eq!(status, 401);
        assert_eq!(ack["result"], false);
    }
    let (status, ack) = push(s, "param=%7Bnot-json".into()).await;
    assert_eq!(
        (status, ack["result"].clone()),
        (401, json!(false)),
        "unsigned garbage"
    );
    let o = shop.order(&shop.clerk.token, &id).await;
    assert_eq!(o["status"], "SHIPPED");
    assert_eq!(o["shipments"][0]["status"], "SHIPPED");
    assert_eq!(o["shipments"][0]["events"], json!([]));
    assert_eq!(o["shipments"][0]["lastTrackedAt"], Value::Null);

    // Without a configured salt nothing can be verified, so nothing is accepted.
    let unconfigured = TestServer::start().await;
    let (status, ack) = push(&unconfigured, genuine).await;
    assert_eq!((status, ack["result"].clone()), (401, json!(false)));
}

#[tokio::test]
async fn the_same_push_twice_appends_once_and_unknown_parcels_are_acknowledged() {
    let shop = shop().await;
    let s = &shop.s;
    let id = shop.shipped_order("k", "yuantong", "YT6000").await;
    let body = fake_kuaidi100::push_body(SALT, "yuantong", "YT6000", "1", &picked_up());
    for _ in 0..2 {
        assert_eq!(push(s, body.clone()).await.0, 200);
    }
    let o = shop.order(&shop.clerk.token, &id).await;
    assert_eq!(o["shipments"][0]["events"].as_array().unwrap().len(), 1);
    assert_eq!(o["status"], "IN_TRANSIT");
    // Kuaidi100 pushes the whole history each time: only the new scan is appended.
    let more = fake_kuaidi100::push_body(SALT, "yuantong", "YT6000", "0", &on_the_way());
    assert_eq!(push(s, more.clone()).await.0, 200);
    assert_eq!(push(s, more).await.0, 200);
    let o = shop.order(&shop.clerk.token, &id).await;
    let events = o["shipments"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["context"], "【深圳市】快件已发往【杭州转运中心】",
        "newest first"
    );
    assert_eq!(
        statuses(&o["history"]),
        ["SUBMITTED", "PAID", "APPROVED", "SHIPPED", "IN_TRANSIT"],
        "one status change however often it is pushed"
    );

    let stranger = fake_kuaidi100::push_body(SALT, "yuantong", "YT0000404", "0", &on_the_way());
    let (status, ack) = push(s, stranger).await;
    assert_eq!((status, ack["result"].clone()), (200, json!(true)));
}

#[tokio::test]
async fn the_tracking_timeline_is_the_buyers_and_order_staffs_only() {
    let shop = shop().await;
    let s = &shop.s;
    let id = shop.shipped_order("k", "yuantong", "YT7000").await;
    let body = fake_kuaidi100::push_body(SALT, "yuantong", "YT7000", "0", &on_the_way());
    assert_eq!(push(s, body).await.0, 200);
    let mine = shop.order(&shop.buyer.token, &id).await;
    let events = mine["shipments"][0]["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{mine}");
    assert_eq!(events[1]["occurredAt"], "2026-11-20T01:30:00.000Z");
    assert_eq!(mine["shipments"][0]["trackingNo"], "YT7000");

    let stranger = register(s, "13800000503", "Secret123").await;
    let merch = staff(s, &shop.boss.token, "13700000503", &["CATALOG"]).await;
    for token in [&stranger.token, &merch.token] {
        let seen = s
            .data(
                Some(token),
                "query($id: ID!) { order(id: $id) { shipments { events { context } } } node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(seen, json!({ "order": null, "node": null }));
    }
}

#[tokio::test]
async fn shipped_orders_are_received_automatically_once_everything_has_shipped() {
    let shop = shop_with(|c| {
        c.order_auto_receive_days = 0;
        c.order_timer_interval_secs = 1;
    })
    .await;
    let whole = shop.shipped_order("k", "yuantong", "YT8000").await;
    let o = shop.wait_for(&whole, "DELIVERED").await;
    let last = o["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["fromStatus"], "SHIPPED");
    assert_eq!(last["note"], "received automatically 0 days after shipping");
    assert!(o["deliveredAt"].is_string());
    assert_eq!(
        o["shipments"][0]["status"], "SHIPPED",
        "the carrier said nothing"
    );

    // Half shipped: the timer waits for the rest.
    let split = shop.paid_order(1, 1, "k2").await;
    shop.approve(&split).await;
    let lines = shop.order(&shop.clerk.token, &split).await["lines"].clone();
    let first = shop
        .ship(
            &split,
            "yuantong",
            "YT8001",
            Some(json!([{ "orderLineId": lines[0]["id"], "quantity": 1 }])),
        )
        .await;
    assert_eq!(first["userErrors"], json!([]));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        shop.order(&shop.clerk.token, &split).await["status"],
        "SHIPPED"
    );
    assert_eq!(
        shop.ship(&split, "yuantong", "YT8002", None).await["userErrors"],
        json!([])
    );
    shop.wait_for(&split, "DELIVERED").await;
}

#[tokio::test]
async fn silent_parcels_are_polled_from_kuaidi100_and_new_ones_subscribed() {
    let fake = FakeKuaidi100::start().await;
    let base = fake.base_url();
    let shop = shop_with(move |c| {
        c.kuaidi100_key = Some(fake_kuaidi100::KEY.into());
        c.kuaidi100_customer = Some(fake_kuaidi100::CUSTOMER.into());
        c.kuaidi100_base_url = base;
        c.kuaidi100_callback_url = Some("https://shop.example.com/webhooks/logistics".into());
        c.tracking_poll_stale_hours = 0;
        c.tracking_poll_interval_secs = 1;
    })
    .await;
    let id = shop.shipped_order("k", "shunfeng", "SF9000").await;
    let mut subscribed = Vec::new();
    for _ in 0..50 {
        subscribed = fake.subscriptions();
        if !subscribed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(subscribed.len(), 1);
    let sub = &subscribed[0];
    assert_eq!(
        (sub.company.as_str(), sub.number.as_str()),
        ("shunfeng", "SF9000")
    );
    assert_eq!(
        sub.salt, SALT,
        "pushes will be signed with the salt the webhook checks"
    );
    assert_eq!(
        sub.callback_url,
        "https://shop.example.com/webhooks/logistics"
    );
    assert_eq!(sub.phone.as_deref(), Some("13800000501"));

    fake.set_tracking("shunfeng", "SF9000", "3", signed_for());
    let o = shop.wait_for(&id, "DELIVERED").await;
    assert_eq!(o["shipments"][0]["events"].as_array().unwrap().len(), 3);
    assert_eq!(o["shipments"][0]["status"], "DELIVERED");
    let asked = fake.queries();
    assert!(!asked.is_empty());
    assert_eq!(
        asked[0]["phone"], "13800000501",
        "SF Express needs the phone"
    );
    // A delivered order's parcels are not asked about again.
    let n = fake.queries().len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(fake.queries().len(), n);
}

#[tokio::test]
async fn order_staff_export_orders_as_csv() {
    let shop = shop().await;
    let s = &shop.s;
    let first = shop.paid_order(2, 1, "k1").await;
    let second = shop.shipped_order("k2", "yuantong", "YT9100").await;
    // Text a buyer typed must not run as a spreadsheet formula.
    let mut sly = address_input("13800000501");
    sly["recipient"] = json!("=HYPERLINK(\"http://x\")");
    let changed = s
        .data(
            Some(&shop.clerk.token),
            CHANGE_ADDRESS,
            json!({ "id": first, "input": sly }),
        )
        .await;
    assert_eq!(changed["changeShippingAddress"]["userErrors"], json!([]));

    let export = |token: Option<String>, query: Vec<(&'static str, &'static str)>| {
        let mut req = s.http.get(s.url("/exports/orders.csv")).query(&query);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let resp = export(Some(shop.clerk.token.clone()), vec![])
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let text = resp.text().await.unwrap();
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    let rows: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(
        rows[0],
        "order_no,created_at,status,buyer_phone,recipient,recipient_phone,address,items,pay_amount,refunded_amount,carrier,tracking_no"
    );
    assert_eq!(rows.len(), 3, "{text}");
    let newest = rows[1];
    assert!(newest.contains(",SHIPPED,13800000501,张三,13800000501,广东省 深圳市 南山区 科技园 1 栋 101,轻便跑步鞋 ×1,129.90,0.00,yuantong,YT9100"), "{newest}");
    assert!(newest.contains("+08:00"), "shop time: {newest}");
    let older = rows[2];
    assert!(
        older.contains(",PAID,13800000501,\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{older}"
    );
    assert!(
        older.contains("轻便跑步鞋 ×2; 保温水杯 ×1,298.80,0.00,,"),
        "{older}"
    );

    let second_no = shop.order(&shop.clerk.token, &second).await;
    assert_eq!(second_no["status"], "SHIPPED");
    let filtered = export(
        Some(shop.clerk.token.clone()),
        vec![("statuses", "PAID,APPROVED")],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(filtered.lines().count(), 2, "{filtered}");
    assert!(filtered.contains(",PAID,"));
    let none = export(
        Some(shop.clerk.token.clone()),
        vec![("keyword", "13999999999")],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(none.lines().count(), 1, "only the header");
    let bad = export(Some(shop.clerk.token.clone()), vec![("statuses", "LOST")])
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let merch = staff(s, &shop.boss.token, "13700000504", &["CATALOG"]).await;
    for token in [shop.buyer.token.clone(), merch.token.clone()] {
        let denied = export(Some(token), vec![]).await.unwrap();
        assert_eq!(denied.status().as_u16(), 403);
    }
    assert_eq!(export(None, vec![]).await.unwrap().status().as_u16(), 401);
}

#[tokio::test]
async fn parcels_in_the_staff_order_list_cost_a_constant_number_of_statements() {
    let shop = shop().await;
    let s = &shop.s;
    let list = "{ orders(first: 20) { edges { node { orderNo shippingStatus shipments { trackingNo lines { quantity orderLine { productName } } events { context } } } } } }";
    let mut counts = Vec::new();
    for round in 0..2 {
        for i in 0..2 {
            let number = format!("YT{round}{i}");
            let id = shop
                .shipped_order(&format!("k{round}{i}"), "yuantong", &number)
                .await;
            let body = fake_kuaidi100::push_body(SALT, "yuantong", &number, "0", &on_the_way());
            assert_eq!(push(s, body).await.0, 200);
            assert_eq!(
                shop.order(&shop.clerk.token, &id).await["status"],
                "IN_TRANSIT"
            );
        }
        // The first request may refresh the clerk's cached principal; count the second.
        s.gql(Some(&shop.clerk.token), list, json!({})).await;
        let resp = s.gql(Some(&shop.clerk.token), list, json!({})).await;
        assert!(resp["errors"].is_null(), "{resp}");
        let edges = resp["data"]["orders"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), 2 * (round + 1));
        assert!(edges.iter().all(|e| {
            e["node"]["shipments"][0]["events"]
                .as_array()
                .is_some_and(|ev| ev.len() == 2)
        }));
        counts.push(statements(&resp));
    }
    assert_eq!(counts[0], counts[1], "2 and 4 orders cost the same");
}
