//! Inventory services. Stock changes only here, each as one conditional update plus a ledger
//! row inside the caller's transaction, so stock can never go below zero and every unit is
//! accounted for. Crossing the safety threshold raises one alert (ledger, subscription, in-app
//! notification to inventory staff, e-mail to purchasing) and re-arms when stock recovers.
use chrono::Utc;
use entity::{email_outbox, low_stock_alert, product, sku, system_setting};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, FromQueryResult,
    QueryFilter, Set, sea_query::Expr,
};
use serde_json::json;

use super::rules::{self, AlertChange, StockReason};
use crate::{
    app::AppState,
    auth::Permission,
    catalog::rules::{Parents, ancestors, effective_safety_stock},
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
    notifications::service::{NewNotification, notify, staff_with},
};

pub const EVENT_STOCK_CHANGED: &str = "inventory.stock_changed";
pub const EVENT_LOW_STOCK: &str = "inventory.low_stock";
/// The shop-wide default safety stock changed (caches of every instance forget it).
pub const EVENT_DEFAULT_SAFETY_STOCK_CHANGED: &str = "inventory.default_safety_stock_changed";
pub const SETTING_DEFAULT_SAFETY_STOCK: &str = "inventory.default_safety_stock";
pub const DEFAULT_SAFETY_STOCK: i32 = 10;

/// One stock change.
pub struct StockChange<'a> {
    pub sku_id: i64,
    pub delta: i64,
    pub reason: StockReason,
    pub reference: Option<&'a str>,
    pub note: Option<&'a str>,
    pub actor: Option<i64>,
}

/// Why a stock change was refused; nothing changed.
#[derive(Debug, PartialEq, Eq)]
pub enum StockRefusal {
    SkuNotFound,
    /// Fewer units than asked for are left.
    OutOfStock {
        available: i64,
    },
    /// The change would exceed the largest stock level.
    TooMuch,
}

/// Applies `change` inside `tx`: the conditional update, the ledger row, the event, and the
/// low-stock alert transitions. Returns the SKU as it is now.
pub async fn change_stock(
    app: &AppState,
    tx: &WriteTx,
    change: StockChange<'_>,
) -> Result<Result<sku::Model, StockRefusal>, AppError> {
    let changed = update_with_movement(tx, &change).await?;
    let Some((sku, movement_id)) = changed else {
        return Ok(Err(
            match sku::Entity::find_by_id(change.sku_id).one(&**tx).await? {
                None => StockRefusal::SkuNotFound,
                Some(s) if change.delta < 0 => StockRefusal::OutOfStock { available: s.stock },
                Some(_) => StockRefusal::TooMuch,
            },
        ));
    };
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_STOCK_CHANGED,
            aggregate_type: "Sku",
            aggregate_id: sku.id,
            recipient_user_id: None,
            payload: json!({
                "skuId": sku.id,
                "productId": sku.product_id,
                "delta": change.delta,
                "balanceAfter": sku.stock,
                // Orders the changes of one SKU (the catalogue cache keeps the newest).
                "movementId": movement_id,
                "reason": change.reason.as_str(),
                "crossedZero": rules::crossed_zero(sku.stock, change.delta),
            }),
        },
    );
    let sku = apply_alert_transition(app, tx, sku, change.delta).await?;
    Ok(Ok(sku))
}

