//! The points ledger: append-only entries, each moving points into or out of one lot of one
//! member. A member's balance is the sum of their entries; `points_accounts.balance` and
//! `points_lots.remaining` are that sum kept per member and per lot by every posting, in the
//! posting's transaction, so that spending is one conditional update and the reconciliation
//! (`reconcile`) can prove them right.
//!
//! Every posting starts with the member's `points_accounts` row (an upsert or a conditional
//! update), which on PostgreSQL locks it until the transaction ends: postings of one member take
//! turns, and the expiry job locks the same rows first.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{points_account, points_entry, points_lot};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Set, Statement,
    sea_query::{Alias, Expr, ExprTrait, OnConflict, Query},
};
use serde_json::json;

use super::rules;
use crate::{
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
};

pub const EVENT_POINTS_CHANGED: &str = "points.changed";

/// Why points moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum EntryKind {
    /// Earned by a completed order.
    Earn,
    /// Paid by a task (registering, completing the profile, the first order, a share).
    Task,
    /// Paid by a daily sign-in (with any streak bonus).
    SignIn,
    /// The member level's birthday gift.
    Birthday,
    /// Spent on an order (deduction or points-mall redemption).
    Spend,
    /// Spent points given back by a cancelled or refunded order.
    Return,
    /// Earned points taken back by a refund.
    Reverse,
    /// Points that reached their expiry.
    Expire,
    /// A manual adjustment by staff.
    Adjust,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Earn => "EARN",
            EntryKind::Task => "TASK",
            EntryKind::SignIn => "SIGN_IN",
            EntryKind::Birthday => "BIRTHDAY",
            EntryKind::Spend => "SPEND",
            EntryKind::Return => "RETURN",
            EntryKind::Reverse => "REVERSE",
            EntryKind::Expire => "EXPIRE",
            EntryKind::Adjust => "ADJUST",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use EntryKind::*;
        [
            Earn, Task, SignIn, Birthday, Spend, Return, Reverse, Expire, Adjust,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// What a posting refers to.
#[derive(Clone, Copy, Debug)]
pub struct Reference<'a> {
    pub kind: EntryKind,
    /// `ORDER`, `TASK`, `SIGN_IN`, `STAFF`, `EXPIRY`, `BIRTHDAY`.
    pub reference_type: &'static str,
    pub reference_id: i64,
    pub note: Option<&'a str>,
    pub actor_user_id: Option<i64>,
}

/// Adds each `(user_id, delta)` to that member's account (created when missing), returning
/// `user_id` and the balance after. Rows go in user order, so concurrent postings on
/// PostgreSQL lock accounts in one order.
fn account_upsert(backend: DatabaseBackend, rows: &[(i64, i64)], now: DateTime<Utc>) -> Statement {
    let table = points_account::Entity;
    let mut q = Query::insert();
    q.into_table(table).columns([
        points_account::Column::UserId,
        points_account::Column::Balance,
        points_account::Column::UpdatedAt,
    ]);
    let mut rows = rows.to_vec();
    rows.sort_unstable();
    for (user_id, delta) in rows {
        q.values_panic([user_id.into(), delta.into(), now.into()]);
    }
    q.on_conflict(
        OnConflict::column(points_account::Column::UserId)
            .value(
                points_account::Column::Balance,
                Expr::col((table, points_account::Column::Balance)).add(Expr::col((
                    Alias::new("excluded"),
                    points_account::Column::Balance,
                ))),
            )
            .value(
                points_account::Column::UpdatedAt,
                Expr::col((Alias::new("excluded"), points_account::Column::UpdatedAt)),
            )
            .to_owned(),
    )
    .returning(Query::returning().columns([
        points_account::Column::UserId,
        points_account::Column::Balance,
    ]));
    backend.build(&q)
}

/// The balance after `account_upsert` of one member.
async fn upsert_one(
    tx: &WriteTx,
    user_id: i64,
    delta: i64,
    now: DateTime<Utc>,
) -> Result<i64, AppError> {
    let row = tx
        .query_one_raw(account_upsert(
            tx.get_database_backend(),
            &[(user_id, delta)],
            now,
        ))
        .await?
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "the points account upsert returned nothing"
            ))
        })?;
    Ok(row.try_get::<i64>("", "balance")?)
}

