//! Settlement: confirmed commissions of a period become `SETTLED` and are credited to their
//! distributors' balances, one ledger entry per distributor per run.
//!
//! Once per period, whoever starts it and however many instances run: the run row's period key
//! is unique, so a second run over the same period inserts nothing and settles nothing. The
//! settling itself is one `UPDATE … WHERE status = 'CONFIRMED' AND confirmed_at < cutoff` and
//! one grouped sum, so 100,000 records cost two statements plus one entry per distributor.
//!
//! The scheduled job settles every period whose payout day has come and that has no run yet,
//! oldest first: a server that was down on a payout day catches up when it is back.
use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::{commission, settlement_run};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, Set,
    sea_query::{Expr, OnConflict},
};
use serde_json::json;

use super::{
    commissions::{CommissionStatus, EVENT_SETTLED},
    ledger::{self, LedgerKind, Posting},
    rules::{Period, SettlementCycle, last_complete_period, periods_due},
    settings,
};
use crate::{
    app::AppState,
    db,
    error::AppError,
    events::{self, NewEvent},
};

/// What a run did.
#[derive(Clone, Debug)]
pub enum Settled {
    /// This call settled the period.
    Ran(settlement_run::Model),
    /// The period was settled before; nothing changed.
    AlreadySettled(settlement_run::Model),
}

#[derive(FromQueryResult)]
struct Due {
    beneficiary_user_id: i64,
    total: i64,
    records: i64,
}

/// Settles the last complete period of the current rules' cycle as of `now`.
pub async fn run(app: &AppState, now: DateTime<Utc>, by: Option<i64>) -> Result<Settled, AppError> {
    let tx = app.db.begin_write().await?;
    let (_, rules) = app.distribution.current(&tx).await?;
    let period = last_complete_period(rules.cycle, now, app.config.business_utc_offset_hours);
    let outcome = settle(&tx, &period, rules.cycle.as_str(), now, by).await?;
    tx.commit().await?;
    raise_levels(app, &outcome).await?;
    Ok(outcome)
}

/// Settles `period`.
async fn run_period(
    app: &AppState,
    period: &Period,
    cycle: SettlementCycle,
    now: DateTime<Utc>,
) -> Result<Settled, AppError> {
    let tx = app.db.begin_write().await?;
    let outcome = settle(&tx, period, cycle.as_str(), now, None).await?;
    tx.commit().await?;
    raise_levels(app, &outcome).await?;
    Ok(outcome)
}

/// After a run that settled: the credited distributors' levels may rise (settlement changes
/// what they achieved).
async fn raise_levels(app: &AppState, outcome: &Settled) -> Result<(), AppError> {
    let Settled::Ran(r) = outcome else {
        return Ok(());
    };
    tracing::info!(period = %r.period_key, records = r.records, total_fen = r.total_fen, "commissions settled");
    let credited: Vec<i64> = commission::Entity::find()
        .select_only()
        .column(commission::Column::BeneficiaryUserId)
        .distinct()
        .filter(commission::Column::SettlementId.eq(r.id))
        .into_tuple()
        .all(app.db.conn())
        .await?;
    for chunk in credited.chunks(2_000) {
        super::levels::evaluate(app, chunk).await?;
    }
    Ok(())
}

