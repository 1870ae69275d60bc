//! Who is calling: the `Viewer` of a request and, when signed in, their `Principal` — roles and
//! staff permissions as the database says *now*, not as the token said when it was issued. The
//! cache of principals drops an entry when the account changes (at once on the instance that
//! changed it, when the `account.updated` event arrives on the others) and after a few seconds
//! in any case, so disabling an account or revoking a permission takes effect at once here and
//! within the event's delivery everywhere else. Long-lived callers (WebSockets) `watch` an
//! account to learn of such changes.
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::Enum;
use entity::{staff_permission, user};
use parking_lot::{Mutex, RwLock};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use tokio::sync::watch;

use crate::error::AppError;

/// The outbox event written whenever an account's profile, password, roles, permissions or
/// disabled flag change; every instance drops its cached principal when it arrives.
pub const ACCOUNT_UPDATED: &str = "account.updated";

/// Staff permissions (ARCHITECTURE.md §5). The owner has all of them.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Products, categories, brands, specs and SKUs.
    Catalog,
    /// Stock adjustments, stock ledger and low-stock alerts.
    Inventory,
    /// Order review, shipping, refunds and returns.
    Orders,
    /// Distributor review, teams and commission rules.
    Distribution,
    /// Coupons, promotions, group buys and notices to consumers.
    Marketing,
    /// Withdrawals, balances and money movements.
    Finance,
    /// Sales and distribution reports.
    Reports,
    /// Staff accounts and their permissions.
    StaffAdmin,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Catalog,
        Permission::Inventory,
        Permission::Orders,
        Permission::Distribution,
        Permission::Marketing,
        Permission::Finance,
        Permission::Reports,
        Permission::StaffAdmin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Catalog => "CATALOG",
            Permission::Inventory => "INVENTORY",
            Permission::Orders => "ORDERS",
            Permission::Distribution => "DISTRIBUTION",
            Permission::Marketing => "MARKETING",
            Permission::Finance => "FINANCE",
            Permission::Reports => "REPORTS",
            Permission::StaffAdmin => "STAFF_ADMIN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// The roles a signed-in user can hold at once.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Every signed-in user.
    Customer,
    /// A customer whose distributor application was approved.
    Distributor,
    /// A merchant employee; what they may do is given by their permissions.
    Staff,
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub user_id: i64,
    pub is_distributor: bool,
    pub is_staff: bool,
    pub is_owner: bool,
    /// Sorted; for the owner, every permission.
    pub permissions: Vec<Permission>,
}

impl Principal {
    pub fn has(&self, permission: Permission) -> bool {
        self.is_staff && (self.is_owner || self.permissions.contains(&permission))
    }

    pub fn roles(&self) -> Vec<Role> {
        let mut roles = vec![Role::Customer];
        if self.is_distributor {
            roles.push(Role::Distributor);
        }
        if self.is_staff {
            roles.push(Role::Staff);
        }
        roles
    }

    /// Whether this principal still holds every role and permission `before` held. A socket's
    /// operations were authorized with `before`; when this is false they may show more than
    /// the account may now see.
    pub fn keeps_every_right_of(&self, before: &Principal) -> bool {
        self.user_id == before.user_id
            && (self.is_staff || !before.is_staff)
            && (self.is_owner || !before.is_owner)
            && (self.is_distributor || !before.is_distributor)
            && before.permissions.iter().all(|p| self.has(*p))
    }

    pub fn from_rows(user: &user::Model, granted: &[String]) -> Self {
        let mut permissions: Vec<Permission> = if user.is_owner {
            Permission::ALL.to_vec()
        } else if user.is_staff {
            granted
                .iter()
                .filter_map(|p| Permission::parse(p))
                .collect()
        } else {
            Vec::new()
        };
        permissions.sort();
        permissions.dedup();
        Self {
            user_id: user.id,
            is_distributor: user.is_distributor,
            is_staff: user.is_staff,
            is_owner: user.is_owner,
            permissions,
        }
    }
}

/// The caller of one request or WebSocket connection.
#[derive(Clone, Debug, Default)]
pub enum Viewer {
    #[default]
    Anonymous,
    User(Arc<Principal>),
}

impl Viewer {
    pub fn principal(&self) -> Option<&Arc<Principal>> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(p) => Some(p),
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        self.principal().map(|p| p.user_id)
    }

    pub fn require_user(&self) -> Result<&Arc<Principal>, AppError> {
        self.principal().ok_or_else(AppError::unauthenticated)
    }

    pub fn require_permission(&self, permission: Permission) -> Result<&Arc<Principal>, AppError> {
        let p = self.require_user()?;
        if p.has(permission) {
            Ok(p)
        } else {
            Err(AppError::Forbidden(format!(
                "this needs the {} permission",
                permission.as_str()
            )))
        }
    }
}

/// A cached lookup: when it was made, and the principal (`None`: missing or disabled).
type CacheEntry = (Instant, Option<Arc<Principal>>);

/// Principals by user id, each kept for `ttl`. Local changes invalidate at once; changes made
/// by other instances arrive as `account.updated` events and invalidate too.
pub struct PrincipalCache {
    ttl: Duration,
    entries: RwLock<HashMap<i64, CacheEntry>>,
    /// Accounts someone is watching (open WebSockets), each with a counter raised on every
    /// invalidation. Entries nobody watches any more are dropped as the map grows.
    watched: Mutex<HashMap<i64, watch::Sender<u64>>>,
}