/// Adds each `(user_id, lot, delta)` to that lot (created when missing). Deltas to one lot
/// are summed first: PostgreSQL refuses an upsert that meets the same row twice.
fn lot_upsert(backend: DatabaseBackend, rows: &[(i64, DateTime<Utc>, i64)]) -> Statement {
    let mut q = Query::insert();
    q.into_table(points_lot::Entity).columns([
        points_lot::Column::UserId,
        points_lot::Column::ExpiresAt,
        points_lot::Column::Remaining,
    ]);
    let mut per_lot: BTreeMap<(i64, DateTime<Utc>), i64> = BTreeMap::new();
    for (user_id, lot, delta) in rows {
        *per_lot.entry((*user_id, *lot)).or_default() += delta;
    }
    for ((user_id, lot), delta) in per_lot {
        q.values_panic([user_id.into(), lot.into(), delta.into()]);
    }
    q.on_conflict(
        OnConflict::columns([points_lot::Column::UserId, points_lot::Column::ExpiresAt])
            .value(
                points_lot::Column::Remaining,
                Expr::col((points_lot::Entity, points_lot::Column::Remaining)).add(Expr::col((
                    Alias::new("excluded"),
                    points_lot::Column::Remaining,
                ))),
            )
            .to_owned(),
    );
    backend.build(&q)
}

fn entry(
    user_id: i64,
    delta: i64,
    balance_after: i64,
    lot: DateTime<Utc>,
    r: &Reference<'_>,
    now: DateTime<Utc>,
) -> points_entry::ActiveModel {
    points_entry::ActiveModel {
        user_id: Set(user_id),
        kind: Set(r.kind.as_str().into()),
        delta: Set(delta),
        balance_after: Set(balance_after),
        lot_expires_at: Set(lot),
        reference_type: Set(r.reference_type.into()),
        reference_id: Set(r.reference_id),
        note: Set(r.note.map(str::to_string)),
        actor_user_id: Set(r.actor_user_id),
        created_at: Set(now),
        ..Default::default()
    }
}

fn changed(tx: &WriteTx, user_id: i64, kind: EntryKind, delta: i64, balance: i64) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_POINTS_CHANGED,
            aggregate_type: "PointsAccount",
            aggregate_id: user_id,
            recipient_user_id: Some(user_id),
            payload: json!({ "kind": kind.as_str(), "delta": delta, "balance": balance }),
        },
    );
}

/// Puts points into lots (`(lot, points)`, each positive) of `user_id`; returns the balance
/// after.
pub async fn credit(
    tx: &WriteTx,
    user_id: i64,
    lots: &[(DateTime<Utc>, i64)],
    r: Reference<'_>,
) -> Result<i64, AppError> {
    let total: i64 = lots.iter().map(|(_, p)| *p).sum();
    if total <= 0 {
        return balance_of(&**tx, user_id).await;
    }
    let backend = tx.get_database_backend();
    let now = Utc::now();
    let balance = upsert_one(tx, user_id, total, now).await?;
    let mut after = balance - total;
    let mut lot_rows = Vec::new();
    let mut entries = Vec::new();
    for (lot, points) in lots.iter().filter(|(_, p)| *p > 0) {
        after += points;
        lot_rows.push((user_id, *lot, *points));
        entries.push(entry(user_id, *points, after, *lot, &r, now));
    }
    let statements = vec![
        lot_upsert(backend, &lot_rows),
        points_entry::Entity::insert_many(entries).build(backend),
    ];
    crate::db::execute_all(&**tx, statements).await?;
    changed(tx, user_id, r.kind, total, balance);
    Ok(balance)
}

/// Puts `points` (positive) into one lot of each of several members, `(user_id, lot,
/// points)` with every member once, in three statements whatever their number (the batched
/// sign-in); returns each member's balance after.
pub async fn credit_each(
    tx: &WriteTx,
    credits: &[(i64, DateTime<Utc>, i64)],
    r: Reference<'_>,
) -> Result<HashMap<i64, i64>, AppError> {
    if credits.is_empty() {
        return Ok(HashMap::new());
    }
    let backend = tx.get_database_backend();
    let now = Utc::now();
    let deltas: Vec<(i64, i64)> = credits.iter().map(|(u, _, p)| (*u, *p)).collect();
    let balances: HashMap<i64, i64> = tx
        .query_all_raw(account_upsert(backend, &deltas, now))
        .await?
        .iter()
        .map(|row| Ok((row.try_get("", "user_id")?, row.try_get("", "balance")?)))
        .collect::<Result<_, sea_orm::DbErr>>()?;
    let mut entries = Vec::with_capacity(credits.len());
    for (user_id, lot, points) in credits {
        let balance = *balances.get(user_id).ok_or_else(|| {
            AppError::internal(anyhow::anyhow!("no points account returned for {user_id}"))
        })?;
        entries.push(entry(*user_id, *points, balance, *lot, &r, now));
        changed(tx, *user_id, r.kind, *points, balance);
    }
    let statements = vec![
        lot_upsert(backend, credits),
        points_entry::Entity::insert_many(entries).build(backend),
    ];
    crate::db::execute_all(&**tx, statements).await?;
    Ok(balances)
}

