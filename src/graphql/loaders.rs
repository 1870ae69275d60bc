//! Per-request DataLoaders: every relation a resolver follows goes through one of these, so a
//! list of N objects costs a constant number of statements rather than N + 1.
use std::{
    collections::HashMap,
    sync::{Arc, OnceLock},
};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    audience, brand, category, distributor, distributor_level, order, order_history, order_line,
    payment, product, product_image, refund, refund_line, shipment, shipment_line, sku,
    tracking_event, user,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait,
    QueryFilter,
};

use crate::{
    catalog::{
        cache::{CachedSku, CatalogCache, ProductBundle},
        response_cache::Recorder,
        rules::SpecDef,
    },
    error::AppError,
    request_scope::RequestScope,
};

/// A DataLoader built on first use. A request uses two or three of these, an idle subscription
/// none; building all of them up front cost every request and every subscription.
pub struct Lazy<T> {
    cell: OnceLock<T>,
    make: fn(&Shared) -> T,
    shared: Arc<Shared>,
}

impl<T> Lazy<T> {
    fn new(shared: &Arc<Shared>, make: fn(&Shared) -> T) -> Self {
        Self {
            cell: OnceLock::new(),
            make,
            shared: shared.clone(),
        }
    }
}

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.cell.get_or_init(|| (self.make)(&self.shared))
    }
}

/// What every loader of a request is built from.
pub struct Shared {
    db: DatabaseConnection,
    scope: Option<Arc<RequestScope>>,
    catalog: Arc<CatalogCache>,
}

impl Shared {
    fn loader<L: Loader<i64>>(&self, loader: L) -> DataLoader<L> {
        DataLoader::new(loader, spawner(self.scope.clone()))
    }

    fn by_id<E>(&self) -> DataLoader<ByIdLoader<E>>
    where
        E: EntityTrait,
        ByIdLoader<E>: Loader<i64>,
    {
        self.loader(ByIdLoader::new(self.db.clone()))
    }

    /// A loader whose results are kept for the rest of the request.
    fn cached<L: Loader<i64>>(&self, loader: L) -> DataLoader<L, HashMapCache> {
        DataLoader::with_cache(loader, spawner(self.scope.clone()), HashMapCache::default())
    }

    /// Children by parent id, kept for the rest of the request.
    fn by_parent<E>(&self, parent: E::Column) -> DataLoader<ByParentLoader<E>, HashMapCache>
    where
        E: EntityTrait,
        ByParentLoader<E>: Loader<i64>,
    {
        self.cached(ByParentLoader::new(self.db.clone(), parent))
    }
}

pub struct Loaders {
    /// Cached per request, so a list can hand it the users it already holds (`feed_many`).
    pub users: Lazy<DataLoader<UserLoader, HashMapCache>>,
    pub permissions: Lazy<DataLoader<PermissionLoader>>,
    pub skus: Lazy<DataLoader<ByIdLoader<sku::Entity>>>,
    pub orders: Lazy<DataLoader<ByIdLoader<order::Entity>>>,
    /// Distributors by user id.
    pub distributors: Lazy<DataLoader<ByIdLoader<distributor::Entity>>>,
    pub distributor_levels: Lazy<DataLoader<ByIdLoader<distributor_level::Entity>>>,
    pub order_lines_by_id: Lazy<DataLoader<ByIdLoader<order_line::Entity>>>,
    /// Cached per request, so a list can load its orders' children in one batch up front
    /// (`Loaders::prefetch`) and every order then reads them from memory.
    pub order_lines: Lazy<DataLoader<ByParentLoader<order_line::Entity>, HashMapCache>>,
    pub order_history: Lazy<DataLoader<ByParentLoader<order_history::Entity>, HashMapCache>>,
    pub order_payments: Lazy<DataLoader<ByParentLoader<payment::Entity>, HashMapCache>>,
    pub order_refunds: Lazy<DataLoader<ByParentLoader<refund::Entity>, HashMapCache>>,
    pub refund_lines: Lazy<DataLoader<ByParentLoader<refund_line::Entity>>>,
    pub order_shipments: Lazy<DataLoader<ByParentLoader<shipment::Entity>, HashMapCache>>,
    pub shipment_lines: Lazy<DataLoader<ByParentLoader<shipment_line::Entity>, HashMapCache>>,
    pub tracking_events: Lazy<DataLoader<ByParentLoader<tracking_event::Entity>, HashMapCache>>,
    /// Misses of the catalogue cache, batched.
    bundles: Lazy<DataLoader<BundleLoader>>,
    catalog: Arc<CatalogCache>,
    db: DatabaseConnection,
    /// Notes what the response read, when it may be stored whole.
    recorder: Option<Arc<Recorder>>,
    /// The caller's member price level, read once per request (see `members::PriceLevel`).
    pub member_price: tokio::sync::OnceCell<Option<crate::members::PriceLevel>>,
}

