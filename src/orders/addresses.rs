//! The buyer's address book. One address may be the default; the default is what checkout
//! offers first. An order copies the address, so editing or deleting one never changes an
//! order already placed.
use chrono::Utc;
use entity::address;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, sea_query::Expr,
};

use super::errors::{OrderErrorCode, OrderResult, reject};
use crate::{accounts::rules::normalize_phone, app::AppState, db::WriteTx, error::AppError};

/// Addresses one buyer may keep.
pub const MAX_ADDRESSES: u64 = 50;

/// An address as entered, before checking.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AddressDraft {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub postal_code: Option<String>,
    pub is_default: bool,
}

/// A checked address: trimmed, the phone normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidAddress {
    pub recipient: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
    pub postal_code: Option<String>,
}

/// Checks every field; the first fault is reported with its field name.
pub fn validate(d: &AddressDraft) -> Result<ValidAddress, (&'static str, String)> {
    fn field(
        name: &'static str,
        value: &str,
        max: usize,
        label: &str,
    ) -> Result<String, (&'static str, String)> {
        let v = value.trim();
        if v.is_empty() {
            return Err((name, format!("{label} is required")));
        }
        if v.chars().count() > max {
            return Err((name, format!("{label} is at most {max} characters")));
        }
        if v.chars().any(char::is_control) {
            return Err((name, format!("{label} contains control characters")));
        }
        Ok(v.to_string())
    }
    let phone = normalize_phone(&d.phone).ok_or((
        "phone",
        "the phone must be an 11-digit mobile number".into(),
    ))?;
    let postal_code = match d.postal_code.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(p) if p.len() == 6 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.to_string()),
        Some(_) => return Err(("postalCode", "a postal code has six digits".into())),
    };
    Ok(ValidAddress {
        recipient: field("recipient", &d.recipient, 32, "the recipient")?,
        phone,
        province: field("province", &d.province, 32, "the province")?,
        city: field("city", &d.city, 32, "the city")?,
        district: field("district", &d.district, 32, "the district")?,
        detail: field("detail", &d.detail, 200, "the street address")?,
        postal_code,
    })
}

fn checked(d: &AddressDraft) -> OrderResult<ValidAddress> {
    validate(d).or_else(|(f, m)| reject(OrderErrorCode::InvalidAddress, f, m))
}

pub async fn list(
    conn: &impl ConnectionTrait,
    user_id: i64,
) -> Result<Vec<address::Model>, AppError> {
    Ok(address::Entity::find()
        .filter(address::Column::UserId.eq(user_id))
        .order_by_desc(address::Column::IsDefault)
        .order_by_desc(address::Column::UpdatedAt)
        .order_by_desc(address::Column::Id)
        .all(conn)
        .await?)
}

/// The user's address `id`; someone else's address is "not found".
pub async fn owned(
    conn: &impl ConnectionTrait,
    user_id: i64,
    id: i64,
) -> Result<Option<address::Model>, AppError> {
    Ok(address::Entity::find_by_id(id)
        .filter(address::Column::UserId.eq(user_id))
        .one(conn)
        .await?)
}

async fn clear_default(tx: &WriteTx, user_id: i64) -> Result<(), AppError> {
    address::Entity::update_many()
        .col_expr(address::Column::IsDefault, Expr::value(false))
        .filter(address::Column::UserId.eq(user_id))
        .filter(address::Column::IsDefault.eq(true))
        .exec(&**tx)
        .await?;
    Ok(())
}

pub async fn create(app: &AppState, user_id: i64, d: &AddressDraft) -> OrderResult<address::Model> {
    let v = checked(d)?;
    let tx = app.db.begin_write().await?;
    let count = address::Entity::find()
        .filter(address::Column::UserId.eq(user_id))
        .count(&*tx)
        .await?;
    if count >= MAX_ADDRESSES {
        return reject(
            OrderErrorCode::InvalidAddress,
            "recipient",
            format!("an address book holds at most {MAX_ADDRESSES} addresses"),
        );
    }
    // The first address is the default whatever was asked.
    let is_default = d.is_default || count == 0;
    if is_default {
        clear_default(&tx, user_id).await?;
    }
    let now = Utc::now();
    let row = address::ActiveModel {
        user_id: Set(user_id),
        recipient: Set(v.recipient),
        phone: Set(v.phone),
        province: Set(v.province),
        city: Set(v.city),
        district: Set(v.district),
        detail: Set(v.detail),
        postal_code: Set(v.postal_code),
        is_default: Set(is_default),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&*tx)
    .await?;
    tx.commit().await?;
    Ok(row)
}

pub async fn update(
    app: &AppState,
    user_id: i64,
    id: i64,
    d: &AddressDraft,
) -> OrderResult<address::Model> {
    let v = checked(d)?;
    let tx = app.db.begin_write().await?;
    let Some(existing) = owned(&*tx, user_id, id).await? else {
        return reject(OrderErrorCode::AddressNotFound, "id", "no such address");
    };
    if d.is_default && !existing.is_default {
        clear_default(&tx, user_id).await?;
    }
    let mut row: address::ActiveModel = existing.clone().into();
    row.recipient = Set(v.recipient);
    row.phone = Set(v.phone);
    row.province = Set(v.province);
    row.city = Set(v.city);
    row.district = Set(v.district);
    row.detail = Set(v.detail);
    row.postal_code = Set(v.postal_code);
    // The default stays the default until another takes its place.
    row.is_default = Set(existing.is_default || d.is_default);
    row.updated_at = Set(Utc::now());
    let row = row.update(&*tx).await?;
    tx.commit().await?;
    Ok(row)
}

/// Deletes an address; when it was the default, the most recently used other one takes over.
pub async fn delete(app: &AppState, user_id: i64, id: i64) -> OrderResult<()> {
    let tx = app.db.begin_write().await?;
    let Some(existing) = owned(&*tx, user_id, id).await? else {
        return reject(OrderErrorCode::AddressNotFound, "id", "no such address");
    };
    address::Entity::delete_by_id(id).exec(&*tx).await?;
    if existing.is_default
        && let Some(next) = list(&*tx, user_id).await?.into_iter().next()
    {
        let mut next: address::ActiveModel = next.into();
        next.is_default = Set(true);
        next.update(&*tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> AddressDraft {
        AddressDraft {
            recipient: " 张三 ".into(),
            phone: "138 0013 8000".into(),
            province: "广东省".into(),
            city: "深圳市".into(),
            district: "南山区".into(),
            detail: "科技园南区 1 栋".into(),
            postal_code: None,
            is_default: false,
        }
    }

    #[test]
    fn a_complete_address_is_trimmed_and_normalised() {
        let v = validate(&draft()).unwrap();
        assert_eq!(v.recipient, "张三");
        assert_eq!(v.phone, "13800138000");
    }

    #[test]
    fn every_missing_or_bad_field_is_named() {
        type Spoil = fn(&mut AddressDraft);
        let cases: [(Spoil, &str); 5] = [
            (|d| d.recipient = "  ".into(), "recipient"),
            (|d| d.phone = "12345".into(), "phone"),
            (|d| d.district = String::new(), "district"),
            (|d| d.detail = "路".repeat(201), "detail"),
            (|d| d.postal_code = Some("51800".into()), "postalCode"),
        ];
        for (spoil, field) in cases {
            let mut d = draft();
            spoil(&mut d);
            assert_eq!(validate(&d).unwrap_err().0, field);
        }
    }
}
