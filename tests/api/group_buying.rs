//! Group buying: a distributor's group filling and moving on together (credited to them, held
//! until the last place is paid), a group failing at its deadline with every paid member
//! refunded once, the last place wanted by many at once, and the campaign's and joiners' bad
//! input.
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{
    distribution::{Shop, shop, shop_with},
    orders::{PAY, create_address},
    promotions::customers,
    support::*,
};

const CREATE: &str = "mutation($input: GroupBuyCampaignInput!) { createGroupBuyCampaign(input: $input) { campaign { id status groupSize skus { skuId groupPrice } } userErrors { code field message } } }";
pub(crate) const LAUNCH: &str = "mutation($id: ID!) { launchGroupBuy(campaignId: $id) { group { id status size placesLeft deadline launchedByDistributor } userErrors { code field message } } }";
const JOIN: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id orderNo status source heldFor nextStates payAmount promotionDiscount } userErrors { code field message suggestion } } }";
const GROUP: &str = "query($id: ID!) { groupBuy(id: $id) { status size placesLeft paidMembers members { name status isLeader } } }";
const ORDER: &str = "query($id: ID!) { order(id: $id) { status heldFor paymentStatus refundedAmount refunds { status amount } distributor { id } } }";
const APPROVE: &str =
    "mutation($id: ID!) { approveOrder(id: $id) { order { status } userErrors { code message } } }";
const STOCK: &str = "query($id: ID!) { node(id: $id) { ... on Sku { stock } } }";

/// A campaign on the shop's ¥100.00 SKU at ¥79.00, groups of `size` within 24 hours.
pub(crate) async fn campaign(shop: &Shop, size: i64, consumers: bool) -> String {
    let d = shop
        .s
        .data(
            Some(&shop.boss.token),
            CREATE,
            json!({ "input": {
                "name": "3人团 · 跑鞋", "productId": shop.product,
                "skus": [{ "skuId": shop.sku, "groupPrice": "79.00" }],
                "groupSize": size, "timeLimitHours": 24,
                "startsAt": Utc::now() - Duration::minutes(1), "endsAt": Utc::now() + Duration::days(7),
                "perUserLimit": 2, "distributorsMayLaunch": true, "consumersMayLaunch": consumers,
            } }),
        )
        .await["createGroupBuyCampaign"]
        .clone();
    assert_eq!(d["userErrors"], json!([]), "{d}");
    assert_eq!(d["campaign"]["status"], "RUNNING");
    d["campaign"]["id"].as_str().unwrap().to_string()
}

/// Places a group order of one unit as `token`; returns the payload.
async fn join(
    s: &TestServer,
    token: &str,
    address: &str,
    sku: &Value,
    group: Value,
    key: &str,
) -> Value {
    s.data(
        Some(token),
        JOIN,
        json!({ "input": { "idempotencyKey": key, "checkout": {
            "addressId": address, "lines": [{ "skuId": sku, "quantity": 1 }], "groupBuy": group,
        } } }),
    )
    .await["placeOrder"]
        .clone()
}

async fn pay(s: &TestServer, token: &str, order: &Value) {
    let paid = s
        .data(Some(token), PAY, json!({ "id": order, "p": "DEV" }))
        .await;
    assert_eq!(paid["createPayment"]["order"]["status"], "PAID", "{paid}");
}

/// A buyer with an address.
async fn buyer(s: &TestServer, phone: &str) -> (Account, String) {
    let a = register(s, phone, "Secret123").await;
    let address = create_address(s, &a.token, phone).await;
    (a, address)
}