#[derive(FromQueryResult)]
struct LotRow {
    expires_at: DateTime<Utc>,
    remaining: i64,
}

/// Takes `amount` points from `user_id`'s lots, oldest first. With `allow_debt` false, refuses
/// (returns `None`, nothing written) when the balance is smaller; with it (a reversal), takes
/// what the lots hold and records the rest as a debt on the lot that never expires, so the
/// balance goes negative. Returns the balance after.
pub async fn debit(
    tx: &WriteTx,
    user_id: i64,
    amount: i64,
    allow_debt: bool,
    r: Reference<'_>,
) -> Result<Option<i64>, AppError> {
    if amount <= 0 {
        return Ok(Some(balance_of(&**tx, user_id).await?));
    }
    let backend = tx.get_database_backend();
    let now = Utc::now();
    let balance = if allow_debt {
        upsert_one(tx, user_id, -amount, now).await?
    } else {
        let q = Query::update()
            .table(points_account::Entity)
            .value(
                points_account::Column::Balance,
                Expr::col(points_account::Column::Balance).sub(amount),
            )
            .value(points_account::Column::UpdatedAt, now)
            .and_where(points_account::Column::UserId.eq(user_id))
            .and_where(points_account::Column::Balance.gte(amount))
            .returning_col(points_account::Column::Balance)
            .to_owned();
        match tx.query_one_raw(backend.build(&q)).await? {
            Some(row) => row.try_get::<i64>("", "balance")?,
            None => return Ok(None),
        }
    };
    let lots = points_lot::Entity::find()
        .select_only()
        .columns([points_lot::Column::ExpiresAt, points_lot::Column::Remaining])
        .filter(points_lot::Column::UserId.eq(user_id))
        .filter(points_lot::Column::Remaining.gt(0))
        .order_by_asc(points_lot::Column::ExpiresAt)
        .into_model::<LotRow>()
        .all(&**tx)
        .await?;
    let view: Vec<(DateTime<Utc>, i64)> =
        lots.iter().map(|l| (l.expires_at, l.remaining)).collect();
    let mut takes: Vec<(DateTime<Utc>, i64)> = rules::take_oldest_first(&view, amount)
        .into_iter()
        .map(|(i, n)| (view[i].0, n))
        .collect();
    let taken: i64 = takes.iter().map(|(_, n)| *n).sum();
    if taken < amount {
        // Only a reversal owes more than the lots hold (the balance check keeps a spending
        // within them).
        takes.push((rules::never(), amount - taken));
    }
    let mut after = balance + amount;
    let mut lot_rows = Vec::new();
    let mut entries = Vec::new();
    for (lot, n) in &takes {
        after -= n;
        lot_rows.push((user_id, *lot, -n));
        entries.push(entry(user_id, -n, after, *lot, &r, now));
    }
    let statements = vec![
        lot_upsert(backend, &lot_rows),
        points_entry::Entity::insert_many(entries).build(backend),
    ];
    crate::db::execute_all(&**tx, statements).await?;
    changed(tx, user_id, r.kind, -amount, balance);
    Ok(Some(balance))
}

/// What `order_id` spent from each lot of `user_id`, net of what was returned already.
pub async fn spent_on_order(
    conn: &impl ConnectionTrait,
    user_id: i64,
    order_id: i64,
) -> Result<BTreeMap<DateTime<Utc>, i64>, AppError> {
    let rows = points_entry::Entity::find()
        .filter(points_entry::Column::UserId.eq(user_id))
        .filter(points_entry::Column::ReferenceType.eq("ORDER"))
        .filter(points_entry::Column::ReferenceId.eq(order_id))
        .filter(
            points_entry::Column::Kind
                .is_in([EntryKind::Spend.as_str(), EntryKind::Return.as_str()]),
        )
        .all(conn)
        .await?;
    let mut net: BTreeMap<DateTime<Utc>, i64> = BTreeMap::new();
    for e in rows {
        *net.entry(e.lot_expires_at).or_default() -= e.delta;
    }
    Ok(net)
}

