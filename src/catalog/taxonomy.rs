//! Categories (a tree), brands and audience tags.
use chrono::Utc;
use entity::{audience, brand, category, product, product_audience};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;

use super::{
    errors::{CatalogErrorCode as Code, CatalogResult, reject},
    rules::{self, Parents},
};
use crate::{
    app::AppState,
    db::{WriteTx, is_unique_violation},
    error::AppError,
    events::{self, NewEvent},
};

pub const EVENT_CATEGORY_CHANGED: &str = "catalog.category_changed";
pub const EVENT_BRAND_CHANGED: &str = "catalog.brand_changed";
pub const EVENT_AUDIENCE_CHANGED: &str = "catalog.audience_changed";

fn clean_name(raw: &str, max: usize) -> CatalogResult<String> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return reject(
            Code::InvalidName,
            "name",
            format!("a name has 1 to {max} characters"),
        );
    }
    Ok(name.to_string())
}

pub async fn all_categories(conn: &impl ConnectionTrait) -> Result<Vec<category::Model>, AppError> {
    Ok(category::Entity::find()
        .order_by_asc(category::Column::SortOrder)
        .order_by_asc(category::Column::Id)
        .all(conn)
        .await?)
}

pub fn parents_of(categories: &[category::Model]) -> Parents {
    categories.iter().map(|c| (c.id, c.parent_id)).collect()
}

async fn taxonomy_event(
    tx: &WriteTx,
    event_type: &'static str,
    aggregate_type: &'static str,
    id: i64,
) -> Result<(), AppError> {
    events::append(
        tx,
        NewEvent {
            event_type,
            aggregate_type,
            aggregate_id: id,
            recipient_user_id: None,
            payload: json!({ "id": id }),
        },
    );
    Ok(())
}

