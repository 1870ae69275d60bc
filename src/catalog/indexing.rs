//! Keeps the embedded search index in step with the database. On start the index is opened,
//! rebuilt when missing or incompatible, and brought up to date from the outbox since the last
//! event it applied; afterwards it follows the events as they are dispatched, so a change is
//! searchable within a second on every instance.
use std::{collections::HashSet, sync::Arc, time::Duration};

use entity::{brand, category, domain_event, product, product_audience, product_spec, sku};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::json;

use super::{
    rules::{self, ProductStatus},
    service::{EVENT_PRODUCT_CHANGED, EVENT_SALES_COUNTED},
    taxonomy::{EVENT_BRAND_CHANGED, EVENT_CATEGORY_CHANGED, parents_of},
};
use crate::{
    app::AppState,
    error::AppError,
    events::Event,
    inventory::service::EVENT_STOCK_CHANGED,
    search::{ProductDoc, SearchIndex},
};

/// Events that can change what the index holds.
const EVENT_TYPES: [&str; 5] = [
    EVENT_PRODUCT_CHANGED,
    EVENT_STOCK_CHANGED,
    EVENT_SALES_COUNTED,
    EVENT_CATEGORY_CHANGED,
    EVENT_BRAND_CHANGED,
];

/// Builds the search documents of `ids` (all products when `None`), in a constant number of
/// queries.
pub async fn product_docs(
    conn: &impl ConnectionTrait,
    ids: Option<&[i64]>,
) -> Result<Vec<ProductDoc>, AppError> {
    let mut q = product::Entity::find().order_by_asc(product::Column::Id);
    if let Some(ids) = ids {
        q = q.filter(product::Column::Id.is_in(ids.iter().copied()));
    }
    let products = q.all(conn).await?;
    let product_ids: Vec<i64> = products.iter().map(|p| p.id).collect();
    let skus = sku::Entity::find()
        .filter(sku::Column::ProductId.is_in(product_ids.iter().copied()))
        .filter(sku::Column::Active.eq(true))
        .all(conn)
        .await?;
    let specs = product_spec::Entity::find()
        .filter(product_spec::Column::ProductId.is_in(product_ids.iter().copied()))
        .all(conn)
        .await?;
    let audiences = product_audience::Entity::find()
        .filter(product_audience::Column::ProductId.is_in(product_ids.iter().copied()))
        .all(conn)
        .await?;
    let brands = brand::Entity::find().all(conn).await?;
    let categories = category::Entity::find().all(conn).await?;
    let parents = parents_of(&categories);

    Ok(products
        .into_iter()
        .map(|p| {
            let own_skus: Vec<&sku::Model> = skus.iter().filter(|s| s.product_id == p.id).collect();
            let path = p
                .category_id
                .map(|c| rules::ancestors(&parents, c))
                .unwrap_or_default();
            ProductDoc {
                id: p.id,
                name: p.name,
                subtitle: p.subtitle,
                brand_id: p.brand_id,
                brand_name: p
                    .brand_id
                    .and_then(|b| brands.iter().find(|x| x.id == b))
                    .map(|b| b.name.clone())
                    .unwrap_or_default(),
                category_id: p.category_id,
                category_names: path
                    .iter()
                    .filter_map(|id| categories.iter().find(|c| c.id == *id))
                    .map(|c| c.name.clone())
                    .collect(),
                category_path_ids: path,
                description_text: p.description_text,
                spec_values: specs
                    .iter()
                    .filter(|s| s.product_id == p.id)
                    .flat_map(|s| {
                        serde_json::from_str::<Vec<String>>(&s.values).unwrap_or_default()
                    })
                    .collect(),
                audience_ids: audiences
                    .iter()
                    .filter(|a| a.product_id == p.id)
                    .map(|a| a.audience_id)
                    .collect(),
                sku_prices_fen: own_skus.iter().map(|s| s.price_fen).collect(),
                in_stock: own_skus.iter().any(|s| s.stock > 0),
                on_sale: p.status == ProductStatus::OnSale.as_str(),
                sales: p.sales,
                created_at: p.created_at.timestamp(),
            }
        })
        .collect())
}

