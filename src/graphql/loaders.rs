//! Per-request DataLoaders: every relation a resolver follows goes through one of these, so a
//! list of N objects costs a constant number of statements rather than N + 1.
use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    audience, brand, category, product, product_audience, product_image, product_spec, sku, user,
};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Iterable, PrimaryKeyToColumn, PrimaryKeyTrait,
    QueryFilter, QueryOrder,
};

use crate::{error::AppError, request_scope::RequestScope};

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub permissions: DataLoader<PermissionLoader>,
    pub products: DataLoader<ByIdLoader<product::Entity>>,
    pub skus: DataLoader<ByIdLoader<sku::Entity>>,
    pub brands: DataLoader<ByIdLoader<brand::Entity>>,
    pub skus_of_product: DataLoader<SkusOfProduct>,
    pub images_of_product: DataLoader<ImagesOfProduct>,
    pub specs_of_product: DataLoader<SpecsOfProduct>,
    pub audiences_of_product: DataLoader<AudiencesOfProduct>,
    /// All categories, read once per request (the tree is small and most views need it whole).
    categories: tokio::sync::OnceCell<Arc<Vec<category::Model>>>,
    db: DatabaseConnection,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, scope: Option<Arc<RequestScope>>) -> Self {
        let s = || spawner(scope.clone());
        Self {
            users: DataLoader::new(UserLoader(db.clone()), s()),
            permissions: DataLoader::new(PermissionLoader(db.clone()), s()),
            products: DataLoader::new(ByIdLoader::new(db.clone()), s()),
            skus: DataLoader::new(ByIdLoader::new(db.clone()), s()),
            brands: DataLoader::new(ByIdLoader::new(db.clone()), s()),
            skus_of_product: DataLoader::new(SkusOfProduct(db.clone()), s()),
            images_of_product: DataLoader::new(ImagesOfProduct(db.clone()), s()),
            specs_of_product: DataLoader::new(SpecsOfProduct(db.clone()), s()),
            audiences_of_product: DataLoader::new(AudiencesOfProduct(db.clone()), s()),
            categories: tokio::sync::OnceCell::new(),
            db,
        }
    }

    pub async fn categories(&self) -> Result<Arc<Vec<category::Model>>, AppError> {
        self.categories
            .get_or_try_init(|| async {
                Ok::<_, AppError>(Arc::new(
                    crate::catalog::taxonomy::all_categories(&self.db).await?,
                ))
            })
            .await
            .cloned()
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
has_id!(product::Model, sku::Model, brand::Model);

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

/// Groups rows by a product id.
fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> i64) -> HashMap<i64, Arc<Vec<T>>> {
    let mut out: HashMap<i64, Vec<T>> = HashMap::new();
    for r in rows {
        out.entry(key(&r)).or_default().push(r);
    }
    out.into_iter().map(|(k, v)| (k, Arc::new(v))).collect()
}

/// Every SKU of a product (active and inactive), in id order.
pub struct SkusOfProduct(DatabaseConnection);

impl Loader<i64> for SkusOfProduct {
    type Value = Arc<Vec<sku::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = sku::Entity::find()
            .filter(sku::Column::ProductId.is_in(keys.iter().copied()))
            .order_by_asc(sku::Column::Id)
            .all(&self.0)
            .await
            .map_err(load_err)?;
        Ok(group(rows, |s| s.product_id))
    }
}

/// A product's images in display order.
pub struct ImagesOfProduct(DatabaseConnection);

impl Loader<i64> for ImagesOfProduct {
    type Value = Arc<Vec<product_image::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = product_image::Entity::find()
            .filter(product_image::Column::ProductId.is_in(keys.iter().copied()))
            .order_by_asc(product_image::Column::SortOrder)
            .order_by_asc(product_image::Column::Id)
            .all(&self.0)
            .await
            .map_err(load_err)?;
        Ok(group(rows, |i| i.product_id.unwrap_or_default()))
    }
}

/// A product's specs in order.
pub struct SpecsOfProduct(DatabaseConnection);

impl Loader<i64> for SpecsOfProduct {
    type Value = Arc<Vec<product_spec::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let rows = product_spec::Entity::find()
            .filter(product_spec::Column::ProductId.is_in(keys.iter().copied()))
            .order_by_asc(product_spec::Column::SortOrder)
            .all(&self.0)
            .await
            .map_err(load_err)?;
        Ok(group(rows, |s| s.product_id))
    }
}

/// The audiences a product is for.
pub struct AudiencesOfProduct(DatabaseConnection);

impl Loader<i64> for AudiencesOfProduct {
    type Value = Arc<Vec<audience::Model>>;
    type Error = LoadError;

    async fn load(&self, keys: &[i64]) -> Result<HashMap<i64, Self::Value>, Self::Error> {
        let links = product_audience::Entity::find()
            .filter(product_audience::Column::ProductId.is_in(keys.iter().copied()))
            .all(&self.0)
            .await
            .map_err(load_err)?;
        let audiences: HashMap<i64, audience::Model> = audience::Entity::find()
            .filter(audience::Column::Id.is_in(links.iter().map(|l| l.audience_id)))
            .all(&self.0)
            .await
            .map_err(load_err)?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let rows: Vec<(i64, audience::Model)> = links
            .into_iter()
            .filter_map(|l| {
                audiences
                    .get(&l.audience_id)
                    .map(|a| (l.product_id, a.clone()))
            })
            .collect();
        Ok(group(rows, |(p, _)| *p)
            .into_iter()
            .map(|(k, v)| {
                let mut list: Vec<audience::Model> = v.iter().map(|(_, a)| a.clone()).collect();
                list.sort_by_key(|a| (a.sort_order, a.id));
                (k, Arc::new(list))
            })
            .collect())
    }
}