type Loaded<T> = Result<Option<T>, LoadError>;

impl Loaders {
    pub fn new(
        db: DatabaseConnection,
        catalog: Arc<CatalogCache>,
        scope: Option<Arc<RequestScope>>,
    ) -> Self {
        let sh = Arc::new(Shared {
            db: db.clone(),
            scope,
            catalog: catalog.clone(),
        });
        Self {
            users: Lazy::new(&sh, |s| s.cached(UserLoader(s.db.clone()))),
            permissions: Lazy::new(&sh, |s| s.loader(PermissionLoader(s.db.clone()))),
            skus: Lazy::new(&sh, Shared::by_id),
            orders: Lazy::new(&sh, Shared::by_id),
            distributors: Lazy::new(&sh, Shared::by_id),
            distributor_levels: Lazy::new(&sh, Shared::by_id),
            order_lines_by_id: Lazy::new(&sh, Shared::by_id),
            order_lines: Lazy::new(&sh, |s| s.by_parent(order_line::Column::OrderId)),
            order_history: Lazy::new(&sh, |s| s.by_parent(order_history::Column::OrderId)),
            order_payments: Lazy::new(&sh, |s| s.by_parent(payment::Column::OrderId)),
            order_refunds: Lazy::new(&sh, |s| s.by_parent(refund::Column::OrderId)),
            refund_lines: Lazy::new(&sh, |s| {
                s.loader(ByParentLoader::new(
                    s.db.clone(),
                    refund_line::Column::RefundId,
                ))
            }),
            order_shipments: Lazy::new(&sh, |s| s.by_parent(shipment::Column::OrderId)),
            shipment_lines: Lazy::new(&sh, |s| s.by_parent(shipment_line::Column::ShipmentId)),
            tracking_events: Lazy::new(&sh, |s| s.by_parent(tracking_event::Column::ShipmentId)),
            bundles: Lazy::new(&sh, |s| {
                s.loader(BundleLoader {
                    db: s.db.clone(),
                    cache: s.catalog.clone(),
                })
            }),
            catalog,
            db,
            recorder: None,
            member_price: tokio::sync::OnceCell::new(),
        }
    }

