//! The inventory's GraphQL face (staff with INVENTORY).
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject, Subscription};
use entity::{low_stock_alert, stock_movement};
use futures::{Stream, StreamExt};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    reports::{self, MovementFilter},
    rules::StockReason,
    service::{
        self, EVENT_LOW_STOCK, OperationRefusal, StockChange, StockOperation, StockRefusal,
        refusal_message,
    },
};
use crate::{
    auth::{Permission, PermissionGuard},
    catalog::types::{Product, Sku},
    events::{self, EventFilter},
    graphql::{
        context::CtxExt,
        ids,
        relay::{self, Page, Window},
        scalars::{Date, DateTime, Money},
    },
    money,
};

/// Why an inventory mutation was refused.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventoryErrorCode {
    /// No SKU has the given id.
    SkuNotFound,
    /// Not enough stock for the change.
    OutOfStock,
    /// The change is zero or beyond ±1,000,000 units, a counted stock is outside 0–1,000,000,
    /// or the result would exceed 1,000,000 units.
    InvalidQuantity,
    /// Only RESTOCK and ADJUSTMENT are staff adjustments.
    InvalidReason,
    /// The idempotency key was used before with a different input.
    IdempotencyKeyReused,
    /// The safety stock is outside 0–1,000,000 units.
    InvalidSafetyStock,
}

crate::user_error_type!(
    /// A refused inventory mutation.
    InventoryError,
    InventoryErrorCode
);

fn refusal_error(r: OperationRefusal) -> InventoryError {
    match r {
        OperationRefusal::Stock(s) => {
            let code = match s {
                StockRefusal::SkuNotFound => InventoryErrorCode::SkuNotFound,
                StockRefusal::OutOfStock { .. } => InventoryErrorCode::OutOfStock,
                StockRefusal::TooMuch => InventoryErrorCode::InvalidQuantity,
            };
            InventoryError::new(code, Some("skuId"), refusal_message(&s))
        }
        OperationRefusal::InvalidQuantity(m) => {
            InventoryError::new(InventoryErrorCode::InvalidQuantity, Some("delta"), m)
        }
        OperationRefusal::KeyReused => InventoryError::new(
            InventoryErrorCode::IdempotencyKeyReused,
            Some("idempotencyKey"),
            "this idempotency key was used with a different input",
        ),
    }
}

/// One entry of the stock ledger.
pub struct StockMovement(Arc<stock_movement::Model>);

/// One entry of the stock ledger: every change of a SKU's stock writes one, in the same
/// transaction as the change (staff with INVENTORY).
#[Object]
impl StockMovement {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("StockMovement", self.0.id)
    }

    /// The SKU whose stock changed; null if it was deleted since.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.0.sku_id)
            .await?
            .map(Sku::new))
    }

    /// Why the stock changed; null only for a reason this server version does not know.
    async fn reason(&self) -> Option<StockReason> {
        StockReason::parse(&self.0.reason)
    }

    /// The order number, refund number or document (purchase order, delivery note) the change
    /// belongs to; null when none was given.
    async fn reference(&self) -> Option<&str> {
        self.0.reference.as_deref()
    }

    /// Positive: stock came in; negative: stock went out.
    async fn delta(&self) -> i64 {
        self.0.delta
    }

    /// Stock right after this change.
    async fn balance_after(&self) -> i64 {
        self.0.balance_after
    }

    /// Staff's note, up to 200 characters; null when none.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// Who made the change; null when the system did (an order, a timeout).
    async fn actor(&self) -> Option<crate::accounts::User> {
        self.0.actor_user_id.map(crate::accounts::User::by_id)
    }

    /// When the change was made.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

/// A SKU's stock fell to or below its safety stock.
pub struct LowStockAlert(Arc<low_stock_alert::Model>);

/// A SKU's stock fell to or below its safety stock. One alert per crossing: it stays open until
/// stock rises above the threshold again (staff with INVENTORY).
#[Object]
impl LowStockAlert {
    /// Opaque global id.
    async fn id(&self) -> ID {
        ids::encode("LowStockAlert", self.0.id)
    }

