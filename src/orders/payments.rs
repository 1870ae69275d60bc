//! Payments. Every provider ends in `record_success`, which is idempotent by the payment's
//! `out_trade_no`: the same notification delivered ten times, even concurrently, marks the
//! order paid once (a conditional update on the payment, then one on the order), with one
//! history row and one event. A notification whose amount differs from what was asked changes
//! nothing and alerts the staff who look after orders and money.
use chrono::Utc;
use entity::{order, order_line, payment, payment_alert, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};

use super::{
    errors::{OrderErrorCode, OrderResult, reject, reject_whole},
    lifecycle::{self, Actor, Change, status_of},
    providers::{PaymentStart, Started},
    rules::{OrderStatus, PaymentStatus},
};
use crate::{
    app::AppState,
    auth::Permission,
    db::WriteTx,
    error::AppError,
    notifications::service::{NewNotification, notify, staff_with},
};

/// Which payment provider (the API calls it `PaymentProvider`).
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[graphql(name = "PaymentProvider")]
pub enum ProviderKind {
    /// Completes at once without money: for demos and development, refused in production.
    Dev,
    /// WeChat Pay (JSAPI, inside the mini-program); the buyer must have signed in with WeChat.
    WechatPay,
    /// Alipay's mobile web cashier (H5).
    Alipay,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Dev => "DEV",
            ProviderKind::WechatPay => "WECHAT_PAY",
            ProviderKind::Alipay => "ALIPAY",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Dev, Self::WechatPay, Self::Alipay]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// Where a payment attempt is.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentState {
    /// Started; the provider has not confirmed payment (yet).
    Pending,
    /// The provider confirmed the money arrived.
    Succeeded,
    /// Closed without payment (reserved: this version leaves unpaid attempts `PENDING`).
    Closed,
}

impl PaymentState {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentState::Pending => "PENDING",
            PaymentState::Succeeded => "SUCCEEDED",
            PaymentState::Closed => "CLOSED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Closed]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// What a provider reports about a payment.
pub struct Notified<'a> {
    pub provider: ProviderKind,
    pub out_trade_no: &'a str,
    pub provider_txn_id: &'a str,
    pub amount_fen: i64,
}

/// What recording a notification did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The order is paid now.
    Paid,
    /// This payment was recorded before: nothing changed.
    AlreadyRecorded,
    /// The money arrived for an order that is no longer waiting for it (cancelled meanwhile):
    /// kept as received and staff are alerted to refund it.
    PaidTooLate,
    /// The amount or payment is not ours: nothing changed, staff are alerted.
    Rejected,
}

