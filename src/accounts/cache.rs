//! Users kept in memory for lists that show them beside other rows (an order's buyer), trusted
//! only while the database's revision of the user is the one they were read at
//! (`crate::revision_cache`). The list reads the revisions with its page, so a warm page costs
//! no statement for its users.
use std::sync::Arc;

use entity::user;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use crate::{
    error::AppError,
    revision_cache::{RevisionCache, Revisioned},
};

/// Users by id, each as read at its revision.
pub type UserCache = RevisionCache<user::Model>;

impl Revisioned for user::Model {
    fn id(&self) -> i64 {
        self.id
    }
    fn revision(&self) -> i64 {
        self.revision
    }
}

/// The users `wanted` names by `(id, revision)`, in that order: kept ones still current, and
/// the others read now in one statement. A user that no longer exists is left out.
pub async fn current(
    cache: &UserCache,
    conn: &impl ConnectionTrait,
    wanted: &[(i64, i64)],
) -> Result<Vec<Arc<user::Model>>, AppError> {
    cache
        .current(wanted, |ids| async move {
            Ok(user::Entity::find()
                .filter(user::Column::Id.is_in(ids))
                .all(conn)
                .await?)
        })
        .await
}
