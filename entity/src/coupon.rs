//! A coupon one user holds, from a template; used by at most one order (`order_id`), given
//! back when that order is cancelled unpaid or wholly refunded within its validity.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub template_id: i64,
    pub user_id: i64,
    /// `AVAILABLE`, `USED`; expiry is read from `valid_until`.
    pub status: String,
    /// `CLAIMED`, `ISSUED`, `CODE`, `POINTS`, `REGISTRATION`, `BIRTHDAY`.
    pub source: String,
    pub valid_from: DateTimeUtc,
    pub valid_until: DateTimeUtc,
    pub order_id: Option<i64>,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::coupon_template::Entity",
        from = "Column::TemplateId",
        to = "super::coupon_template::Column::Id"
    )]
    Template,
}

impl Related<super::coupon_template::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Template.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
