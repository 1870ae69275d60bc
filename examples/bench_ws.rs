//! WebSocket fan-out benchmark for `bench/orders.sh`: opens N graphql-transport-ws connections
//! as order staff, each subscribed to `orderCreated`, measures the server's memory per idle
//! subscription, then places one order and measures how long until the last subscriber has
//! the event.
//!
//! `bench_ws GRAPHQL_URL DATA.json N SERVER_PID`
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

fn rss_kb(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Connects, initialises and subscribes; then reports when the first event arrives.
async fn subscriber(
    url: String,
    token: Arc<String>,
    arrived: mpsc::UnboundedSender<(Instant, String)>,
) {
    let mut req = url.into_client_request().expect("ws url");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut ws, _) = connect_async(req).await.expect("connects");
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    ws.send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    let _ack = ws.next().await;
    let sub = json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { orderCreated { orderNo toStatus } }" } });
    ws.send(Message::Text(sub.to_string().into()))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(t) = msg
                && t.contains("\"next\"")
            {
                let _ = arrived.send((Instant::now(), t.to_string()));
            }
        }
    });
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, data, n, pid] = args.as_slice() else {
        anyhow::bail!("usage: bench_ws GRAPHQL_URL DATA.json N SERVER_PID");
    };
    let n: usize = n.parse()?;
    let data: Value = serde_json::from_str(&std::fs::read_to_string(data)?)?;
    let staff = Arc::new(data["staff"].as_str().unwrap_or_default().to_string());
    let ws_url = url.replacen("http", "ws", 1);

    let before = rss_kb(pid);
    let (tx, mut rx) = mpsc::unbounded_channel();
    stream::iter(0..n)
        .for_each_concurrent(64, |_| {
            subscriber(ws_url.clone(), staff.clone(), tx.clone())
        })
        .await;
    // Subscriptions are registered asynchronously after `subscribe`; let them settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_kb(pid);
    println!(
        "subscribers={n} rss_before_kb={before} rss_after_kb={after} per_subscription_kb={:.1}",
        (after.saturating_sub(before)) as f64 / n as f64
    );

    let buyer = &data["buyers"][0];
    let body = json!({
        "query": "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { orderNo } userErrors { code } } }",
        "variables": { "i": { "idempotencyKey": format!("ws-{}", uuid::Uuid::new_v4()), "checkout": { "addressId": buyer[1], "lines": [{ "skuId": data["skus"][0], "quantity": 1 }] } } }
    });
    let started = Instant::now();
    let resp: Value = reqwest::Client::new()
        .post(url)
        .bearer_auth(buyer[0].as_str().unwrap_or_default())
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let order_no = resp["data"]["placeOrder"]["order"]["orderNo"]
        .as_str()
        .map(str::to_string);
    let Some(order_no) = order_no else {
        anyhow::bail!("order refused: {resp}");
    };
    // Only this order's event counts: earlier orders' events may still be on their way.
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
            Ok(Some((at, text))) if text.contains(&order_no) => {
                latencies.push(at.duration_since(started))
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "received={} of {n} p50_ms={:.1} last_ms={:.1}",
        latencies.len(),
        latencies.get(latencies.len() / 2).map_or(0.0, |d| ms(*d)),
        latencies.last().map_or(0.0, |d| ms(*d)),
    );
    Ok(())
}
