//! A coupon template: what its coupons give (`benefit`), to which products (`scope`), to whom
//! (`audience`), for how long (a fixed window or `valid_days` from claiming), and how many
//! (`total_quantity`, never exceeded: `issued_count` rises by a conditional update).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    /// `AMOUNT_OFF`, `PERCENT_OFF`, `FREE_SHIPPING`.
    pub benefit: String,
    pub threshold_fen: i64,
    pub amount_fen: i64,
    /// The share of the price paid, hundredths of a percent (8.5折: 8500).
    pub rate_bp: i32,
    pub cap_fen: Option<i64>,
    /// `SHOP`, `CATEGORIES`, `PRODUCTS`, `ALL_EXCEPT`.
    pub scope: String,
    /// The scope's ids, a JSON array.
    pub scope_ids: String,
    /// `ANYONE`, `NEW_USERS`, `LEVELS`.
    pub audience: String,
    /// The audience's level ids, a JSON array.
    pub audience_ids: String,
    pub valid_from: Option<DateTimeUtc>,
    pub valid_until: Option<DateTimeUtc>,
    pub valid_days: Option<i32>,
    pub total_quantity: i64,
    pub issued_count: i64,
    pub per_user_limit: i32,
    pub stacks_with_activities: bool,
    /// Shown in the coupon centre for buyers to claim.
    pub claimable: bool,
    /// Points a buyer may exchange for one coupon (积分兑券); `None`: not exchangeable.
    pub points_price: Option<i64>,
    /// `REGISTRATION` or `BIRTHDAY`: given automatically on that occasion; `None`: not.
    pub issue_on: Option<String>,
    /// `ACTIVE`, `STOPPED`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
