//! Withdrawals: a request freezes the amount (available → frozen) after checking the balance
//! under the distributor's lock, so concurrent requests can never spend the same money; finance
//! staff approve and mark it paid (the frozen money leaves) or reject it (the money returns).
use chrono::Utc;
use entity::withdrawal;
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
    sea_query::SimpleExpr,
};
use serde::{Deserialize, Serialize};

use super::{
    errors::{DistributionErrorCode as Code, DistributionResult, reject},
    ledger::{self, LedgerKind, Posting},
    rules::withdrawal_fee,
    settings, team,
};
use crate::{app::AppState, db::WriteTx, error::AppError, money};

/// Where a withdrawal is paid to.
#[derive(async_graphql::Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawalChannel {
    /// A bank card (12–19 digits).
    BankCard,
    /// A WeChat wallet (零钱).
    WechatWallet,
}

impl WithdrawalChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalChannel::BankCard => "BANK_CARD",
            WithdrawalChannel::WechatWallet => "WECHAT_WALLET",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "BANK_CARD" => Some(WithdrawalChannel::BankCard),
            "WECHAT_WALLET" => Some(WithdrawalChannel::WechatWallet),
            _ => None,
        }
    }
}

/// Where a withdrawal request is.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WithdrawalStatus {
    /// Asked for; the amount is frozen, waiting for finance.
    Pending,
    /// Approved by finance; waiting for the transfer.
    Approved,
    /// Transferred; the frozen amount left the balance.
    Paid,
    /// Rejected with a reason; the amount returned to the available balance.
    Rejected,
}

impl WithdrawalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalStatus::Pending => "PENDING",
            WithdrawalStatus::Approved => "APPROVED",
            WithdrawalStatus::Paid => "PAID",
            WithdrawalStatus::Rejected => "REJECTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            WithdrawalStatus::Pending,
            WithdrawalStatus::Approved,
            WithdrawalStatus::Paid,
            WithdrawalStatus::Rejected,
        ]
        .into_iter()
        .find(|w| w.as_str() == s)
    }
}

/// Checks an account for its channel: a bank card is 12–19 digits (spaces allowed); a WeChat
/// wallet account is the WeChat ID or phone the merchant pays to, 1–64 characters.
pub fn normalize_account(channel: WithdrawalChannel, account: &str) -> Option<String> {
    match channel {
        WithdrawalChannel::BankCard => {
            let digits: String = account.chars().filter(|c| !c.is_whitespace()).collect();
            ((12..=19).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
                .then_some(digits)
        }
        WithdrawalChannel::WechatWallet => {
            let t = account.trim();
            (!t.is_empty() && t.chars().count() <= 64 && !t.chars().any(char::is_control))
                .then(|| t.to_string())
        }
    }
}

pub struct WithdrawalRequest<'a> {
    pub amount_fen: i64,
    pub channel: WithdrawalChannel,
    pub account: &'a str,
    pub account_name: Option<&'a str>,
}

fn withdrawal_no() -> String {
    format!(
        "W{}{:06}",
        Utc::now().format("%Y%m%d%H%M%S"),
        rand::thread_rng().gen_range(0..1_000_000)
    )
}

