//! Group-buying and sharing benchmark (issue 20) for `bench/group_buying.sh`. The database is
//! `DATABASE_URL`; the server runs in this process (so its figures include the load generator).
//!
//! - `bench_group_buying joins BUYERS GROUPS SIZE CONNECTIONS`: GROUPS groups of SIZE are
//!   launched; BUYERS buyers, CONNECTIONS at a time, each pick a random group and join it
//!   (placeOrder) and pay; a buyer refused because the group filled follows the `suggestion`
//!   (the open group closest to success). Then the database must show every group succeeded
//!   with exactly SIZE paid members, one paid order per buyer, and the stock down by BUYERS.
//! - `bench_group_buying posters N`: N distinct posters through `sharing::service::poster_url`
//!   (first render, stored in the media store), then each again (served from the store): the
//!   latencies, and the RSS before and after.
//! - `bench_group_buying subscribers N`: N WebSocket subscriptions to one group's
//!   `groupBuyChanged`; then one buyer joins, and the time until the last subscriber has the
//!   join is measured.
use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use distmall::{
    Config,
    app::{AppState, Server},
    orders::addresses::{self, AddressDraft},
    sharing::{copy::CopyFacts, service as sharing},
};
use entity::{group_buy_group, order, user};
use futures::{SinkExt, StreamExt};
use rand::Rng;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    match args.get(1).map(String::as_str) {
        Some("joins") => joins(n(2, 1_000), n(3, 200), n(4, 5), n(5, 200)).await,
        Some("posters") => posters(n(2, 1_000)).await,
        Some("subscribers") => subscribers(n(2, 5_000)).await,
        _ => bail!(
            "usage: bench_group_buying joins BUYERS GROUPS SIZE CONNECTIONS | posters N | subscribers N"
        ),
    }
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{name}: n={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        times.len(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

/// A GraphQL client of the in-process server.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    url: String,
}

impl Client {
    async fn gql(&self, token: &str, query: &str, variables: Value) -> anyhow::Result<Value> {
        let resp: Value = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await?
            .json()
            .await?;
        if let Some(e) = resp.get("errors") {
            bail!("{query}: {e}");
        }
        Ok(resp["data"].clone())
    }
}

/// Users written directly, with an access token each (the owner first when `owner`).
async fn users(
    app: &AppState,
    n: usize,
    prefix: &str,
    owner: bool,
) -> anyhow::Result<Vec<(i64, String)>> {
    let now = Utc::now();
    let mut out = Vec::with_capacity(n);
    let tx = app.db.begin_write().await?;
    for i in 0..n {
        let u = sea_orm::ActiveModelTrait::insert(
            user::ActiveModel {
                phone: Set(Some(format!("{prefix}{i:08}"))),
                password_hash: Set(None),
                wechat_openid: Set(None),
                wechat_unionid: Set(None),
                nickname: Set(format!("买家{i}")),
                avatar_url: Set(None),
                gender: Set("UNKNOWN".into()),
                birthday: Set(None),
                is_staff: Set(owner),
                is_owner: Set(owner),
                is_distributor: Set(false),
                disabled: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                revision: Set(0),
                ..Default::default()
            },
            &*tx,
        )
        .await?;
        out.push(u.id);
    }
    tx.commit().await?;
    out.into_iter()
        .map(|id| Ok((id, app.jwt.issue(id)?.token)))
        .collect()
}

async fn address(app: &AppState, user_id: i64) -> anyhow::Result<String> {
    let a = addresses::create(
        app,
        user_id,
        &AddressDraft {
            recipient: "张三".into(),
            phone: "13700001111".into(),
            province: "浙江省".into(),
            city: "杭州市".into(),
            district: "西湖区".into(),
            detail: "文三路 1 号".into(),
            postal_code: None,
            is_default: true,
        },
    )
    .await
    .map_err(|e| anyhow!("address: {e:?}"))?;
    Ok(distmall::graphql::ids::encode("Address", a.id).to_string())
}

/// A product on sale with one SKU (¥100.00) of `stock` units; returns (product, SKU) ids.
async fn product(c: &Client, owner: &str, stock: usize) -> anyhow::Result<(String, String)> {
    let category = c
        .gql(
            owner,
            "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { category { id } userErrors { code message } } }",
            json!({ "input": { "name": "运动鞋" } }),
        )
        .await?["createCategory"]["category"]["id"]
        .clone();
    let created = c
        .gql(
            owner,
            "mutation($input: CreateProductInput!) { createProduct(input: $input) { product { id skus { id } } userErrors { code message } } }",
            json!({ "input": { "name": "拼团跑鞋", "categoryId": category, "skus": [{ "price": "100.00", "costPrice": "60.00", "initialStock": stock }] } }),
        )
        .await?;
    let p = &created["createProduct"]["product"];
    let (id, sku) = (
        p["id"].as_str().context("product")?.to_string(),
        p["skus"][0]["id"].as_str().context("sku")?.to_string(),
    );
    let published = c
        .gql(
            owner,
            "mutation($ids: [ID!]!) { publishProducts(input: { ids: $ids }) { products { status } userErrors { code message } } }",
            json!({ "ids": [id] }),
        )
        .await?;
    if published["publishProducts"]["products"][0]["status"] != "ON_SALE" {
        bail!("publish: {published} {created}");
    }
    Ok((id, sku))
}

async fn campaign(
    c: &Client,
    owner: &str,
    product: &str,
    sku: &str,
    size: usize,
) -> anyhow::Result<String> {
    let created = c
        .gql(
            owner,
            "mutation($input: GroupBuyCampaignInput!) { createGroupBuyCampaign(input: $input) { campaign { id } userErrors { code message } } }",
            json!({ "input": {
                "name": "拼团", "productId": product, "skus": [{ "skuId": sku, "groupPrice": "79.00" }],
                "groupSize": size, "timeLimitHours": 24,
                "startsAt": Utc::now() - chrono::Duration::minutes(1),
                "endsAt": Utc::now() + chrono::Duration::days(7),
                "perUserLimit": 1, "distributorsMayLaunch": true, "consumersMayLaunch": true,
            } }),
        )
        .await?;
    created["createGroupBuyCampaign"]["campaign"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("campaign: {created}"))
}

async fn launch(c: &Client, leader: &str, campaign: &str) -> anyhow::Result<String> {
    let d = c
        .gql(
            leader,
            "mutation($id: ID!) { launchGroupBuy(campaignId: $id) { group { id } userErrors { code message } } }",
            json!({ "id": campaign }),
        )
        .await?;
    d["launchGroupBuy"]["group"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("launch: {d}"))
}

const JOIN: &str = "mutation($input: PlaceOrderInput!) { placeOrder(input: $input) { order { id } userErrors { code message suggestion } } }";
const PAY: &str = "mutation($id: ID!) { createPayment(orderId: $id, provider: DEV) { order { status } userErrors { code message } } }";

struct Started {
    server: Server,
    client: Client,
}

async fn start() -> anyhow::Result<Started> {
    let config = Config::load()?;
    // The server's warnings and errors, as `distmall serve` would log them.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&config.log_filter))
        .try_init();
    let server = Server::start(config).await?;
    let client = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(1_000)
            .build()?,
        url: format!("http://{}/graphql", server.addr),
    };
    Ok(Started { server, client })
}

