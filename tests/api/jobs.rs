//! Scheduled jobs across instances on one database: a job runs where its lease is held, a
//! graceful stop hands every job over at once, and a killed holder blocks its jobs no longer
//! than its lease.
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::EntityTrait;
use serde_json::json;

use crate::{
    catalog::published_product,
    orders::{create_address, place},
    support::*,
};

const PAYMENT_TIMEOUT: &str = "orders.payment_timeout";

async fn lease(s: &TestServer, job: &str) -> Option<entity::job_lease::Model> {
    entity::job_lease::Entity::find_by_id(job)
        .one(s.app().db.conn())
        .await
        .unwrap()
}

/// Waits until `holder` holds `job`'s lease, at most `limit`; returns how long that took.
async fn held_by(s: &TestServer, job: &str, holder: &str, limit: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let now = lease(s, job).await;
        if now
            .as_ref()
            .is_some_and(|l| l.holder == holder && l.expires_at > Utc::now())
        {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "{holder} did not take {job} within {limit:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An unpaid order placed on `s` now; returns the buyer's token and the order id.
async fn unpaid_order(s: &TestServer) -> (String, serde_json::Value) {
    let boss = owner(s).await;
    let product = published_product(s, &boss.token, "保温杯", "99.50", 10).await;
    let buyer = register(s, "13800000064", "Secret123").await;
    let address = create_address(s, &buyer.token, "13800000064").await;
    let placed = place(
        s,
        &buyer.token,
        &address,
        json!([{ "skuId": product["skus"][0]["id"], "quantity": 1 }]),
        "k",
    )
    .await;
    (buyer.token, placed["order"]["id"].clone())
}

#[tokio::test]
async fn a_graceful_stop_hands_the_jobs_over_at_once() {
    // A lease far longer than the test: only a lease given back lets the other instance run
    // the job in time.
    let settings = |c: &mut distmall::Config| {
        c.job_lease_secs = 60;
        c.order_timer_interval_secs = 1;
        c.order_payment_timeout_secs = 1;
    };
    let mut a = TestServer::start_with(settings).await;
    let a_id = a.app().instance_id.clone();
    held_by(&a, PAYMENT_TIMEOUT, &a_id, Duration::from_secs(30)).await;
    let b = TestServer::start_on(a.db.clone(), settings).await;
    assert_eq!(
        lease(&b, PAYMENT_TIMEOUT).await.unwrap().holder,
        a_id,
        "the first instance keeps its jobs while it runs"
    );

    let stopping = a.server.take().unwrap();
    stopping.shutdown();
    stopping.wait().await.unwrap();
    let leases = entity::job_lease::Entity::find()
        .all(b.app().db.conn())
        .await
        .unwrap();
    assert!(leases.len() >= 5, "{leases:?}");
    for l in &leases {
        assert!(
            l.holder != a_id || l.expires_at < Utc::now(),
            "a stopped instance still holds {l:?}"
        );
    }

    // The other instance now runs the payment timeout: an order left unpaid is cancelled
    // within seconds, not after the 60 s the lease would have lasted.
    let (token, order) = unpaid_order(&b).await;
    let start = Instant::now();
    loop {
        let d = b
            .data(
                Some(&token),
                "query($id: ID!) { order(id: $id) { status } }",
                json!({ "id": order }),
            )
            .await;
        if d["order"]["status"] == "CANCELLED" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the unpaid order is still {}",
            d["order"]["status"]
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        lease(&b, PAYMENT_TIMEOUT).await.unwrap().holder,
        b.app().instance_id
    );
}

#[tokio::test]
async fn a_killed_holder_blocks_its_jobs_no_longer_than_its_lease() {
    // The order timers run once a minute, the lease lasts 3 s: the holder keeps it by renewing
    // it, not by running the job.
    let db = std::sync::Arc::new(TestDb::new().await);
    let holder = ServerProcess::start(
        &db,
        &[
            ("DISTMALL_JOB_LEASE_SECS", "3"),
            ("DISTMALL_ORDER_TIMER_INTERVAL_SECS", "60"),
        ],
    )
    .await;
    let other = TestServer::start_on(db, |c| {
        c.job_lease_secs = 3;
        c.order_timer_interval_secs = 60;
    })
    .await;
    let start = Instant::now();
    let holder_id = loop {
        match lease(&other, PAYMENT_TIMEOUT).await {
            Some(l) if !l.holder.is_empty() => break l.holder,
            now => assert!(start.elapsed() < Duration::from_secs(30), "{now:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_ne!(holder_id, other.app().instance_id, "the process came first");

    // Alive, the holder keeps its lease well past the 3 s it lasts.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let kept = lease(&other, PAYMENT_TIMEOUT).await.unwrap();
    assert_eq!(kept.holder, holder_id);
    assert!(kept.expires_at > Utc::now());

    holder.kill().await;
    let blocked = held_by(
        &other,
        PAYMENT_TIMEOUT,
        &other.app().instance_id,
        Duration::from_secs(15),
    )
    .await;
    // The lease (3 s) plus the next try (every third of it), and room for a busy machine.
    assert!(blocked < Duration::from_secs(8), "blocked for {blocked:?}");
}
