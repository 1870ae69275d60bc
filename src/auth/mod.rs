//! Authentication and authorization plumbing shared by every area: password hashing, JWT access
//! tokens, refresh-token material, the signed-in principal and the guards resolvers call.
pub mod guard;
pub mod jwt;
pub mod password;
pub mod principal;
pub mod refresh;

pub use guard::{PermissionGuard, ensure_owner_or_staff};
pub use principal::{ACCOUNT_UPDATED, Permission, Principal, PrincipalCache, Role, Viewer};