/// Raises a payment alert: a row for the dashboard and a notification to ORDERS and FINANCE
/// staff.
async fn alert(
    tx: &WriteTx,
    n: &Notified<'_>,
    order_id: Option<i64>,
    kind: &str,
    detail: &str,
) -> Result<(), AppError> {
    payment_alert::ActiveModel {
        provider: Set(n.provider.as_str().into()),
        out_trade_no: Set(n.out_trade_no.chars().take(64).collect()),
        order_id: Set(order_id),
        kind: Set(kind.into()),
        detail: Set(detail.into()),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    let mut staff = staff_with(&**tx, Permission::Orders).await?;
    staff.extend(staff_with(&**tx, Permission::Finance).await?);
    staff.sort_unstable();
    staff.dedup();
    let title = format!("Payment alert: {kind}");
    for user_id in staff {
        notify(
            tx,
            NewNotification {
                user_id,
                kind: "ORDER",
                title: &title,
                body: detail,
                link: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Records that a provider received the money for `n.out_trade_no`.
pub async fn record_success(app: &AppState, n: &Notified<'_>) -> Result<Recorded, AppError> {
    let tx = app.db.begin_write().await?;
    let outcome = record_in(app, &tx, n).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn record_in(app: &AppState, tx: &WriteTx, n: &Notified<'_>) -> Result<Recorded, AppError> {
    let Some(pay) = payment::Entity::find()
        .filter(payment::Column::OutTradeNo.eq(n.out_trade_no))
        .one(&**tx)
        .await?
    else {
        alert(
            tx,
            n,
            None,
            "UNKNOWN_PAYMENT",
            &format!(
                "a notification names payment {}, which does not exist",
                n.out_trade_no
            ),
        )
        .await?;
        return Ok(Recorded::Rejected);
    };
    if pay.provider != n.provider.as_str() || pay.amount_fen != n.amount_fen {
        alert(
            tx,
            n,
            Some(pay.order_id),
            "AMOUNT_MISMATCH",
            &format!(
                "payment {} expected {} fen by {}, the notification says {} fen by {}",
                pay.out_trade_no,
                pay.amount_fen,
                pay.provider,
                n.amount_fen,
                n.provider.as_str()
            ),
        )
        .await?;
        return Ok(Recorded::Rejected);
    }
    let now = Utc::now();
    let claimed = payment::Entity::update_many()
        .col_expr(
            payment::Column::Status,
            Expr::value(PaymentState::Succeeded.as_str()),
        )
        .col_expr(
            payment::Column::ProviderTxnId,
            Expr::value(n.provider_txn_id),
        )
        .col_expr(payment::Column::PaidAt, Expr::value(now))
        .col_expr(payment::Column::UpdatedAt, Expr::value(now))
        .filter(payment::Column::Id.eq(pay.id))
        .filter(payment::Column::Status.ne(PaymentState::Succeeded.as_str()))
        .exec(&**tx)
        .await?
        .rows_affected;
    if claimed == 0 {
        return Ok(Recorded::AlreadyRecorded);
    }
    let current = order::Entity::find_by_id(pay.order_id)
        .one(&**tx)
        .await?
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("payment without order")))?;
    let change = Change::to(OrderStatus::Paid, Actor::SYSTEM)
        .note(Some(n.provider.as_str()))
        .set(
            order::Column::PaymentStatus,
            Expr::value(PaymentStatus::Paid.as_str()),
        )
        .set(
            order::Column::PaymentProvider,
            Expr::value(n.provider.as_str()),
        )
        .set(order::Column::PaidAt, Expr::value(now));
    let Some(paid) = lifecycle::transition(app, tx, &current, change).await? else {
        // Paid again (another attempt or provider) or after the order was cancelled: the
        // money is ours to give back.
        let kind = if status_of(&current) == OrderStatus::Cancelled {
            "PAID_AFTER_CANCEL"
        } else {
            "DUPLICATE_PAYMENT"
        };
        alert(
            tx,
            n,
            Some(current.id),
            kind,
            &format!(
                "order {} was {} when its payment {} arrived; refund it",
                current.order_no,
                status_of(&current).as_str(),
                pay.out_trade_no
            ),
        )
        .await?;
        return Ok(Recorded::PaidTooLate);
    };
    let lines = lifecycle::lines_of(&**tx, paid.id).await?;
    app.order_hooks.paid(app, tx, &paid, &lines).await?;
    Ok(Recorded::Paid)
}

/// Why a provider cannot take this payment.
fn unavailable<T>(message: impl Into<String>) -> OrderResult<T> {
    reject(OrderErrorCode::PaymentUnavailable, "provider", message)
}

/// What to charge and show at the provider's cashier.
fn subject(lines: &[order_line::Model]) -> String {
    let first: String = lines
        .first()
        .map(|l| l.product_name.chars().take(40).collect())
        .unwrap_or_default();
    let units: i64 = lines.iter().map(|l| l.quantity).sum();
    if lines.len() > 1 {
        format!("{first} 等{units}件")
    } else {
        first
    }
}

/// Starts paying an order with `provider`: a payment row with an `out_trade_no`, and what the
/// client needs to pay (`client_payload`). A pending attempt with the same provider is reused
/// (same `out_trade_no`), so asking twice cannot make the buyer pay twice. The dev provider
/// completes at once.
pub async fn create_payment(
    app: &AppState,
    buyer_id: i64,
    order_id: i64,
    kind: ProviderKind,
) -> OrderResult<payment::Model> {
    let Some(provider) = app.payments.get(kind) else {
        return unavailable(format!("{} is not available here", kind.as_str()));
    };
    let openid = if provider.needs_openid() {
        let buyer = user::Entity::find_by_id(buyer_id)
            .one(app.db.conn())
            .await?;
        match buyer.and_then(|u| u.wechat_openid) {
            Some(o) => Some(o),
            None => return unavailable("sign in with WeChat to pay with WeChat Pay"),
        }
    } else {
        None
    };
    let (current, pay) = open_payment(app, buyer_id, order_id, kind).await?;
    let lines = lifecycle::lines_of(app.db.conn(), current.id).await?;
    let started = provider
        .start(&PaymentStart {
            out_trade_no: &pay.out_trade_no,
            amount_fen: pay.amount_fen,
            subject: &subject(&lines),
            payer_openid: openid.as_deref(),
            expires_at: current.expires_at.unwrap_or_else(Utc::now),
        })
        .await;
    match started {
        Err(e) => {
            tracing::warn!(error = %e, out_trade_no = %pay.out_trade_no, provider = kind.as_str(), "payment could not start");
            return reject(
                OrderErrorCode::PaymentFailed,
                "provider",
                format!("{} is not available right now; try again", kind.as_str()),
            );
        }
        Ok(Started::Completed { provider_txn_id }) => {
            record_success(
                app,
                &Notified {
                    provider: kind,
                    out_trade_no: &pay.out_trade_no,
                    provider_txn_id: &provider_txn_id,
                    amount_fen: pay.amount_fen,
                },
            )
            .await?;
        }
        Ok(Started::Client(client_payload)) => {
            let tx = app.db.begin_write().await?;
            payment::Entity::update_many()
                .col_expr(payment::Column::ClientPayload, Expr::value(client_payload))
                .col_expr(payment::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(payment::Column::Id.eq(pay.id))
                .exec(&*tx)
                .await?;
            tx.commit().await?;
        }
    }
    Ok(payment::Entity::find_by_id(pay.id)
        .one(app.db.conn())
        .await?
        .unwrap_or(pay))
}

/// The buyer's order if it is waiting for payment, and its pending payment with `provider`
/// (created if there is none).
async fn open_payment(
    app: &AppState,
    buyer_id: i64,
    order_id: i64,
    provider: ProviderKind,
) -> OrderResult<(order::Model, payment::Model)> {
    let tx = app.db.begin_write().await?;
    // Locked: payments started at once for one order take turns, and the later ones are given
    // the first one's pending payment.
    let find = order::Entity::find_by_id(order_id).filter(order::Column::UserId.eq(buyer_id));
    let Some(current) = tx.locking(find).one(&*tx).await? else {
        return reject_whole(OrderErrorCode::OrderNotFound, "no such order");
    };
    let expired = current.expires_at.is_some_and(|e| e <= Utc::now());
    if status_of(&current) != OrderStatus::Submitted || expired {
        return reject_whole(
            OrderErrorCode::InvalidTransition,
            format!("order {} is not waiting for payment", current.order_no),
        );
    }
    let attempts = payment::Entity::find()
        .filter(payment::Column::OrderId.eq(current.id))
        .all(&*tx)
        .await?;
    if let Some(pending) = attempts.iter().find(|p| {
        p.provider == provider.as_str()
            && p.status == PaymentState::Pending.as_str()
            && p.amount_fen == current.pay_amount_fen
    }) {
        let pending = pending.clone();
        tx.commit().await?;
        return Ok((current, pending));
    }
    let now = Utc::now();
    let created = payment::ActiveModel {
        order_id: Set(current.id),
        provider: Set(provider.as_str().into()),
        out_trade_no: Set(format!("{}P{}", current.order_no, attempts.len() + 1)),
        amount_fen: Set(current.pay_amount_fen),
        status: Set(PaymentState::Pending.as_str().into()),
        provider_txn_id: Set(None),
        client_payload: Set(None),
        created_at: Set(now),
        paid_at: Set(None),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok((current, created))
}
