//! Points benchmark (issue 18) for `bench/points.sh`. The database is `DATABASE_URL`; rows are
//! written in bulk, one transaction per chunk.
//!
//! - `bench_points members N TOKENS`: N members, and an access token for each written to the
//!   file TOKENS (one a line), for the `signIn` load.
//! - `bench_points expiry`: gives every member two lots — 60 points already due and 40 that
//!   never expire, as the ledger would after earning them — then times the expiry job's work
//!   (`points::ledger::expire_due`), runs it again (it must expire nothing) and checks the
//!   ledger with the reconciliation.
//! - `bench_points ledger ROWS`: adds entries (pairs that cancel out, so every balance stays
//!   right) until the ledger holds ROWS entries, then times the reconciliation query.
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use chrono::{Duration, Utc};
use distmall::{
    Config,
    app::{AppState, SearchIndexMode, prepare},
    points::{ledger, rules},
};
use entity::{points_account, points_entry, points_lot, user};
use sea_orm::{
    ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

/// Rows per statement (SQLite allows 32,766 parameters per statement; entries have 10 columns).
const ROWS: usize = 1_000;
/// Members per transaction.
const CHUNK: usize = 10_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let n = |i: usize, default: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default)
    };
    let (app, _) = prepare(Config::load()?, SearchIndexMode::Ephemeral).await?;
    match args.get(1).map(String::as_str) {
        Some("members") => members(&app, n(2, 100_000), args.get(3).context("TOKENS")?).await,
        Some("expiry") => expiry(&app).await,
        Some("ledger") => ledger_rows(&app, n(2, 1_000_000)).await,
        _ => bail!(
            "usage: bench_points members N TOKENS | expiry | ledger ROWS (DATABASE_URL from the environment)"
        ),
    }
}

async fn member_ids(app: &AppState) -> anyhow::Result<Vec<i64>> {
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Nickname.starts_with("会员"))
        .order_by_asc(user::Column::Id)
        .into_tuple()
        .all(app.db.conn())
        .await?)
}

async fn members(app: &AppState, n: usize, tokens: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let base = user::Entity::find()
        .select_only()
        .column_as(user::Column::Id.max(), "m")
        .into_tuple::<Option<i64>>()
        .one(app.db.conn())
        .await?
        .flatten()
        .unwrap_or(0)
        + 1;
    let now = Utc::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(CHUNK) {
        let tx = app.db.begin_write().await?;
        let rows: Vec<user::ActiveModel> = chunk
            .iter()
            .map(|&i| user::ActiveModel {
                id: Set(base + i as i64),
                phone: Set(Some(format!("137{i:08}"))),
                password_hash: Set(None),
                wechat_openid: Set(None),
                wechat_unionid: Set(None),
                nickname: Set(format!("会员{i}")),
                avatar_url: Set(None),
                gender: Set("UNKNOWN".into()),
                birthday: Set(None),
                is_staff: Set(false),
                is_owner: Set(false),
                is_distributor: Set(false),
                disabled: Set(false),
                created_at: Set(now),
                updated_at: Set(now),
                revision: Set(0),
            })
            .collect();
        for part in rows.chunks(ROWS) {
            user::Entity::insert_many(part.to_vec())
                .exec_without_returning(&*tx)
                .await?;
        }
        tx.commit().await?;
    }
    if app.db.is_postgres() {
        sea_orm::ConnectionTrait::execute_unprepared(
            app.db.conn(),
            "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT MAX(id) FROM users))",
        )
        .await?;
    }
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&app.jwt.issue(base + i as i64)?.token);
        out.push('\n');
    }
    std::fs::write(tokens, out)?;
    println!(
        "members: {n} created with their tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn entry(
    user_id: i64,
    delta: i64,
    after: i64,
    lot: chrono::DateTime<Utc>,
    kind: &str,
) -> points_entry::ActiveModel {
    points_entry::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.into()),
        delta: Set(delta),
        balance_after: Set(after),
        lot_expires_at: Set(lot),
        reference_type: Set("STAFF".into()),
        reference_id: Set(0),
        note: Set(Some("bench".into())),
        actor_user_id: Set(None),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
}