/// A distributor asks for `amount_fen` of their available balance.
pub async fn request(
    app: &AppState,
    user_id: i64,
    req: WithdrawalRequest<'_>,
) -> DistributionResult<withdrawal::Model> {
    let conf = settings::load(app.db.conn()).await?;
    if req.amount_fen < conf.withdrawal_min_fen || req.amount_fen > conf.withdrawal_max_fen {
        return reject(
            Code::InvalidAmount,
            "amount",
            format!(
                "a withdrawal is from ¥{} to ¥{}",
                money::to_decimal(conf.withdrawal_min_fen),
                money::to_decimal(conf.withdrawal_max_fen)
            ),
        );
    }
    let Some(account) = normalize_account(req.channel, req.account) else {
        return reject(
            Code::InvalidAccount,
            "account",
            match req.channel {
                WithdrawalChannel::BankCard => "a bank card number is 12 to 19 digits",
                WithdrawalChannel::WechatWallet => {
                    "give the WeChat account to pay, 1–64 characters"
                }
            },
        );
    };
    let account_name = req.account_name.map(str::trim).filter(|n| !n.is_empty());
    if account_name.is_some_and(|n| n.chars().count() > 32) {
        return reject(Code::InvalidAccount, "accountName", "at most 32 characters");
    }
    let fee_fen = withdrawal_fee(req.amount_fen, conf.withdrawal_fee_rate);
    if fee_fen >= req.amount_fen {
        return reject(
            Code::InvalidAmount,
            "amount",
            "the fee would take all of it",
        );
    }
    let tx = app.db.begin_write().await?;
    if team::find(&*tx, user_id)
        .await?
        .is_none_or(|d| d.status != team::STATUS_ACTIVE)
    {
        return Err(AppError::forbidden().into());
    }
    ledger::lock(&tx, user_id).await?;
    let balance = ledger::balances(&*tx, user_id).await?;
    if balance.available_fen < req.amount_fen {
        return reject(
            Code::InsufficientBalance,
            "amount",
            format!(
                "the available balance is ¥{}",
                money::to_decimal(balance.available_fen.max(0))
            ),
        );
    }
    let row = withdrawal::ActiveModel {
        withdrawal_no: Set(withdrawal_no()),
        user_id: Set(user_id),
        amount_fen: Set(req.amount_fen),
        fee_fen: Set(fee_fen),
        net_fen: Set(req.amount_fen - fee_fen),
        channel: Set(req.channel.as_str().into()),
        account: Set(account),
        account_name: Set(account_name.map(str::to_string)),
        status: Set(WithdrawalStatus::Pending.as_str().into()),
        reason: Set(None),
        transfer_ref: Set(None),
        reviewed_by: Set(None),
        created_at: Set(Utc::now()),
        reviewed_at: Set(None),
        paid_at: Set(None),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    ledger::post(
        &tx,
        Posting {
            user_id,
            kind: LedgerKind::WithdrawalFrozen,
            available_delta_fen: -row.amount_fen,
            frozen_delta_fen: row.amount_fen,
            reference_type: "WITHDRAWAL",
            reference_id: row.id,
            note: Some(&row.withdrawal_no),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// Moves a withdrawal from one of `from` to `to` if nobody changed it meanwhile.
async fn set_status(
    tx: &WriteTx,
    id: i64,
    from: &[WithdrawalStatus],
    to: WithdrawalStatus,
    also: Vec<(withdrawal::Column, SimpleExpr)>,
) -> DistributionResult<withdrawal::Model> {
    let Some(current) = withdrawal::Entity::find_by_id(id).one(&**tx).await? else {
        return reject(Code::WithdrawalNotFound, "id", "no such withdrawal");
    };
    let mut update = withdrawal::Entity::update_many()
        .col_expr(withdrawal::Column::Status, Expr::value(to.as_str()));
    for (c, v) in also {
        update = update.col_expr(c, v);
    }
    let updated = update
        .filter(withdrawal::Column::Id.eq(id))
        .filter(withdrawal::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec_with_returning(&**tx)
        .await?
        .pop();
    match updated {
        Some(w) => Ok(w),
        None => reject(
            Code::InvalidTransition,
            "id",
            format!(
                "withdrawal {} is {} and cannot become {}",
                current.withdrawal_no,
                current.status,
                to.as_str()
            ),
        ),
    }
}

fn check_text(field: &str, text: &str, max: usize) -> DistributionResult<()> {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > max {
        return reject(
            Code::InvalidNote,
            field,
            format!("give 1 to {max} characters"),
        );
    }
    Ok(())
}

/// Finance approves a pending withdrawal (the transfer is next).
pub async fn approve(app: &AppState, staff: i64, id: i64) -> DistributionResult<withdrawal::Model> {
    let tx = app.db.begin_write().await?;
    let w = set_status(
        &tx,
        id,
        &[WithdrawalStatus::Pending],
        WithdrawalStatus::Approved,
        vec![
            (withdrawal::Column::ReviewedBy, Expr::value(staff)),
            (withdrawal::Column::ReviewedAt, Expr::value(Utc::now())),
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

/// Finance transferred the money: the frozen amount leaves the balance.
pub async fn mark_paid(
    app: &AppState,
    id: i64,
    transfer_ref: &str,
) -> DistributionResult<withdrawal::Model> {
    check_text("transferReference", transfer_ref, 64)?;
    let tx = app.db.begin_write().await?;
    let w = set_status(
        &tx,
        id,
        &[WithdrawalStatus::Approved],
        WithdrawalStatus::Paid,
        vec![
            (
                withdrawal::Column::TransferRef,
                Expr::value(transfer_ref.trim()),
            ),
            (withdrawal::Column::PaidAt, Expr::value(Utc::now())),
        ],
    )
    .await?;
    ledger::lock(&tx, w.user_id).await?;
    ledger::post(
        &tx,
        Posting {
            user_id: w.user_id,
            kind: LedgerKind::WithdrawalPaid,
            available_delta_fen: 0,
            frozen_delta_fen: -w.amount_fen,
            reference_type: "WITHDRAWAL",
            reference_id: w.id,
            note: Some(transfer_ref.trim()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

/// Finance refuses a pending or approved withdrawal: the frozen amount returns.
pub async fn reject_request(
    app: &AppState,
    staff: i64,
    id: i64,
    reason: &str,
) -> DistributionResult<withdrawal::Model> {
    check_text("reason", reason, 500)?;
    let tx = app.db.begin_write().await?;
    let w = set_status(
        &tx,
        id,
        &[WithdrawalStatus::Pending, WithdrawalStatus::Approved],
        WithdrawalStatus::Rejected,
        vec![
            (withdrawal::Column::Reason, Expr::value(reason.trim())),
            (withdrawal::Column::ReviewedBy, Expr::value(staff)),
            (withdrawal::Column::ReviewedAt, Expr::value(Utc::now())),
        ],
    )
    .await?;
    ledger::lock(&tx, w.user_id).await?;
    ledger::post(
        &tx,
        Posting {
            user_id: w.user_id,
            kind: LedgerKind::WithdrawalReturned,
            available_delta_fen: w.amount_fen,
            frozen_delta_fen: -w.amount_fen,
            reference_type: "WITHDRAWAL",
            reference_id: w.id,
            note: Some(reason.trim()),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_checked_per_channel() {
        assert_eq!(
            normalize_account(WithdrawalChannel::BankCard, "6222 0212 3456 7890"),
            Some("6222021234567890".into())
        );
        assert_eq!(
            normalize_account(WithdrawalChannel::BankCard, "12345"),
            None
        );
        assert_eq!(
            normalize_account(WithdrawalChannel::BankCard, "6222x21234567890"),
            None
        );
        assert_eq!(
            normalize_account(WithdrawalChannel::WechatWallet, " wxid_abc "),
            Some("wxid_abc".into())
        );
        assert_eq!(
            normalize_account(WithdrawalChannel::WechatWallet, "  "),
            None
        );
    }
}
