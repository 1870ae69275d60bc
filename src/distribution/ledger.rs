//! The balance ledger: append-only entries, each with the balances after it. A balance is
//! never edited in place; it is the sum of the entries (the latest entry's `*_after` columns
//! are that sum, kept so reading a balance is one row).
//!
//! Posting locks the distributor's row first (`FOR UPDATE` on PostgreSQL; SQLite writers are
//! serialised already), so two postings for one distributor cannot both read the same "after".
use chrono::Utc;
use entity::{balance_entry, distributor};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;

use crate::{
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
};

pub const EVENT_BALANCE_CHANGED: &str = "distribution.balance_changed";

/// Why money moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, async_graphql::Enum)]
pub enum LedgerKind {
    /// Confirmed commissions credited by a settlement run.
    Settlement,
    /// A settled commission taken back after a refund (may make the balance negative).
    Reversal,
    /// A withdrawal request moved money from available to frozen.
    WithdrawalFrozen,
    /// A withdrawal was paid out: the frozen money left.
    WithdrawalPaid,
    /// A rejected withdrawal returned the frozen money.
    WithdrawalReturned,
}

impl LedgerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LedgerKind::Settlement => "SETTLEMENT",
            LedgerKind::Reversal => "REVERSAL",
            LedgerKind::WithdrawalFrozen => "WITHDRAWAL_FROZEN",
            LedgerKind::WithdrawalPaid => "WITHDRAWAL_PAID",
            LedgerKind::WithdrawalReturned => "WITHDRAWAL_RETURNED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            LedgerKind::Settlement,
            LedgerKind::Reversal,
            LedgerKind::WithdrawalFrozen,
            LedgerKind::WithdrawalPaid,
            LedgerKind::WithdrawalReturned,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// Available and frozen money of a distributor, in fen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    pub available_fen: i64,
    pub frozen_fen: i64,
}

/// One posting.
pub struct Posting<'a> {
    pub user_id: i64,
    pub kind: LedgerKind,
    pub available_delta_fen: i64,
    pub frozen_delta_fen: i64,
    pub reference_type: &'static str,
    pub reference_id: i64,
    pub note: Option<&'a str>,
}

/// Locks the distributor's row until the transaction ends (PostgreSQL; SQLite has one writer).
pub async fn lock(tx: &WriteTx, user_id: i64) -> Result<(), AppError> {
    if tx.get_database_backend() == DatabaseBackend::Postgres {
        tx.locking(distributor::Entity::find_by_id(user_id))
            .one(&**tx)
            .await?;
    }
    Ok(())
}

/// Locks the rows of the distributors `user_ids` (sorted, no duplicates) until the transaction
/// ends (PostgreSQL), in id order: transactions that each lock several distributors this way
/// wait for one another instead of deadlocking.
pub async fn lock_many(tx: &WriteTx, user_ids: &[i64]) -> Result<(), AppError> {
    debug_assert!(user_ids.windows(2).all(|w| w[0] < w[1]));
    if tx.get_database_backend() == DatabaseBackend::Postgres && !user_ids.is_empty() {
        distributor::Entity::find()
            .filter(distributor::Column::UserId.is_in(user_ids.iter().copied()))
            .order_by_asc(distributor::Column::UserId)
            .lock_exclusive()
            .all(&**tx)
            .await?;
    }
    Ok(())
}

/// The balances now (from the latest entry).
pub async fn balances(conn: &impl ConnectionTrait, user_id: i64) -> Result<Balances, AppError> {
    Ok(balance_entry::Entity::find()
        .filter(balance_entry::Column::UserId.eq(user_id))
        .order_by_desc(balance_entry::Column::Id)
        .limit(1)
        .one(conn)
        .await?
        .map(|e| Balances {
            available_fen: e.available_after_fen,
            frozen_fen: e.frozen_after_fen,
        })
        .unwrap_or_default())
}

/// Appends an entry (call `lock` first in the same transaction) and emits
/// `distribution.balance_changed` to the distributor.
pub async fn post(tx: &WriteTx, p: Posting<'_>) -> Result<balance_entry::Model, AppError> {
    let before = balances(&**tx, p.user_id).await?;
    let entry = balance_entry::ActiveModel {
        user_id: Set(p.user_id),
        kind: Set(p.kind.as_str().into()),
        available_delta_fen: Set(p.available_delta_fen),
        frozen_delta_fen: Set(p.frozen_delta_fen),
        available_after_fen: Set(before.available_fen + p.available_delta_fen),
        frozen_after_fen: Set(before.frozen_fen + p.frozen_delta_fen),
        reference_type: Set(p.reference_type.into()),
        reference_id: Set(p.reference_id),
        note: Set(p.note.map(str::to_string)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_BALANCE_CHANGED,
            aggregate_type: "Distributor",
            aggregate_id: p.user_id,
            recipient_user_id: Some(p.user_id),
            payload: json!({
                "kind": entry.kind,
                "entryId": entry.id,
                "availableDeltaFen": entry.available_delta_fen,
                "frozenDeltaFen": entry.frozen_delta_fen,
                "availableFen": entry.available_after_fen,
                "frozenFen": entry.frozen_after_fen,
            }),
        },
    );
    Ok(entry)
}

/// Commissions not settled yet (estimated and confirmed), and everything settled net of
/// reversals, in fen.
pub async fn commission_totals(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<(i64, i64), AppError> {
    use entity::commission;
    use sea_orm::sea_query::Expr;
    let pending: Option<i64> = commission::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(amount_fen), 0) AS BIGINT)"),
            "s",
        )
        .filter(commission::Column::BeneficiaryUserId.eq(user_id))
        .filter(commission::Column::Status.is_in(["ESTIMATED", "CONFIRMED"]))
        .into_tuple()
        .one(conn)
        .await?;
    let earned: Option<i64> = balance_entry::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(available_delta_fen), 0) AS BIGINT)"),
            "s",
        )
        .filter(balance_entry::Column::UserId.eq(user_id))
        .filter(balance_entry::Column::Kind.is_in([
            LedgerKind::Settlement.as_str(),
            LedgerKind::Reversal.as_str(),
        ]))
        .into_tuple()
        .one(conn)
        .await?;
    Ok((pending.unwrap_or(0), earned.unwrap_or(0)))
}
