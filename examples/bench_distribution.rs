//! Distribution benchmark (issue 5) for `bench/distribution.sh`: generates a large inviter
//! tree, then times settlement and the commission part of a payment through the services.
//! Rows are written in bulk, one transaction per chunk; the database is `DATABASE_URL`.
//!
//! - `bench_distribution team N PHONE PASSWORD`: a root distributor (registered with PHONE and
//!   PASSWORD, so the server can log it in) with N descendants within depth 3: 50 children,
//!   40 under each of those, the rest spread evenly at depth 3. Three levels, the default
//!   commission rules published.
//! - `bench_distribution settle N`: N `CONFIRMED` commissions confirmed two months ago, over the
//!   first 1,000 distributors at depths 1 and 2; times `settlement::run`, then a second run over
//!   the same period, and checks every balance against the records and that the second run
//!   changed nothing.
//! - `bench_distribution pay N`: places N orders by buyers bound to a depth-3 distributor (a
//!   three-tier chain) and N by unbound buyers, alternating, and times
//!   `orders::payments::record_success` (the payment transaction) for each.
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use chrono::Utc;
use distmall::{
    Config,
    app::{AppState, SearchIndexMode, prepare},
    distribution::{
        rules::{CommissionRules, LevelConditions},
        settings,
        settlement::{self, Settled},
        team,
    },
    orders::{
        addresses::{self, AddressDraft},
        checkout::{CheckoutRequest, LineRequest},
        payments::{Notified, ProviderKind, Recorded, record_success},
        placement::place_order,
    },
};
use entity::{
    balance_entry, commission, customer_binding, distributor, distributor_level, distributor_tree,
    payment, product, sku, user,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

/// Nodes per transaction while generating the tree.
const CHUNK: usize = 5_000;
/// Rows per statement: the widest table here has 21 columns, and SQLite allows 32,766
/// parameters per statement.
const ROWS: usize = 1_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let (app, _) = prepare(Config::load()?, SearchIndexMode::Ephemeral).await?;
    match args.get(1).map(String::as_str) {
        Some("team") => {
            let phone = args.get(3).context("PHONE")?;
            let password = args.get(4).context("PASSWORD")?;
            team_tree(&app, n(2, 100_000), phone, password).await
        }
        Some("settle") => settle(&app, n(2, 100_000)).await,
        Some("pay") => pay(&app, n(2, 300)).await,
        _ => bail!(
            "usage: bench_distribution team N PHONE PASSWORD | settle N | pay N (DATABASE_URL from the environment)"
        ),
    }
}

/// The services' errors are `Debug` only.
trait App<T> {
    fn app(self) -> anyhow::Result<T>;
}