/// The balance now.
pub async fn balance_of(conn: &impl ConnectionTrait, user_id: i64) -> Result<i64, AppError> {
    Ok(points_account::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .map_or(0, |a| a.balance))
}

/// What the reconciliation found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Members with a points account.
    pub accounts: i64,
    /// Ledger entries read.
    pub entries: i64,
    /// Σ entries over every member.
    pub ledger_total: i64,
    /// Σ balances over every member.
    pub balance_total: i64,
    /// Members whose balance differs from the sum of their entries.
    pub mismatched_accounts: Vec<i64>,
    /// Members with a lot whose `remaining` differs from the sum of the entries posted to it.
    pub mismatched_lots: Vec<i64>,
}

/// The reconciliation in one statement and one pass over the ledger: the entries are summed
/// per member and lot once (read from the `(user_id, lot_expires_at, delta)` index alone,
/// kept as `lots`), and everything else is checked against those sums, which are far fewer
/// than the entries. Rows: one `T` row of totals, then up to 100 `A` rows (a member whose
/// balance differs from their entries) and 100 `L` rows (a member with a lot that differs).
const RECONCILE_SQL: &str = "\
WITH lots AS MATERIALIZED ( \
  SELECT user_id, lot_expires_at, SUM(delta) AS total, COUNT(*) AS n \
  FROM points_entries GROUP BY user_id, lot_expires_at), \
members AS MATERIALIZED ( \
  SELECT user_id, SUM(total) AS total FROM lots GROUP BY user_id) \
SELECT 'T' AS what, \
  CAST((SELECT COUNT(*) FROM points_accounts) AS BIGINT) AS user_id, \
  CAST((SELECT COALESCE(SUM(n), 0) FROM lots) AS BIGINT) AS entries, \
  CAST((SELECT COALESCE(SUM(total), 0) FROM members) AS BIGINT) AS ledger_total, \
  CAST((SELECT COALESCE(SUM(balance), 0) FROM points_accounts) AS BIGINT) AS balance_total \
UNION ALL SELECT * FROM ( \
  SELECT 'A', user_id, 0, 0, 0 FROM ( \
    SELECT a.user_id FROM points_accounts a LEFT JOIN members m ON m.user_id = a.user_id \
    WHERE a.balance <> COALESCE(m.total, 0) \
    UNION \
    SELECT m.user_id FROM members m \
    WHERE NOT EXISTS (SELECT 1 FROM points_accounts a WHERE a.user_id = m.user_id)) x \
  ORDER BY user_id LIMIT 100) accounts \
UNION ALL SELECT * FROM ( \
  SELECT 'L', user_id, 0, 0, 0 FROM ( \
    SELECT l.user_id FROM points_lots l LEFT JOIN lots e \
      ON e.user_id = l.user_id AND e.lot_expires_at = l.expires_at \
    WHERE l.remaining <> COALESCE(e.total, 0) \
    UNION \
    SELECT e.user_id FROM lots e WHERE e.total <> 0 AND NOT EXISTS ( \
      SELECT 1 FROM points_lots l WHERE l.user_id = e.user_id AND l.expires_at = e.lot_expires_at)) y \
  ORDER BY user_id LIMIT 100) lots_off";

/// Checks every balance and lot against the entries (`RECONCILE_SQL`); at most 100 offending
/// members of each kind listed.
pub async fn reconcile(conn: &impl ConnectionTrait) -> Result<Reconciliation, AppError> {
    let rows = conn
        .query_all_raw(crate::db::stmt(
            conn.get_database_backend(),
            RECONCILE_SQL,
            [],
        ))
        .await?;
    let mut r = Reconciliation::default();
    for row in rows {
        let what: String = row.try_get("", "what")?;
        let user_id: i64 = row.try_get("", "user_id")?;
        match what.as_str() {
            "T" => {
                r.accounts = user_id;
                r.entries = row.try_get("", "entries")?;
                r.ledger_total = row.try_get("", "ledger_total")?;
                r.balance_total = row.try_get("", "balance_total")?;
            }
            "A" => r.mismatched_accounts.push(user_id),
            _ => r.mismatched_lots.push(user_id),
        }
    }
    Ok(r)
}