async fn stock(shop: &Shop) -> i64 {
    shop.s
        .data(Some(&shop.boss.token), STOCK, json!({ "id": shop.sku }))
        .await["node"]["stock"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_distributors_group_fills_moves_on_together_and_earns_them_the_commission() {
    let shop = shop().await;
    let s = &shop.s;
    let rules = shop
        .publish_rules(json!({ "rates": ["10"], "base": "SALES", "selfPurchase": false, "cycle": "MONTHLY", "payoutDay": 5 }))
        .await;
    assert_eq!(rules["userErrors"], json!([]), "{rules}");
    let c = campaign(&shop, 3, false).await;
    let d = shop.distributor("13800008101", None).await;
    let launched =
        s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"].clone();
    assert_eq!(launched["userErrors"], json!([]), "{launched}");
    assert_eq!(launched["group"]["placesLeft"], 3);
    assert_eq!(launched["group"]["launchedByDistributor"], true);
    let group = launched["group"]["id"].clone();
    // A consumer may not launch in a distributors' campaign.
    let refused = s
        .data(Some(&shop.buyer.token), LAUNCH, json!({ "id": c }))
        .await;
    assert_eq!(
        user_error_codes(&refused["launchGroupBuy"]),
        ["MAY_NOT_LAUNCH"]
    );

    let mut orders = Vec::new();
    let mut buyers = Vec::new();
    for i in 0..3 {
        let (b, address) = buyer(s, &format!("1380000820{i}")).await;
        let placed = join(
            s,
            &b.token,
            &address,
            &shop.sku,
            json!({ "groupId": group }),
            &format!("g{i}"),
        )
        .await;
        assert_eq!(placed["userErrors"], json!([]), "{placed}");
        let o = &placed["order"];
        assert_eq!(o["source"], "GROUP_BUY");
        assert_eq!(o["heldFor"], "GROUP_BUY");
        assert_eq!(o["payAmount"], "79.00", "{o}");
        assert_eq!(o["promotionDiscount"], "21.00");
        let seen = s
            .data(Some(&shop.boss.token), ORDER, json!({ "id": o["id"] }))
            .await;
        assert_eq!(
            seen["order"]["distributor"]["id"],
            json!(d.id),
            "credited to the launcher"
        );
        orders.push(o["id"].clone());
        buyers.push(b);
    }
    // Full now: a fourth buyer is refused and offered nothing (no other open group).
    let (late, late_address) = buyer(s, "13800008209").await;
    let full = join(
        s,
        &late.token,
        &late_address,
        &shop.sku,
        json!({ "groupId": group }),
        "late",
    )
    .await;
    assert_eq!(user_error_codes(&full), ["GROUP_BUY_FULL"], "{full}");

    for i in 0..2 {
        pay(s, &buyers[i].token, &orders[i]).await;
    }
    let g = s.data(None, GROUP, json!({ "id": group })).await["groupBuy"].clone();
    assert_eq!(
        (g["status"].as_str(), g["paidMembers"].as_i64()),
        (Some("OPEN"), Some(2))
    );
    assert_eq!(
        g["members"][0]["name"].as_str().unwrap().chars().nth(1),
        Some('*'),
        "masked"
    );
    // A paid order of a filling group waits.
    let held = s
        .data(Some(&shop.boss.token), APPROVE, json!({ "id": orders[0] }))
        .await;
    assert_eq!(user_error_codes(&held["approveOrder"]), ["ORDER_ON_HOLD"]);

    pay(s, &buyers[2].token, &orders[2]).await;
    let g = s.data(None, GROUP, json!({ "id": group })).await["groupBuy"].clone();
    assert_eq!(g["status"], "SUCCEEDED", "{g}");
    for o in &orders {
        let order = s
            .data(Some(&shop.boss.token), ORDER, json!({ "id": o }))
            .await["order"]
            .clone();
        assert_eq!(order["heldFor"], Value::Null, "{order}");
        let a = s
            .data(Some(&shop.boss.token), APPROVE, json!({ "id": o }))
            .await;
        assert_eq!(a["approveOrder"]["order"]["status"], "APPROVED", "{a}");
    }
    // 10 % of each ¥79.00 paid goes to the distributor who launched the group.
    let earned: Vec<String> = shop
        .commissions(&d)
        .await
        .iter()
        .map(|c| c["amount"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(earned, ["7.90", "7.90", "7.90"]);
    // The deadline job leaves a succeeded group alone.
    distmall::group_buying::service::close_due(s.app(), Utc::now() + Duration::days(2))
        .await
        .unwrap();
    distmall::group_buying::service::refund_failed(s.app())
        .await
        .unwrap();
    let g = s.data(None, GROUP, json!({ "id": group })).await["groupBuy"].clone();
    assert_eq!(g["status"], "SUCCEEDED");

    // The distributor's performance and the ranking count the group and its sales.
    let perf = s
        .data(
            Some(&d.a.token),
            "{ distributorPerformance(period: MONTH) { orders groupsLaunched groupsSucceeded groupSales } }",
            json!({}),
        )
        .await;
    assert_eq!(
        perf["distributorPerformance"],
        json!({ "orders": 3, "groupsLaunched": 1, "groupsSucceeded": 1, "groupSales": "237.00" })
    );
    let ranked = s
        .data(
            Some(&shop.boss.token),
            "{ distributorRanking(period: MONTH, by: GROUPS_SUCCEEDED) { rank distributor { id } performance { groupsSucceeded } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        ranked["distributorRanking"],
        json!([{ "rank": 1, "distributor": { "id": d.id }, "performance": { "groupsSucceeded": 1 } }])
    );
    // And the month's report keeps them.
    let due = crate::distribution::first_of_next_month();
    distmall::distribution::performance::generate_monthly(s.app(), due)
        .await
        .unwrap();
    let reports = s
        .data(
            Some(&d.a.token),
            "{ myMonthlyReports { edges { node { groupsLaunched groupsSucceeded groupSales } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        reports["myMonthlyReports"]["edges"],
        json!([{ "node": { "groupsLaunched": 1, "groupsSucceeded": 1, "groupSales": "237.00" } }])
    );
}

#[tokio::test]
async fn a_group_short_at_its_deadline_fails_and_every_paid_member_is_refunded_once() {
    let shop = shop().await;
    let s = &shop.s;
    let c = campaign(&shop, 3, true).await;
    let before = stock(&shop).await;
    // The leader launches by buying; one joins and pays; one joins and never pays.
    let leader = join(
        s,
        &shop.buyer.token,
        &shop.address,
        &shop.sku,
        json!({ "campaignId": c }),
        "lead",
    )
    .await;
    assert_eq!(leader["userErrors"], json!([]), "{leader}");
    let group_of = s
        .data(
            Some(&shop.buyer.token),
            "query { myGroupBuys { id placesLeft } }",
            json!({}),
        )
        .await["myGroupBuys"][0]
        .clone();
    assert_eq!(group_of["placesLeft"], 2);
    let group = group_of["id"].clone();
    let (b2, a2) = buyer(s, "13800008302").await;
    let (b3, a3) = buyer(s, "13800008303").await;
    let second = join(
        s,
        &b2.token,
        &a2,
        &shop.sku,
        json!({ "groupId": group }),
        "j2",
    )
    .await;
    let third = join(
        s,
        &b3.token,
        &a3,
        &shop.sku,
        json!({ "groupId": group }),
        "j3",
    )
    .await;
    assert_eq!(third["userErrors"], json!([]), "{third}");
    // Joining one's own group twice is refused.
    let again = join(
        s,
        &b2.token,
        &a2,
        &shop.sku,
        json!({ "groupId": group }),
        "j2b",
    )
    .await;
    assert_eq!(
        user_error_codes(&again),
        ["GROUP_BUY_ALREADY_JOINED"],
        "{again}"
    );
    pay(s, &shop.buyer.token, &leader["order"]["id"]).await;
    pay(s, &b2.token, &second["order"]["id"]).await;
    assert_eq!(stock(&shop).await, before - 3);

    // The deadline passes (the job is run as if 25 hours from now), twice.
    let app = s.app();
    let later = Utc::now() + Duration::hours(25);
    assert_eq!(
        distmall::group_buying::service::close_due(app, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        distmall::group_buying::service::close_due(app, later)
            .await
            .unwrap(),
        0
    );
    let g = s.data(None, GROUP, json!({ "id": group })).await["groupBuy"].clone();
    assert_eq!(g["status"], "FAILED", "{g}");
    let unpaid = s
        .data(
            Some(&shop.boss.token),
            ORDER,
            json!({ "id": third["order"]["id"] }),
        )
        .await;
    assert_eq!(unpaid["order"]["status"], "CANCELLED", "{unpaid}");
    // A closed group takes nobody.
    let (b4, a4) = buyer(s, "13800008304").await;
    let closed = join(
        s,
        &b4.token,
        &a4,
        &shop.sku,
        json!({ "groupId": group }),
        "j4",
    )
    .await;
    assert_eq!(user_error_codes(&closed), ["GROUP_BUY_CLOSED"], "{closed}");

    for _ in 0..2 {
        distmall::group_buying::service::refund_failed(app)
            .await
            .unwrap();
    }
    for o in [&leader["order"]["id"], &second["order"]["id"]] {
        let order = s
            .data(Some(&shop.boss.token), ORDER, json!({ "id": o }))
            .await["order"]
            .clone();
        assert_eq!(order["status"], "REFUNDED", "{order}");
        assert_eq!(order["refundedAmount"], "79.00");
        assert_eq!(
            order["refunds"],
            json!([{ "status": "REFUNDED", "amount": "79.00" }]),
            "once"
        );
    }
    let g = s.data(None, GROUP, json!({ "id": group })).await["groupBuy"].clone();
    assert!(
        g["members"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "REFUNDED"),
        "{g}"
    );
    assert_eq!(stock(&shop).await, before, "every unit is back");
}

#[tokio::test]
async fn many_buyers_at_the_last_place_one_gets_it_and_the_rest_are_offered_the_closest_group() {
    let shop = shop().await;
    let s = &shop.s;
    let c = campaign(&shop, 2, true).await;
    let d = shop.distributor("13800008401", None).await;
    let launch = |_: ()| async {
        s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"]["group"]["id"]
            .clone()
    };
    let crowded = launch(()).await;
    let other = launch(()).await;
    // One place of the crowded group is taken already.
    let first = join(
        s,
        &shop.buyer.token,
        &shop.address,
        &shop.sku,
        json!({ "groupId": crowded }),
        "first",
    )
    .await;
    assert_eq!(first["userErrors"], json!([]), "{first}");

    let tokens = customers(s, 30, "1371").await;
    let mut addresses = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        addresses.push(create_address(s, t, &format!("1371{i:07}")).await);
    }
    let tries = futures::future::join_all(tokens.iter().zip(&addresses).enumerate().map(
        |(i, (t, a))| {
            let group = crowded.clone();
            let sku = shop.sku.clone();
            async move {
                join(
                    s,
                    t,
                    a,
                    &sku,
                    json!({ "groupId": group }),
                    &format!("rush{i}"),
                )
                .await
            }
        },
    ))
    .await;
    let won = tries
        .iter()
        .filter(|p| p["userErrors"] == json!([]))
        .count();
    assert_eq!(won, 1, "exactly one buyer takes the last place");
    for p in tries.iter().filter(|p| p["userErrors"] != json!([])) {
        assert_eq!(p["userErrors"][0]["code"], "GROUP_BUY_FULL", "{p}");
        assert_eq!(p["userErrors"][0]["suggestion"], other, "{p}");
    }
    let g = s.data(None, GROUP, json!({ "id": crowded })).await["groupBuy"].clone();
    assert_eq!(
        (
            g["placesLeft"].as_i64(),
            g["members"].as_array().unwrap().len()
        ),
        (Some(0), 2)
    );
    // Offered from now on: only the other group; a full group or one past its deadline never.
    const OPEN: &str = "query($c: ID!) { openGroupBuys(campaignId: $c) { id } }";
    let open = s.data(None, OPEN, json!({ "c": c })).await;
    assert_eq!(open["openGroupBuys"], json!([{ "id": other }]), "{open}");
    let other_id = distmall::graphql::ids::decode(
        "GroupBuy",
        &async_graphql::ID(other.as_str().unwrap().to_string()),
    )
    .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        s.app().db.conn(),
        &format!(
            "UPDATE group_buy_groups SET deadline = '{}' WHERE id = {other_id}",
            (Utc::now() - Duration::minutes(1)).format("%Y-%m-%d %H:%M:%S%:z")
        ),
    )
    .await
    .unwrap();
    let open = s.data(None, OPEN, json!({ "c": c })).await;
    assert_eq!(open["openGroupBuys"], json!([]), "{open}");
}

#[tokio::test]
async fn bad_campaigns_and_bad_joins_are_refused_and_change_nothing() {
    let shop = shop().await;
    let s = &shop.s;
    let base = json!({
        "name": "拼团", "productId": shop.product,
        "skus": [{ "skuId": shop.sku, "groupPrice": "79.00" }],
        "groupSize": 3, "timeLimitHours": 24,
        "startsAt": Utc::now(), "endsAt": Utc::now() + Duration::days(1),
    });
    let cases = [
        (json!({ "groupSize": 1 }), "INVALID_GROUP_SIZE"),
        (
            json!({ "skus": [{ "skuId": shop.sku, "groupPrice": "120.00" }] }),
            "INVALID_PRICE",
        ),
        (
            json!({ "endsAt": Utc::now() - Duration::hours(1) }),
            "INVALID_WINDOW",
        ),
        (
            json!({ "distributorsMayLaunch": false }),
            "INVALID_LAUNCHERS",
        ),
        (
            json!({ "productId": "UHJvZHVjdDo5OTk5OQ" }),
            "PRODUCT_NOT_FOUND",
        ),
    ];
    for (change, code) in cases {
        let mut input = base.clone();
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let d = s
            .data(Some(&shop.boss.token), CREATE, json!({ "input": input }))
            .await;
        assert_eq!(
            user_error_codes(&d["createGroupBuyCampaign"]),
            [code],
            "{d}"
        );
    }
    let all = s
        .data(
            Some(&shop.boss.token),
            "query { groupBuyCampaigns(all: true) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(all["groupBuyCampaigns"], json!([]), "nothing was created");
    // Only staff with MARKETING create campaigns.
    let denied = s
        .gql(Some(&shop.buyer.token), CREATE, json!({ "input": base }))
        .await;
    assert_eq!(error_code(&denied), "FORBIDDEN");

    // A group that does not exist, and a line that is not in the campaign.
    let c = campaign(&shop, 3, true).await;
    let nowhere = join(
        s,
        &shop.buyer.token,
        &shop.address,
        &shop.sku,
        json!({ "groupId": "R3JvdXBCdXk6OTk5OQ" }),
        "x1",
    )
    .await;
    assert_eq!(
        user_error_codes(&nowhere),
        ["GROUP_BUY_NOT_FOUND"],
        "{nowhere}"
    );
    let cat = crate::catalog::create_category(s, &shop.boss.token, "袜子", None).await;
    let p = crate::catalog::create_product(
        s,
        &shop.boss.token,
        json!({ "name": "袜子", "categoryId": cat, "skus": [{ "price": "10.00", "initialStock": 5 }] }),
    )
    .await;
    let published = s
        .data(
            Some(&shop.boss.token),
            crate::catalog::PUBLISH,
            json!({ "ids": [p["id"]] }),
        )
        .await;
    assert_eq!(
        published["publishProducts"]["userErrors"],
        json!([]),
        "{published}"
    );
    let stranger = join(
        s,
        &shop.buyer.token,
        &shop.address,
        &p["skus"][0]["id"],
        json!({ "campaignId": c }),
        "x2",
    )
    .await;
    assert_eq!(
        user_error_codes(&stranger),
        ["NOT_IN_GROUP_BUY"],
        "{stranger}"
    );
    let mine = s
        .data(
            Some(&shop.buyer.token),
            "query { myGroupBuys { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["myGroupBuys"],
        json!([]),
        "no group was opened by a refused order"
    );
}

#[tokio::test]
async fn the_share_page_sees_members_join_and_pay_live_and_resumes_what_it_missed() {
    let shop = shop().await;
    let s = &shop.s;
    let c = campaign(&shop, 2, false).await;
    let d = shop.distributor("13800008501", None).await;
    let group =
        s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"]["group"]["id"]
            .clone();
    const SUB: &str = "subscription($g: ID!, $after: String) { groupBuyChanged(groupId: $g, after: $after) { eventId kind status placesLeft paidMembers memberName } }";
    // The share page, signed in or not, opens with the group's whole history (`after: "0"`),
    // so a join that commits while the subscription is still being set up is replayed rather
    // than lost; the payment below, made after the join arrived, is delivered live.
    let mut page = WsClient::connect_and_init(&s.ws_url(), None).await;
    page.subscribe("g", SUB, json!({ "g": group, "after": "0" }))
        .await;

    let placed = join(
        s,
        &shop.buyer.token,
        &shop.address,
        &shop.sku,
        json!({ "groupId": group }),
        "live",
    )
    .await;
    assert_eq!(placed["userErrors"], json!([]), "{placed}");
    let launched = page.recv().await.expect("the launch, from the history");
    assert_eq!(
        launched["payload"]["data"]["groupBuyChanged"]["kind"], "LAUNCHED",
        "{launched}"
    );
    let joined = page.recv().await.expect("a join");
    let joined = &joined["payload"]["data"]["groupBuyChanged"];
    assert_eq!(
        (
            joined["kind"].as_str(),
            joined["placesLeft"].as_i64(),
            joined["status"].as_str()
        ),
        (Some("JOINED"), Some(1), Some("OPEN")),
        "{joined}"
    );
    let name = joined["memberName"].as_str().unwrap();
    assert!(
        name.ends_with('*') && !name.contains("8001"),
        "masked: {name}"
    );

    pay(s, &shop.buyer.token, &placed["order"]["id"]).await;
    let paid = page.recv().await.expect("a payment");
    assert_eq!(
        paid["payload"]["data"]["groupBuyChanged"]["kind"], "PAID",
        "{paid}"
    );

    // A page that reconnects after the join first receives the payment it missed.
    let mut again = WsClient::connect_and_init(&s.ws_url(), None).await;
    again
        .subscribe("g", SUB, json!({ "g": group, "after": joined["eventId"] }))
        .await;
    let missed = again.recv().await.expect("the missed payment");
    assert_eq!(
        missed["payload"]["data"]["groupBuyChanged"]["kind"], "PAID",
        "{missed}"
    );
    assert_eq!(
        missed["payload"]["data"]["groupBuyChanged"]["paidMembers"],
        1
    );
}

#[tokio::test]
async fn killed_at_the_deadline_every_failed_group_is_refunded_once_after_a_restart() {
    // Set-up on an instance whose deadline job does not run.
    let shop = shop_with(|c| {
        c.group_buy_job_interval_ms = 3_600_000;
        c.job_lease_secs = 3;
    })
    .await;
    let s = &shop.s;
    let c = campaign(&shop, 3, false).await;
    let d = shop.distributor("13800008601", None).await;
    // Thirty groups end with one paid member (they fail), four fill (they succeeded already).
    let sizes: Vec<usize> = [1; 30].into_iter().chain([3; 4]).collect();
    let buyers = customers(s, sizes.iter().sum::<usize>(), "1372").await;
    let mut buyers = buyers.iter().enumerate();
    let (mut failing, mut filled) = (Vec::new(), Vec::new());
    for (g, members) in sizes.iter().enumerate() {
        let group = s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"]
            ["group"]["id"]
            .clone();
        for _ in 0..*members {
            let (i, token) = buyers.next().unwrap();
            let address = create_address(s, token, &format!("1372{i:07}")).await;
            let placed = join(
                s,
                token,
                &address,
                &shop.sku,
                json!({ "groupId": group }),
                &format!("k{g}-{i}"),
            )
            .await;
            assert_eq!(placed["userErrors"], json!([]), "{placed}");
            pay(s, token, &placed["order"]["id"]).await;
            let order = placed["order"]["id"].clone();
            if *members == 1 {
                failing.push(order)
            } else {
                filled.push(order)
            }
        }
    }
    // The open groups' deadline passes.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    entity::group_buy_group::Entity::update_many()
        .col_expr(
            entity::group_buy_group::Column::Deadline,
            Expr::value(Utc::now() - Duration::minutes(1)),
        )
        .filter(entity::group_buy_group::Column::Status.eq("OPEN"))
        .exec(s.app().db.conn())
        .await
        .unwrap();
    let db = s.db.clone();
    let boss = shop.boss.token.clone();
    drop(shop);

    // A process takes the deadlines on and is killed as soon as it has closed a group: the
    // others are still open past their deadline, and no refund has gone out or a few have.
    let process = ServerProcess::start(
        &db,
        &[
            ("DISTMALL_JOB_LEASE_SECS", "3"),
            ("DISTMALL_GROUP_BUY_JOB_INTERVAL_MS", "20"),
        ],
    )
    .await;
    let watch = sea_orm::Database::connect(db.url()).await.unwrap();
    let started = std::time::Instant::now();
    loop {
        let closed = sea_orm::PaginatorTrait::count(
            entity::group_buy_group::Entity::find()
                .filter(entity::group_buy_group::Column::Status.eq("FAILED")),
            &watch,
        )
        .await
        .unwrap();
        if closed > 0 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no group closed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    process.kill().await;

    // Restarted, the job carries on; every failed member is refunded exactly once.
    let again = TestServer::start_on(db, |c| {
        c.job_lease_secs = 3;
        c.group_buy_job_interval_ms = 50;
    })
    .await;
    let started = std::time::Instant::now();
    for o in &failing {
        loop {
            let order = again.data(Some(&boss), ORDER, json!({ "id": o })).await["order"].clone();
            if order["status"] == "REFUNDED" {
                assert_eq!(
                    order["refunds"],
                    json!([{ "status": "REFUNDED", "amount": "79.00" }]),
                    "once: {order}"
                );
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "not refunded: {order}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
    for o in &filled {
        let order = again.data(Some(&boss), ORDER, json!({ "id": o })).await["order"].clone();
        assert_eq!(
            (order["status"].as_str(), order["refunds"].clone()),
            (Some("PAID"), json!([])),
            "a succeeded group is never refunded: {order}"
        );
    }
    let refunds = sea_orm::PaginatorTrait::count(entity::refund::Entity::find(), &watch)
        .await
        .unwrap();
    assert_eq!(refunds, failing.len() as u64);
}

#[tokio::test]
async fn buyers_joining_and_paying_at_once_all_get_through() {
    // Placing a group order takes the group's place, then the SKU's row; paying one takes the
    // group's row, then counts the SKU's sales on its row. Were the two orders opposite, a
    // payment and a placement in the same group would wait for each other (on PostgreSQL a
    // deadlock: one of them fails).
    let shop = shop().await;
    let s = &shop.s;
    let c = campaign(&shop, 3, false).await;
    let d = shop.distributor("13800008701", None).await;
    let mut groups = Vec::new();
    for _ in 0..10 {
        groups.push(
            s.data(Some(&d.a.token), LAUNCH, json!({ "id": c })).await["launchGroupBuy"]["group"]
                ["id"]
                .clone(),
        );
    }
    let tokens = customers(s, 30, "1373").await;
    let mut addresses = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        addresses.push(create_address(s, t, &format!("1373{i:07}")).await);
    }
    // Rows waited for in opposite orders hang until the pool gives up: bounded here.
    let all = futures::future::join_all(tokens.iter().zip(&addresses).enumerate().map(
        |(i, (t, a))| {
            let group = groups[i % groups.len()].clone();
            let sku = shop.sku.clone();
            async move {
                let placed =
                    join(s, t, a, &sku, json!({ "groupId": group }), &format!("r{i}")).await;
                let order = placed["order"]["id"].clone();
                if order.is_null() {
                    return format!("refused: {placed}");
                }
                let paid = s
                    .gql(Some(t), PAY, json!({ "id": order, "p": "DEV" }))
                    .await;
                paid["data"]["createPayment"]["order"]["status"]
                    .as_str()
                    .map_or_else(|| format!("failed: {paid}"), str::to_string)
            }
        },
    ));
    let outcomes = tokio::time::timeout(std::time::Duration::from_secs(60), all)
        .await
        .expect("placements and payments did not wait for each other for a minute");
    assert!(outcomes.iter().all(|o| o == "PAID"), "{outcomes:#?}");
    for g in &groups {
        let group = s.data(None, GROUP, json!({ "id": g })).await["groupBuy"].clone();
        assert_eq!(group["status"], "SUCCEEDED", "{group}");
    }
}