/// Products whose documents an event may have changed.
async fn affected_products(
    conn: &impl ConnectionTrait,
    events: &[Arc<Event>],
) -> Result<HashSet<i64>, AppError> {
    let mut ids = HashSet::new();
    let mut categories = HashSet::new();
    let mut brands = HashSet::new();
    for e in events {
        match e.event_type.as_str() {
            EVENT_PRODUCT_CHANGED | EVENT_SALES_COUNTED => {
                ids.insert(e.aggregate_id);
            }
            EVENT_STOCK_CHANGED if e.payload["crossedZero"] == true => {
                if let Some(p) = e.payload["productId"].as_i64() {
                    ids.insert(p);
                }
            }
            EVENT_CATEGORY_CHANGED => {
                categories.insert(e.aggregate_id);
            }
            EVENT_BRAND_CHANGED => {
                brands.insert(e.aggregate_id);
            }
            _ => {}
        }
    }
    if !categories.is_empty() {
        let all = category::Entity::find().all(conn).await?;
        let parents = parents_of(&all);
        let scope: HashSet<i64> = categories
            .iter()
            .flat_map(|c| rules::descendants(&parents, *c))
            .collect();
        ids.extend(product_ids_where(conn, product::Column::CategoryId.is_in(scope)).await?);
    }
    if !brands.is_empty() {
        ids.extend(product_ids_where(conn, product::Column::BrandId.is_in(brands)).await?);
    }
    Ok(ids)
}

async fn product_ids_where(
    conn: &impl ConnectionTrait,
    condition: sea_orm::sea_query::SimpleExpr,
) -> Result<Vec<i64>, AppError> {
    Ok(product::Entity::find()
        .select_only()
        .column(product::Column::Id)
        .filter(condition)
        .into_tuple::<i64>()
        .all(conn)
        .await?)
}

fn last_event_id(index: &dyn SearchIndex) -> Option<i64> {
    let meta = index.meta().ok()??;
    serde_json::from_str::<serde_json::Value>(&meta).ok()?["lastEventId"].as_i64()
}

fn set_last_event_id(index: &dyn SearchIndex, id: i64) -> anyhow::Result<()> {
    index.set_meta(&json!({ "lastEventId": id }).to_string())
}

/// Re-reads the given products and writes them to the index (removing those that are gone).
pub async fn refresh(
    app: &AppState,
    ids: &HashSet<i64>,
    through_event: Option<i64>,
) -> Result<(), AppError> {
    let list: Vec<i64> = ids.iter().copied().collect();
    let docs = product_docs(app.db.conn(), Some(&list)).await?;
    let gone: Vec<i64> = list
        .iter()
        .copied()
        .filter(|id| !docs.iter().any(|d| d.id == *id))
        .collect();
    let index = app.search.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        if !docs.is_empty() {
            index.upsert(&docs)?;
        }
        if !gone.is_empty() {
            index.delete(&gone)?;
        }
        if let Some(id) = through_event {
            set_last_event_id(index.as_ref(), id)?;
        }
        Ok(())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::Internal)?;
    if let Some(id) = through_event {
        app.catalog.indexed_through(id);
    }
    Ok(())
}

/// Replaces the index content with every product in the database.
pub async fn rebuild(app: &AppState) -> Result<u64, AppError> {
    // Events after this id are applied later by the follower; applying one twice is harmless.
    let high_water = domain_event::Entity::find()
        .select_only()
        .column_as(domain_event::Column::Id.max(), "max")
        .into_tuple::<Option<i64>>()
        .one(app.db.conn())
        .await?
        .flatten()
        .unwrap_or(0);
    let docs = product_docs(app.db.conn(), None).await?;
    let count = docs.len() as u64;
    let index = app.search.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        index.rebuild(&mut docs.into_iter())?;
        set_last_event_id(index.as_ref(), high_water)?;
        // The documents and the indexing buffers are freed now: hundreds of MB for a large
        // catalogue, which glibc would otherwise keep.
        crate::memory::give_back_free_memory();
        Ok(())
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::Internal)?;
    app.catalog.indexed_through(high_water);
    Ok(count)
}

