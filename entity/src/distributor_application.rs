//! Applications to become a distributor, with the answers to the merchant's form.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "distributor_applications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    /// JSON object: form field key → answer.
    pub answers: String,
    /// The referral code of the distributor who invited the applicant, if any.
    pub inviter_code: Option<String>,
    pub reason: Option<String>,
    pub reviewed_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub reviewed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