impl PrincipalCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: RwLock::new(HashMap::new()),
            watched: Mutex::new(HashMap::new()),
        }
    }

    /// A receiver that changes whenever `user_id`'s account may have changed (see
    /// `invalidate`); the holder reloads the principal with `get` to learn what changed.
    pub fn watch(&self, user_id: i64) -> watch::Receiver<u64> {
        let mut watched = self.watched.lock();
        if let Some(tx) = watched.get(&user_id) {
            return tx.subscribe();
        }
        if watched.len() >= 1024 && watched.len().is_power_of_two() {
            watched.retain(|_, tx| tx.receiver_count() > 0);
        }
        let (tx, rx) = watch::channel(0);
        watched.insert(user_id, tx);
        rx
    }

    /// The principal of an active account, `None` if the account is missing or disabled.
    pub async fn get(
        &self,
        conn: &impl ConnectionTrait,
        user_id: i64,
    ) -> Result<Option<Arc<Principal>>, AppError> {
        if let Some((at, p)) = self.entries.read().get(&user_id)
            && at.elapsed() < self.ttl
        {
            return Ok(p.clone());
        }
        let principal = load(conn, user_id).await?.map(Arc::new);
        let mut entries = self.entries.write();
        if entries.len() > 100_000 {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        entries.insert(user_id, (Instant::now(), principal.clone()));
        Ok(principal)
    }

    /// Forgets `user_id`'s principal and tells whoever watches the account.
    pub fn invalidate(&self, user_id: i64) {
        self.entries.write().remove(&user_id);
        let mut watched = self.watched.lock();
        if let Some(tx) = watched.get(&user_id) {
            if tx.receiver_count() == 0 {
                watched.remove(&user_id);
            } else {
                tx.send_modify(|n| *n += 1);
            }
        }
    }
}

async fn load(conn: &impl ConnectionTrait, user_id: i64) -> Result<Option<Principal>, AppError> {
    let Some(user) = user::Entity::find_by_id(user_id).one(conn).await? else {
        return Ok(None);
    };
    if user.disabled {
        return Ok(None);
    }
    let granted: Vec<String> = if user.is_staff && !user.is_owner {
        staff_permission::Entity::find()
            .filter(staff_permission::Column::UserId.eq(user_id))
            .all(conn)
            .await?
            .into_iter()
            .map(|p| p.permission)
            .collect()
    } else {
        Vec::new()
    };
    Ok(Some(Principal::from_rows(&user, &granted)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(is_staff: bool, is_owner: bool) -> user::Model {
        let now = chrono::Utc::now();
        user::Model {
            id: 7,
            phone: None,
            password_hash: None,
            wechat_openid: None,
            wechat_unionid: None,
            nickname: "n".into(),
            avatar_url: None,
            gender: "UNKNOWN".into(),
            birthday: None,
            is_staff,
            is_owner,
            is_distributor: false,
            disabled: false,
            created_at: now,
            updated_at: now,
            revision: 0,
        }
    }

    #[test]
    fn owner_has_every_permission() {
        let p = Principal::from_rows(&user(true, true), &[]);
        assert!(Permission::ALL.iter().all(|perm| p.has(*perm)));
    }

    #[test]
    fn staff_have_only_what_was_granted() {
        let p = Principal::from_rows(&user(true, false), &["ORDERS".into(), "BOGUS".into()]);
        assert!(p.has(Permission::Orders));
        assert!(!p.has(Permission::Finance));
        assert_eq!(p.permissions, vec![Permission::Orders]);
    }

    #[test]
    fn losing_any_role_or_permission_is_noticed_and_gaining_is_not() {
        let before = Principal::from_rows(&user(true, false), &["ORDERS".into(), "CATALOG".into()]);
        let same = Principal::from_rows(&user(true, false), &["CATALOG".into(), "ORDERS".into()]);
        let more = Principal::from_rows(
            &user(true, false),
            &["ORDERS".into(), "CATALOG".into(), "FINANCE".into()],
        );
        let less = Principal::from_rows(&user(true, false), &["CATALOG".into()]);
        let no_longer_staff = Principal::from_rows(&user(false, false), &["ORDERS".into()]);
        assert!(same.keeps_every_right_of(&before));
        assert!(more.keeps_every_right_of(&before));
        assert!(!less.keeps_every_right_of(&before));
        assert!(!no_longer_staff.keeps_every_right_of(&before));
        let mut distributor = user(false, false);
        distributor.is_distributor = true;
        let was = Principal::from_rows(&distributor, &[]);
        assert!(!Principal::from_rows(&user(false, false), &[]).keeps_every_right_of(&was));
    }

    #[tokio::test]
    async fn watchers_hear_of_every_invalidation_of_their_account_only() {
        let cache = PrincipalCache::new(Duration::from_secs(5));
        let mut seven = cache.watch(7);
        let eight = cache.watch(8);
        cache.invalidate(7);
        assert!(seven.has_changed().unwrap());
        assert!(!eight.has_changed().unwrap());
        seven.borrow_and_update();
        drop(eight);
        cache.invalidate(8);
        assert!(
            !cache.watched.lock().contains_key(&8),
            "nobody watches 8 any more"
        );
        cache.invalidate(7);
        assert!(seven.has_changed().unwrap());
    }

    #[test]
    fn customers_have_no_permissions_even_if_rows_exist() {
        let p = Principal::from_rows(&user(false, false), &["ORDERS".into()]);
        assert!(!p.has(Permission::Orders));
        assert_eq!(p.roles(), vec![Role::Customer]);
    }
}