/// The conditional update and its ledger row, in one round trip. Returns the SKU as it is now
/// and the ledger row's id, or `None` when the change was refused. A stock change for a hot SKU
/// is on the critical path of every order for it: on PostgreSQL the order holds the SKU's row
/// lock from this statement to its commit, on SQLite every writer waits for the write lock.
///
/// PostgreSQL runs one data-modifying `WITH`. SQLite has none, so it gets a text of two
/// statements under the same condition, which sqlx runs in one call (see `db::execute_all`): the
/// ledger row copies the balance the update is about to write, then the update returns the SKU
/// and, through `last_insert_rowid()`, that row's id. Both see the same row in the same
/// transaction, so either both write or neither does.
async fn update_with_movement(
    tx: &WriteTx,
    change: &StockChange<'_>,
) -> Result<Option<(sku::Model, i64)>, AppError> {
    const POSTGRES: &str = "WITH changed AS ( \
            UPDATE skus SET stock = stock + $1, updated_at = $2 \
            WHERE id = $3 AND stock + $1 BETWEEN 0 AND $4 RETURNING *), \
        movement AS ( \
            INSERT INTO stock_movements (sku_id, product_id, reason, reference, delta, \
                balance_after, actor_user_id, note, created_at) \
            SELECT id, product_id, $5, $6, $1, stock, $7, $8, $2 FROM changed RETURNING id) \
        SELECT changed.*, movement.id AS movement_id FROM changed, movement";
    const SQLITE: &str = "INSERT INTO stock_movements (sku_id, product_id, reason, reference, \
            delta, balance_after, actor_user_id, note, created_at) \
            SELECT id, product_id, $5, $6, $1, stock + $1, $7, $8, $2 FROM skus \
            WHERE id = $3 AND stock + $1 BETWEEN 0 AND $4; \
        UPDATE skus SET stock = stock + $1, updated_at = $2 \
            WHERE id = $3 AND stock + $1 BETWEEN 0 AND $4 \
            RETURNING *, last_insert_rowid() AS movement_id";
    let backend = tx.get_database_backend();
    let sql = if backend == DatabaseBackend::Postgres {
        POSTGRES
    } else {
        SQLITE
    };
    let values: [sea_orm::Value; 8] = [
        change.delta.into(),
        Utc::now().into(),
        change.sku_id.into(),
        rules::MAX_QUANTITY.into(),
        change.reason.as_str().into(),
        change.reference.map(str::to_string).into(),
        change.actor.into(),
        change.note.map(str::to_string).into(),
    ];
    let Some(row) = tx
        .query_all_raw(crate::db::stmt(backend, sql, values))
        .await?
        .pop()
    else {
        return Ok(None);
    };
    let sku = sku::Model::from_query_result(&row, "")?;
    let movement_id: i64 = row.try_get("", "movement_id")?;
    Ok(Some((sku, movement_id)))
}

/// Reserves `quantity` of a SKU for an order (`reference` is the order number).
pub async fn reserve(
    app: &AppState,
    tx: &WriteTx,
    sku_id: i64,
    quantity: i64,
    reference: &str,
    actor: Option<i64>,
) -> Result<Result<sku::Model, StockRefusal>, AppError> {
    if !rules::valid_quantity(quantity) {
        return Err(AppError::bad_input(
            "the quantity must be between 1 and 1,000,000",
        ));
    }
    change_stock(
        app,
        tx,
        StockChange {
            sku_id,
            delta: -quantity,
            reason: StockReason::OrderReserved,
            reference: Some(reference),
            note: None,
            actor,
        },
    )
    .await
}

/// Gives back what an order reserved (cancelled, timed out).
pub async fn release(
    app: &AppState,
    tx: &WriteTx,
    sku_id: i64,
    quantity: i64,
    reference: &str,
    actor: Option<i64>,
) -> Result<Result<sku::Model, StockRefusal>, AppError> {
    restore(
        app,
        tx,
        sku_id,
        quantity,
        StockReason::OrderReleased,
        reference,
        actor,
    )
    .await
}

/// Puts returned goods back into stock.
pub async fn return_goods(
    app: &AppState,
    tx: &WriteTx,
    sku_id: i64,
    quantity: i64,
    reference: &str,
    actor: Option<i64>,
) -> Result<Result<sku::Model, StockRefusal>, AppError> {
    restore(
        app,
        tx,
        sku_id,
        quantity,
        StockReason::Returned,
        reference,
        actor,
    )
    .await
}

async fn restore(
    app: &AppState,
    tx: &WriteTx,
    sku_id: i64,
    quantity: i64,
    reason: StockReason,
    reference: &str,
    actor: Option<i64>,
) -> Result<Result<sku::Model, StockRefusal>, AppError> {
    if !rules::valid_quantity(quantity) {
        return Err(AppError::bad_input(
            "the quantity must be between 1 and 1,000,000",
        ));
    }
    change_stock(
        app,
        tx,
        StockChange {
            sku_id,
            delta: quantity,
            reason,
            reference: Some(reference),
            note: None,
            actor,
        },
    )
    .await
}

/// The global default safety stock (a setting staff can change).
pub async fn default_safety_stock(conn: &impl ConnectionTrait) -> Result<i32, AppError> {
    Ok(
        system_setting::Entity::find_by_id(SETTING_DEFAULT_SAFETY_STOCK)
            .one(conn)
            .await?
            .and_then(|s| s.value.parse().ok())
            .unwrap_or(DEFAULT_SAFETY_STOCK),
    )
}

