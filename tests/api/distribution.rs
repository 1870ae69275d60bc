//! Distribution: recruitment and review, binding modes and loops, the seed's three-tier example
//! end to end with each distributor subscribed, the profit base and overrides under versioned
//! rules, refund reversal before and after settlement, settlement run twice, concurrent
//! withdrawals, and who may read whose money.
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value, json};

use crate::{
    catalog::{PUBLISH, create_category, create_product},
    orders::{PAY, create_address, place},
    support::*,
};

pub(crate) const APPLY: &str = "mutation($input: ApplyForDistributorInput!) { applyForDistributor(input: $input) { application { id status reason } distributor { id referralCode } userErrors { code field message } } }";
pub(crate) const REVIEW: &str = "mutation($input: ReviewApplicationInput!) { reviewDistributorApplication(input: $input) { application { status reason } distributor { id referralCode } userErrors { code field message } } }";
pub(crate) const BIND: &str = "mutation($code: String!) { bindReferrer(code: $code) { boundTo changed userErrors { code message } } }";
const SETTINGS: &str = "mutation($input: DistributionSettingsInput!) { updateDistributionSettings(input: $input) { settings { recruitmentMode bindingMode } userErrors { code field message } } }";
pub(crate) const RULES: &str = "mutation($input: CommissionRulesInput!) { publishCommissionRules(input: $input) { rules { version rates base } userErrors { code field message } } }";
const MY_COMMISSIONS: &str = "query { myCommissions { edges { node { id tier status base rate fixedPerUnit amount reversedAmount orderNo productName buyer distributor { id } } } } }";
const BALANCE: &str = "query { myBalance { available frozen pendingCommission lifetimeEarned } }";
const WITHDRAW: &str = "mutation($input: RequestWithdrawalInput!) { requestWithdrawal(input: $input) { withdrawal { id status amount fee netAmount account } balance { available frozen } userErrors { code field message } } }";
const CHANGES: &str = "subscription { commissionChanged { kind orderNo commissionAmount reversedAmount settledAmount settledRecords available frozen } }";

/// A shop with a ¥100.00 product costing ¥60.00, its owner, and a buyer with an address.
pub(crate) struct Shop {
    pub(crate) s: TestServer,
    pub(crate) boss: Account,
    pub(crate) buyer: Account,
    pub(crate) address: String,
    pub(crate) sku: Value,
    pub(crate) product: Value,
}

pub(crate) async fn shop() -> Shop {
    shop_with(|_| {}).await
}

/// `shop` on a server whose configuration `adjust` changes further.
pub(crate) async fn shop_with(adjust: impl FnOnce(&mut distmall::config::Config)) -> Shop {
    let s = TestServer::start_with(|c| {
        c.order_after_sales_days = 0;
        // Settlement runs are started by the tests, at the times they choose.
        c.distribution_job_interval_secs = 3600;
        adjust(c);
    })
    .await;
    let boss = owner(&s).await;
    let cat = create_category(&s, &boss.token, "运动鞋", None).await;
    let p = create_product(
        &s,
        &boss.token,
        json!({ "name": "男子轻便跑步运动鞋", "categoryId": cat, "skus": [{ "price": "100.00", "costPrice": "60.00", "initialStock": 500 }] }),
    )
    .await;
    let d = s
        .data(Some(&boss.token), PUBLISH, json!({ "ids": [p["id"]] }))
        .await;
    assert_eq!(d["publishProducts"]["userErrors"], json!([]), "{d}");
    let buyer = register(&s, "13800008001", "Secret123").await;
    let address = create_address(&s, &buyer.token, "13800008001").await;
    Shop {
        sku: p["skus"][0]["id"].clone(),
        product: p["id"].clone(),
        s,
        boss,
        buyer,
        address,
    }
}

/// A distributor: their account, global id and referral code.
pub(crate) struct Dist {
    pub(crate) a: Account,
    pub(crate) id: String,
    pub(crate) code: String,
}

impl Shop {
    /// Registers `phone`, binds it to `inviter` (if any), applies and is approved by staff.
    pub(crate) async fn distributor(&self, phone: &str, inviter: Option<&Dist>) -> Dist {
        let a = register(&self.s, phone, "Secret123").await;
        if let Some(i) = inviter {
            let b = self
                .s
                .data(Some(&a.token), BIND, json!({ "code": i.code }))
                .await;
            assert_eq!(b["bindReferrer"]["boundTo"], json!(i.id), "{b}");
        }
        let applied = self
            .s
            .data(
                Some(&a.token),
                APPLY,
                json!({ "input": { "answers": [{ "key": "experience", "value": "三年微商" }] } }),
            )
            .await["applyForDistributor"]
            .clone();
        assert_eq!(applied["userErrors"], json!([]), "{applied}");
        assert_eq!(applied["application"]["status"], "PENDING");
        let reviewed = self
            .s
            .data(
                Some(&self.boss.token),
                REVIEW,
                json!({ "input": { "applicationId": applied["application"]["id"], "approve": true } }),
            )
            .await["reviewDistributorApplication"]
            .clone();
        assert_eq!(reviewed["userErrors"], json!([]), "{reviewed}");
        assert_eq!(reviewed["application"]["status"], "APPROVED");
        Dist {
            a,
            id: reviewed["distributor"]["id"].as_str().unwrap().into(),
            code: reviewed["distributor"]["referralCode"]
                .as_str()
                .unwrap()
                .into(),
        }
    }

    /// The seed's chain: D3 at the top, D2 invited by D3, D1 by D2, and the buyer bound to D1.
    pub(crate) async fn chain(&self) -> (Dist, Dist, Dist) {
        let d3 = self.distributor("13800008003", None).await;
        let d2 = self.distributor("13800008002", Some(&d3)).await;
        let d1 = self.distributor("13800008011", Some(&d2)).await;
        let b = self
            .s
            .data(Some(&self.buyer.token), BIND, json!({ "code": d1.code }))
            .await;
        assert_eq!(b["bindReferrer"]["changed"], true, "{b}");
        (d1, d2, d3)
    }

    /// Places an order of `quantity` units as `buyer`; returns its id.
    pub(crate) async fn place(
        &self,
        buyer: &Account,
        address: &str,
        quantity: i64,
        key: &str,
    ) -> Value {
        let placed = place(
            &self.s,
            &buyer.token,
            address,
            json!([{ "skuId": self.sku, "quantity": quantity }]),
            key,
        )
        .await;
        assert_eq!(placed["userErrors"], json!([]), "{placed}");
        placed["order"]["id"].clone()
    }

    pub(crate) async fn pay(&self, buyer: &Account, order: &Value) {
        let paid = self
            .s
            .data(Some(&buyer.token), PAY, json!({ "id": order, "p": "DEV" }))
            .await;
        assert_eq!(paid["createPayment"]["order"]["status"], "PAID", "{paid}");
    }

    /// The buyer orders and pays `quantity` units.
    pub(crate) async fn buy(&self, quantity: i64, key: &str) -> Value {
        let order = self.place(&self.buyer, &self.address, quantity, key).await;
        self.pay(&self.buyer, &order).await;
        order
    }

    /// Approve, ship, buyer confirms, after-sales window (0 days) closes: COMPLETED.
    pub(crate) async fn complete(&self, order: &Value) {
        self.complete_for(&self.buyer, order).await
    }