async fn sibling_name_taken(
    conn: &impl ConnectionTrait,
    parent: Option<i64>,
    name: &str,
    except: Option<i64>,
) -> Result<bool, AppError> {
    let mut q = category::Entity::find().filter(category::Column::Name.eq(name));
    q = match parent {
        Some(p) => q.filter(category::Column::ParentId.eq(p)),
        None => q.filter(category::Column::ParentId.is_null()),
    };
    if let Some(id) = except {
        q = q.filter(category::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? > 0)
}

fn check_safety_stock(v: Option<i32>) -> CatalogResult<()> {
    match v {
        Some(n) if !(0..=1_000_000).contains(&n) => reject(
            Code::InvalidSafetyStock,
            "safetyStock",
            "safety stock is between 0 and 1,000,000",
        ),
        _ => Ok(()),
    }
}

pub async fn create_category(
    app: &AppState,
    name: &str,
    parent_id: Option<i64>,
    sort_order: i32,
    safety_stock: Option<i32>,
) -> CatalogResult<category::Model> {
    let name = clean_name(name, 64)?;
    check_safety_stock(safety_stock)?;
    let tx = app.db.begin_write().await?;
    if let Some(p) = parent_id
        && category::Entity::find_by_id(p).one(&*tx).await?.is_none()
    {
        return reject(
            Code::CategoryNotFound,
            "parentId",
            "no such parent category",
        );
    }
    if sibling_name_taken(&*tx, parent_id, &name, None).await? {
        return reject(Code::NameTaken, "name", "a sibling category has this name");
    }
    let now = Utc::now();
    let c = category::ActiveModel {
        parent_id: Set(parent_id),
        name: Set(name),
        sort_order: Set(sort_order),
        safety_stock: Set(safety_stock),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    taxonomy_event(&tx, EVENT_CATEGORY_CHANGED, "Category", c.id).await?;
    tx.commit().await?;
    Ok(c)
}

/// Renames, re-sorts, re-parents and sets the safety stock of a category; `None` keeps a field.
pub struct CategoryPatch {
    pub name: Option<String>,
    pub sort_order: Option<i32>,
    /// `Some(None)` moves the category to the top level.
    pub parent_id: Option<Option<i64>>,
    pub safety_stock: Option<Option<i32>>,
}

pub async fn update_category(
    app: &AppState,
    id: i64,
    patch: CategoryPatch,
) -> CatalogResult<category::Model> {
    let name = patch
        .name
        .as_deref()
        .map(|n| clean_name(n, 64))
        .transpose()?;
    if let Some(s) = patch.safety_stock {
        check_safety_stock(s)?;
    }
    let tx = app.db.begin_write().await?;
    let all = all_categories(&*tx).await?;
    let Some(current) = all.iter().find(|c| c.id == id).cloned() else {
        return reject(Code::CategoryNotFound, "id", "no such category");
    };
    let parent = patch.parent_id.unwrap_or(current.parent_id);
    if let Some(p) = parent {
        if !all.iter().any(|c| c.id == p) {
            return reject(
                Code::CategoryNotFound,
                "parentId",
                "no such parent category",
            );
        }
        if rules::would_create_cycle(&parents_of(&all), id, Some(p)) {
            return reject(
                Code::CategoryCycle,
                "parentId",
                "a category cannot move below itself",
            );
        }
    }
    let new_name = name.clone().unwrap_or_else(|| current.name.clone());
    if sibling_name_taken(&*tx, parent, &new_name, Some(id)).await? {
        return reject(Code::NameTaken, "name", "a sibling category has this name");
    }
    let mut active: category::ActiveModel = current.into();
    active.name = Set(new_name);
    active.parent_id = Set(parent);
    if let Some(s) = patch.sort_order {
        active.sort_order = Set(s);
    }
    if let Some(s) = patch.safety_stock {
        active.safety_stock = Set(s);
    }
    active.updated_at = Set(Utc::now());
    let c = active.update(&*tx).await?;
    taxonomy_event(&tx, EVENT_CATEGORY_CHANGED, "Category", id).await?;
    tx.commit().await?;
    Ok(c)
}

/// Sets the order of `ids` (siblings) to their position in the list.
pub async fn reorder_categories(
    app: &AppState,
    ids: &[i64],
) -> CatalogResult<Vec<category::Model>> {
    let tx = app.db.begin_write().await?;
    let all = all_categories(&*tx).await?;
    let parent = match ids.first().and_then(|f| all.iter().find(|c| c.id == *f)) {
        Some(c) => c.parent_id,
        None => return reject(Code::CategoryNotFound, "ids", "no such category"),
    };
    let mut out = Vec::with_capacity(ids.len());
    for (pos, id) in ids.iter().enumerate() {
        let Some(c) = all.iter().find(|c| c.id == *id) else {
            return reject(Code::CategoryNotFound, "ids", "no such category");
        };
        if c.parent_id != parent {
            return reject(
                Code::InvalidName,
                "ids",
                "only siblings can be reordered together",
            );
        }
        let mut active: category::ActiveModel = c.clone().into();
        active.sort_order = Set(pos as i32);
        active.updated_at = Set(Utc::now());
        out.push(active.update(&*tx).await?);
        taxonomy_event(&tx, EVENT_CATEGORY_CHANGED, "Category", *id).await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Deletes a category that has no sub-categories and no products.
pub async fn delete_category(app: &AppState, id: i64) -> CatalogResult<()> {
    let tx = app.db.begin_write().await?;
    if category::Entity::find_by_id(id).one(&*tx).await?.is_none() {
        return reject(Code::CategoryNotFound, "id", "no such category");
    }
    let children = category::Entity::find()
        .filter(category::Column::ParentId.eq(id))
        .count(&*tx)
        .await?;
    let products = product::Entity::find()
        .filter(product::Column::CategoryId.eq(id))
        .count(&*tx)
        .await?;
    if children > 0 || products > 0 {
        return reject(
            Code::CategoryNotEmpty,
            "id",
            format!("the category has {children} sub-categories and {products} products"),
        );
    }
    category::Entity::delete_by_id(id).exec(&*tx).await?;
    taxonomy_event(&tx, EVENT_CATEGORY_CHANGED, "Category", id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_brand(
    app: &AppState,
    id: Option<i64>,
    name: &str,
    logo_url: Option<String>,
    sort_order: i32,
) -> CatalogResult<brand::Model> {
    let name = clean_name(name, 64)?;
    if let Some(url) = &logo_url
        && (url.len() > 512
            || !(url.starts_with("https://") || url.starts_with("http://") || url.starts_with('/')))
    {
        return reject(
            Code::InvalidImage,
            "logoUrl",
            "the logo must be an http(s) URL or a /media path",
        );
    }
    let tx = app.db.begin_write().await?;
    let model = match id {
        Some(id) => {
            let Some(b) = brand::Entity::find_by_id(id).one(&*tx).await? else {
                return reject(Code::BrandNotFound, "id", "no such brand");
            };
            let mut active: brand::ActiveModel = b.into();
            active.name = Set(name);
            active.logo_url = Set(logo_url);
            active.sort_order = Set(sort_order);
            active.update(&*tx).await
        }
        None => {
            brand::ActiveModel {
                name: Set(name),
                logo_url: Set(logo_url),
                sort_order: Set(sort_order),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&*tx)
            .await
        }
    };
    let b = match model {
        Ok(b) => b,
        Err(e) if is_unique_violation(&e) => {
            return reject(Code::NameTaken, "name", "another brand has this name");
        }
        Err(e) => return Err(e.into()),
    };
    taxonomy_event(&tx, EVENT_BRAND_CHANGED, "Brand", b.id).await?;
    tx.commit().await?;
    Ok(b)
}

pub async fn delete_brand(app: &AppState, id: i64) -> CatalogResult<()> {
    let tx = app.db.begin_write().await?;
    if brand::Entity::find_by_id(id).one(&*tx).await?.is_none() {
        return reject(Code::BrandNotFound, "id", "no such brand");
    }
    let used = product::Entity::find()
        .filter(product::Column::BrandId.eq(id))
        .count(&*tx)
        .await?;
    if used > 0 {
        return reject(Code::InUse, "id", format!("{used} products use this brand"));
    }
    brand::Entity::delete_by_id(id).exec(&*tx).await?;
    taxonomy_event(&tx, EVENT_BRAND_CHANGED, "Brand", id).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn save_audience(
    app: &AppState,
    id: Option<i64>,
    name: &str,
    sort_order: i32,
) -> CatalogResult<audience::Model> {
    let name = clean_name(name, 32)?;
    let tx = app.db.begin_write().await?;
    let model = match id {
        Some(id) => {
            let Some(a) = audience::Entity::find_by_id(id).one(&*tx).await? else {
                return reject(Code::AudienceNotFound, "id", "no such audience");
            };
            let mut active: audience::ActiveModel = a.into();
            active.name = Set(name);
            active.sort_order = Set(sort_order);
            active.update(&*tx).await
        }
        None => {
            audience::ActiveModel {
                name: Set(name),
                sort_order: Set(sort_order),
                created_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&*tx)
            .await
        }
    };
    let a = match model {
        Ok(a) => a,
        Err(e) if is_unique_violation(&e) => {
            return reject(Code::NameTaken, "name", "another audience has this name");
        }
        Err(e) => return Err(e.into()),
    };
    taxonomy_event(&tx, EVENT_AUDIENCE_CHANGED, "Audience", a.id).await?;
    tx.commit().await?;
    Ok(a)
}

pub async fn delete_audience(app: &AppState, id: i64) -> CatalogResult<()> {
    let tx = app.db.begin_write().await?;
    if audience::Entity::find_by_id(id).one(&*tx).await?.is_none() {
        return reject(Code::AudienceNotFound, "id", "no such audience");
    }
    let used = product_audience::Entity::find()
        .filter(product_audience::Column::AudienceId.eq(id))
        .count(&*tx)
        .await?;
    if used > 0 {
        return reject(
            Code::InUse,
            "id",
            format!("{used} products use this audience"),
        );
    }
    audience::Entity::delete_by_id(id).exec(&*tx).await?;
    taxonomy_event(&tx, EVENT_AUDIENCE_CHANGED, "Audience", id).await?;
    tx.commit().await?;
    Ok(())
}