    /// Notes every product read into `recorder` (see `catalog::response_cache`).
    pub fn recording(mut self, recorder: Arc<Recorder>) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// The recorder of a response that may be stored whole.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_deref()
    }

    /// Notes product `id`'s version before it is read.
    fn note(&self, id: i64) {
        if let Some(r) = &self.recorder {
            r.product(id, self.catalog.product_version(id));
        }
    }

    /// A product with its SKUs, images, specs and audiences. Served from memory when cached
    /// (no batching round trip); misses of concurrent resolvers are loaded in one batch.
    pub async fn bundle(&self, id: i64) -> Loaded<Arc<ProductBundle>> {
        self.note(id);
        match self.catalog.cached(id) {
            Some(b) => Ok(Some(b)),
            None => self.bundles.load_one(id).await,
        }
    }

    pub async fn bundles(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<ProductBundle>>, LoadError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        for id in ids {
            self.note(id);
            match self.catalog.cached(id) {
                Some(b) => {
                    found.insert(id, b);
                }
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            found.extend(self.bundles.load_many(missing).await?);
        }
        Ok(found)
    }

    pub async fn product(&self, id: i64) -> Loaded<Arc<product::Model>> {
        Ok(self.bundle(id).await?.map(|b| b.product.clone()))
    }

    pub async fn products(
        &self,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<product::Model>>, LoadError> {
        Ok(self
            .bundles(ids)
            .await?
            .into_iter()
            .map(|(k, b)| (k, b.product.clone()))
            .collect())
    }

    pub async fn skus_of(&self, product_id: i64) -> Loaded<Arc<[CachedSku]>> {
        Ok(self.bundle(product_id).await?.map(|b| b.skus.clone()))
    }

    pub async fn images_of(&self, product_id: i64) -> Loaded<Arc<[product_image::Model]>> {
        Ok(self.bundle(product_id).await?.map(|b| b.images.clone()))
    }

    pub async fn specs_of(&self, product_id: i64) -> Loaded<Arc<[SpecDef]>> {
        Ok(self.bundle(product_id).await?.map(|b| b.specs.clone()))
    }

    pub async fn audiences_of(&self, product_id: i64) -> Loaded<Arc<[audience::Model]>> {
        Ok(self.bundle(product_id).await?.map(|b| b.audiences.clone()))
    }

    pub async fn brand(&self, id: i64) -> Result<Option<brand::Model>, AppError> {
        Ok(self.catalog.brands(&self.db).await?.get(&id).cloned())
    }

    /// Every category (from the in-process catalogue cache).
    pub async fn categories(&self) -> Result<Arc<Vec<category::Model>>, AppError> {
        self.catalog.categories(&self.db).await
    }
}

/// Batches run in spawned tasks; they stay inside the request's scope so their statements are
/// counted for it.
fn spawner(
    scope: Option<Arc<RequestScope>>,
) -> impl Fn(futures::future::BoxFuture<'static, ()>) -> tokio::task::JoinHandle<()>
+ Send
+ Sync
+ 'static {
    move |fut| match &scope {
        Some(scope) => tokio::spawn(scope.run(fut)),
        None => tokio::spawn(fut),
    }
}

/// Loader errors must be `Clone`; the underlying fault is logged when it is converted.
#[derive(Clone, Debug)]
pub struct LoadError(pub Arc<sea_orm::DbErr>);

impl From<LoadError> for AppError {
    fn from(e: LoadError) -> Self {
        AppError::Internal(anyhow::anyhow!("loader: {}", e.0))
    }
}

impl From<LoadError> for async_graphql::Error {
    fn from(e: LoadError) -> Self {
        AppError::from(e).into()
    }
}

pub struct UserLoader(DatabaseConnection);

impl Loader<i64> for UserLoader {
    type Value = Arc<user::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = user::Entity::find()
            .filter(user::Column::Id.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(|e| LoadError(Arc::new(e)))?;
        Ok(rows.into_iter().map(|u| (u.id, Arc::new(u))).collect())
    }
}

/// Granted staff permissions per user id (the owner's "all" is applied by `Principal`).
pub struct PermissionLoader(DatabaseConnection);

impl Loader<i64> for PermissionLoader {
    type Value = Vec<String>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = entity::staff_permission::Entity::find()
            .filter(entity::staff_permission::Column::UserId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(|e| LoadError(Arc::new(e)))?;
        let mut out: HashMap<i64, Vec<String>> = HashMap::new();
        for r in rows {
            out.entry(r.user_id).or_default().push(r.permission);
        }
        Ok(out)
    }
}

fn load_err(e: sea_orm::DbErr) -> LoadError {
    LoadError(Arc::new(e))
}

/// Rows of any table with a single `i64` primary key, by id.
pub struct ByIdLoader<E>(DatabaseConnection, std::marker::PhantomData<E>);

impl<E> ByIdLoader<E> {
    fn new(db: DatabaseConnection) -> Self {
        Self(db, std::marker::PhantomData)
    }
}

/// Models that know their own id.
pub trait HasId {
    fn id(&self) -> i64;
}

macro_rules! has_id {
    ($($m:path),*) => {$(impl HasId for $m { fn id(&self) -> i64 { self.id } })*};
}
has_id!(
    sku::Model,
    order::Model,
    order_line::Model,
    order_history::Model,
    payment::Model,
    refund::Model,
    shipment::Model,
    tracking_event::Model,
    distributor_level::Model
);

/// A distributor is identified by their user id.
impl HasId for distributor::Model {
    fn id(&self) -> i64 {
        self.user_id
    }
}

/// Refund lines have no id of their own; within a refund, the order line identifies them.
impl HasId for refund_line::Model {
    fn id(&self) -> i64 {
        self.order_line_id
    }
}

/// A parcel's lines have no id of their own; they sort by the order line they ship.
impl HasId for shipment_line::Model {
    fn id(&self) -> i64 {
        self.order_line_id
    }
}

/// Models that belong to one parent row (order lines to their order…).
pub trait HasParent {
    fn parent_id(&self) -> i64;
}

macro_rules! has_parent {
    ($($m:path => $f:ident),*) => {
        $(impl HasParent for $m { fn parent_id(&self) -> i64 { self.$f } })*
    };
}
has_parent!(
    order_line::Model => order_id,
    order_history::Model => order_id,
    payment::Model => order_id,
    refund::Model => order_id,
    refund_line::Model => refund_id,
    shipment::Model => order_id,
    shipment_line::Model => shipment_id,
    tracking_event::Model => shipment_id
);

/// The rows of a child table grouped by their parent's id, each group in id order.
pub struct ByParentLoader<E: EntityTrait> {
    db: DatabaseConnection,
    parent: E::Column,
}

impl<E: EntityTrait> ByParentLoader<E> {
    fn new(db: DatabaseConnection, parent: E::Column) -> Self {
        Self { db, parent }
    }
}

impl<E> Loader<i64> for ByParentLoader<E>
where
    E: EntityTrait + Send + Sync + 'static,
    E::Column: Send + Sync,
    E::Model: HasId + HasParent + Send + Sync + 'static,
{
    type Value = Arc<Vec<E::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = E::find()
            .filter(self.parent.is_in(keys.iter().copied()))
            .all(&self.db)
            .await
            .map_err(load_err)?;
        let mut groups: HashMap<i64, Vec<E::Model>> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            groups.entry(row.parent_id()).or_default().push(row);
        }
        Ok(groups
            .into_iter()
            .map(|(k, mut v)| {
                v.sort_by_key(HasId::id);
                (k, Arc::new(v))
            })
            .collect())
    }
}

impl<E> Loader<i64> for ByIdLoader<E>
where
    E: EntityTrait + Send + Sync + 'static,
    E::Model: HasId + Send + Sync + 'static,
    <E::PrimaryKey as PrimaryKeyTrait>::ValueType: From<i64>,
{
    type Value = Arc<E::Model>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let pk = E::PrimaryKey::iter()
            .next()
            .expect("a primary key")
            .into_column();
        let rows = E::find()
            .filter(pk.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(load_err)?;
        Ok(rows.into_iter().map(|m| (m.id(), Arc::new(m))).collect())
    }
}

fn app_err(e: AppError) -> LoadError {
    LoadError(Arc::new(sea_orm::DbErr::Custom(format!("{e:?}"))))
}

/// Product bundles from the catalogue cache (one batch for the misses).
pub struct BundleLoader {
    db: DatabaseConnection,
    cache: Arc<CatalogCache>,
}

impl Loader<i64> for BundleLoader {
    type Value = Arc<ProductBundle>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        self.cache.bundles(&self.db, keys).await.map_err(app_err)
    }
}
