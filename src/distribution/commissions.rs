//! Commission records through an order's life: attributed when placed (who, under which rule
//! version), created `ESTIMATED` when paid (one per line per tier), `CONFIRMED` when the order
//! completes, reduced or `REVERSED` by refunds (a negative ledger entry once settled). Every
//! change emits an event to the distributor it concerns.
use std::collections::{BTreeMap, HashMap};

use chrono::Utc;
use entity::{commission, distributor, order, order_line};
use rust_decimal::Decimal;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
    sea_query::{Expr, ExprTrait, OnConflict},
};
use serde_json::json;

use super::{
    ledger::{self, LedgerKind, Posting},
    rules::{
        ChainLink, ChainStart, CommissionBase, FiguresChange, LineFacts, Pay, Standing,
        amounts_after_refund, chain_start, commissions_for_line, figures_on_payment,
        figures_on_refund,
    },
    settings, team,
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
    orders::{listeners::OrderAttribution, rules::OrderSource},
};

pub const EVENT_CREATED: &str = "commission.created";
pub const EVENT_CONFIRMED: &str = "commission.confirmed";
pub const EVENT_SETTLED: &str = "commission.settled";
pub const EVENT_REVERSED: &str = "commission.reversed";

/// Every commission event type, for subscriptions.
pub const EVENT_TYPES: &[&str] = &[
    EVENT_CREATED,
    EVENT_CONFIRMED,
    EVENT_SETTLED,
    EVENT_REVERSED,
    ledger::EVENT_BALANCE_CHANGED,
];

/// Where a commission record is in its life (ARCHITECTURE.md §11).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommissionStatus {
    /// The order was paid; the buyer can still ask for a refund.
    Estimated,
    /// The order completed (its after-sales window closed); waiting for settlement.
    Confirmed,
    /// Credited to the distributor's balance by a settlement run.
    Settled,
    /// Refunds took all of it back.
    Reversed,
}

impl CommissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Estimated => "ESTIMATED",
            CommissionStatus::Confirmed => "CONFIRMED",
            CommissionStatus::Settled => "SETTLED",
            CommissionStatus::Reversed => "REVERSED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            CommissionStatus::Estimated,
            CommissionStatus::Confirmed,
            CommissionStatus::Settled,
            CommissionStatus::Reversed,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// The first step of attributing an order `buyer` is placing, in the order's transaction: a
/// share code touches the buyer's binding (by the binding mode). Returns the code, normalized.
pub async fn apply_share_code(
    tx: &WriteTx,
    buyer: i64,
    share_code: Option<&str>,
    product_id: Option<i64>,
) -> Result<Option<String>, AppError> {
    let share_code = share_code
        .map(team::normalize_code)
        .filter(|c| !c.is_empty());
    if let Some(code) = &share_code
        && let Some(sharer) = team::by_code(&**tx, code).await?
    {
        let settings = settings::load(&**tx).await?;
        // A refused touch (own code, loop) leaves the binding as it was.
        let _ = team::touch(tx, &settings, buyer, &sharer, product_id).await?;
    }
    Ok(share_code)
}

/// The second step, with the buyer's ties as they are after the first: the chain starts with
/// the bound distributor — or, for a distributor's own order, with the buyer (self-purchase on)
/// or their inviter (off) — and climbs the inviter tree.
pub async fn attribute(
    app: &AppState,
    tx: &WriteTx,
    buyer: i64,
    share_code: Option<String>,
    ties: team::BuyerTies,
    credited_to: Option<i64>,
) -> Result<OrderAttribution, AppError> {
    let team::BuyerTies {
        bound,
        is_distributor: buyer_is_distributor,
    } = ties;
    if bound.is_none() && !buyer_is_distributor && credited_to.is_none() {
        return Ok(OrderAttribution::direct(share_code));
    }
    let (version, rules) = app.distribution.current(tx).await?;
    let above = rules.tiers() as i32 - 1;
    let start = match credited_to {
        // Credited to someone else than the buyer: their chain, as if the buyer were bound.
        Some(d) if d != buyer => ChainStart::Bound(d),
        _ => chain_start(buyer, buyer_is_distributor, rules.self_purchase, bound),
    };
    let chain = match start {
        ChainStart::Nobody => Vec::new(),
        ChainStart::Bound(start) => team::upline(&**tx, start, above).await?,
        ChainStart::OwnUpline { buyer_earns: true } => team::upline(&**tx, buyer, above).await?,
        // The buyer's upline one level further, without the buyer.
        ChainStart::OwnUpline { buyer_earns: false } => {
            let mut chain = team::upline(&**tx, buyer, above + 1).await?;
            chain.retain(|id| *id != buyer);
            chain
        }
    };
    let Some(start) = chain.first().copied() else {
        return Ok(OrderAttribution::direct(share_code));
    };
    Ok(OrderAttribution {
        source: OrderSource::Distributor,
        distributor_user_id: Some(start),
        share_code,
        chain,
        rule_version: Some(version),
    })
}