impl<T, E: std::fmt::Debug> App<T> for Result<T, E> {
    fn app(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow!("{e:?}"))
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn root_of(app: &AppState) -> anyhow::Result<i64> {
    Ok(distributor::Entity::find()
        .filter(distributor::Column::InviterUserId.is_null())
        .order_by_asc(distributor::Column::UserId)
        .one(app.db.conn())
        .await?
        .context("no root distributor: run `team` first")?
        .user_id)
}

/// Members of `root`'s team at `depth`, by id.
async fn at_depth(app: &AppState, root: i64, depth: i32, limit: u64) -> anyhow::Result<Vec<i64>> {
    Ok(distributor_tree::Entity::find()
        .select_only()
        .column(distributor_tree::Column::DescendantUserId)
        .filter(distributor_tree::Column::AncestorUserId.eq(root))
        .filter(distributor_tree::Column::Depth.eq(depth))
        .order_by_asc(distributor_tree::Column::DescendantUserId)
        .limit(limit)
        .into_tuple()
        .all(app.db.conn())
        .await?)
}

async fn team_tree(app: &AppState, n: usize, phone: &str, password: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let session = distmall::accounts::service::register(app, phone, password, Some("团队长"))
        .await
        .map_err(|e| anyhow!("register {phone}: {e:?}"))?;
    let root = session.user.id;
    let now = Utc::now();
    let tx = app.db.begin_write().await?;
    team::create(&tx, root, None).await.app()?;
    settings::publish(&tx, &CommissionRules::default(), None)
        .await
        .app()?;
    let mut levels = Vec::new();
    for (rank, name, sales) in [
        (1, "铜牌", 100_000),
        (2, "银牌", 1_000_000),
        (3, "金牌", 10_000_000),
    ] {
        let conditions = LevelConditions {
            require_all: false,
            team_sales_fen: Some(sales),
            ..Default::default()
        };
        levels.push(
            distributor_level::ActiveModel {
                name: Set(name.into()),
                rank: Set(rank),
                conditions: Set(serde_json::to_string(&conditions)?),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&*tx)
            .await?
            .id,
        );
    }
    tx.commit().await?;

    // Node i (0-based) has id `base + i`; `parent[i]` is an index, or None under the root.
    let base = root + 1;
    let d1 = n.min(50);
    let d2 = (n - d1).min(d1 * 40);
    let mut parent: Vec<Option<usize>> = Vec::with_capacity(n);
    let mut depth: Vec<i32> = Vec::with_capacity(n);
    for i in 0..n {
        let (p, d) = if i < d1 {
            (None, 1)
        } else if i < d1 + d2 {
            (Some((i - d1) / 40), 2)
        } else if d2 > 0 {
            (Some(d1 + (i - d1 - d2) % d2), 3)
        } else {
            (Some((i - d1) % d1), 2)
        };
        parent.push(p);
        depth.push(d);
    }
    let id = |i: usize| base + i as i64;

    for chunk in (0..n).collect::<Vec<_>>().chunks(CHUNK) {
        let tx = app.db.begin_write().await?;
        let mut users = Vec::new();
        let mut members = Vec::new();
        let mut tree = Vec::new();
        for &i in chunk {
            let phone = format!("139{:08}", i);
            users.push(user::ActiveModel {
                id: Set(id(i)),
                phone: Set(Some(phone.clone())),
                password_hash: Set(None),
                wechat_openid: Set(None),
                wechat_unionid: Set(None),
                nickname: Set(format!("分销商{i}")),
                avatar_url: Set(None),
                gender: Set("UNKNOWN".into()),
                birthday: Set(None),
                is_staff: Set(false),
                is_owner: Set(false),
                is_distributor: Set(true),
                disabled: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                revision: Set(0),
            });
            let level = match depth[i] {
                1 => Some(levels[2]),
                2 => Some(levels[1]),
                _ => (i % 3 == 0).then_some(levels[0]),
            };
            members.push(distributor::ActiveModel {
                user_id: Set(id(i)),
                referral_code: Set(format!("B{i:07}")),
                status: Set(team::STATUS_ACTIVE.into()),
                inviter_user_id: Set(Some(parent[i].map_or(root, id))),
                level_id: Set(level),
                name: Set(format!("分销商{i}")),
                phone: Set(Some(phone)),
                team_name: Set(None),
                own_sales_fen: Set(((i as i64) * 7_919) % 500_000),
                order_count: Set((i as i64) % 40),
                team_level1: Set(0),
                team_level2: Set(0),
                team_level3: Set(0),
                approved_at: Set(now),
                created_at: Set(now),
                updated_at: Set(now),
            });
            // Itself at depth 0, then each ancestor up to and including the root.
            let mut at = Some(i);
            let mut d = 0;
            while let Some(a) = at {
                tree.push((id(a), id(i), d));
                at = parent[a];
                d += 1;
            }
            tree.push((root, id(i), d));
        }
        for rows in users.chunks(ROWS) {
            user::Entity::insert_many(rows.to_vec())
                .exec_without_returning(&*tx)
                .await?;
        }
        for rows in members.chunks(ROWS) {
            distributor::Entity::insert_many(rows.to_vec())
                .exec_without_returning(&*tx)
                .await?;
        }
        for rows in tree.chunks(ROWS * 4) {
            distributor_tree::Entity::insert_many(rows.iter().map(|&(a, d, depth)| {
                distributor_tree::ActiveModel {
                    ancestor_user_id: Set(a),
                    descendant_user_id: Set(d),
                    depth: Set(depth),
                    created_at: Set(now),
                }
            }))
            .exec_without_returning(&*tx)
            .await?;
        }
        tx.commit().await?;
    }
    // The team sizes the server keeps per distributor, counted once from the bulk-loaded tree
    // (as migration 5 does for an existing database).
    app.db
        .conn()
        .execute_unprepared(
            "UPDATE distributors SET \
             team_level1 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 1), \
             team_level2 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 2), \
             team_level3 = (SELECT COUNT(*) FROM distributor_tree t WHERE t.ancestor_user_id = distributors.user_id AND t.depth = 3)",
        )
        .await?;
    if app.db.is_postgres() {
        // Explicit ids above: move the sequence past them.
        app.db
            .conn()
            .execute_unprepared(
                "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
            )
            .await?;
    }
    // Fresh statistics for the planner after the bulk load, as a production database has
    // (and on PostgreSQL the visibility map autovacuum would set, for index-only scans).
    let analyze = if app.db.is_postgres() {
        "VACUUM ANALYZE"
    } else {
        "ANALYZE; PRAGMA optimize"
    };
    app.db.conn().execute_unprepared(analyze).await?;
    let counts = team::team_counts(app.db.conn(), root).await.app()?;
    println!(
        "team root={root} level1={} level2={} level3={} total={} closure_rows={} generate_ms={:.0}",
        counts.level1,
        counts.level2,
        counts.level3,
        counts.total,
        distributor_tree::Entity::find()
            .count(app.db.conn())
            .await?,
        ms(started.elapsed())
    );
    Ok(())
}

/// Balances now: entry count and each distributor's latest (available, frozen).
async fn ledger_state(app: &AppState) -> anyhow::Result<(usize, HashMap<i64, (i64, i64)>)> {
    let entries = balance_entry::Entity::find()
        .order_by_asc(balance_entry::Column::Id)
        .all(app.db.conn())
        .await?;
    let mut latest = HashMap::new();
    for e in &entries {
        latest.insert(e.user_id, (e.available_after_fen, e.frozen_after_fen));
    }
    Ok((entries.len(), latest))
}

async fn settle(app: &AppState, n: usize) -> anyhow::Result<()> {
    let root = root_of(app).await?;
    let mut beneficiaries = at_depth(app, root, 1, 1_000).await?;
    let more = 1_000 - beneficiaries.len() as u64;
    beneficiaries.extend(at_depth(app, root, 2, more).await?);
    let version = settings::latest(app.db.conn())
        .await
        .app()?
        .context("no rule version")?
        .id;
    let now = Utc::now();
    let confirmed_at = now - chrono::Duration::days(60);
    let created_at = now - chrono::Duration::days(70);
    let mut expected: HashMap<i64, i64> = HashMap::new();
    let mut total = 0;
    // Order and line ids far above any real order's, so the unique (line, tier) index never
    // meets the `pay` run's records.
    const FAKE: i64 = 1_000_000_000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(10 * ROWS) {
        let tx = app.db.begin_write().await?;
        let mut rows = Vec::new();
        for &i in chunk {
            let beneficiary = beneficiaries[i % beneficiaries.len()];
            let amount = 100 + (i as i64 * 7_919) % 5_000;
            *expected.entry(beneficiary).or_default() += amount;
            total += amount;
            rows.push(commission::ActiveModel {
                order_id: Set(FAKE + (i / 6) as i64),
                order_line_id: Set(FAKE + (i / 3) as i64),
                beneficiary_user_id: Set(beneficiary),
                buyer_user_id: Set(beneficiaries[(i * 31) % beneficiaries.len()]),
                tier: Set((i % 3) as i16 + 1),
                base_kind: Set("SALES".into()),
                base_fen: Set(amount * 10),
                rate: Set(Some("10".into())),
                fixed_fen: Set(None),
                amount_fen: Set(amount),
                reversed_fen: Set(0),
                status: Set("CONFIRMED".into()),
                rule_version: Set(version),
                settlement_id: Set(None),
                created_at: Set(created_at),
                confirmed_at: Set(Some(confirmed_at)),
                settled_at: Set(None),
                reversed_at: Set(None),
                updated_at: Set(confirmed_at),
                ..Default::default()
            });
        }
        for rows in rows.chunks(ROWS) {
            commission::Entity::insert_many(rows.to_vec())
                .exec_without_returning(&*tx)
                .await?;
        }
        tx.commit().await?;
    }
    let analyze = if app.db.is_postgres() {
        "ANALYZE"
    } else {
        "ANALYZE; PRAGMA optimize"
    };
    app.db.conn().execute_unprepared(analyze).await?;
    let confirmed = commission::Entity::find()
        .filter(commission::Column::Status.eq("CONFIRMED"))
        .count(app.db.conn())
        .await?;
    println!(
        "settle confirmed_records={confirmed} beneficiaries={} total_fen={total}",
        expected.len()
    );

    let t = Instant::now();
    let first = settlement::run(app, now, None).await.app()?;
    let first_ms = ms(t.elapsed());
    let Settled::Ran(run) = first else {
        bail!("the first run found the period settled already: {first:?}");
    };
    let (entries_after_first, balances_first) = ledger_state(app).await?;
    let settled = commission::Entity::find()
        .filter(commission::Column::Status.eq("SETTLED"))
        .filter(commission::Column::SettlementId.eq(run.id))
        .count(app.db.conn())
        .await?;
    let mismatched = expected
        .iter()
        .filter(|(u, fen)| balances_first.get(u) != Some(&(**fen, 0)))
        .count();
    println!(
        "settle first_run_ms={first_ms:.0} period={} records={} distributors={} total_fen={} settled_rows={settled} ledger_entries={entries_after_first} balances_mismatched={mismatched}",
        run.period_key, run.records, run.distributors, run.total_fen
    );

    let t = Instant::now();
    let second = settlement::run(app, now, None).await.app()?;
    let second_ms = ms(t.elapsed());
    let (entries_after_second, balances_second) = ledger_state(app).await?;
    let unchanged =
        entries_after_second == entries_after_first && balances_second == balances_first;
    println!(
        "settle second_run_ms={second_ms:.1} outcome={} ledger_entries={entries_after_second} balances_unchanged={unchanged}",
        match second {
            Settled::Ran(_) => "RAN (wrong)",
            Settled::AlreadySettled(_) => "ALREADY_SETTLED",
        }
    );
    if run.records != n as i64 || run.total_fen != total || mismatched > 0 || !unchanged {
        bail!("settlement check failed");
    }
    Ok(())
}

fn summary(label: &str, v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    println!(
        "pay {label} orders={} mean_ms={mean:.3} p50_ms={:.3} p95_ms={:.3} max_ms={:.3}",
        v.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
    mean
}

async fn pay(app: &std::sync::Arc<AppState>, n: usize) -> anyhow::Result<()> {
    const BUYERS: usize = 8;
    const WARMUP: usize = 20;
    let root = root_of(app).await?;
    let chain_start = *at_depth(app, root, 3, 1)
        .await?
        .first()
        .context("no distributor at depth 3")?;
    let upline = team::upline(app.db.conn(), chain_start, 2).await.app()?;
    if upline.len() != 3 {
        bail!("the chain of {chain_start} is {upline:?}, not three distributors");
    }
    let now = Utc::now();

    // One product with one SKU and stock for every order.
    let tx = app.db.begin_write().await?;
    let p = product::ActiveModel {
        name: Set("分销基准 商品".into()),
        subtitle: Set(String::new()),
        description_html: Set(String::new()),
        description_text: Set(String::new()),
        category_id: Set(None),
        brand_id: Set(None),
        status: Set("ON_SALE".into()),
        sort_weight: Set(0),
        safety_stock: Set(None),
        scheduled_on_sale_at: Set(None),
        scheduled_off_sale_at: Set(None),
        sales: Set(0),
        published_at: Set(Some(now)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    let s = sku::ActiveModel {
        product_id: Set(p.id),
        code: Set("BENCH-DIST-1".into()),
        spec_values: Set("[]".into()),
        spec_key: Set(String::new()),
        price_fen: Set(19_900),
        market_price_fen: Set(None),
        cost_price_fen: Set(9_900),
        stock: Set(1_000_000),
        safety_stock: Set(None),
        weight_grams: Set(500),
        barcode: Set(None),
        active: Set(true),
        low_stock_alerted: Set(false),
        sales: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    // Buyers: the first half bound to `chain_start` for good, the second half bound to no one.
    let mut buyers = Vec::new();
    for b in 0..2 * BUYERS {
        let u = user::ActiveModel {
            phone: Set(Some(format!("1370000{b:04}"))),
            password_hash: Set(None),
            nickname: Set(format!("买家{b}")),
            gender: Set("UNKNOWN".into()),
            is_staff: Set(false),
            is_owner: Set(false),
            is_distributor: Set(false),
            disabled: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&*tx)
        .await?;
        if b < BUYERS {
            customer_binding::ActiveModel {
                user_id: Set(u.id),
                distributor_user_id: Set(chain_start),
                product_id: Set(None),
                bound_at: Set(now),
                expires_at: Set(None),
            }
            .insert(&*tx)
            .await?;
        }
        buyers.push(u.id);
    }
    tx.commit().await?;
    let mut addresses = Vec::new();
    for &b in &buyers {
        let a = addresses::create(
            app,
            b,
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
        addresses.push(a.id);
    }

    let mut with_chain = Vec::new();
    let mut without = Vec::new();
    let mut commissions_made = 0;
    for i in 0..WARMUP + n {
        // Alternate which kind goes first, so neither always follows the other.
        for pass in 0..2 {
            let chained = (i + pass) % 2 == 0;
            let b = (i % BUYERS) + if chained { 0 } else { BUYERS };
            let order = place_order(
                app,
                buyers[b],
                &CheckoutRequest {
                    lines: Some(vec![LineRequest {
                        sku_id: s.id,
                        quantity: 1,
                    }]),
                    address_id: Some(addresses[b]),
                    ..Default::default()
                },
                &format!("bench-dist-{i}-{pass}"),
            )
            .await
            .map_err(|e| anyhow!("placeOrder: {e:?}"))?;
            let chain: Vec<i64> = serde_json::from_str(&order.referral_chain)?;
            if chain.len() != if chained { 3 } else { 0 } {
                bail!("order {} has the chain {chain:?}", order.order_no);
            }
            let out_trade_no = format!("BENCH{}", order.id);
            payment::ActiveModel {
                order_id: Set(order.id),
                provider: Set(ProviderKind::Dev.as_str().into()),
                out_trade_no: Set(out_trade_no.clone()),
                amount_fen: Set(order.pay_amount_fen),
                status: Set("PENDING".into()),
                provider_txn_id: Set(None),
                client_payload: Set(None),
                created_at: Set(now),
                paid_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(app.db.conn())
            .await?;
            let t = Instant::now();
            let recorded = record_success(
                app,
                &Notified {
                    provider: ProviderKind::Dev,
                    out_trade_no: &out_trade_no,
                    provider_txn_id: &format!("DEV{}", order.id),
                    amount_fen: order.pay_amount_fen,
                },
            )
            .await
            .app()?;
            let took = ms(t.elapsed());
            if recorded != Recorded::Paid {
                bail!("payment of {} recorded as {recorded:?}", order.order_no);
            }
            let made = commission::Entity::find()
                .filter(commission::Column::OrderId.eq(order.id))
                .count(app.db.conn())
                .await?;
            if made != if chained { 3 } else { 0 } {
                bail!("order {} made {made} commission records", order.order_no);
            }
            commissions_made += made;
            if i >= WARMUP {
                if chained {
                    with_chain.push(took);
                } else {
                    without.push(took);
                }
            }
        }
    }
    println!(
        "pay chain={upline:?} warmup_pairs={WARMUP} commission_records={commissions_made} backend={:?}",
        app.db.backend()
    );
    let a = summary("with_3_tier_chain", &mut with_chain);
    let b = summary("without_chain", &mut without);
    println!(
        "pay added_by_chain_mean_ms={:.3} added_by_chain_p50_ms={:.3}",
        a - b,
        with_chain[with_chain.len() / 2] - without[without.len() / 2]
    );
    Ok(())
}