    /// The SKU running low; null if it was deleted since.
    async fn sku(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Sku>> {
        Ok(ctx
            .loaders()
            .skus
            .load_one(self.0.sku_id)
            .await?
            .map(Sku::new))
    }

    /// The SKU's product; null if it was deleted since.
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Product>> {
        Ok(ctx.loaders().product(self.0.product_id).await?.map(Product))
    }

    /// Stock when the alert was raised.
    async fn stock(&self) -> i64 {
        self.0.stock
    }

    /// The safety stock that applied, in units.
    async fn threshold(&self) -> i32 {
        self.0.threshold
    }

    /// When the alert was raised.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }

    /// When stock rose above the threshold again (the alert re-armed); null while open.
    async fn resolved_at(&self) -> Option<DateTime> {
        self.0.resolved_at.map(DateTime)
    }
}

/// A low-stock alert pushed live.
#[derive(SimpleObject)]
pub struct LowStockAlertEvent {
    /// Pass as `after` to resume.
    event_id: String,
    /// The alert as it is now.
    alert: LowStockAlert,
}

/// Units sold on one business day.
#[derive(SimpleObject)]
pub struct DailySales {
    /// The business day, in the shop's time zone.
    date: Date,
    /// Units ordered that day net of units released again (cancelled or timed-out orders,
    /// counted on the day of the release); 0 on days without orders.
    units: i64,
}

/// Stock of one category, valued at cost.
#[derive(SimpleObject)]
pub struct CategoryValuation {
    /// The products' own category; null for products without one.
    category: Option<crate::catalog::types::Category>,
    /// Units in stock.
    units: i64,
    /// Their value at cost price, in yuan.
    value: Money,
}

/// Everything in stock, valued at cost price.
#[derive(SimpleObject)]
pub struct StockValuation {
    /// Units in stock across every SKU.
    units: i64,
    /// Their value at cost price, in yuan.
    value: Money,
    /// The same per category.
    by_category: Vec<CategoryValuation>,
}

/// Which stock movements to list; all optional and combined with AND.
#[derive(InputObject)]
pub struct StockMovementFilter {
    /// Only this SKU's movements.
    sku_id: Option<ID>,
    /// Only movements of this product's SKUs.
    product_id: Option<ID>,
    /// Only movements for this reason.
    reason: Option<StockReason>,
    /// From this time (inclusive).
    from: Option<DateTime>,
    /// Until this time (exclusive).
    to: Option<DateTime>,
}

impl StockMovementFilter {
    /// Ids that name nothing match nothing (id 0 never exists).
    pub fn resolve(&self) -> MovementFilter {
        MovementFilter {
            sku_id: self
                .sku_id
                .as_ref()
                .map(|i| ids::decode("Sku", i).unwrap_or(0)),
            product_id: self
                .product_id
                .as_ref()
                .map(|i| ids::decode("Product", i).unwrap_or(0)),
            reason: self.reason,
            from: self.from.map(|d| d.0),
            to: self.to.map(|d| d.0),
        }
    }
}

/// A stock adjustment by staff.
#[derive(InputObject)]
pub struct AdjustStockInput {
    /// The SKU whose stock changes.
    sku_id: ID,
    /// Units to add (positive) or remove (negative).
    delta: i64,
    /// RESTOCK or ADJUSTMENT.
    reason: StockReason,
    /// Purchase order, delivery note… (up to 64 characters kept).
    reference: Option<String>,
    /// A note for the ledger (up to 200 characters kept).
    note: Option<String>,
    /// 1–100 characters. A retry with the same key and input returns the first result; the
    /// same key with another input is refused.
    idempotency_key: Option<String>,
}

/// A physical count of one SKU.
#[derive(InputObject)]
pub struct StocktakeInput {
    /// The SKU counted.
    sku_id: ID,
    /// The units physically counted (0–1,000,000).
    counted_stock: i64,
    /// The count sheet or document (up to 64 characters kept).
    reference: Option<String>,
    /// A note for the ledger (up to 200 characters kept).
    note: Option<String>,
}

/// The shop-wide default safety stock.
#[derive(InputObject)]
pub struct SetDefaultSafetyStockInput {
    /// Units (0–1,000,000) at or below which a SKU alerts when neither it, its product nor its
    /// category sets a threshold.
    safety_stock: i32,
}

/// The result of a stock operation.
#[derive(SimpleObject)]
pub struct StockPayload {
    /// The SKU with its new stock; null when refused.
    sku: Option<Sku>,
    /// Why the change was refused (nothing changed); empty on success.
    user_errors: Vec<InventoryError>,
}

/// Shop-wide inventory settings.
#[derive(SimpleObject)]
pub struct InventorySettings {
    /// Safety stock for SKUs whose product and categories set none.
    default_safety_stock: i32,
}

/// The result of `setDefaultSafetyStock`.
#[derive(SimpleObject)]
pub struct InventorySettingsPayload {
    /// The settings as saved; null when refused.
    settings: Option<InventorySettings>,
    /// Why the change was refused; empty on success.
    user_errors: Vec<InventoryError>,
}

async fn stock_payload(
    ctx: &Context<'_>,
    result: Result<StockOperation, OperationRefusal>,
) -> async_graphql::Result<StockPayload> {
    Ok(match result {
        Ok(done) => StockPayload {
            sku: ctx
                .loaders()
                .skus
                .load_one(done.sku_id)
                .await?
                .map(Sku::new),
            user_errors: Vec::new(),
        },
        Err(r) => StockPayload {
            sku: None,
            user_errors: vec![refusal_error(r)],
        },
    })
}

fn text(field: &Option<String>, max: usize) -> Option<String> {
    field
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.chars().take(max).collect())
}