fn facts(line: &order_line::Model) -> LineFacts {
    LineFacts {
        product_id: line.product_id,
        sku_id: line.sku_id,
        quantity: line.quantity - line.refunded_quantity,
        paid_fen: line.pay_amount_fen - line.refunded_fen,
        unit_cost_fen: line.cost_price_fen,
    }
}

fn pay_of(c: &commission::Model) -> Pay {
    match (c.fixed_fen, &c.rate) {
        (Some(fixed), _) => Pay::FixedPerUnit(fixed),
        (None, Some(rate)) => Pay::Rate(rate.parse().unwrap_or(Decimal::ZERO)),
        (None, None) => Pay::Rate(Decimal::ZERO),
    }
}

fn base_kind_of(c: &commission::Model) -> CommissionBase {
    if c.base_kind == CommissionBase::Profit.as_str() {
        CommissionBase::Profit
    } else {
        CommissionBase::Sales
    }
}

/// Emits one event per beneficiary for `records` that changed to `event_type`.
async fn announce(
    tx: &WriteTx,
    event_type: &'static str,
    order: Option<&order::Model>,
    records: &[commission::Model],
    extra: serde_json::Value,
) -> Result<(), AppError> {
    let mut by_beneficiary: BTreeMap<i64, Vec<&commission::Model>> = BTreeMap::new();
    for r in records {
        by_beneficiary
            .entry(r.beneficiary_user_id)
            .or_default()
            .push(r);
    }
    for (beneficiary, rs) in by_beneficiary {
        let mut payload = json!({
            "orderId": order.map(|o| o.id),
            "orderNo": order.map(|o| o.order_no.clone()),
            "commissionIds": rs.iter().map(|r| r.id).collect::<Vec<_>>(),
            "amountFen": rs.iter().map(|r| r.amount_fen).sum::<i64>(),
        });
        if let (Some(p), Some(e)) = (payload.as_object_mut(), extra.as_object()) {
            p.extend(e.clone());
        }
        events::append(
            tx,
            NewEvent {
                event_type,
                aggregate_type: "Commission",
                aggregate_id: rs[0].id,
                recipient_user_id: Some(beneficiary),
                payload,
            },
        );
    }
    Ok(())
}

/// The order was paid: one `ESTIMATED` record per line per tier of its chain, for active
/// distributors, and the attributed distributor's sales statistics.
pub async fn on_paid(
    app: &AppState,
    tx: &WriteTx,
    order: &order::Model,
    lines: &[order_line::Model],
) -> Result<(), AppError> {
    let chain: Vec<i64> = serde_json::from_str(&order.referral_chain).unwrap_or_default();
    let Some(version) = order.commission_rule_version.filter(|_| !chain.is_empty()) else {
        return Ok(());
    };
    let rules = app.distribution.get(&**tx, version).await?;
    let members: HashMap<i64, distributor::Model> = distributor::Entity::find()
        .filter(distributor::Column::UserId.is_in(chain.clone()))
        .all(&**tx)
        .await?
        .into_iter()
        .map(|d| (d.user_id, d))
        .collect();
    let links: Vec<ChainLink> = chain
        .iter()
        .map(|id| ChainLink {
            user_id: *id,
            level_id: members.get(id).and_then(|d| d.level_id),
        })
        .collect();
    let active = |id: i64| {
        members
            .get(&id)
            .is_some_and(|d| d.status == team::STATUS_ACTIVE)
    };
    let now = Utc::now();
    let mut rows = Vec::new();
    for line in lines.iter().filter(|l| !l.is_gift) {
        for c in commissions_for_line(&rules, &facts(line), &links) {
            if !active(c.beneficiary) {
                continue;
            }
            let (rate, fixed) = match c.pay {
                Pay::Rate(r) => (Some(r.normalize().to_string()), None),
                Pay::FixedPerUnit(f) => (None, Some(f)),
            };
            rows.push(commission::ActiveModel {
                order_id: Set(order.id),
                order_line_id: Set(line.id),
                beneficiary_user_id: Set(c.beneficiary),
                buyer_user_id: Set(order.user_id),
                tier: Set(c.tier as i16),
                base_kind: Set(rules.base.as_str().into()),
                base_fen: Set(c.base_fen),
                rate: Set(rate),
                fixed_fen: Set(fixed),
                amount_fen: Set(c.amount_fen),
                capped: Set(c.capped),
                reversed_fen: Set(0),
                status: Set(CommissionStatus::Estimated.as_str().into()),
                rule_version: Set(version),
                settlement_id: Set(None),
                created_at: Set(now),
                confirmed_at: Set(None),
                settled_at: Set(None),
                reversed_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            });
        }
    }
    if let Some(attributed) = order.distributor_user_id {
        let goods_paid = lines
            .iter()
            .filter(|l| !l.is_gift)
            .map(|l| l.pay_amount_fen)
            .sum();
        move_figures(tx, attributed, figures_on_payment(goods_paid)).await?;
    }
    if rows.is_empty() {
        return Ok(());
    }
    // A second payment of the same order creates nothing (one record per line and tier).
    commission::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([commission::Column::OrderLineId, commission::Column::Tier])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&**tx)
        .await?;
    let created = commission::Entity::find()
        .filter(commission::Column::OrderId.eq(order.id))
        .order_by_asc(commission::Column::Id)
        .all(&**tx)
        .await?;
    announce(tx, EVENT_CREATED, Some(order), &created, json!({})).await
}