/// The safety stock that applies to a SKU of `product_id` whose own setting is `own` (its own,
/// its product's, its categories', global). The product, the category tree and the global
/// default come from the catalogue cache, which forgets them in the commit that changes them:
/// every order checks the threshold, and it should not cost the write lock three more
/// statements each time.
pub async fn threshold_for(
    app: &AppState,
    conn: &impl ConnectionTrait,
    product_id: i64,
    own: Option<i32>,
) -> Result<i32, AppError> {
    if let Some(own) = own {
        return Ok(own);
    }
    let product = app
        .catalog
        .bundles(conn, &[product_id])
        .await?
        .remove(&product_id)
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("SKU without product")))?
        .product
        .clone();
    if let Some(p) = product.safety_stock {
        return Ok(p);
    }
    let chain = match product.category_id {
        Some(category_id) => {
            let categories = app.catalog.categories(conn).await?;
            let parents: Parents = categories.iter().map(|c| (c.id, c.parent_id)).collect();
            ancestors(&parents, category_id)
                .into_iter()
                .map(|id| {
                    categories
                        .iter()
                        .find(|c| c.id == id)
                        .and_then(|c| c.safety_stock)
                })
                .collect()
        }
        None => Vec::new(),
    };
    Ok(effective_safety_stock(
        None,
        None,
        &chain,
        app.catalog.default_safety_stock(conn).await?,
    ))
}

async fn apply_alert_transition(
    app: &AppState,
    tx: &WriteTx,
    sku: sku::Model,
    delta: i64,
) -> Result<sku::Model, AppError> {
    // Only a fall can raise and only a rise can re-arm: skip the threshold lookup otherwise.
    let may_change = (delta < 0 && !sku.low_stock_alerted) || (delta > 0 && sku.low_stock_alerted);
    if !may_change {
        return Ok(sku);
    }
    let threshold = threshold_for(app, &**tx, sku.product_id, sku.safety_stock).await?;
    match rules::alert_change(sku.low_stock_alerted, sku.stock, threshold) {
        AlertChange::None => Ok(sku),
        AlertChange::Raise => raise_alert(app, tx, sku, threshold).await,
        AlertChange::Rearm => rearm(tx, sku).await,
    }
}

async fn set_alerted(tx: &WriteTx, sku: sku::Model, alerted: bool) -> Result<sku::Model, AppError> {
    let mut active: sku::ActiveModel = sku.into();
    active.low_stock_alerted = Set(alerted);
    Ok(active.update(&**tx).await?)
}

async fn rearm(tx: &WriteTx, sku: sku::Model) -> Result<sku::Model, AppError> {
    low_stock_alert::Entity::update_many()
        .col_expr(low_stock_alert::Column::ResolvedAt, Expr::value(Utc::now()))
        .filter(low_stock_alert::Column::SkuId.eq(sku.id))
        .filter(low_stock_alert::Column::ResolvedAt.is_null())
        .exec(&**tx)
        .await?;
    set_alerted(tx, sku, false).await
}

async fn raise_alert(
    app: &AppState,
    tx: &WriteTx,
    sku: sku::Model,
    threshold: i32,
) -> Result<sku::Model, AppError> {
    let product = product::Entity::find_by_id(sku.product_id)
        .one(&**tx)
        .await?
        .map(|p| p.name)
        .unwrap_or_default();
    let alert = low_stock_alert::ActiveModel {
        sku_id: Set(sku.id),
        product_id: Set(sku.product_id),
        stock: Set(sku.stock),
        threshold: Set(threshold),
        created_at: Set(Utc::now()),
        resolved_at: Set(None),
        ..Default::default()
    }
    .insert(&**tx)
    .await?;
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_LOW_STOCK,
            aggregate_type: "LowStockAlert",
            aggregate_id: alert.id,
            recipient_user_id: None,
            payload: json!({
                "alertId": alert.id,
                "skuId": sku.id,
                "productId": sku.product_id,
                "stock": sku.stock,
                "threshold": threshold,
            }),
        },
    );
    let title = format!("库存预警：{product}（{}）", sku.code);
    let body = format!(
        "SKU {} 当前库存 {}，已低于安全库存 {}，请及时补货。",
        sku.code, sku.stock, threshold
    );
    for staff_id in staff_with(&**tx, Permission::Inventory).await? {
        notify(
            tx,
            NewNotification {
                user_id: staff_id,
                kind: "STOCK",
                title: &title,
                body: &body,
                link: Some("/inventory/low-stock"),
            },
        )
        .await?;
    }
    let recipients = app.config.purchasing_email_list();
    if !recipients.is_empty() {
        email_outbox::ActiveModel {
            recipients: Set(recipients.join(",")),
            subject: Set(title),
            body: Set(body),
            status: Set("PENDING".into()),
            attempts: Set(0),
            last_error: Set(None),
            next_attempt_at: Set(Utc::now()),
            claimed_until: Set(None),
            created_at: Set(Utc::now()),
            sent_at: Set(None),
            ..Default::default()
        }
        .insert(&**tx)
        .await?;
    }
    set_alerted(tx, sku, true).await
}

