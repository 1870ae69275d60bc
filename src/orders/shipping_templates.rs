//! Shipping templates as staff manage them. At most one is the default, and the default is what
//! checkout charges; with none, shipping is free.
use std::sync::Arc;

use chrono::Utc;
use entity::shipping_template;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::Expr,
};

use super::{
    errors::{OrderErrorCode, OrderResult, reject},
    shipping::ShippingRules,
};
use crate::{
    app::AppState,
    db::WriteTx,
    error::AppError,
    events::{self, NewEvent},
};

/// A template was created, changed or deleted (every instance forgets its default).
pub const EVENT_SHIPPING_TEMPLATES_CHANGED: &str = "orders.shipping_templates_changed";

pub struct TemplateDraft {
    pub name: String,
    pub rules: String,
    pub is_default: bool,
}

pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<shipping_template::Model>, AppError> {
    Ok(shipping_template::Entity::find()
        .order_by_desc(shipping_template::Column::IsDefault)
        .order_by_asc(shipping_template::Column::Id)
        .all(conn)
        .await?)
}

/// The rules of the default template, if the shop set one (none: shipping is free). Every
/// checkout asks, so they are kept in memory (`AppState::shipping_default`) until a template
/// changes.
pub async fn default_rules(app: &AppState) -> Result<Arc<Option<ShippingRules>>, AppError> {
    app.shipping_default
        .get_or_load(|| read_default_rules(app.db.conn()))
        .await
}

async fn read_default_rules(
    conn: &impl ConnectionTrait,
) -> Result<Option<ShippingRules>, AppError> {
    let Some(t) = shipping_template::Entity::find()
        .filter(shipping_template::Column::IsDefault.eq(true))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(serde_json::from_str(&t.rules)?))
}

fn announce_change(tx: &WriteTx, id: i64) {
    events::append(
        tx,
        NewEvent {
            event_type: EVENT_SHIPPING_TEMPLATES_CHANGED,
            aggregate_type: "ShippingTemplate",
            aggregate_id: id,
            recipient_user_id: None,
            payload: serde_json::json!({ "templateId": id }),
        },
    );
}

/// Creates (`id` none) or replaces a template.
pub async fn save(
    app: &AppState,
    id: Option<i64>,
    d: &TemplateDraft,
) -> OrderResult<shipping_template::Model> {
    let name = d.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return reject(
            OrderErrorCode::InvalidShippingTemplate,
            "name",
            "a template name has 1 to 64 characters",
        );
    }
    let rules: ShippingRules = match serde_json::from_str(&d.rules) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                OrderErrorCode::InvalidShippingTemplate,
                "rules",
                format!("the rules are not valid: {e}"),
            );
        }
    };
    if !rules.is_valid() {
        return reject(
            OrderErrorCode::InvalidShippingTemplate,
            "rules",
            "fees and units cannot be negative",
        );
    }
    let tx = app.db.begin_write().await?;
    if d.is_default {
        shipping_template::Entity::update_many()
            .col_expr(shipping_template::Column::IsDefault, Expr::value(false))
            .filter(shipping_template::Column::IsDefault.eq(true))
            .exec(&*tx)
            .await?;
    }
    let now = Utc::now();
    let stored = serde_json::to_string(&rules).map_err(AppError::internal)?;
    let row = match id {
        None => {
            shipping_template::ActiveModel {
                name: Set(name.to_string()),
                kind: Set(rules.kind.as_str().to_string()),
                rules: Set(stored),
                is_default: Set(d.is_default),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&*tx)
            .await?
        }
        Some(id) => {
            let Some(existing) = shipping_template::Entity::find_by_id(id).one(&*tx).await? else {
                return reject(
                    OrderErrorCode::ShippingTemplateNotFound,
                    "id",
                    "no such template",
                );
            };
            let mut row: shipping_template::ActiveModel = existing.into();
            row.name = Set(name.to_string());
            row.kind = Set(rules.kind.as_str().to_string());
            row.rules = Set(stored);
            row.is_default = Set(d.is_default);
            row.updated_at = Set(now);
            row.update(&*tx).await?
        }
    };
    announce_change(&tx, row.id);
    tx.commit().await?;
    Ok(row)
}

pub async fn delete(app: &AppState, id: i64) -> OrderResult<()> {
    let tx = app.db.begin_write().await?;
    let gone = shipping_template::Entity::delete_by_id(id)
        .exec(&*tx)
        .await?
        .rows_affected;
    if gone == 0 {
        return reject(
            OrderErrorCode::ShippingTemplateNotFound,
            "id",
            "no such template",
        );
    }
    announce_change(&tx, id);
    tx.commit().await?;
    Ok(())
}