#[derive(Default)]
pub struct InventoryQuery;

#[Object]
impl InventoryQuery {
    /// The stock ledger, newest first (staff with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn stock_movements(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which movements; every movement when omitted.")] filter: Option<
            StockMovementFilter,
        >,
        #[graphql(
            desc = "At most this many items from the start of the list (0–100; 20 when neither `first` nor `last` is given)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only items after this cursor (an edge's `cursor`, or `pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
        #[graphql(
            desc = "At most this many items from the end of the list (0–100); not together with `first`."
        )]
        last: Option<i32>,
        #[graphql(
            desc = "Only items before this cursor (an edge's `cursor`, or `pageInfo.startCursor` for the previous page)."
        )]
        before: Option<String>,
    ) -> async_graphql::Result<Page<StockMovement>> {
        let window = Window::new(first, after, last, before)?;
        let filter = filter.map(|f| f.resolve()).unwrap_or_default();
        Ok(relay::paginate(
            ctx.app().db.conn(),
            filter.select(),
            stock_movement::Column::Id,
            |m| m.id,
            true,
            window,
            |m| StockMovement(Arc::new(m)),
        )
        .await?)
    }

    /// Low-stock alerts, newest first; by default only those still open (staff with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn low_stock_alerts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only alerts not yet resolved.", default = true)] open_only: bool,
        #[graphql(desc = "At most this many alerts (up to 200).", default = 50)] first: u64,
    ) -> async_graphql::Result<Vec<LowStockAlert>> {
        let mut q = low_stock_alert::Entity::find();
        if open_only {
            q = q.filter(low_stock_alert::Column::ResolvedAt.is_null());
        }
        Ok(q.order_by_desc(low_stock_alert::Column::Id)
            .limit(first.min(200))
            .all(ctx.app().db.conn())
            .await?
            .into_iter()
            .map(|a| LowStockAlert(Arc::new(a)))
            .collect())
    }

    /// Units sold of a SKU per business day over the last `days` days (30 or 90, for
    /// purchasing), oldest day first; staff with INVENTORY.
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn sku_daily_sales(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU.")] sku_id: ID,
        #[graphql(
            desc = "How many business days back, today included (1–366).",
            default = 30,
            validator(minimum = 1, maximum = 366)
        )]
        days: u32,
    ) -> async_graphql::Result<Vec<DailySales>> {
        let id = ids::decode("Sku", &sku_id)?;
        let offset = ctx.app().config.business_utc_offset_hours;
        let today = (chrono::Utc::now() + chrono::Duration::hours(i64::from(offset))).date_naive();
        let rows = reports::daily_sales(ctx.app().db.conn(), id, days, offset, today).await?;
        Ok(rows
            .into_iter()
            .map(|(date, units)| DailySales {
                date: Date(date),
                units,
            })
            .collect())
    }

    /// Stock valued at cost price, in total and per category (staff with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn stock_valuation(&self, ctx: &Context<'_>) -> async_graphql::Result<StockValuation> {
        let v = reports::stock_valuation(ctx.app().db.conn()).await?;
        let categories = ctx.loaders().categories().await?;
        Ok(StockValuation {
            units: v.units,
            value: Money(money::to_decimal(v.value_fen)),
            by_category: v
                .by_category
                .into_iter()
                .map(|(c, units, value)| CategoryValuation {
                    category: c
                        .and_then(|c| categories.iter().find(|x| x.id == c))
                        .map(|m| crate::catalog::types::Category(Arc::new(m.clone()))),
                    units,
                    value: Money(money::to_decimal(value)),
                })
                .collect(),
        })
    }

    /// Shop-wide inventory settings (staff with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn inventory_settings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<InventorySettings> {
        Ok(InventorySettings {
            default_safety_stock: service::default_safety_stock(ctx.app().db.conn()).await?,
        })
    }
}

#[derive(Default)]
pub struct InventoryMutation;

