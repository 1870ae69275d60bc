//! The moments of an order that other areas act on — placed, paid, completed, cancelled,
//! refunded — and the decisions checkout leaves to them (who an order is attributed to, the
//! discount stages of pricing). Orders announce; they do not know who listens. The areas that
//! act register here (`app`, the composition root, wires them), and every listener runs inside
//! the order's own transaction: what it writes commits or rolls back with the order's change.
//!
//! A listener that fails fails the whole change (nothing of it is kept), so a listener refuses
//! only what must stop the change; anything else it records for later. Placing an order is the
//! one moment a listener may refuse with a reason the buyer is shown (points that were spent
//! meanwhile): `on_placed` answers with the order's user errors, and nothing of the order is
//! kept.
use std::sync::Arc;

use async_trait::async_trait;
use entity::{order, order_line};
use sea_orm::{DatabaseBackend, QueryResult, Statement};

use super::{
    errors::OrderResult,
    pricing::{GroupBuyChoice, PricingRequest, PricingRule},
    rules::OrderSource,
};
use crate::{app::AppState, db::WriteTx, error::AppError};

/// One line's part in a refund that went through: how many units and how much money came
/// back, with the line as it is after the refund.
pub struct RefundedLine {
    pub line: order_line::Model,
    pub quantity: i64,
    pub amount_fen: i64,
}

/// A refund that went through (the money is on its way back).
pub struct Refunded<'a> {
    pub refund_no: &'a str,
    pub lines: Vec<RefundedLine>,
    /// The shipping fee returned with it (only with the last units of an unshipped order).
    pub shipping_fen: i64,
}

impl Refunded<'_> {
    /// The goods money returned (gifts are free and return nothing).
    pub fn goods_fen(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| !l.line.is_gift)
            .map(|l| l.amount_fen)
            .sum()
    }

    /// The goods units returned (gifts excluded).
    pub fn goods_units(&self) -> i64 {
        self.lines
            .iter()
            .filter(|l| !l.line.is_gift)
            .map(|l| l.quantity)
            .sum()
    }
}

/// An area that acts on an order's moments, inside the order's transaction. Every method
/// defaults to doing nothing.
#[async_trait]
pub trait OrderListener: Send + Sync {
    /// The order and its lines were just written (status `SUBMITTED`), before its stock is
    /// reserved. A user error refuses the order: the buyer gets it in `placeOrder`'s
    /// `userErrors` and nothing of the order is kept.
    /// `request` is what the order was priced from (its coupon choice, points, group buy).
    async fn on_placed(
        &self,
        _app: &AppState,
        _tx: &WriteTx,
        _order: &order::Model,
        _lines: &[order_line::Model],
        _request: &PricingRequest,
    ) -> OrderResult<()> {
        Ok(())
    }