    /// `complete` for an order `buyer` placed.
    pub(crate) async fn complete_for(&self, buyer: &Account, order: &Value) {
        let t = Some(self.boss.token.as_str());
        let a = self
            .s
            .data(
                t,
                "mutation($id: ID!) { approveOrder(id: $id) { userErrors { code } } }",
                json!({ "id": order }),
            )
            .await;
        assert_eq!(a["approveOrder"]["userErrors"], json!([]));
        let tracking = format!("yt{}", 7_100_000_000_000i64 + rand_suffix(order));
        let sh = self
            .s
            .data(
                t,
                "mutation($input: ShipOrderInput!) { shipOrder(input: $input) { userErrors { code message } } }",
                json!({ "input": { "orderId": order, "carrier": "YuanTong", "trackingNo": tracking } }),
            )
            .await;
        assert_eq!(sh["shipOrder"]["userErrors"], json!([]), "{sh}");
        let c = self
            .s
            .data(
                Some(&buyer.token),
                "mutation($id: ID!) { confirmReceipt(orderId: $id) { order { status } userErrors { code } } }",
                json!({ "id": order }),
            )
            .await;
        assert_eq!(c["confirmReceipt"]["order"]["status"], "DELIVERED", "{c}");
        distmall::orders::fulfilment::complete_overdue(
            self.s.app(),
            Utc::now() + chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
        let o = self
            .s
            .data(
                t,
                "query($id: ID!) { order(id: $id) { status } }",
                json!({ "id": order }),
            )
            .await;
        assert_eq!(o["order"]["status"], "COMPLETED", "{o}");
    }

    /// Runs the settlement as if it were `days_ahead` days from now.
    pub(crate) async fn settle(&self, days_ahead: i64) -> bool {
        let outcome = distmall::distribution::settlement::run(
            self.s.app(),
            Utc::now() + chrono::Duration::days(days_ahead),
            None,
        )
        .await
        .unwrap();
        matches!(outcome, distmall::distribution::settlement::Settled::Ran(_))
    }

    pub(crate) async fn commissions(&self, d: &Dist) -> Vec<Value> {
        self.s
            .data(Some(&d.a.token), MY_COMMISSIONS, json!({}))
            .await["myCommissions"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    }

    pub(crate) async fn balance(&self, d: &Dist) -> Value {
        self.s.data(Some(&d.a.token), BALANCE, json!({})).await["myBalance"].clone()
    }

    pub(crate) async fn publish_rules(&self, input: Value) -> Value {
        let d = self
            .s
            .data(Some(&self.boss.token), RULES, json!({ "input": input }))
            .await;
        d["publishCommissionRules"].clone()
    }
}

/// A number unique enough per order for a tracking number.
fn rand_suffix(order: &Value) -> i64 {
    order
        .as_str()
        .unwrap()
        .bytes()
        .fold(0i64, |h, b| (h * 31 + i64::from(b)) % 1_000_000_000)
}

pub(crate) fn amounts(records: &[Value]) -> Vec<(i64, String, String)> {
    records
        .iter()
        .map(|r| {
            (
                r["tier"].as_i64().unwrap(),
                r["amount"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn subscribed(s: &TestServer, d: &Dist) -> WsClient {
    let mut ws = WsClient::connect_and_init(&s.ws_url(), Some(&d.a.token)).await;
    ws.subscribe("c", CHANGES, json!({})).await;
    // The subscription is live once the server has registered it; give it a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws
}

/// A change's figures, each set only for the kinds it belongs to.
fn figures(c: &Value) -> Value {
    json!({
        "commissionAmount": c["commissionAmount"],
        "reversedAmount": c["reversedAmount"],
        "settledAmount": c["settledAmount"],
        "settledRecords": c["settledRecords"],
        "available": c["available"],
        "frozen": c["frozen"],
    })
}

/// The next `commissionChanged` payload.
async fn next_change(ws: &mut WsClient) -> Value {
    let msg = ws.recv().await.expect("a commission change");
    assert_eq!(msg["type"], "next", "{msg}");
    msg["payload"]["data"]["commissionChanged"].clone()
}

#[tokio::test]
async fn the_seed_example_pays_20_10_5_and_each_distributor_hears_only_their_own() {
    let shop = shop().await;
    let (d1, d2, d3) = shop.chain().await;
    let mut w1 = subscribed(&shop.s, &d1).await;
    let mut w2 = subscribed(&shop.s, &d2).await;
    let mut w3 = subscribed(&shop.s, &d3).await;

    let order = shop.buy(1, "seed").await;
    for (ws, amount) in [(&mut w1, "20.00"), (&mut w2, "10.00"), (&mut w3, "5.00")] {
        let c = next_change(ws).await;
        assert_eq!(c["kind"], "CREATED", "{c}");
        assert_eq!(
            figures(&c),
            json!({ "commissionAmount": amount, "reversedAmount": null, "settledAmount": null, "settledRecords": null, "available": null, "frozen": null })
        );
        assert!(c["orderNo"].is_string());
    }
    for (d, tier, amount) in [(&d1, 1, "20.00"), (&d2, 2, "10.00"), (&d3, 3, "5.00")] {
        let records = shop.commissions(d).await;
        assert_eq!(
            amounts(&records),
            vec![(tier, amount.to_string(), "ESTIMATED".to_string())]
        );
        assert_eq!(records[0]["base"], "100.00");
        // A distributor sees the buyer masked and is not told who earns (it is them).
        assert_ne!(records[0]["buyer"], Value::Null);
        assert!(records[0]["buyer"].as_str().unwrap().contains('*'));
        assert_eq!(records[0]["distributor"], Value::Null);
        assert_eq!(shop.balance(d).await["pendingCommission"], amount);
    }
    // The order is attributed to D1, the distributor the buyer is bound to.
    let o = shop
        .s
        .data(
            Some(&shop.boss.token),
            "query($id: ID!) { order(id: $id) { source distributor { id } } }",
            json!({ "id": order }),
        )
        .await;
    assert_eq!(o["order"]["source"], "DISTRIBUTOR");

    shop.complete(&order).await;
    for (ws, amount) in [(&mut w1, "20.00"), (&mut w2, "10.00"), (&mut w3, "5.00")] {
        let c = next_change(ws).await;
        assert_eq!(c["kind"], "CONFIRMED", "{c}");
        assert_eq!(
            figures(&c),
            json!({ "commissionAmount": amount, "reversedAmount": null, "settledAmount": null, "settledRecords": null, "available": null, "frozen": null })
        );
    }

    assert!(shop.settle(40).await, "the first run settles");
    for (ws, d, amount) in [
        (&mut w1, &d1, "20.00"),
        (&mut w2, &d2, "10.00"),
        (&mut w3, &d3, "5.00"),
    ] {
        let balance = next_change(ws).await;
        assert_eq!(balance["kind"], "BALANCE", "{balance}");
        assert_eq!(
            figures(&balance),
            json!({ "commissionAmount": null, "reversedAmount": null, "settledAmount": null, "settledRecords": null, "available": amount, "frozen": "0.00" })
        );
        assert_eq!(balance["orderNo"], Value::Null);
        let settled = next_change(ws).await;
        assert_eq!(settled["kind"], "SETTLED", "{settled}");
        assert_eq!(
            figures(&settled),
            json!({ "commissionAmount": null, "reversedAmount": null, "settledAmount": amount, "settledRecords": 1, "available": null, "frozen": null })
        );
        let b = shop.balance(d).await;
        assert_eq!(b["available"], amount);
        assert_eq!(b["pendingCommission"], "0.00");
        assert_eq!(b["lifetimeEarned"], amount);
        assert_eq!(shop.commissions(d).await[0]["status"], "SETTLED");
    }

    // A second run over the same period does nothing.
    assert!(!shop.settle(40).await, "the second run settles nothing");
    for (ws, d, amount) in [
        (&mut w1, &d1, "20.00"),
        (&mut w2, &d2, "10.00"),
        (&mut w3, &d3, "5.00"),
    ] {
        ws.expect_silence(Duration::from_millis(300)).await;
        assert_eq!(shop.balance(d).await["available"], amount);
    }
    let runs = shop
        .s
        .data(
            Some(&shop.boss.token),
            "query { settlementRuns { edges { node { records distributors total } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        runs["settlementRuns"]["edges"],
        json!([{ "node": { "records": 3, "distributors": 3, "total": "35.00" } }])
    );

    // A subscriber that reconnects resumes from the last event id it saw (here: the start).
    let mut resumed = WsClient::connect_and_init(&shop.s.ws_url(), Some(&d2.a.token)).await;
    resumed
        .subscribe(
            "r",
            "subscription { commissionChanged(after: \"0\") { eventId kind commissionAmount } }",
            json!({}),
        )
        .await;
    let kinds: Vec<String> = {
        let mut kinds = Vec::new();
        for _ in 0..4 {
            let c = next_change(&mut resumed).await;
            kinds.push(c["kind"].as_str().unwrap().to_string());
        }
        kinds
    };
    assert_eq!(kinds, vec!["CREATED", "CONFIRMED", "BALANCE", "SETTLED"]);
    resumed.expect_silence(Duration::from_millis(300)).await;

    // Customers are not distributors and cannot follow commissions.
    let mut buyer_ws = WsClient::connect_and_init(&shop.s.ws_url(), Some(&shop.buyer.token)).await;
    buyer_ws.subscribe("c", CHANGES, json!({})).await;
    let refused = buyer_ws.recv().await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");

    // Staff may settle now through the API; it answers like every other mutation.
    const RUN: &str =
        "mutation { runSettlement { settledNow run { period } userErrors { code } } }";
    let ran = shop.s.data(Some(&shop.boss.token), RUN, json!({})).await;
    assert_eq!(ran["runSettlement"]["userErrors"], json!([]), "{ran}");
    assert!(ran["runSettlement"]["run"]["period"].is_string(), "{ran}");
    let again = shop.s.data(Some(&shop.boss.token), RUN, json!({})).await;
    assert_eq!(again["runSettlement"]["settledNow"], false, "{again}");
    let distributor = shop.s.gql(Some(&d1.a.token), RUN, json!({})).await;
    assert_eq!(error_code(&distributor), "FORBIDDEN");
}

#[tokio::test]
async fn the_team_tree_counts_levels_and_refuses_loops() {
    let shop = shop().await;
    let (d1, d2, d3) = shop.chain().await;
    let d4 = shop.distributor("13800008004", Some(&d1)).await;

    let team = shop
        .s
        .data(
            Some(&d3.a.token),
            "query { myTeam(depth: 3) { counts { level1 level2 level3 total } totalCount edges { depth sales node { name phone } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        team["myTeam"]["counts"],
        json!({ "level1": 1, "level2": 1, "level3": 1, "total": 3 })
    );
    assert_eq!(team["myTeam"]["totalCount"], 3);
    let depths: Vec<i64> = team["myTeam"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["depth"].as_i64().unwrap())
        .collect();
    assert_eq!(depths, vec![3, 2, 1], "newest first, with their depth");
    // Team members' phones are masked.
    assert!(
        team["myTeam"]["edges"][0]["node"]["phone"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    // Page by page across the levels, newest first; and backwards from the end.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = shop
            .s
            .data(
                Some(&d3.a.token),
                "query($after: String) { myTeam(depth: 3, first: 1, after: $after) { edges { node { distributorId } } pageInfo { hasNextPage endCursor } } }",
                json!({ "after": after }),
            )
            .await;
        let members = &page["myTeam"];
        seen.push(
            members["edges"][0]["node"]["distributorId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        if members["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = members["pageInfo"]["endCursor"]
            .as_str()
            .map(str::to_string);
    }
    assert_eq!(seen, vec![d4.id.clone(), d1.id.clone(), d2.id.clone()]);
    let last = shop
        .s
        .data(
            Some(&d3.a.token),
            "query { myTeam(depth: 3, last: 2) { edges { node { distributorId } } pageInfo { hasPreviousPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        last["myTeam"]["edges"],
        json!([{ "node": { "distributorId": d1.id } }, { "node": { "distributorId": d2.id } }])
    );
    assert_eq!(last["myTeam"]["pageInfo"]["hasPreviousPage"], true);
    let one_level = shop
        .s
        .data(
            Some(&d3.a.token),
            "query { myTeam(depth: 1) { edges { node { distributorId } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        one_level["myTeam"]["edges"],
        json!([{ "node": { "distributorId": d2.id } }])
    );
    let upline = shop
        .s
        .data(
            Some(&d4.a.token),
            "query { myUpline { distance member { distributorId } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        upline["myUpline"],
        json!([
            { "distance": 1, "member": { "distributorId": d1.id } },
            { "distance": 2, "member": { "distributorId": d2.id } },
            { "distance": 3, "member": { "distributorId": d3.id } }
        ])
    );
    // Those above are named, but their business is their own: the upline has no sales.
    let sales = shop
        .s
        .gql(
            Some(&d4.a.token),
            "query { myUpline { member { sales } } }",
            json!({}),
        )
        .await;
    assert!(
        sales["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("sales"),
        "{sales}"
    );

    // Nobody binds to themselves; an upline cannot bind to their own team.
    let own = shop
        .s
        .data(Some(&d1.a.token), BIND, json!({ "code": d1.code }))
        .await;
    assert_eq!(
        user_error_codes(&own["bindReferrer"]),
        vec!["SELF_REFERRAL"]
    );
    let up = shop
        .s
        .data(Some(&d3.a.token), BIND, json!({ "code": d1.code }))
        .await;
    assert_eq!(user_error_codes(&up["bindReferrer"]), vec!["REFERRAL_LOOP"]);

    // Staff moves: a distributor under their own team is refused; elsewhere it moves the team.
    const MOVE: &str = "mutation($d: ID!, $i: ID) { moveDistributor(distributorId: $d, inviterId: $i) { distributor { id } userErrors { code } } }";
    let looped = shop
        .s
        .data(
            Some(&shop.boss.token),
            MOVE,
            json!({ "d": d2.id, "i": d4.id }),
        )
        .await;
    assert_eq!(
        user_error_codes(&looped["moveDistributor"]),
        vec!["REFERRAL_LOOP"]
    );
    let moved = shop
        .s
        .data(
            Some(&shop.boss.token),
            MOVE,
            json!({ "d": d1.id, "i": d3.id }),
        )
        .await;
    assert_eq!(moved["moveDistributor"]["userErrors"], json!([]));
    let team = shop
        .s
        .data(
            Some(&d3.a.token),
            "query { myTeam(depth: 3) { counts { level1 level2 level3 total } } }",
            json!({}),
        )
        .await;
    // D2 and D1 now both directly under D3; D4 under D1.
    assert_eq!(
        team["myTeam"]["counts"],
        json!({ "level1": 2, "level2": 1, "level3": 0, "total": 3 })
    );
    let d2_team = shop
        .s
        .data(
            Some(&d2.a.token),
            "query { myTeam(depth: 3) { counts { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(d2_team["myTeam"]["counts"]["total"], 0);
    // The next order pays D1 and then D3 (D1's new inviter).
    shop.buy(1, "after-move").await;
    assert_eq!(
        amounts(&shop.commissions(&d3).await),
        vec![(2, "10.00".to_string(), "ESTIMATED".to_string())]
    );
    assert!(shop.commissions(&d2).await.is_empty());
}

async fn set_binding(shop: &Shop, mode: &str, days: u32) {
    let d = shop
        .s
        .data(
            Some(&shop.boss.token),
            SETTINGS,
            json!({ "input": {
                "recruitmentMode": "REVIEW",
                "applicationFields": [{ "key": "experience", "label": "销售经验", "required": true }],
                "agreement": "协议",
                "bindingMode": mode,
                "bindingDays": days,
                "withdrawalMin": "1.00",
                "withdrawalMax": "5000.00"
            } }),
        )
        .await;
    assert_eq!(
        d["updateDistributionSettings"]["userErrors"],
        json!([]),
        "{d}"
    );
}

async fn bind(shop: &Shop, who: &Account, to: &Dist) -> Value {
    shop.s
        .data(Some(&who.token), BIND, json!({ "code": to.code }))
        .await["bindReferrer"]
        .clone()
}

#[tokio::test]
async fn each_binding_mode_decides_who_keeps_the_customer() {
    let shop = shop().await;
    let a = shop.distributor("13800008021", None).await;
    let b = shop.distributor("13800008022", None).await;

    // Permanent (the default): first touch keeps the customer.
    let c1 = register(&shop.s, "13800008031", "Secret123").await;
    assert_eq!(bind(&shop, &c1, &a).await["boundTo"], json!(a.id));
    let again = bind(&shop, &c1, &b).await;
    assert_eq!(again["boundTo"], json!(a.id));
    assert_eq!(again["changed"], false);

    // Last touch: every new distributor takes over.
    set_binding(&shop, "LAST_TOUCH", 30).await;
    let moved = bind(&shop, &c1, &b).await;
    assert_eq!(moved["boundTo"], json!(b.id));
    assert_eq!(moved["changed"], true);

    // N days: kept while valid, then the next touch rebinds.
    set_binding(&shop, "DAYS", 7).await;
    let c2 = register(&shop.s, "13800008032", "Secret123").await;
    assert_eq!(bind(&shop, &c2, &a).await["boundTo"], json!(a.id));
    assert_eq!(bind(&shop, &c2, &b).await["boundTo"], json!(a.id));
    {
        use sea_orm::{ConnectionTrait, Statement};
        let user_id =
            distmall::graphql::ids::decode("User", &async_graphql::ID(c2.id.clone())).unwrap();
        let conn = shop.s.app().db.conn();
        let backend = conn.get_database_backend();
        // Eight days pass.
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            "UPDATE customer_bindings SET expires_at = $1 WHERE user_id = $2",
            [
                (Utc::now() - chrono::Duration::days(1)).into(),
                user_id.into(),
            ],
        ))
        .await
        .unwrap();
    }
    assert_eq!(bind(&shop, &c2, &b).await["boundTo"], json!(b.id));

    // Ordering through a share code binds as well, and attributes the order.
    set_binding(&shop, "PERMANENT", 30).await;
    let c3 = register(&shop.s, "13800008033", "Secret123").await;
    let address = create_address(&shop.s, &c3.token, "13800008033").await;
    let placed = shop
        .s
        .data(
            Some(&c3.token),
            crate::orders::PLACE,
            json!({ "input": { "idempotencyKey": "share", "checkout": { "addressId": address, "shareCode": b.code.to_lowercase(), "lines": [{ "skuId": shop.sku, "quantity": 1 }] } } }),
        )
        .await;
    assert_eq!(placed["placeOrder"]["userErrors"], json!([]), "{placed}");
    let order = placed["placeOrder"]["order"]["id"].clone();
    shop.pay(&c3, &order).await;
    assert_eq!(
        amounts(&shop.commissions(&b).await),
        vec![(1, "20.00".to_string(), "ESTIMATED".to_string())]
    );
    assert_eq!(bind(&shop, &c3, &a).await["boundTo"], json!(b.id));
    // Registering through a link binds too.
    let arrived = shop
        .s
        .data(
            None,
            "mutation($input: RegisterInput!) { register(input: $input) { accessToken userErrors { code } } }",
            json!({ "input": { "phone": "13800008034", "password": "Secret123", "shareCode": a.code } }),
        )
        .await;
    let c4 = Account {
        token: arrived["register"]["accessToken"].as_str().unwrap().into(),
        refresh: String::new(),
        id: String::new(),
    };
    let kept = bind(&shop, &c4, &b).await;
    assert_eq!(
        (kept["boundTo"].clone(), kept["changed"].clone()),
        (json!(a.id), json!(false))
    );

    // A customer of a distributor who was disabled is free to be bound again.
    let disabled = shop
        .s
        .data(
            Some(&shop.boss.token),
            "mutation($d: ID!) { setDistributorEnabled(distributorId: $d, enabled: false) { userErrors { code } } }",
            json!({ "d": a.id }),
        )
        .await;
    assert_eq!(disabled["setDistributorEnabled"]["userErrors"], json!([]));
    let freed = bind(&shop, &c4, &b).await;
    assert_eq!(
        (freed["boundTo"].clone(), freed["changed"].clone()),
        (json!(b.id), json!(true))
    );

    // Opening a link is recorded, signed in or not; an unknown (or disabled) code or an
    // unknown product records nothing and says why.
    use sea_orm::{EntityTrait, PaginatorTrait};
    let visits = || entity::share_visit::Entity::find().count(shop.s.app().db.conn());
    let before = visits().await.unwrap();
    for (code, product, errors) in [
        (b.code.as_str(), shop.product.clone(), vec![]),
        (
            a.code.as_str(),
            shop.product.clone(),
            vec!["UNKNOWN_REFERRAL_CODE"],
        ),
        (
            "NOPE1234",
            shop.product.clone(),
            vec!["UNKNOWN_REFERRAL_CODE"],
        ),
        (
            b.code.as_str(),
            json!("UHJvZHVjdDo5OTk5"),
            vec!["PRODUCT_NOT_FOUND"],
        ),
    ] {
        let v = shop
            .s
            .data(
                None,
                "mutation($c: String!, $p: ID) { recordShareVisit(code: $c, productId: $p) { recorded userErrors { code field message } } }",
                json!({ "c": code, "p": product }),
            )
            .await;
        assert_eq!(user_error_codes(&v["recordShareVisit"]), errors, "{v}");
        assert_eq!(v["recordShareVisit"]["recorded"], errors.is_empty());
    }
    assert_eq!(visits().await.unwrap(), before + 1);
    // An unknown code is a clear error.
    let unknown = shop
        .s
        .data(Some(&c3.token), BIND, json!({ "code": "NOPE1234" }))
        .await;
    assert_eq!(
        user_error_codes(&unknown["bindReferrer"]),
        vec!["UNKNOWN_REFERRAL_CODE"]
    );
}

#[tokio::test]
async fn profit_base_overrides_and_rule_versions() {
    let shop = shop().await;
    let (d1, d2, d3) = shop.chain().await;
    let published = shop
        .publish_rules(json!({ "rates": ["20", "10", "5"], "base": "PROFIT", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5 }))
        .await;
    assert_eq!(published["userErrors"], json!([]), "{published}");
    assert_eq!(published["rules"]["base"], "PROFIT");
    let v1 = published["rules"]["version"].as_i64().unwrap();

    // ¥100.00 paid, ¥60.00 cost: 20/10/5 % of ¥40.00.
    shop.buy(1, "profit").await;
    for (d, amount) in [(&d1, "8.00"), (&d2, "4.00"), (&d3, "2.00")] {
        let r = shop.commissions(d).await;
        assert_eq!(r[0]["amount"], amount);
        assert_eq!(r[0]["base"], "40.00");
    }

    // An order placed now keeps this version even if it is paid under the next one.
    let pending = shop
        .place(&shop.buyer, &shop.address, 1, "placed-under-v1")
        .await;
    let v2 = shop
        .publish_rules(json!({
            "rates": ["20", "10", "5"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5,
            "overrides": [{ "productId": shop.product, "rates": ["30", "0"] }]
        }))
        .await;
    assert_eq!(v2["userErrors"], json!([]), "{v2}");
    assert!(v2["rules"]["version"].as_i64().unwrap() > v1);
    shop.pay(&shop.buyer, &pending).await;
    assert_eq!(shop.commissions(&d1).await[0]["amount"], "8.00");

    // The product override: 30% to tier 1, nothing to tier 2 (no record), tier 3 has no rate.
    shop.buy(1, "override").await;
    assert_eq!(shop.commissions(&d1).await[0]["amount"], "30.00");
    assert_eq!(shop.commissions(&d1).await[0]["rate"], "30.00");
    assert_eq!(
        shop.commissions(&d2).await.len(),
        2,
        "no record for a zero rate"
    );

    // A SKU override with fixed amounts per unit wins over the product's.
    let v3 = shop
        .publish_rules(json!({
            "rates": ["20", "10", "5"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5,
            "overrides": [
                { "productId": shop.product, "rates": ["30", "0"] },
                { "productId": shop.product, "skuId": shop.sku, "fixedAmounts": ["3.50", "1.00", "0.50"] }
            ]
        }))
        .await;
    assert_eq!(v3["userErrors"], json!([]), "{v3}");
    shop.buy(2, "fixed").await;
    for (d, amount) in [(&d1, "7.00"), (&d2, "2.00"), (&d3, "1.00")] {
        let latest = &shop.commissions(d).await[0];
        assert_eq!(latest["amount"], amount, "{latest}");
        assert_eq!(latest["rate"], Value::Null);
    }

    // Rules that do not add up are refused and change nothing.
    let bad = shop
        .publish_rules(json!({ "rates": ["60", "50"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5 }))
        .await;
    assert_eq!(user_error_codes(&bad), vec!["INVALID_SETTINGS"]);
    let four = shop
        .publish_rules(json!({ "rates": ["5", "5", "5", "5"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5 }))
        .await;
    assert_eq!(user_error_codes(&four), vec!["INVALID_SETTINGS"]);
    let current = shop
        .s
        .data(
            Some(&d1.a.token),
            "query { commissionRules { version } }",
            json!({}),
        )
        .await;
    assert_eq!(
        current["commissionRules"]["version"],
        v3["rules"]["version"]
    );
}

#[tokio::test]
async fn self_purchase_pays_the_buyer_only_when_switched_on() {
    let shop = shop().await;
    let top = shop.distributor("13800008041", None).await;
    let me = shop.distributor("13800008042", Some(&top)).await;
    let address = create_address(&shop.s, &me.a.token, "13800008042").await;
    // Off (default): my own order pays my inviter as tier 1, never me.
    let o = shop.place(&me.a, &address, 1, "own-off").await;
    shop.pay(&me.a, &o).await;
    assert!(shop.commissions(&me).await.is_empty());
    assert_eq!(shop.commissions(&top).await[0]["amount"], "20.00");

    let on = shop
        .publish_rules(json!({ "rates": ["20", "10"], "base": "SALES", "selfPurchase": true, "cycle": "DAILY", "payoutDay": 1 }))
        .await;
    assert_eq!(on["userErrors"], json!([]));
    let o = shop.place(&me.a, &address, 1, "own-on").await;
    shop.pay(&me.a, &o).await;
    assert_eq!(
        amounts(&shop.commissions(&me).await),
        vec![(1, "20.00".to_string(), "ESTIMATED".to_string())]
    );
    assert_eq!(shop.commissions(&top).await[0]["amount"], "10.00");
}

const REQUEST_REFUND: &str = "mutation($input: RequestRefundInput!) { requestRefund(input: $input) { refund { id } userErrors { code message } } }";
pub(crate) const OPEN_REFUND: &str = "mutation($input: RequestRefundInput!) { openRefund(input: $input) { refund { id } userErrors { code message } } }";
pub(crate) const APPROVE_REFUND: &str = "mutation($id: ID!) { approveRefund(id: $id) { refund { status amount } order { status } userErrors { code message } } }";

pub(crate) async fn line_of(shop: &Shop, order: &Value) -> Value {
    shop.s
        .data(
            Some(&shop.boss.token),
            "query($id: ID!) { order(id: $id) { lines { id } } }",
            json!({ "id": order }),
        )
        .await["order"]["lines"][0]["id"]
        .clone()
}

pub(crate) async fn refund(shop: &Shop, order: &Value, quantity: i64, by_staff: bool) {
    refund_as(shop, &shop.buyer, order, quantity, by_staff).await
}

/// `refund` of an order `buyer` placed.
pub(crate) async fn refund_as(
    shop: &Shop,
    buyer: &Account,
    order: &Value,
    quantity: i64,
    by_staff: bool,
) {
    let line = line_of(shop, order).await;
    let input = json!({ "input": { "orderId": order, "kind": if by_staff { "RETURN" } else { "REFUND_ONLY" }, "lines": [{ "orderLineId": line, "quantity": quantity }], "reason": "质量问题" } });
    let (token, query, field) = if by_staff {
        (&shop.boss.token, OPEN_REFUND, "openRefund")
    } else {
        (&buyer.token, REQUEST_REFUND, "requestRefund")
    };
    let r = shop.s.data(Some(token), query, input).await[field].clone();
    assert_eq!(r["userErrors"], json!([]), "{r}");
    let id = r["refund"]["id"].clone();
    if by_staff {
        // A return: the goods come back before the money goes.
        let a = shop
            .s
            .data(Some(&shop.boss.token), APPROVE_REFUND, json!({ "id": id }))
            .await;
        assert_eq!(a["approveRefund"]["userErrors"], json!([]), "{a}");
        let got = shop
            .s
            .data(
                Some(&shop.boss.token),
                "mutation($id: ID!) { receiveReturn(id: $id) { refund { status } userErrors { code message } } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(
            got["receiveReturn"]["refund"]["status"], "REFUNDED",
            "{got}"
        );
    } else {
        let a = shop
            .s
            .data(Some(&shop.boss.token), APPROVE_REFUND, json!({ "id": id }))
            .await;
        assert_eq!(a["approveRefund"]["refund"]["status"], "REFUNDED", "{a}");
    }
}

#[tokio::test]
async fn refunds_take_commission_back_before_and_after_settlement() {
    let shop = shop().await;
    let (d1, _d2, _d3) = shop.chain().await;
    let mut w1 = subscribed(&shop.s, &d1).await;

    // Before settlement: two units paid, one refunded → half the commission is reversed.
    let first = shop.buy(2, "two").await;
    assert_eq!(next_change(&mut w1).await["commissionAmount"], "40.00");
    refund(&shop, &first, 1, false).await;
    let reversed = next_change(&mut w1).await;
    assert_eq!(reversed["kind"], "REVERSED", "{reversed}");
    assert_eq!(
        figures(&reversed),
        json!({ "commissionAmount": "20.00", "reversedAmount": "20.00", "settledAmount": null, "settledRecords": null, "available": null, "frozen": null })
    );
    let r = &shop.commissions(&d1).await[0];
    assert_eq!(
        (r["amount"].clone(), r["reversedAmount"].clone()),
        (json!("20.00"), json!("20.00"))
    );
    assert_eq!(r["status"], "ESTIMATED");

    shop.complete(&first).await;
    assert!(shop.settle(40).await);
    assert_eq!(shop.balance(&d1).await["available"], "20.00");

    // D1 withdraws everything; finance pays it.
    let w = shop
        .s
        .data(
            Some(&d1.a.token),
            WITHDRAW,
            json!({ "input": { "amount": "20.00", "channel": "WECHAT_WALLET", "account": "wxid_d1" } }),
        )
        .await["requestWithdrawal"]
        .clone();
    assert_eq!(w["userErrors"], json!([]), "{w}");
    let wid = w["withdrawal"]["id"].clone();
    for m in [
        "mutation($id: ID!) { approveWithdrawal(id: $id) { userErrors { code } } }",
        "mutation($id: ID!) { markWithdrawalPaid(id: $id, transferReference: \"T20261201\") { userErrors { code } } }",
    ] {
        let d = shop
            .s
            .data(Some(&shop.boss.token), m, json!({ "id": wid }))
            .await;
        assert!(d.to_string().contains("\"userErrors\":[]"), "{d}");
    }
    assert_eq!(shop.balance(&d1).await["available"], "0.00");
    assert_eq!(shop.balance(&d1).await["frozen"], "0.00");

    // After settlement: staff honour a claim on the completed order; the settled commission is
    // taken back by a negative ledger entry, and the balance goes negative.
    refund(&shop, &first, 1, true).await;
    let r = &shop.commissions(&d1).await[0];
    assert_eq!(r["status"], "REVERSED");
    assert_eq!(r["amount"], "0.00");
    let b = shop.balance(&d1).await;
    assert_eq!(b["available"], "-20.00");
    assert_eq!(b["lifetimeEarned"], "0.00");
    // No withdrawal while in debt.
    let refused = shop
        .s
        .data(
            Some(&d1.a.token),
            WITHDRAW,
            json!({ "input": { "amount": "10.00", "channel": "WECHAT_WALLET", "account": "wxid_d1" } }),
        )
        .await["requestWithdrawal"]
        .clone();
    assert_eq!(user_error_codes(&refused), vec!["INSUFFICIENT_BALANCE"]);

    // The next commission repays the debt first.
    let second = shop.buy(2, "repay").await;
    shop.complete(&second).await;
    assert!(shop.settle(80).await);
    let b = shop.balance(&d1).await;
    assert_eq!(
        b["available"], "20.00",
        "40.00 earned, 20.00 of it repaid the debt"
    );
    assert_eq!(b["lifetimeEarned"], "40.00");

    // The ledger is the sum of its entries.
    let ledger = shop
        .s
        .data(
            Some(&d1.a.token),
            "query { myLedger { edges { node { kind availableChange availableAfter } } } }",
            json!({}),
        )
        .await;
    let entries = ledger["myLedger"]["edges"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["node"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "SETTLEMENT",
            "REVERSAL",
            "WITHDRAWAL_PAID",
            "WITHDRAWAL_FROZEN",
            "SETTLEMENT"
        ]
    );
    let sum: rust_decimal::Decimal = entries
        .iter()
        .map(|e| {
            e["node"]["availableChange"]
                .as_str()
                .unwrap()
                .parse::<rust_decimal::Decimal>()
                .unwrap()
        })
        .sum();
    assert_eq!(sum.to_string(), "20.00");
}

#[tokio::test]
async fn fifty_concurrent_withdrawals_never_overdraw() {
    let shop = shop().await;
    let (d1, _, _) = shop.chain().await;
    set_binding(&shop, "PERMANENT", 30).await; // withdrawals from ¥1.00 to ¥5,000.00
    let order = shop.buy(1, "w").await;
    shop.complete(&order).await;
    assert!(shop.settle(40).await);
    assert_eq!(shop.balance(&d1).await["available"], "20.00");

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let url = shop.s.url("/graphql");
        let token = d1.a.token.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({ "query": WITHDRAW, "variables": { "input": { "amount": "3.00", "channel": "BANK_CARD", "account": "6222 0212 3456 7890", "accountName": "张三" } } });
            reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut granted = 0;
    for t in tasks {
        let resp = t.await.unwrap();
        let p = &resp["data"]["requestWithdrawal"];
        match p["withdrawal"]["status"].as_str() {
            Some("PENDING") => granted += 1,
            _ => assert_eq!(user_error_codes(p), vec!["INSUFFICIENT_BALANCE"], "{resp}"),
        }
    }
    assert_eq!(granted, 6, "¥20.00 covers six withdrawals of ¥3.00");
    let b = shop.balance(&d1).await;
    assert_eq!(b["available"], "2.00");
    assert_eq!(b["frozen"], "18.00");

    // The card number is masked for the distributor, whole for finance.
    let mine = shop
        .s
        .data(
            Some(&d1.a.token),
            "query { myWithdrawals { edges { node { id account } } } }",
            json!({}),
        )
        .await;
    let first = &mine["myWithdrawals"]["edges"][0]["node"];
    assert_eq!(first["account"], "**** **** **** 7890");
    let finance = staff(&shop.s, &shop.boss.token, "13700008001", &["FINANCE"]).await;
    let full = shop
        .s
        .data(
            Some(&finance.token),
            "query($id: ID!) { withdrawal(id: $id) { account distributor { id } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(full["withdrawal"]["account"], "6222021234567890");
    assert_eq!(full["withdrawal"]["distributor"]["id"], json!(d1.id));

    // Rejected: the amount returns.
    let rejected = shop
        .s
        .data(
            Some(&finance.token),
            "mutation($id: ID!) { rejectWithdrawal(id: $id, reason: \"账户名不符\") { withdrawal { status } balance { available frozen } userErrors { code } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(
        rejected["rejectWithdrawal"]["balance"],
        json!({ "available": "5.00", "frozen": "15.00" })
    );
    // Twice is refused and changes nothing.
    let twice = shop
        .s
        .data(
            Some(&finance.token),
            "mutation($id: ID!) { rejectWithdrawal(id: $id, reason: \"again\") { userErrors { code } } }",
            json!({ "id": first["id"] }),
        )
        .await;
    assert_eq!(
        user_error_codes(&twice["rejectWithdrawal"]),
        vec!["INVALID_TRANSITION"]
    );
    assert_eq!(shop.balance(&d1).await["available"], "5.00");
    // Out of bounds and malformed requests change nothing.
    for (amount, account) in [("0.50", "wxid"), ("6000.00", "wxid"), ("2.00", "  ")] {
        let r = shop
            .s
            .data(
                Some(&d1.a.token),
                WITHDRAW,
                json!({ "input": { "amount": amount, "channel": "WECHAT_WALLET", "account": account } }),
            )
            .await["requestWithdrawal"]
            .clone();
        assert!(!r["userErrors"].as_array().unwrap().is_empty(), "{r}");
    }
    assert_eq!(shop.balance(&d1).await["available"], "5.00");
}

#[tokio::test]
async fn a_distributor_cannot_read_another_distributors_money_by_any_path() {
    let shop = shop().await;
    let (d1, d2, _d3) = shop.chain().await;
    shop.buy(1, "x").await;
    let theirs = shop.commissions(&d1).await[0]["id"].clone();
    let w = shop
        .s
        .data(
            Some(&d1.a.token),
            "query { myWithdrawals { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(w["myWithdrawals"]["edges"], json!([]));

    let t2 = Some(d2.a.token.as_str());
    let by_id = shop
        .s
        .data(
            t2,
            "query($id: ID!) { commission(id: $id) { id } node(id: $id) { id } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(by_id, json!({ "commission": null, "node": null }));
    let profile = shop
        .s
        .data(
            t2,
            "query($id: ID!) { distributor(id: $id) { id } node(id: $id) { id } }",
            json!({ "id": d1.id }),
        )
        .await;
    assert_eq!(profile, json!({ "distributor": null, "node": null }));
    // Filters cannot widen "my" lists.
    let mine = shop
        .s
        .data(
            t2,
            "query($d: ID!) { myCommissions(filter: { distributorId: $d }) { edges { node { tier } } } }",
            json!({ "d": d1.id }),
        )
        .await;
    assert_eq!(
        mine["myCommissions"]["edges"],
        json!([{ "node": { "tier": 2 } }])
    );
    for q in [
        "query { commissions { edges { node { id } } } }",
        "query { withdrawals { edges { node { id } } } }",
        "query { distributors { edges { node { id } } } }",
        &format!(
            "query {{ distributorTeam(distributorId: \"{}\") {{ counts {{ total }} }} }}",
            d1.id
        ),
        &format!(
            "query {{ distributorBalance(distributorId: \"{}\") {{ available }} }}",
            d1.id
        ),
    ] {
        let resp = shop.s.gql(t2, q, json!({})).await;
        assert_eq!(error_code(&resp), "FORBIDDEN", "{q}: {resp}");
    }
    // A customer is not a distributor: no team, no share link, no withdrawals.
    for q in [
        "query { myTeam { counts { total } } }",
        "query { shareLink { code } }",
    ] {
        let resp = shop.s.gql(Some(&shop.buyer.token), q, json!({})).await;
        assert_eq!(error_code(&resp), "FORBIDDEN", "{q}: {resp}");
    }
    // Staff with DISTRIBUTION see the record and who earns it.
    let manager = staff(&shop.s, &shop.boss.token, "13700008002", &["DISTRIBUTION"]).await;
    let seen = shop
        .s
        .data(
            Some(&manager.token),
            "query($id: ID!) { commission(id: $id) { distributor { id } } }",
            json!({ "id": theirs }),
        )
        .await;
    assert_eq!(seen["commission"]["distributor"]["id"], json!(d1.id));
}

#[tokio::test]
async fn recruitment_follows_the_form_and_the_mode() {
    let shop = shop().await;
    let t = |a: &Account| Some(a.token.clone());
    let c = register(&shop.s, "13800008051", "Secret123").await;
    // A required answer is missing; an unknown field is refused.
    for answers in [
        json!([]),
        json!([{ "key": "experience", "value": "有" }, { "key": "age", "value": "30" }]),
    ] {
        let r = shop
            .s
            .data(
                t(&c).as_deref(),
                APPLY,
                json!({ "input": { "answers": answers } }),
            )
            .await["applyForDistributor"]
            .clone();
        assert_eq!(user_error_codes(&r), vec!["INVALID_ANSWER"], "{r}");
    }
    let applied = shop
        .s
        .data(
            t(&c).as_deref(),
            APPLY,
            json!({ "input": { "answers": [{ "key": "experience", "value": "有" }] } }),
        )
        .await["applyForDistributor"]
        .clone();
    assert_eq!(applied["application"]["status"], "PENDING");
    let twice = shop
        .s
        .data(
            t(&c).as_deref(),
            APPLY,
            json!({ "input": { "answers": [{ "key": "experience", "value": "有" }] } }),
        )
        .await["applyForDistributor"]
        .clone();
    assert_eq!(user_error_codes(&twice), vec!["APPLICATION_PENDING"]);
    // Rejecting needs a reason, which the applicant sees.
    let no_reason = shop
        .s
        .data(
            Some(&shop.boss.token),
            REVIEW,
            json!({ "input": { "applicationId": applied["application"]["id"], "approve": false } }),
        )
        .await["reviewDistributorApplication"]
        .clone();
    assert_eq!(user_error_codes(&no_reason), vec!["INVALID_NOTE"]);
    let rejected = shop
        .s
        .data(
            Some(&shop.boss.token),
            REVIEW,
            json!({ "input": { "applicationId": applied["application"]["id"], "approve": false, "reason": "资料不全" } }),
        )
        .await["reviewDistributorApplication"]
        .clone();
    assert_eq!(rejected["application"]["status"], "REJECTED");
    let mine = shop
        .s
        .data(
            t(&c).as_deref(),
            "query { myDistributorApplication { status reason } myDistributor { id } notifications { edges { node { kind body } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["myDistributorApplication"],
        json!({ "status": "REJECTED", "reason": "资料不全" })
    );
    assert_eq!(mine["myDistributor"], Value::Null);
    assert_eq!(
        mine["notifications"]["edges"][0]["node"],
        json!({ "kind": "DISTRIBUTION", "body": "资料不全" })
    );
    // Only distribution staff review.
    let clerk = staff(&shop.s, &shop.boss.token, "13700008003", &["ORDERS"]).await;
    let resp = shop
        .s
        .gql(
            Some(&clerk.token),
            REVIEW,
            json!({ "input": { "applicationId": applied["application"]["id"], "approve": true } }),
        )
        .await;
    assert_eq!(error_code(&resp), "FORBIDDEN");

    // By invitation: a code is required, and with one the applicant is in at once, under the
    // inviter.
    let inviter = shop.distributor("13800008052", None).await;
    let d = shop
        .s
        .data(
            Some(&shop.boss.token),
            SETTINGS,
            json!({ "input": { "recruitmentMode": "INVITATION", "applicationFields": [], "agreement": "协议", "bindingMode": "PERMANENT", "withdrawalMin": "1.00", "withdrawalMax": "5000.00" } }),
        )
        .await;
    assert_eq!(d["updateDistributionSettings"]["userErrors"], json!([]));
    let invited = register(&shop.s, "13800008053", "Secret123").await;
    let without = shop
        .s
        .data(t(&invited).as_deref(), APPLY, json!({ "input": {} }))
        .await["applyForDistributor"]
        .clone();
    assert_eq!(user_error_codes(&without), vec!["NOT_ELIGIBLE"]);
    let wrong = shop
        .s
        .data(
            t(&invited).as_deref(),
            APPLY,
            json!({ "input": { "inviterCode": "ZZZZ9999" } }),
        )
        .await["applyForDistributor"]
        .clone();
    assert_eq!(user_error_codes(&wrong), vec!["UNKNOWN_REFERRAL_CODE"]);
    let with = shop
        .s
        .data(
            t(&invited).as_deref(),
            APPLY,
            json!({ "input": { "inviterCode": inviter.code } }),
        )
        .await["applyForDistributor"]
        .clone();
    assert_eq!(with["application"]["status"], "APPROVED", "{with}");
    let up = shop
        .s
        .data(
            t(&invited).as_deref(),
            "query { myUpline { member { distributorId } } myDistributor { referralCode } }",
            json!({}),
        )
        .await;
    assert_eq!(
        up["myUpline"],
        json!([{ "member": { "distributorId": inviter.id } }])
    );
    assert_eq!(
        up["myDistributor"]["referralCode"].as_str().unwrap().len(),
        8
    );

    // Disabled distributors lose the role and earn nothing new.
    let off = shop
        .s
        .data(
            Some(&shop.boss.token),
            "mutation($d: ID!) { setDistributorEnabled(distributorId: $d, enabled: false) { distributor { status } userErrors { code } } }",
            json!({ "d": inviter.id }),
        )
        .await;
    assert_eq!(
        off["setDistributorEnabled"]["distributor"]["status"],
        "DISABLED"
    );
    let resp = shop
        .s
        .gql(
            Some(&inviter.a.token),
            "query { myTeam { counts { total } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&resp), "FORBIDDEN");
}

/// 02:00 in Beijing on the 1st of next month: when the monthly report for this month is due.
pub(crate) fn first_of_next_month() -> chrono::DateTime<Utc> {
    use chrono::{Datelike, NaiveDate, TimeZone};
    let local = Utc::now() + chrono::Duration::hours(8);
    let (y, m) = if local.month() == 12 {
        (local.year() + 1, 1)
    } else {
        (local.year(), local.month() + 1)
    };
    let first = NaiveDate::from_ymd_opt(y, m, 1)
        .unwrap()
        .and_hms_opt(2, 0, 0)
        .unwrap();
    Utc.from_utc_datetime(&first) - chrono::Duration::hours(8)
}

#[tokio::test]
async fn performance_ranking_and_the_monthly_report() {
    let shop = shop().await;
    let (d1, d2, d3) = shop.chain().await;
    shop.buy(1, "p1").await;
    shop.buy(2, "p2").await;

    const PERF: &str = "query($id: ID) { distributorPerformance(period: MONTH, distributorId: $id) { orders sales promotedCustomers newTeamMembers commission { estimated confirmed settled reversed } } }";
    let p1 = shop.s.data(Some(&d1.a.token), PERF, json!({})).await;
    assert_eq!(
        p1["distributorPerformance"],
        json!({ "orders": 2, "sales": "300.00", "promotedCustomers": 1, "newTeamMembers": 0,
                "commission": { "estimated": "60.00", "confirmed": "0.00", "settled": "0.00", "reversed": "0.00" } })
    );
    let p3 = shop.s.data(Some(&d3.a.token), PERF, json!({})).await;
    assert_eq!(p3["distributorPerformance"]["newTeamMembers"], 2);
    assert_eq!(p3["distributorPerformance"]["orders"], 0);
    assert_eq!(
        p3["distributorPerformance"]["commission"]["estimated"],
        "15.00"
    );
    // Only staff look at someone else's figures.
    let other = shop
        .s
        .gql(Some(&d2.a.token), PERF, json!({ "id": d1.id }))
        .await;
    assert_eq!(error_code(&other), "FORBIDDEN");
    let staff_view = shop
        .s
        .data(Some(&shop.boss.token), PERF, json!({ "id": d1.id }))
        .await;
    assert_eq!(staff_view["distributorPerformance"]["sales"], "300.00");
    let custom = shop
        .s
        .gql(
            Some(&d1.a.token),
            "query { distributorPerformance(period: CUSTOM) { orders } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&custom), "BAD_USER_INPUT", "{custom}");

    let ranking = shop
        .s
        .data(
            Some(&shop.boss.token),
            "query { distributorRanking(period: MONTH, by: COMMISSION) { rank distributor { id } performance { commission { estimated } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ranking["distributorRanking"],
        json!([
            { "rank": 1, "distributor": { "id": d1.id }, "performance": { "commission": { "estimated": "60.00" } } },
            { "rank": 2, "distributor": { "id": d2.id }, "performance": { "commission": { "estimated": "30.00" } } },
            { "rank": 3, "distributor": { "id": d3.id }, "performance": { "commission": { "estimated": "15.00" } } }
        ])
    );
    // A ranked distributor is the same `Distributor` in every ranking and list: the place and
    // the period's figures are on the ranking entry, which has no id of its own.
    const RANKED: &str = "query($by: RankBy!) { distributorRanking(period: MONTH, by: $by) { rank distributor { __typename id name referralCode sales orderCount level { __typename id } inviter { __typename id name } } performance { orders sales commission { estimated } } } }";
    let mut rankings = Vec::new();
    for by in ["COMMISSION", "SALES", "ORDERS"] {
        rankings.push(
            shop.s
                .data(Some(&shop.boss.token), RANKED, json!({ "by": by }))
                .await,
        );
    }
    let listed = shop
        .s
        .data(
            Some(&shop.boss.token),
            "query { distributors { edges { node { __typename id name referralCode sales orderCount } } } }",
            json!({}),
        )
        .await;
    let seen = assert_cache_consistent(&[
        ("by commission", &rankings[0]),
        ("by sales", &rankings[1]),
        ("by orders", &rankings[2]),
        ("distributors", &listed),
    ]);
    assert_eq!(seen[&("Distributor".to_string(), d1.id.clone())], 4);

    // On the 1st the month's reports are written, once.
    let due = first_of_next_month();
    let written = distmall::distribution::performance::generate_monthly(shop.s.app(), due)
        .await
        .unwrap();
    assert_eq!(written, 3);
    let again = distmall::distribution::performance::generate_monthly(shop.s.app(), due)
        .await
        .unwrap();
    assert_eq!(again, 0);
    let reports = shop
        .s
        .data(
            Some(&d1.a.token),
            "query { myMonthlyReports { edges { node { orders sales promotedCustomers commission { estimated } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reports["myMonthlyReports"]["edges"],
        json!([{ "node": { "orders": 2, "sales": "300.00", "promotedCustomers": 1, "commission": { "estimated": "60.00" } } }])
    );
}

#[tokio::test]
async fn levels_rise_with_achievements_and_pay_their_own_rates() {
    let shop = shop().await;
    let (d1, d2, d3) = shop.chain().await;
    const SAVE: &str = "mutation($input: LevelInput!) { saveDistributorLevel(input: $input) { level { id name rank conditions { invitedDistributors requireAll } } userErrors { code field } } }";
    let t = Some(shop.boss.token.as_str());
    let silver = shop
        .s
        .data(
            t,
            SAVE,
            json!({ "input": { "name": "银牌推广员", "rank": 1, "invitedDistributors": 1 } }),
        )
        .await["saveDistributorLevel"]
        .clone();
    assert_eq!(silver["userErrors"], json!([]), "{silver}");
    let level = silver["level"]["id"].clone();
    for bad in [
        json!({ "name": "重复", "rank": 1, "invitedDistributors": 5 }),
        json!({ "name": "无条件", "rank": 2 }),
        json!({ "name": "负数", "rank": 3, "orderCount": -1 }),
    ] {
        let r = shop.s.data(t, SAVE, json!({ "input": bad })).await;
        assert_eq!(
            user_error_codes(&r["saveDistributorLevel"]),
            vec!["INVALID_SETTINGS"],
            "{r}"
        );
    }
    let rules = shop
        .publish_rules(json!({
            "rates": ["20", "10", "5"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5,
            "levelRates": [{ "levelId": level, "rates": ["25", "12", "6"] }]
        }))
        .await;
    assert_eq!(rules["userErrors"], json!([]), "{rules}");

    // D3 invited D2 and D2 invited D1: both qualify; D1 invited nobody.
    const EVALUATE: &str = "mutation($d: ID) { evaluateDistributorLevels(distributorId: $d) { raised distributor { id level { name } } userErrors { code field } } }";
    let raised = shop.s.data(t, EVALUATE, json!({})).await;
    assert_eq!(
        raised["evaluateDistributorLevels"],
        json!({ "raised": 2, "distributor": null, "userErrors": [] })
    );
    let again = shop.s.data(t, EVALUATE, json!({})).await;
    assert_eq!(
        again["evaluateDistributorLevels"]["raised"], 0,
        "levels only rise once"
    );
    let one = shop.s.data(t, EVALUATE, json!({ "d": d2.id })).await;
    assert_eq!(
        one["evaluateDistributorLevels"],
        json!({ "raised": 0, "distributor": { "id": d2.id, "level": { "name": "银牌推广员" } }, "userErrors": [] })
    );
    let unknown = shop.s.data(t, EVALUATE, json!({ "d": "bogus" })).await;
    assert_eq!(
        unknown["evaluateDistributorLevels"],
        json!({ "raised": null, "distributor": null, "userErrors": [{ "code": "DISTRIBUTOR_NOT_FOUND", "field": ["input", "distributorId"] }] })
    );

    shop.buy(1, "levels").await;
    for (d, amount) in [(&d1, "20.00"), (&d2, "12.00"), (&d3, "6.00")] {
        assert_eq!(shop.commissions(d).await[0]["amount"], amount);
    }

    // Staff edit a distributor, level included.
    let edited = shop
        .s
        .data(
            t,
            "mutation($input: UpdateDistributorInput!) { updateDistributor(input: $input) { distributor { name teamName level { name } } userErrors { code field } } }",
            json!({ "input": { "distributorId": d1.id, "name": "小张", "teamName": "华南一队", "levelId": level } }),
        )
        .await;
    assert_eq!(
        edited["updateDistributor"]["distributor"],
        json!({ "name": "小张", "teamName": "华南一队", "level": { "name": "银牌推广员" } })
    );
    let held = shop
        .s
        .data(
            t,
            "mutation($id: ID!) { deleteDistributorLevel(id: $id) { deletedId userErrors { code } } }",
            json!({ "id": level }),
        )
        .await;
    assert_eq!(
        user_error_codes(&held["deleteDistributorLevel"]),
        vec!["INVALID_SETTINGS"]
    );
}

/// Every `TeamEdge` of a team page: `(member's distributor id, depth)`, in page order.
fn depths(team: &Value) -> Vec<(String, i64)> {
    team["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["distributorId"].as_str().unwrap().to_string(),
                e["depth"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_team_member_is_the_same_object_in_every_tree_and_upline() {
    let shop = shop().await;
    // 王总 (D3) recruited 李姐 (D2), who recruited 小张 (D1); D4 joined under 小张.
    let (d1, d2, d3) = shop.chain().await;
    let d4 = shop.distributor("13800008004", Some(&d1)).await;
    shop.buy(1, "tree").await;
    let staff = Some(shop.boss.token.as_str());
    const MEMBER: &str =
        "__typename id distributorId name phone active approvedAt level { __typename id name }";
    let tree = format!(
        "query($d: ID!) {{ distributorTeam(distributorId: $d, depth: 3) {{ totalCount counts {{ level1 level2 level3 total }} pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} edges {{ cursor depth joinedAt sales orderCount node {{ {MEMBER} }} }} }} }}"
    );
    let my_tree = format!(
        "query {{ myTeam(depth: 3) {{ totalCount edges {{ depth sales node {{ {MEMBER} }} }} nodes {{ {MEMBER} }} }} }}"
    );
    let upline = format!("query {{ myUpline {{ distance member {{ {MEMBER} }} }} }}");
    let inviter = format!(
        "query($d: ID!) {{ distributor(id: $d) {{ __typename id name inviter {{ {MEMBER} }} }} }}"
    );
    // The dashboard opens 王总's tree, then 李姐's; each distributor opens their own.
    let wang_tree = shop.s.data(staff, &tree, json!({ "d": d3.id })).await;
    let li_tree = shop.s.data(staff, &tree, json!({ "d": d2.id })).await;
    let wang_own = shop.s.data(Some(&d3.a.token), &my_tree, json!({})).await;
    let li_own = shop.s.data(Some(&d2.a.token), &my_tree, json!({})).await;
    let d4_upline = shop.s.data(Some(&d4.a.token), &upline, json!({})).await;
    let zhang_upline = shop.s.data(Some(&d1.a.token), &upline, json!({})).await;
    let d4_inviter = shop.s.data(staff, &inviter, json!({ "d": d4.id })).await;
    let zhang_inviter = shop.s.data(staff, &inviter, json!({ "d": d1.id })).await;
    let seen = assert_cache_consistent(&[
        ("王总's tree", &wang_tree),
        ("李姐's tree", &li_tree),
        ("王总's own tree", &wang_own),
        ("李姐's own tree", &li_own),
        ("D4's upline", &d4_upline),
        ("小张's upline", &zhang_upline),
        ("D4's inviter", &d4_inviter),
        ("小张's inviter", &zhang_inviter),
    ]);

    // Where 小张 stands differs per tree, and is said on the edges.
    let wang = &wang_tree["distributorTeam"];
    let li = &li_tree["distributorTeam"];
    assert_eq!(
        depths(wang),
        vec![(d4.id.clone(), 3), (d1.id.clone(), 2), (d2.id.clone(), 1)]
    );
    assert_eq!(depths(li), vec![(d4.id.clone(), 2), (d1.id.clone(), 1)]);
    assert_eq!(wang["totalCount"], 3);
    assert_eq!(
        li["counts"],
        json!({ "level1": 1, "level2": 1, "level3": 0, "total": 2 })
    );
    // Those above see a member's sales: 小张 sold the ¥100.00 order.
    assert_eq!(wang["edges"][1]["sales"], "100.00");
    assert_eq!(wang["edges"][1]["orderCount"], 1);
    assert_eq!(li["edges"][1]["sales"], "100.00");
    // 小张 is one object everywhere: four trees, D4's upline and D4's inviter; and it is not
    // the `Distributor` record (a different id, so Relay's id-keyed store keeps them apart).
    let zhang = wang["edges"][1]["node"].clone();
    assert_ne!(zhang["id"], json!(d1.id));
    assert_eq!(zhang["distributorId"], json!(d1.id));
    assert!(zhang["phone"].as_str().unwrap().contains('*'));
    let key = (
        "TeamMember".to_string(),
        zhang["id"].as_str().unwrap().to_string(),
    );
    assert!(
        seen[&key] >= 7,
        "小张 compared in every response: {}",
        seen[&key]
    );
    assert_eq!(d4_inviter["distributor"]["inviter"]["id"], zhang["id"]);
    assert_eq!(
        d4_upline["myUpline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| (
                u["distance"].as_i64().unwrap(),
                u["member"]["distributorId"].clone()
            ))
            .collect::<Vec<_>>(),
        vec![(1, json!(d1.id)), (2, json!(d2.id)), (3, json!(d3.id))]
    );
    // Upline entries show no sales at all.
    assert!(d4_upline["myUpline"][0].get("sales").is_none());

    // A TeamMember is a Node, for those who may see it: its team above, its upline below,
    // itself and staff; not a stranger in another tree.
    let stranger = shop.distributor("13800008005", None).await;
    const NODE: &str =
        "query($id: ID!) { node(id: $id) { __typename id ... on TeamMember { name } } }";
    for (who, sees) in [
        (&d3.a, true),
        (&d4.a, true),
        (&d1.a, true),
        (&shop.boss, true),
        (&stranger.a, false),
        (&shop.buyer, false),
    ] {
        let n = shop
            .s
            .data(Some(&who.token), NODE, json!({ "id": zhang["id"] }))
            .await;
        if sees {
            assert_eq!(n["node"]["id"], zhang["id"], "{n}");
            assert_eq!(n["node"]["__typename"], "TeamMember");
        } else {
            assert_eq!(n["node"], Value::Null, "{n}");
        }
    }
}

#[tokio::test]
async fn an_order_names_its_distributor_profile_to_those_who_may_see_it() {
    let shop = shop().await;
    let (d1, d2, _d3) = shop.chain().await;
    let order = shop.buy(1, "attributed").await;
    const ORDER: &str = "query($id: ID!) { order(id: $id) { id distributor { __typename id referralCode status level { name } } } }";
    let clerk = staff(&shop.s, &shop.boss.token, "13700008003", &["ORDERS"]).await;
    // The referral code and status come with the order: no second lookup.
    for (who, token) in [
        ("owner", &shop.boss.token),
        ("ORDERS staff", &clerk.token),
        ("the distributor", &d1.a.token),
    ] {
        let seen = shop
            .s
            .data(Some(token), ORDER, json!({ "id": order }))
            .await;
        assert_eq!(
            seen["order"]["distributor"],
            json!({ "__typename": "Distributor", "id": d1.id, "referralCode": d1.code, "status": "ACTIVE", "level": null }),
            "{who}: {seen}"
        );
    }
    // The buyer reads the order but not the distributor's profile.
    let buyer = shop
        .s
        .data(Some(&shop.buyer.token), ORDER, json!({ "id": order }))
        .await;
    assert_eq!(buyer["order"]["id"], order);
    assert_eq!(buyer["order"]["distributor"], Value::Null);

    // The order list and its CSV take that same id to filter by distributor.
    const BY_DISTRIBUTOR: &str =
        "query($d: ID!) { orders(filter: { distributorId: $d }) { totalCount } }";
    for (d, count) in [(&d1, 1), (&d2, 0)] {
        let listed = shop
            .s
            .data(Some(&clerk.token), BY_DISTRIBUTOR, json!({ "d": d.id }))
            .await;
        assert_eq!(listed["orders"]["totalCount"], count, "{listed}");
        let csv = shop
            .s
            .http
            .get(shop.s.url("/exports/orders.csv"))
            .query(&[("distributorId", d.id.as_str())])
            .bearer_auth(&clerk.token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(csv.lines().count(), 1 + count, "{csv}");
    }
}

#[tokio::test]
async fn a_distributors_status_is_an_enum() {
    let shop = shop().await;
    let d = shop.distributor("13800008021", None).await;
    let introspected = shop
        .s
        .data(
            Some(&shop.boss.token),
            "{ __type(name: \"Distributor\") { fields { name type { kind ofType { kind name enumValues { name } } } } } }",
            json!({}),
        )
        .await;
    let status = introspected["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "status")
        .unwrap()
        .clone();
    assert_eq!(
        status["type"],
        json!({ "kind": "NON_NULL", "ofType": { "kind": "ENUM", "name": "DistributorStatus", "enumValues": [{ "name": "ACTIVE" }, { "name": "DISABLED" }] } })
    );
    let off = shop
        .s
        .data(
            Some(&shop.boss.token),
            "mutation($d: ID!) { setDistributorEnabled(distributorId: $d, enabled: false) { distributor { status } userErrors { code } } }",
            json!({ "d": d.id }),
        )
        .await;
    assert_eq!(
        off["setDistributorEnabled"]["distributor"]["status"],
        "DISABLED"
    );
}

#[tokio::test]
async fn rates_are_percentages_with_two_decimals_in_and_out() {
    let shop = shop().await;
    let (d1, _d2, _d3) = shop.chain().await;
    let t = Some(shop.boss.token.as_str());
    let level = shop
        .s
        .data(
            t,
            "mutation { saveDistributorLevel(input: { name: \"金牌\", rank: 1, invitedDistributors: 9 }) { level { id } userErrors { code } } }",
            json!({}),
        )
        .await["saveDistributorLevel"]["level"]["id"]
        .clone();
    const PUBLISH_RULES: &str = "mutation($input: CommissionRulesInput!) { publishCommissionRules(input: $input) { rules { version rates overrides { rates } levelRates { rates } } userErrors { code field } } }";
    // Strings or numbers, as many decimals as needed up to two; always read back with two.
    let rules = |rates: Value| {
        json!({ "input": {
            "rates": rates, "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5,
            "overrides": [{ "productId": shop.product, "rates": [12.5, "0"] }],
            "levelRates": [{ "levelId": level, "rates": ["25", "12", "6.05"] }]
        } })
    };
    let published = shop
        .s
        .data(t, PUBLISH_RULES, rules(json!(["20", 10, "5.5"])))
        .await["publishCommissionRules"]
        .clone();
    assert_eq!(published["userErrors"], json!([]), "{published}");
    assert_eq!(
        published["rules"]["rates"],
        json!(["20.00", "10.00", "5.50"])
    );
    assert_eq!(
        published["rules"]["overrides"][0]["rates"],
        json!(["12.50", "0.00"])
    );
    assert_eq!(
        published["rules"]["levelRates"][0]["rates"],
        json!(["25.00", "12.00", "6.05"])
    );
    let version = published["rules"]["version"].clone();

    // Not a percentage, or finer than two decimals: refused before anything runs. Out of
    // range: refused in userErrors. Either way the rules in force stay.
    for bad in [json!(["20", "abc"]), json!(["12.345"]), json!(["20%"])] {
        let resp = shop.s.gql(t, PUBLISH_RULES, rules(bad.clone())).await;
        assert_eq!(error_code(&resp), "BAD_USER_INPUT", "{bad}: {resp}");
    }
    let over = shop.s.data(t, PUBLISH_RULES, rules(json!(["101"]))).await;
    assert_eq!(
        user_error_codes(&over["publishCommissionRules"]),
        vec!["INVALID_SETTINGS"]
    );
    let current = shop
        .s
        .data(t, "{ commissionRules { version rates } }", json!({}))
        .await;
    assert_eq!(
        current["commissionRules"],
        json!({ "version": version, "rates": ["20.00", "10.00", "5.50"] })
    );

    // The override's 12.5 % of ¥100.00, as the record says it.
    shop.buy(1, "rate").await;
    let record = &shop.commissions(&d1).await[0];
    assert_eq!(record["rate"], "12.50");
    assert_eq!(record["amount"], "12.50");

    // The withdrawal fee rate is the same scalar.
    const FEE: &str = "mutation($fee: Percent) { updateDistributionSettings(input: { recruitmentMode: REVIEW, applicationFields: [], agreement: \"协议\", bindingMode: PERMANENT, withdrawalMin: \"1.00\", withdrawalMax: \"5000.00\", withdrawalFeeRate: $fee }) { settings { withdrawalFeeRate } userErrors { code field } } }";
    let fee = shop.s.data(t, FEE, json!({ "fee": "0.6" })).await;
    assert_eq!(
        fee["updateDistributionSettings"]["settings"]["withdrawalFeeRate"],
        "0.60"
    );
    let all = shop.s.data(t, FEE, json!({ "fee": 100 })).await;
    assert_eq!(
        user_error_codes(&all["updateDistributionSettings"]),
        vec!["INVALID_SETTINGS"]
    );
    let read = shop
        .s
        .data(
            Some(&d1.a.token),
            "{ distributionSettings { withdrawalFeeRate } }",
            json!({}),
        )
        .await;
    assert_eq!(read["distributionSettings"]["withdrawalFeeRate"], "0.60");
}