async fn expiry(app: &AppState) -> anyhow::Result<()> {
    let ids = member_ids(app).await?;
    let due = Utc::now() - Duration::days(1);
    let never = rules::never();
    for chunk in ids.chunks(CHUNK) {
        let tx = app.db.begin_write().await?;
        for part in chunk.chunks(ROWS / 2) {
            let now = Utc::now();
            points_account::Entity::insert_many(part.iter().map(|u| points_account::ActiveModel {
                user_id: Set(*u),
                balance: Set(100),
                updated_at: Set(now),
            }))
            .exec_without_returning(&*tx)
            .await?;
            points_lot::Entity::insert_many(part.iter().flat_map(|u| {
                [(due, 60), (never, 40)].map(|(lot, n)| points_lot::ActiveModel {
                    user_id: Set(*u),
                    expires_at: Set(lot),
                    remaining: Set(n),
                })
            }))
            .exec_without_returning(&*tx)
            .await?;
            points_entry::Entity::insert_many(part.iter().flat_map(|u| {
                [
                    entry(*u, 60, 60, due, "EARN"),
                    entry(*u, 40, 100, never, "EARN"),
                ]
            }))
            .exec_without_returning(&*tx)
            .await?;
        }
        tx.commit().await?;
    }
    let started = Instant::now();
    let expired = ledger::expire_due(&app.db, Utc::now(), distmall::points::EXPIRY_BATCH)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let took = started.elapsed();
    let again = ledger::expire_due(&app.db, Utc::now(), distmall::points::EXPIRY_BATCH)
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let left: u64 = points_account::Entity::find()
        .filter(points_account::Column::Balance.ne(40))
        .count(app.db.conn())
        .await?;
    let r = ledger::reconcile(app.db.conn())
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    println!(
        "RESULT expiry members={} expired={expired} seconds={:.2} second_run_expired={again} balances_not_40={left} reconciliation_consistent={}",
        ids.len(),
        took.as_secs_f64(),
        r.mismatched_accounts.is_empty()
            && r.mismatched_lots.is_empty()
            && r.ledger_total == r.balance_total
    );
    if expired as usize != ids.len() || again != 0 || left != 0 {
        bail!("the expiry did not expire exactly one lot per member");
    }
    Ok(())
}

async fn ledger_rows(app: &AppState, rows: usize) -> anyhow::Result<()> {
    let ids = member_ids(app).await?;
    let have = points_entry::Entity::find().count(app.db.conn()).await? as usize;
    let never = rules::never();
    let mut missing = rows.saturating_sub(have) / 2;
    'outer: while missing > 0 {
        let tx = app.db.begin_write().await?;
        for part in ids.chunks(ROWS / 2) {
            let take = part.len().min(missing);
            points_entry::Entity::insert_many(part[..take].iter().flat_map(|u| {
                [
                    entry(*u, 10, 50, never, "ADJUST"),
                    entry(*u, -10, 40, never, "ADJUST"),
                ]
            }))
            .exec_without_returning(&*tx)
            .await?;
            missing -= take;
            if missing == 0 {
                tx.commit().await?;
                break 'outer;
            }
        }
        tx.commit().await?;
    }
    let started = Instant::now();
    let r = ledger::reconcile(app.db.conn())
        .await
        .map_err(|e| anyhow!("{e:?}"))?;
    let took = started.elapsed();
    println!(
        "RESULT reconciliation entries={} accounts={} seconds={:.2} consistent={}",
        r.entries,
        r.accounts,
        took.as_secs_f64(),
        r.mismatched_accounts.is_empty()
            && r.mismatched_lots.is_empty()
            && r.ledger_total == r.balance_total
    );
    Ok(())
}