/// Applies what the outbox holds after the index's last event.
async fn catch_up(app: &AppState) -> Result<(), AppError> {
    let Some(mut after) = last_event_id(app.search.as_ref()) else {
        rebuild(app).await?;
        return Ok(());
    };
    loop {
        let rows = domain_event::Entity::find()
            .filter(domain_event::Column::Id.gt(after))
            .filter(domain_event::Column::EventType.is_in(EVENT_TYPES))
            .order_by_asc(domain_event::Column::Id)
            .limit(5000)
            .all(app.db.conn())
            .await?;
        let Some(last) = rows.last().map(|r| r.id) else {
            return Ok(());
        };
        let events: Vec<Arc<Event>> = rows.into_iter().map(|r| Arc::new(Event::from(r))).collect();
        let ids = affected_products(app.db.conn(), &events).await?;
        refresh(app, &ids, Some(last)).await?;
        after = last;
    }
}

/// How often at most sales figures alone are written to the index.
const SALES_INTERVAL: Duration = Duration::from_secs(1);

/// Adds to `batch` what else arrives in the next moment, so it goes into one commit.
async fn gather(
    rx: &mut tokio::sync::broadcast::Receiver<Arc<Event>>,
    batch: &mut Vec<Arc<Event>>,
) {
    let deadline = tokio::time::sleep(Duration::from_millis(20));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            r = rx.recv() => match r {
                Ok(e) => batch.push(e),
                Err(_) => return,
            },
            _ = &mut deadline => return,
        }
    }
}

/// Brings the index up to date and follows the outbox until shutdown.
pub async fn start(app: &Arc<AppState>, needs_rebuild: bool) -> anyhow::Result<()> {
    let mut rx = app.bus.receiver();
    let started = std::time::Instant::now();
    if needs_rebuild {
        let n = rebuild(app).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        tracing::info!(
            products = n,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "search index rebuilt"
        );
    } else {
        catch_up(app).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let app = app.clone();
    tokio::spawn(async move {
        // Sales change with every paid order: the index takes them at most once a second
        // (product pages show them at once, from the catalogue cache), or with the next other
        // change, whichever comes first.
        let mut waiting: Vec<Arc<Event>> = Vec::new();
        let mut due: Option<tokio::time::Instant> = None;
        loop {
            let first = tokio::select! {
                r = rx.recv() => Some(r),
                _ = tokio::time::sleep_until(due.unwrap_or_else(tokio::time::Instant::now)), if due.is_some() => None,
                _ = app.shutdown.cancelled() => return,
            };
            let mut batch = Vec::new();
            let timer_rang = first.is_none();
            match first {
                None => {}
                Some(Ok(e)) => {
                    batch.push(e);
                    gather(&mut rx, &mut batch).await;
                }
                Some(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {
                    // The catch-up reads what was waiting too.
                    waiting.clear();
                    due = None;
                    if let Err(e) = catch_up(&app).await {
                        tracing::error!(error = ?e, "search index catch-up failed");
                    }
                    continue;
                }
                Some(Err(tokio::sync::broadcast::error::RecvError::Closed)) => return,
            }
            batch.retain(|e| EVENT_TYPES.contains(&e.event_type.as_str()));
            if !timer_rang && batch.iter().all(|e| e.event_type == EVENT_SALES_COUNTED) {
                if !batch.is_empty() {
                    waiting.append(&mut batch);
                    due.get_or_insert_with(|| tokio::time::Instant::now() + SALES_INTERVAL);
                }
                continue;
            }
            batch.append(&mut waiting);
            due = None;
            if batch.is_empty() {
                continue;
            }
            let through = batch.iter().map(|e| e.id).max();
            let result = async {
                let ids = affected_products(app.db.conn(), &batch).await?;
                refresh(&app, &ids, through).await
            }
            .await;
            if let Err(e) = result {
                tracing::error!(error = ?e, "search index update failed; catching up from the outbox");
                if let Err(e) = catch_up(&app).await {
                    tracing::error!(error = ?e, "search index catch-up failed");
                }
            }
        }
    });
    Ok(())
}