async fn joins(
    buyers: usize,
    groups: usize,
    size: usize,
    connections: usize,
) -> anyhow::Result<()> {
    let Started { server, client } = start().await?;
    let app = server.app.clone();
    let owner = users(&app, 1, "139", true).await?.remove(0).1;
    let (product, sku) = product(&client, &owner, buyers * 2).await?;
    let campaign = campaign(&client, &owner, &product, &sku, size).await?;
    let leaders = users(&app, groups, "138", false).await?;
    let mut group_ids = Vec::with_capacity(groups);
    for (_, token) in &leaders {
        group_ids.push(launch(&client, token, &campaign).await?);
    }
    let people = users(&app, buyers, "137", false).await?;
    let mut with_addresses = Vec::with_capacity(buyers);
    for (id, token) in people {
        with_addresses.push((token, address(&app, id).await?));
    }
    println!("set-up: {groups} groups of {size}, {buyers} buyers, {connections} at a time");

    let group_ids = Arc::new(group_ids);
    let gate = Arc::new(tokio::sync::Semaphore::new(connections));
    let retries = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, (token, address)) in with_addresses.into_iter().enumerate() {
        let (client, sku, groups, gate, retries) = (
            client.clone(),
            sku.clone(),
            group_ids.clone(),
            gate.clone(),
            retries.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _slot = gate.acquire().await?;
            let mut group = groups[rand::thread_rng().gen_range(0..groups.len())].clone();
            let t = Instant::now();
            for attempt in 0.. {
                let placed = client
                    .gql(
                        &token,
                        JOIN,
                        json!({ "input": { "idempotencyKey": format!("bench-{i}-{attempt}"), "checkout": {
                            "addressId": address, "lines": [{ "skuId": sku, "quantity": 1 }],
                            "groupBuy": { "groupId": group },
                        } } }),
                    )
                    .await?;
                let p = &placed["placeOrder"];
                if let Some(order) = p["order"]["id"].as_str() {
                    let placed_in = t.elapsed();
                    let paid = client.gql(&token, PAY, json!({ "id": order })).await?;
                    if paid["createPayment"]["order"]["status"] != "PAID" {
                        bail!("payment: {paid}");
                    }
                    return Ok::<_, anyhow::Error>(Some(placed_in));
                }
                match p["userErrors"][0]["suggestion"].as_str() {
                    Some(next) => {
                        retries.fetch_add(1, Ordering::Relaxed);
                        group = next.to_string();
                    }
                    None => {
                        eprintln!("refused: {}", p["userErrors"]);
                        return Ok(None);
                    }
                }
            }
            Ok(None)
        }));
    }
    let mut times = Vec::new();
    let mut unplaced = 0;
    for t in tasks {
        match t.await?? {
            Some(d) => times.push(d),
            None => unplaced += 1,
        }
    }
    let elapsed = started.elapsed();
    println!(
        "joins: {} placed and paid in {:.2} s ({:.0}/s), {} refused with no group left, {} follow-ups of a suggestion",
        times.len(),
        elapsed.as_secs_f64(),
        times.len() as f64 / elapsed.as_secs_f64(),
        unplaced,
        retries.load(Ordering::Relaxed)
    );
    report("placement (with follow-ups)", times);

    let conn = app.db.conn();
    let succeeded = group_buy_group::Entity::find()
        .filter(group_buy_group::Column::Status.eq("SUCCEEDED"))
        .all(conn)
        .await?;
    let exact = succeeded
        .iter()
        .filter(|g| g.paid == size as i32 && g.taken == size as i32)
        .count();
    let paid_orders = order::Entity::find()
        .filter(order::Column::PaymentStatus.eq("PAID"))
        .count(conn)
        .await?;
    println!(
        "verify: {} of {groups} groups succeeded, {exact} with exactly {size} paid; {paid_orders} paid orders for {buyers} buyers",
        succeeded.len()
    );
    if succeeded.len() != groups || exact != groups || paid_orders != buyers as u64 {
        bail!("the groups do not add up");
    }
    server.shutdown();
    Ok(())
}