/// The order completed (its after-sales window closed): its estimated records are confirmed.
pub async fn on_completed(tx: &WriteTx, order: &order::Model) -> Result<(), AppError> {
    let now = Utc::now();
    let confirmed = commission::Entity::update_many()
        .col_expr(
            commission::Column::Status,
            Expr::value(CommissionStatus::Confirmed.as_str()),
        )
        .col_expr(commission::Column::ConfirmedAt, Expr::value(now))
        .col_expr(commission::Column::UpdatedAt, Expr::value(now))
        .filter(commission::Column::OrderId.eq(order.id))
        .filter(commission::Column::Status.eq(CommissionStatus::Estimated.as_str()))
        .exec_with_returning(&**tx)
        .await?;
    announce(tx, EVENT_CONFIRMED, Some(order), &confirmed, json!({})).await
}

/// Adds `change` to the own figures (level conditions) of the distributor `user_id`.
async fn move_figures(tx: &WriteTx, user_id: i64, change: FiguresChange) -> Result<(), AppError> {
    if change == FiguresChange::default() {
        return Ok(());
    }
    distributor::Entity::update_many()
        .col_expr(
            distributor::Column::OwnSalesFen,
            Expr::col(distributor::Column::OwnSalesFen).add(change.sales_fen),
        )
        .col_expr(
            distributor::Column::OrderCount,
            Expr::col(distributor::Column::OrderCount).add(change.orders),
        )
        .filter(distributor::Column::UserId.eq(user_id))
        .exec(&**tx)
        .await?;
    Ok(())
}

/// What one refund returned of an order's goods (gifts and shipping aside).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RefundedGoods {
    pub amount_fen: i64,
    pub units: i64,
}

/// One record's change by a refund.
struct Recomputed {
    record: commission::Model,
    amount_fen: i64,
    capped: bool,
}

impl Recomputed {
    fn taken(&self) -> i64 {
        self.record.amount_fen - self.amount_fen
    }

    fn settled(&self) -> bool {
        self.record.status == CommissionStatus::Settled.as_str()
    }
}

/// The records of `lines` recomputed on what is still paid for, line by line (a line's tiers
/// together, so that they stay within its base): those whose amount changes.
fn recompute(
    records: Vec<commission::Model>,
    lines: &HashMap<i64, &order_line::Model>,
) -> Vec<Recomputed> {
    let mut by_line: BTreeMap<i64, Vec<commission::Model>> = BTreeMap::new();
    for r in records {
        by_line.entry(r.order_line_id).or_default().push(r);
    }
    let mut changed = Vec::new();
    for (line_id, mut rs) in by_line {
        let Some(line) = lines.get(&line_id) else {
            continue;
        };
        rs.sort_by_key(|r| r.tier);
        let standing: Vec<Standing> = rs
            .iter()
            .map(|r| Standing {
                pay: pay_of(r),
                amount_fen: r.amount_fen,
            })
            .collect();
        let after = amounts_after_refund(base_kind_of(&rs[0]), &facts(line), &standing);
        for (record, (amount_fen, capped)) in rs.into_iter().zip(after) {
            if amount_fen != record.amount_fen {
                changed.push(Recomputed {
                    capped: capped || record.capped,
                    record,
                    amount_fen,
                });
            }
        }
    }
    changed
}