    /// The money arrived: the order is `PAID`.
    async fn on_paid(
        &self,
        _app: &AppState,
        _tx: &WriteTx,
        _order: &order::Model,
        _lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// The after-sales window closed: the order is `COMPLETED` for the first time.
    async fn on_completed(
        &self,
        _app: &AppState,
        _tx: &WriteTx,
        _order: &order::Model,
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// The order was cancelled before it was paid.
    async fn on_cancelled(
        &self,
        _app: &AppState,
        _tx: &WriteTx,
        _order: &order::Model,
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// A refund went through; `order` is as it is after it (`refundedAmount` included).
    async fn on_refunded(
        &self,
        _app: &AppState,
        _tx: &WriteTx,
        _order: &order::Model,
        _refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        Ok(())
    }
}

/// Who an order is attributed to, as written on it.
pub struct OrderAttribution {
    pub source: OrderSource,
    /// The distributor credited with the order (their user id).
    pub distributor_user_id: Option<i64>,
    /// The share code the buyer came with, normalised.
    pub share_code: Option<String>,
    /// Who earns from the order, nearest first (user ids).
    pub chain: Vec<i64>,
    /// The version of the rules the order earns under.
    pub rule_version: Option<i64>,
}

impl OrderAttribution {
    /// Nobody: the buyer came by themselves.
    pub fn direct(share_code: Option<String>) -> Self {
        Self {
            source: OrderSource::Direct,
            distributor_user_id: None,
            share_code,
            chain: Vec::new(),
            rule_version: None,
        }
    }
}

/// Decides who an order is attributed to, in the order's transaction before it is written, in
/// three steps so that its one read goes to the database with the order number (one round
/// trip on SQLite, where every writer waits for the one in front).
#[async_trait]
pub trait OrderAttributor: Send + Sync {
    /// Acts on the share code the buyer came with (it may bind the buyer); returns the code as
    /// the order keeps it.
    async fn touch(
        &self,
        app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        share_code: Option<&str>,
        product_id: Option<i64>,
    ) -> Result<Option<String>, AppError>;

    /// The one-row read `attribute` needs, sent with the order number.
    fn lookup(&self, backend: DatabaseBackend, buyer_id: i64) -> Statement;

    /// The attribution, from the row `lookup` read. `credited_to`: a distributor (user id)
    /// the order is credited to whatever the buyer's ties (the launcher of the group a group
    /// order joins); the chain then starts with them.
    async fn attribute(
        &self,
        app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        share_code: Option<String>,
        looked_up: &QueryResult,
        credited_to: Option<i64>,
    ) -> Result<OrderAttribution, AppError>;
}

/// The area that runs group buys, asked while a group order is placed.
#[async_trait]
pub trait GroupBuyCredit: Send + Sync {
    /// The distributor (user id) a group order is credited to — the distributor who launched
    /// the group it joins, when that is not the buyer — read in the order's transaction.
    async fn credited_to(
        &self,
        app: &AppState,
        tx: &WriteTx,
        buyer_id: i64,
        choice: GroupBuyChoice,
    ) -> Result<Option<i64>, AppError>;
}

/// An area's discount rules for one checkout (the member price from members, points from
/// points…), read before pricing; pricing itself is plain arithmetic over them.
#[async_trait]
pub trait PricingStages: Send + Sync {
    async fn rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError>;
}

/// Who may buy a product before its scheduled on-sale time (a member level's early access).
#[async_trait]
pub trait EarlyAccess: Send + Sync {
    /// How long before a product's scheduled on-sale time `buyer_id` may buy it (zero: not
    /// before).
    async fn lead_time(&self, app: &AppState, buyer_id: i64) -> Result<chrono::Duration, AppError>;
}

/// Everything registered with orders.
#[derive(Default)]
pub struct OrderHooks {
    pub attributor: Option<Arc<dyn OrderAttributor>>,
    pub listeners: Vec<Arc<dyn OrderListener>>,
    pub pricing: Vec<Arc<dyn PricingStages>>,
    pub early_access: Vec<Arc<dyn EarlyAccess>>,
    pub group_buys: Option<Arc<dyn GroupBuyCredit>>,
}

impl OrderHooks {
    pub async fn placed(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
        request: &PricingRequest,
    ) -> OrderResult<()> {
        for l in &self.listeners {
            l.on_placed(app, tx, order, lines, request).await?;
        }
        Ok(())
    }

    pub async fn paid(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        lines: &[order_line::Model],
    ) -> Result<(), AppError> {
        for l in &self.listeners {
            l.on_paid(app, tx, order, lines).await?;
        }
        Ok(())
    }

    pub async fn completed(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        for l in &self.listeners {
            l.on_completed(app, tx, order).await?;
        }
        Ok(())
    }

    pub async fn cancelled(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
    ) -> Result<(), AppError> {
        for l in &self.listeners {
            l.on_cancelled(app, tx, order).await?;
        }
        Ok(())
    }

    pub async fn refunded(
        &self,
        app: &AppState,
        tx: &WriteTx,
        order: &order::Model,
        refund: &Refunded<'_>,
    ) -> Result<(), AppError> {
        for l in &self.listeners {
            l.on_refunded(app, tx, order, refund).await?;
        }
        Ok(())
    }

    /// The longest lead before scheduled on-sale times any registered area grants `buyer_id`.
    pub async fn early_access(
        &self,
        app: &AppState,
        buyer_id: i64,
    ) -> Result<chrono::Duration, AppError> {
        let mut lead = chrono::Duration::zero();
        for e in &self.early_access {
            lead = lead.max(e.lead_time(app, buyer_id).await?);
        }
        Ok(lead)
    }

    /// The discount rules every registered area gives this checkout.
    pub async fn pricing_rules(
        &self,
        app: &AppState,
        request: &PricingRequest,
    ) -> Result<Vec<Box<dyn PricingRule>>, AppError> {
        let mut rules = Vec::new();
        for stages in &self.pricing {
            rules.extend(stages.rules(app, request).await?);
        }
        Ok(rules)
    }
}