/// Refusal messages shared by every caller.
pub fn refusal_message(r: &StockRefusal) -> String {
    match r {
        StockRefusal::SkuNotFound => "no such SKU".into(),
        StockRefusal::OutOfStock { available } => {
            format!("not enough stock: {available} left")
        }
        StockRefusal::TooMuch => format!("stock cannot exceed {}", rules::MAX_QUANTITY),
    }
}

/// The result of a staff stock operation, as stored for idempotent replays.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct StockOperation {
    pub sku_id: i64,
    pub stock: i64,
}

/// Why a staff stock operation was refused.
pub enum OperationRefusal {
    Stock(StockRefusal),
    InvalidQuantity(String),
    KeyReused,
}

/// A staff adjustment (`RESTOCK` or `ADJUSTMENT`), optionally idempotent by key: a retry with
/// the same key and input returns the first result without changing stock again.
pub async fn adjust_stock(
    app: &AppState,
    actor: i64,
    change: StockChange<'_>,
    idempotency_key: Option<&str>,
) -> Result<Result<StockOperation, OperationRefusal>, AppError> {
    use crate::idempotency::{self, Prior};
    if change.delta == 0 || change.delta.abs() > rules::MAX_QUANTITY {
        return Ok(Err(OperationRefusal::InvalidQuantity(
            "the change is between -1,000,000 and 1,000,000 and not zero".into(),
        )));
    }
    let hash = idempotency::request_hash(&(
        change.sku_id,
        change.delta,
        change.reason.as_str(),
        change.reference,
        change.note,
    ));
    let tx = app.db.begin_write().await?;
    if let Some(key) = idempotency_key {
        match idempotency::check(&*tx, "adjustStock", actor, key, &hash).await? {
            Prior::Replay(done) => return Ok(Ok(done)),
            Prior::Mismatch => return Ok(Err(OperationRefusal::KeyReused)),
            Prior::New => {}
        }
    }
    let sku = match change_stock(app, &tx, change).await? {
        Ok(s) => s,
        Err(r) => return Ok(Err(OperationRefusal::Stock(r))),
    };
    let done = StockOperation {
        sku_id: sku.id,
        stock: sku.stock,
    };
    if let Some(key) = idempotency_key
        && !idempotency::claim(&tx, "adjustStock", actor, key, &hash, &done).await?
    {
        // A retry with the same key committed first: undo this one and answer as it did.
        tx.rollback().await?;
        return match idempotency::check(app.db.conn(), "adjustStock", actor, key, &hash).await? {
            Prior::Replay(done) => Ok(Ok(done)),
            Prior::Mismatch => Ok(Err(OperationRefusal::KeyReused)),
            Prior::New => Err(AppError::internal(anyhow::anyhow!(
                "idempotency key adjustStock/{key} vanished"
            ))),
        };
    }
    tx.commit().await?;
    Ok(Ok(done))
}

/// Replaces the recorded stock with a physical count (a `STOCKTAKE` movement of the difference).
pub async fn stocktake(
    app: &AppState,
    actor: i64,
    sku_id: i64,
    counted: i64,
    reference: Option<&str>,
    note: Option<&str>,
) -> Result<Result<StockOperation, OperationRefusal>, AppError> {
    if !(0..=rules::MAX_QUANTITY).contains(&counted) {
        return Ok(Err(OperationRefusal::InvalidQuantity(
            "the counted stock is between 0 and 1,000,000".into(),
        )));
    }
    let tx = app.db.begin_write().await?;
    let Some(current) = sku::Entity::find_by_id(sku_id).one(&*tx).await? else {
        return Ok(Err(OperationRefusal::Stock(StockRefusal::SkuNotFound)));
    };
    let delta = counted - current.stock;
    let stock = if delta == 0 {
        current.stock
    } else {
        match change_stock(
            app,
            &tx,
            StockChange {
                sku_id,
                delta,
                reason: StockReason::Stocktake,
                reference,
                note,
                actor: Some(actor),
            },
        )
        .await?
        {
            Ok(s) => s.stock,
            Err(r) => return Ok(Err(OperationRefusal::Stock(r))),
        }
    };
    tx.commit().await?;
    Ok(Ok(StockOperation { sku_id, stock }))
}

pub async fn set_default_safety_stock(app: &AppState, value: i32) -> Result<(), AppError> {
    let tx = app.db.begin_write().await?;
    crate::db::put_setting(&*tx, SETTING_DEFAULT_SAFETY_STOCK, value.to_string()).await?;
    events::append(
        &tx,
        NewEvent {
            event_type: EVENT_DEFAULT_SAFETY_STOCK_CHANGED,
            aggregate_type: "Setting",
            aggregate_id: 0,
            recipient_user_id: None,
            payload: json!({ "safetyStock": value }),
        },
    );
    tx.commit().await?;
    Ok(())
}