/// Money of `lines` went back to the buyer (the lines already carry their refunded totals):
/// each line's records are recomputed on what is still paid for. The difference is taken
/// back — from the record while unsettled, by a negative ledger entry once settled — and the
/// refund takes back what the order gave to the attributed distributor's own figures.
///
/// Locks, on PostgreSQL: the records first, in id order (a settlement run locks what it settles
/// in the same order, so one of the two waits for the other and then sees what it did), then the
/// distributors this refund writes to, in id order (as settlement does after its records). The
/// updates are guarded on the status and amount that were read, so a record changed behind
/// this refund's back fails it instead of being overwritten.
pub async fn on_refund(
    tx: &WriteTx,
    order: &order::Model,
    lines: &[order_line::Model],
    goods: RefundedGoods,
    reference: &str,
) -> Result<(), AppError> {
    let postgres = tx.get_database_backend() == DatabaseBackend::Postgres;
    let by_line: HashMap<i64, &order_line::Model> = lines.iter().map(|l| (l.id, l)).collect();
    let mut query = commission::Entity::find()
        .filter(commission::Column::OrderLineId.is_in(by_line.keys().copied()))
        .filter(commission::Column::Status.ne(CommissionStatus::Reversed.as_str()))
        .order_by_asc(commission::Column::Id);
    if postgres {
        query = query.lock_exclusive();
    }
    let changed = recompute(query.all(&**tx).await?, &by_line);
    let mut writes: Vec<i64> = changed
        .iter()
        .filter(|c| c.settled())
        .map(|c| c.record.beneficiary_user_id)
        .chain(order.distributor_user_id)
        .collect();
    writes.sort_unstable();
    writes.dedup();
    ledger::lock_many(tx, &writes).await?;
    let now = Utc::now();
    let mut updated_records = Vec::with_capacity(changed.len());
    for c in &changed {
        let r = &c.record;
        let status = if c.amount_fen == 0 {
            CommissionStatus::Reversed.as_str()
        } else {
            r.status.as_str()
        };
        let updated = commission::Entity::update_many()
            .col_expr(commission::Column::AmountFen, Expr::value(c.amount_fen))
            .col_expr(
                commission::Column::ReversedFen,
                Expr::value(r.reversed_fen + c.taken()),
            )
            .col_expr(commission::Column::Capped, Expr::value(c.capped))
            .col_expr(commission::Column::Status, Expr::value(status))
            .col_expr(
                commission::Column::ReversedAt,
                Expr::value((c.amount_fen == 0).then_some(now).or(r.reversed_at)),
            )
            .col_expr(commission::Column::UpdatedAt, Expr::value(now))
            .filter(commission::Column::Id.eq(r.id))
            .filter(commission::Column::Status.eq(&r.status))
            .filter(commission::Column::AmountFen.eq(r.amount_fen))
            .exec_with_returning(&**tx)
            .await?
            .pop()
            .ok_or_else(|| {
                AppError::internal(anyhow::anyhow!(
                    "commission {} changed while refund {reference} recomputed it",
                    r.id
                ))
            })?;
        if c.settled() {
            ledger::post(
                tx,
                Posting {
                    user_id: r.beneficiary_user_id,
                    kind: LedgerKind::Reversal,
                    available_delta_fen: -c.taken(),
                    frozen_delta_fen: 0,
                    reference_type: "COMMISSION",
                    reference_id: r.id,
                    note: Some(reference),
                },
            )
            .await?;
        }
        updated_records.push(updated);
    }
    if let Some(attributed) = order.distributor_user_id {
        let kept: i64 = order_line::Entity::find()
            .filter(order_line::Column::OrderId.eq(order.id))
            .all(&**tx)
            .await?
            .iter()
            .filter(|l| !l.is_gift)
            .map(|l| l.quantity - l.refunded_quantity)
            .sum();
        move_figures(
            tx,
            attributed,
            figures_on_refund(goods.amount_fen, goods.units, kept),
        )
        .await?;
    }
    for (r, taken) in updated_records
        .iter()
        .zip(changed.iter().map(Recomputed::taken))
    {
        // One event per record: each says how much was taken back and whether it was settled.
        events::append(
            tx,
            NewEvent {
                event_type: EVENT_REVERSED,
                aggregate_type: "Commission",
                aggregate_id: r.id,
                recipient_user_id: Some(r.beneficiary_user_id),
                payload: json!({
                    "orderId": order.id,
                    "orderNo": order.order_no,
                    "commissionIds": [r.id],
                    "amountFen": r.amount_fen,
                    "reversedFen": taken,
                    "status": r.status,
                }),
            },
        );
    }
    Ok(())
}
