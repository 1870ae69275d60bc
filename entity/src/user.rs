//! Every person who signs in: consumers, distributors and staff.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Mainland mobile number, the login name for phone + password accounts.
    #[sea_orm(unique)]
    pub phone: Option<String>,
    /// argon2id PHC string; `None` for accounts that only sign in through WeChat.
    pub password_hash: Option<String>,
    #[sea_orm(unique)]
    pub wechat_openid: Option<String>,
    pub wechat_unionid: Option<String>,
    pub nickname: String,
    pub avatar_url: Option<String>,
    /// `UNKNOWN`, `MALE` or `FEMALE`.
    pub gender: String,
    pub birthday: Option<Date>,
    pub is_staff: bool,
    pub is_owner: bool,
    pub is_distributor: bool,
    pub disabled: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Raised by the database on every change to the user (trigger of migration
    /// `m20261129_000008`): a reader holding revision N holds the user as it is now exactly
    /// when the database still says N.
    pub revision: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