async fn posters(n: usize) -> anyhow::Result<()> {
    let Started { server, .. } = start().await?;
    let app = server.app.clone();
    // A product picture as a mini-program would upload it: a 750×750 JPEG.
    let picture = image::RgbImage::from_fn(750, 750, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut jpeg = Vec::new();
    picture.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )?;
    app.media
        .put("bench/product.jpg", &jpeg, "image/jpeg")
        .await?;
    let share = |i: usize| entity::share::Model {
        id: i as i64,
        code: format!("BENCH{i:05}"),
        sharer_user_id: 1,
        target: "PRODUCT".into(),
        target_id: 1,
        channel: "MOMENTS".into(),
        visits: 0,
        bindings: 0,
        orders: 0,
        sales_fen: 0,
        created_at: Utc::now(),
    };
    let facts = |i: usize| sharing::ShareFacts {
        copy: CopyFacts {
            name: Some(format!("云南小粒咖啡豆 中度烘焙 500 克 第{i}款")),
            selling_point: Some("坚果香，回甘明显".into()),
            price: Some(sharing::yuan_text(9_900 + i as i64)),
            market_price: Some("¥129.00".into()),
            group_price: Some("¥79.00".into()),
            sharer: Some(format!("分享人{i}")),
            ..Default::default()
        },
        image_key: Some("bench/product.jpg".into()),
        avatar_key: None,
        badge: Some("3人团 · 还差1人".into()),
    };
    let link = |i: usize| format!("https://shop.example.com/share/BENCH{i:05}?ref=ABCD2345");
    // One first, so the font and the code paths are warm.
    sharing::poster_url(&app, &share(n), &facts(n), &link(n))
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let before = rss_kb();
    let mut first = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        sharing::poster_url(&app, &share(i), &facts(i), &link(i))
            .await
            .map_err(|e| anyhow!("{e:?}"))?;
        first.push(t.elapsed());
    }
    let after = rss_kb();
    let mut cached = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        sharing::poster_url(&app, &share(i), &facts(i), &link(i))
            .await
            .map_err(|e| anyhow!("{e:?}"))?;
        cached.push(t.elapsed());
    }
    report("poster, first render (drawn and stored)", first);
    report("poster, again (from the store)", cached);
    println!(
        "RSS: {:.1} MB before, {:.1} MB after {n} distinct posters (+{:.1} MB)",
        before as f64 / 1024.0,
        after as f64 / 1024.0,
        (after as f64 - before as f64) / 1024.0
    );
    server.shutdown();
    Ok(())
}

