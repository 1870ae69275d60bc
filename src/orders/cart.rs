//! The cart: one per user, kept in the database so it survives logout and follows the user
//! across devices. It holds SKUs and quantities only; prices and stock are always read fresh,
//! so the cart shows what checkout will charge.
use chrono::Utc;
use entity::{cart_item, product, sku};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, sea_query::Expr,
};

use super::{
    errors::{OrderErrorCode, OrderResult, reject},
    rules::{MAX_LINE_QUANTITY, valid_line_quantity},
};
use crate::{app::AppState, catalog::rules::ProductStatus, error::AppError};

/// Distinct SKUs one cart may hold.
pub const MAX_CART_ITEMS: u64 = 100;

pub async fn items(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<cart_item::Model>, AppError> {
    Ok(cart_item::Entity::find()
        .filter(cart_item::Column::UserId.eq(user_id))
        .order_by_desc(cart_item::Column::UpdatedAt)
        .order_by_desc(cart_item::Column::Id)
        .all(conn)
        .await?)
}

/// Why a SKU cannot be put in a cart, if it cannot.
async fn check_buyable(conn: &impl ConnectionTrait, sku_id: i64) -> OrderResult<sku::Model> {
    let Some(s) = sku::Entity::find_by_id(sku_id).one(conn).await? else {
        return reject(OrderErrorCode::SkuNotFound, "skuId", "no such SKU");
    };
    let on_sale = product::Entity::find_by_id(s.product_id)
        .one(conn)
        .await?
        .is_some_and(|p| p.status == ProductStatus::OnSale.as_str());
    if !on_sale || !s.active {
        // Drafts are not admitted to exist to buyers.
        return reject(OrderErrorCode::SkuNotFound, "skuId", "no such SKU");
    }
    Ok(s)
}

/// Adds `quantity` of a SKU; a SKU already in the cart gets the quantity added, up to 999.
pub async fn add(
    app: &AppState,
    user_id: i64,
    sku_id: i64,
    quantity: i64,
) -> OrderResult<cart_item::Model> {
    if !valid_line_quantity(quantity) {
        return reject(
            OrderErrorCode::InvalidQuantity,
            "quantity",
            format!("the quantity must be between 1 and {MAX_LINE_QUANTITY}"),
        );
    }
    let tx = app.db.begin_write().await?;
    check_buyable(&*tx, sku_id).await?;
    let existing = cart_item::Entity::find()
        .filter(cart_item::Column::UserId.eq(user_id))
        .filter(cart_item::Column::SkuId.eq(sku_id))
        .one(&*tx)
        .await?;
    let now = Utc::now();
    let row = match existing {
        Some(item) => {
            let mut row: cart_item::ActiveModel = item.clone().into();
            row.quantity = Set((item.quantity + quantity).min(MAX_LINE_QUANTITY));
            row.selected = Set(true);
            row.updated_at = Set(now);
            row.update(&*tx).await?
        }
        None => {
            let count = cart_item::Entity::find()
                .filter(cart_item::Column::UserId.eq(user_id))
                .count(&*tx)
                .await?;
            if count >= MAX_CART_ITEMS {
                return reject(
                    OrderErrorCode::InvalidQuantity,
                    "skuId",
                    format!("a cart holds at most {MAX_CART_ITEMS} different items"),
                );
            }
            cart_item::ActiveModel {
                user_id: Set(user_id),
                sku_id: Set(sku_id),
                quantity: Set(quantity),
                selected: Set(true),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&*tx)
            .await?
        }
    };
    tx.commit().await?;
    Ok(row)
}

/// Sets the quantity of a SKU in the cart.
pub async fn set_quantity(
    app: &AppState,
    user_id: i64,
    sku_id: i64,
    quantity: i64,
) -> OrderResult<cart_item::Model> {
    if !valid_line_quantity(quantity) {
        return reject(
            OrderErrorCode::InvalidQuantity,
            "quantity",
            format!("the quantity must be between 1 and {MAX_LINE_QUANTITY}"),
        );
    }
    let tx = app.db.begin_write().await?;
    let Some(item) = cart_item::Entity::find()
        .filter(cart_item::Column::UserId.eq(user_id))
        .filter(cart_item::Column::SkuId.eq(sku_id))
        .one(&*tx)
        .await?
    else {
        return reject(
            OrderErrorCode::SkuNotFound,
            "skuId",
            "this SKU is not in the cart",
        );
    };
    let mut row: cart_item::ActiveModel = item.into();
    row.quantity = Set(quantity);
    row.updated_at = Set(Utc::now());
    let row = row.update(&*tx).await?;
    tx.commit().await?;
    Ok(row)
}

/// Removes SKUs from the cart; SKUs not in it are ignored.
pub async fn remove(app: &AppState, user_id: i64, sku_ids: &[i64]) -> Result<(), AppError> {
    let tx = app.db.begin_write().await?;
    cart_item::Entity::delete_many()
        .filter(cart_item::Column::UserId.eq(user_id))
        .filter(cart_item::Column::SkuId.is_in(sku_ids.iter().copied()))
        .exec(&*tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Selects or deselects SKUs for checkout (`None`: every item).
pub async fn select(
    app: &AppState,
    user_id: i64,
    sku_ids: Option<&[i64]>,
    selected: bool,
) -> Result<(), AppError> {
    let tx = app.db.begin_write().await?;
    let mut update = cart_item::Entity::update_many()
        .col_expr(cart_item::Column::Selected, Expr::value(selected))
        .filter(cart_item::Column::UserId.eq(user_id));
    if let Some(ids) = sku_ids {
        update = update.filter(cart_item::Column::SkuId.is_in(ids.iter().copied()));
    }
    update.exec(&*tx).await?;
    tx.commit().await?;
    Ok(())
}
