//! Per-request DataLoaders: every relation a resolver follows goes through one of these, so a
//! list of N objects costs a constant number of statements rather than N + 1.
use std::{collections::HashMap, sync::Arc};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::user;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::{error::AppError, request_scope::RequestScope};

pub struct Loaders {
    pub users: DataLoader<UserLoader>,
    pub permissions: DataLoader<PermissionLoader>,
}

impl Loaders {
    pub fn new(db: DatabaseConnection, scope: Option<Arc<RequestScope>>) -> Self {
        Self {
            users: DataLoader::new(UserLoader(db.clone()), spawner(scope.clone())),
            permissions: DataLoader::new(PermissionLoader(db), spawner(scope)),
        }
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