async fn subscribers(n: usize) -> anyhow::Result<()> {
    let Started { server, client } = start().await?;
    let app = server.app.clone();
    let owner = users(&app, 1, "139", true).await?.remove(0).1;
    let (product, sku) = product(&client, &owner, 10).await?;
    let campaign = campaign(&client, &owner, &product, &sku, 2).await?;
    let leader = users(&app, 1, "138", false).await?.remove(0).1;
    let group = launch(&client, &leader, &campaign).await?;
    let (buyer_id, buyer) = users(&app, 1, "137", false).await?.remove(0);
    let buyer_address = address(&app, buyer_id).await?;

    let ws_url = format!("ws://{}/graphql", server.addr);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let (got_tx, mut got_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let before = rss_kb();
    for _ in 0..n {
        let (url, group, ready, got) = (
            ws_url.clone(),
            group.clone(),
            ready_tx.clone(),
            got_tx.clone(),
        );
        tokio::spawn(async move {
            let mut req = url.into_client_request().expect("ws url");
            req.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static("graphql-transport-ws"),
            );
            let (mut ws, _) = connect_async(req).await.expect("connects");
            let send = |v: Value| Message::Text(v.to_string().into());
            ws.send(send(json!({ "type": "connection_init", "payload": {} })))
                .await
                .unwrap();
            ws.next().await; // connection_ack
            ws.send(send(json!({ "id": "g", "type": "subscribe", "payload": {
                "query": "subscription($g: ID!) { groupBuyChanged(groupId: $g) { kind placesLeft } }",
                "variables": { "g": group },
            } })))
            .await
            .unwrap();
            let _ = ready.send(());
            while let Some(Ok(msg)) = ws.next().await {
                if let Message::Text(t) = msg
                    && t.as_str().contains("JOINED")
                {
                    let _ = got.send(Instant::now());
                    break;
                }
            }
        });
    }
    for _ in 0..n {
        ready_rx.recv().await.context("a subscriber failed")?;
    }
    // Every subscription reaches the server's event bus before the join.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let connected = rss_kb();
    let joined_at = Instant::now();
    let placed = client
        .gql(
            &buyer,
            JOIN,
            json!({ "input": { "idempotencyKey": "bench-sub", "checkout": {
                "addressId": buyer_address, "lines": [{ "skuId": sku, "quantity": 1 }],
                "groupBuy": { "groupId": group },
            } } }),
        )
        .await?;
    let committed = joined_at.elapsed();
    if placed["placeOrder"]["order"]["id"].is_null() {
        bail!("join: {placed}");
    }
    let mut last = joined_at;
    for _ in 0..n {
        let at = tokio::time::timeout(Duration::from_secs(30), got_rx.recv())
            .await
            .context("every subscriber receives the join within 30 s")?
            .context("a subscriber ended")?;
        last = last.max(at);
    }
    println!(
        "subscribers: {n}; RSS {:.1} MB before, {:.1} MB connected ({:.1} KB each, client and server in one process)",
        before as f64 / 1024.0,
        connected as f64 / 1024.0,
        (connected as f64 - before as f64) / n as f64
    );
    println!(
        "join committed after {:.1} ms; the last of {n} subscribers had it {:.1} ms after the join was sent",
        committed.as_secs_f64() * 1e3,
        (last - joined_at).as_secs_f64() * 1e3
    );
    server.shutdown();
    Ok(())
}