#[Object]
impl InventoryMutation {
    /// Receives goods (RESTOCK) or corrects stock (ADJUSTMENT); written to the ledger. Stock
    /// never goes below zero. Staff with INVENTORY.
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn adjust_stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU, the change and why.")] input: AdjustStockInput,
    ) -> async_graphql::Result<StockPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        if !matches!(input.reason, StockReason::Restock | StockReason::Adjustment) {
            return Ok(StockPayload {
                sku: None,
                user_errors: vec![InventoryError::new(
                    InventoryErrorCode::InvalidReason,
                    Some("reason"),
                    "staff adjustments are RESTOCK or ADJUSTMENT",
                )],
            });
        }
        if input
            .idempotency_key
            .as_deref()
            .is_some_and(|k| !crate::idempotency::valid_key(k))
        {
            return Err(crate::error::AppError::bad_input(
                "an idempotency key has 1 to 100 characters",
            )
            .into());
        }
        let Ok(sku_id) = ids::decode("Sku", &input.sku_id) else {
            return stock_payload(ctx, Err(OperationRefusal::Stock(StockRefusal::SkuNotFound)))
                .await;
        };
        let reference = text(&input.reference, 64);
        let note = text(&input.note, 200);
        let result = service::adjust_stock(
            ctx.app(),
            actor,
            StockChange {
                sku_id,
                delta: input.delta,
                reason: input.reason,
                reference: reference.as_deref(),
                note: note.as_deref(),
                actor: Some(actor),
            },
            input.idempotency_key.as_deref(),
        )
        .await?;
        stock_payload(ctx, result).await
    }

    /// Records a physical count: the difference is written to the ledger as STOCKTAKE (staff
    /// with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn stocktake(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The SKU and the units counted.")] input: StocktakeInput,
    ) -> async_graphql::Result<StockPayload> {
        let actor = ctx.viewer().require_user()?.user_id;
        let Ok(sku_id) = ids::decode("Sku", &input.sku_id) else {
            return stock_payload(ctx, Err(OperationRefusal::Stock(StockRefusal::SkuNotFound)))
                .await;
        };
        let reference = text(&input.reference, 64);
        let note = text(&input.note, 200);
        let result = service::stocktake(
            ctx.app(),
            actor,
            sku_id,
            input.counted_stock,
            reference.as_deref(),
            note.as_deref(),
        )
        .await?;
        stock_payload(ctx, result).await
    }

    /// Sets the shop-wide default safety stock (staff with INVENTORY).
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn set_default_safety_stock(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new default.")] input: SetDefaultSafetyStockInput,
    ) -> async_graphql::Result<InventorySettingsPayload> {
        if !(0..=1_000_000).contains(&input.safety_stock) {
            return Ok(InventorySettingsPayload {
                settings: None,
                user_errors: vec![InventoryError::new(
                    InventoryErrorCode::InvalidSafetyStock,
                    Some("safetyStock"),
                    "safety stock is between 0 and 1,000,000",
                )],
            });
        }
        service::set_default_safety_stock(ctx.app(), input.safety_stock).await?;
        Ok(InventorySettingsPayload {
            settings: Some(InventorySettings {
                default_safety_stock: input.safety_stock,
            }),
            user_errors: Vec::new(),
        })
    }
}

#[derive(Default)]
pub struct InventorySubscription;

#[Subscription]
impl InventorySubscription {
    /// Low-stock alerts as they are raised (staff with INVENTORY). Resumable with `after`.
    #[graphql(guard = "PermissionGuard(Permission::Inventory)")]
    async fn low_stock_alert(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The `eventId` of the last event you received: what came after it is delivered first, once. Omit it to receive only new events."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LowStockAlertEvent>> + use<>>
    {
        let after = events::parse_event_id(after.as_deref())?;
        let app = ctx.app().clone();
        let filter = EventFilter {
            event_types: &[EVENT_LOW_STOCK],
            recipient_user_id: None,
            aggregate_id: None,
        };
        let db = app.db.conn().clone();
        let stream = crate::graphql::live::subscribe(ctx, filter, after);
        Ok(stream.filter_map(move |item| {
            let db = db.clone();
            async move {
                match item {
                    Ok(e) => low_stock_alert::Entity::find_by_id(e.aggregate_id)
                        .one(&db)
                        .await
                        .ok()
                        .flatten()
                        .map(|a| {
                            Ok(LowStockAlertEvent {
                                event_id: e.id.to_string(),
                                alert: LowStockAlert(Arc::new(a)),
                            })
                        }),
                    Err(e) => Some(Err(e.into())),
                }
            }
        }))
    }
}