/// Expires every lot that is due at `now` (its expiry passed, points left): one `EXPIRE`
/// entry per lot, the lot emptied, the balance lowered, an event to the member. Set-based,
/// one expiry moment at a time (a member has one lot per moment, so each entry's balance after
/// is exact), and idempotent: an emptied lot is not due any more. Returns the lots expired.
pub async fn expire_due(
    db: &crate::db::Db,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<u64, AppError> {
    let mut expired = 0u64;
    loop {
        let tx = db.begin_write().await?;
        let backend = tx.get_database_backend();
        // The due lots of this round: the earliest moment first, a batch of members at a time.
        let due = points_lot::Entity::find()
            .filter(points_lot::Column::ExpiresAt.lte(now))
            .filter(points_lot::Column::Remaining.gt(0))
            .order_by_asc(points_lot::Column::ExpiresAt)
            .order_by_asc(points_lot::Column::UserId)
            .limit(batch)
            .all(&*tx)
            .await?;
        let Some(first) = due.first() else {
            tx.rollback().await?;
            return Ok(expired);
        };
        let moment = first.expires_at;
        let users: Vec<i64> = due
            .iter()
            .filter(|l| l.expires_at == moment)
            .map(|l| l.user_id)
            .collect();
        let (lo, hi) = (users[0], *users.last().unwrap());
        if backend == DatabaseBackend::Postgres {
            // The members' accounts, in id order, before anything is read for them: spenders
            // lock the account first too.
            tx.query_all_raw(crate::db::stmt(
                backend,
                "SELECT user_id FROM points_accounts WHERE user_id BETWEEN $1 AND $2 \
                 AND user_id IN (SELECT user_id FROM points_lots WHERE expires_at = $3 AND remaining > 0) \
                 ORDER BY user_id FOR UPDATE",
                [lo.into(), hi.into(), moment.into()],
            ))
            .await?;
        }
        let p = |i: usize| match backend {
            DatabaseBackend::Postgres => format!("${i}"),
            _ => "?".to_string(),
        };
        let scope = |a: usize, b: usize, c: usize| {
            format!(
                "l.expires_at = {} AND l.remaining > 0 AND l.user_id BETWEEN {} AND {}",
                p(a),
                p(b),
                p(c)
            )
        };
        // What expires, read once: the entries and the events are written from it.
        let rows = tx
            .query_all_raw(crate::db::stmt(
                backend,
                &format!(
                    "SELECT l.user_id, l.remaining, a.balance FROM points_lots l \
                     JOIN points_accounts a ON a.user_id = l.user_id WHERE {} ORDER BY l.user_id",
                    scope(1, 2, 3)
                ),
                [moment.into(), lo.into(), hi.into()],
            ))
            .await?;
        let mut entries = Vec::with_capacity(rows.len());
        let r = Reference {
            kind: EntryKind::Expire,
            reference_type: "EXPIRY",
            reference_id: 0,
            note: None,
            actor_user_id: None,
        };
        let at = Utc::now();
        for row in &rows {
            let user_id: i64 = row.try_get("", "user_id")?;
            let remaining: i64 = row.try_get("", "remaining")?;
            let balance: i64 = row.try_get("", "balance")?;
            entries.push(entry(
                user_id,
                -remaining,
                balance - remaining,
                moment,
                &r,
                at,
            ));
            changed(
                &tx,
                user_id,
                EntryKind::Expire,
                -remaining,
                balance - remaining,
            );
        }
        let mut statements = Vec::new();
        for chunk in entries.chunks(1_000) {
            statements.push(points_entry::Entity::insert_many(chunk.to_vec()).build(backend));
        }
        statements.push(crate::db::stmt(
            backend,
            &format!(
                "UPDATE points_accounts SET balance = balance - (SELECT l.remaining FROM points_lots l \
                 WHERE l.user_id = points_accounts.user_id AND {}), updated_at = {} \
                 WHERE user_id IN (SELECT l.user_id FROM points_lots l WHERE {})",
                scope(1, 2, 3),
                p(4),
                scope(5, 6, 7)
            ),
            [
                moment.into(),
                lo.into(),
                hi.into(),
                at.into(),
                moment.into(),
                lo.into(),
                hi.into(),
            ],
        ));
        statements.push(crate::db::stmt(
            backend,
            &format!(
                "UPDATE points_lots SET remaining = 0 WHERE expires_at = {} AND remaining > 0 \
                 AND user_id BETWEEN {} AND {}",
                p(1),
                p(2),
                p(3)
            ),
            [moment.into(), lo.into(), hi.into()],
        ));
        if backend == DatabaseBackend::Sqlite {
            // Each statement on its own: the parameters of one text would be numbered across
            // them, and these are numbered per statement.
            for s in statements {
                tx.execute_raw(s).await?;
            }
        } else {
            crate::db::execute_all(&*tx, statements).await?;
        }
        tx.commit().await?;
        expired += rows.len() as u64;
    }
}
