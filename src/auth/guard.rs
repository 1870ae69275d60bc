//! Authorization checks that resolvers and services share.
use async_graphql::{Context, Guard};

use super::{Permission, Viewer};
use crate::{error::AppError, graphql::context::CtxExt};

/// Field guard: the caller must be staff holding `permission` (or the owner).
pub struct PermissionGuard(pub Permission);

impl Guard for PermissionGuard {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        ctx.viewer().require_permission(self.0)?;
        Ok(())
    }
}

/// Object-level check used for every object that belongs to one user (orders, notifications,
/// commissions…): the owner may read it, and so may staff holding `staff_permission`. Anyone else
/// gets `NOT_FOUND`, exactly as if the object did not exist, so ids cannot be probed.
pub fn ensure_owner_or_staff(
    viewer: &Viewer,
    owner_user_id: i64,
    staff_permission: Option<Permission>,
    what: &str,
) -> Result<(), AppError> {
    let principal = viewer.require_user()?;
    if principal.user_id == owner_user_id {
        return Ok(());
    }
    if let Some(permission) = staff_permission
        && principal.has(permission)
    {
        return Ok(());
    }
    Err(AppError::not_found(what))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::auth::Principal;

    fn viewer(user_id: i64, staff: Option<Vec<Permission>>) -> Viewer {
        Viewer::User(Arc::new(Principal {
            user_id,
            is_distributor: false,
            is_staff: staff.is_some(),
            is_owner: false,
            permissions: staff.unwrap_or_default(),
        }))
    }

    #[test]
    fn owners_read_their_own_objects() {
        assert!(ensure_owner_or_staff(&viewer(1, None), 1, None, "order").is_ok());
    }

    #[test]
    fn others_see_not_found() {
        let err = ensure_owner_or_staff(&viewer(2, None), 1, Some(Permission::Orders), "order")
            .unwrap_err();
        assert!(matches!(err, AppError::NotFound(_)));
    }

    #[test]
    fn staff_need_the_named_permission() {
        let finance = viewer(3, Some(vec![Permission::Finance]));
        assert!(ensure_owner_or_staff(&finance, 1, Some(Permission::Orders), "order").is_err());
        let orders = viewer(4, Some(vec![Permission::Orders]));
        assert!(ensure_owner_or_staff(&orders, 1, Some(Permission::Orders), "order").is_ok());
    }

    #[test]
    fn anonymous_callers_must_sign_in() {
        let err = ensure_owner_or_staff(&Viewer::Anonymous, 1, None, "order").unwrap_err();
        assert!(matches!(err, AppError::Unauthenticated(_)));
    }
}