async fn settle(
    tx: &crate::db::WriteTx,
    period: &Period,
    cycle: &str,
    now: DateTime<Utc>,
    by: Option<i64>,
) -> Result<Settled, AppError> {
    let inserted = settlement_run::Entity::insert(settlement_run::ActiveModel {
        period_key: Set(period.key.clone()),
        cycle: Set(cycle.into()),
        cutoff: Set(period.cutoff),
        records: Set(0),
        distributors: Set(0),
        total_fen: Set(0),
        started_by: Set(by),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(settlement_run::Column::PeriodKey)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&**tx)
    .await?;
    let run = settlement_run::Entity::find()
        .filter(settlement_run::Column::PeriodKey.eq(&period.key))
        .one(&**tx)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("settlement run vanished")))?;
    if inserted == 0 {
        return Ok(Settled::AlreadySettled(run));
    }
    // On PostgreSQL the records are locked in id order before they are settled, the order a
    // refund locks a line's records in: a refund racing this run either finishes first (and
    // the run settles what it left) or waits for the run (and takes back from the settled
    // record by a ledger entry) — never both half-way.
    let lock = if tx.get_database_backend() == DatabaseBackend::Postgres {
        " ORDER BY id FOR UPDATE"
    } else {
        ""
    };
    db::exec(
        &**tx,
        &format!(
            "UPDATE commissions SET status = $1, settlement_id = $2, settled_at = $3, updated_at = $3 \
             WHERE id IN (SELECT id FROM commissions WHERE status = $4 AND confirmed_at < $5{lock})"
        ),
        [
            CommissionStatus::Settled.as_str().into(),
            run.id.into(),
            now.into(),
            CommissionStatus::Confirmed.as_str().into(),
            period.cutoff.into(),
        ],
    )
    .await?;
    // Distributors in id order, as a refund locks them.
    let due: Vec<Due> = commission::Entity::find()
        .select_only()
        .column(commission::Column::BeneficiaryUserId)
        .column_as(Expr::cust("CAST(SUM(amount_fen) AS BIGINT)"), "total")
        .column_as(commission::Column::Id.count(), "records")
        .filter(commission::Column::SettlementId.eq(run.id))
        .group_by(commission::Column::BeneficiaryUserId)
        .order_by_asc(commission::Column::BeneficiaryUserId)
        .into_model::<Due>()
        .all(&**tx)
        .await?;
    let note = format!("settlement {}", period.key);
    for d in &due {
        ledger::lock(tx, d.beneficiary_user_id).await?;
        ledger::post(
            tx,
            Posting {
                user_id: d.beneficiary_user_id,
                kind: LedgerKind::Settlement,
                available_delta_fen: d.total,
                frozen_delta_fen: 0,
                reference_type: "SETTLEMENT",
                reference_id: run.id,
                note: Some(&note),
            },
        )
        .await?;
        events::append(
            tx,
            NewEvent {
                event_type: EVENT_SETTLED,
                aggregate_type: "Settlement",
                aggregate_id: run.id,
                recipient_user_id: Some(d.beneficiary_user_id),
                payload: json!({
                    "settlementId": run.id,
                    "period": period.key,
                    "records": d.records,
                    "amountFen": d.total,
                }),
            },
        );
    }
    let mut active: settlement_run::ActiveModel = run.into();
    active.records = Set(due.iter().map(|d| d.records).sum());
    active.distributors = Set(due.len() as i64);
    active.total_fen = Set(due.iter().map(|d| d.total).sum());
    Ok(Settled::Ran(active.update(&**tx).await?))
}

/// The scheduled run: settles, oldest first, every period of the current rules' cycle whose
/// payout day has come and that has no run yet (`rules::periods_due`). Returns how many it
/// settled.
pub async fn run_if_due(app: &AppState, now: DateTime<Utc>) -> Result<usize, AppError> {
    let conn = app.db.conn();
    let rules = match settings::latest(conn).await? {
        Some(row) => app.distribution.get(conn, row.id).await?,
        None => return Ok(0),
    };
    let oldest_unsettled: Option<DateTime<Utc>> = commission::Entity::find()
        .select_only()
        .column(commission::Column::ConfirmedAt)
        .filter(commission::Column::Status.eq(CommissionStatus::Confirmed.as_str()))
        .order_by_asc(commission::Column::ConfirmedAt)
        .limit(1)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(conn)
        .await?
        .flatten();
    let due = periods_due(
        rules.cycle,
        rules.payout_day,
        now,
        app.config.business_utc_offset_hours,
        oldest_unsettled,
    );
    let settled: HashSet<String> = settlement_run::Entity::find()
        .select_only()
        .column(settlement_run::Column::PeriodKey)
        .filter(settlement_run::Column::PeriodKey.is_in(due.iter().map(|p| p.key.clone())))
        .into_tuple::<String>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    let mut ran = 0;
    for period in due.iter().filter(|p| !settled.contains(&p.key)) {
        if let Settled::Ran(_) = run_period(app, period, rules.cycle, now).await? {
            ran += 1;
        }
    }
    Ok(ran)
}
