//! The merchant's distribution settings (recruitment, application form, binding, withdrawals) as
//! one JSON document in `system_settings`, and the versioned commission rules. Rule versions
//! are immutable, so each is parsed once and kept.
use std::{collections::HashMap, sync::Arc};

use chrono::Utc;
use entity::{commission_rule_version, distributor_level, product, sku, system_setting};
use parking_lot::RwLock;
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::{
    errors::{DistributionErrorCode, DistributionResult, reject},
    rules::{BindingMode, CommissionRules, RuleContext, RuleError, SkuPrices},
};
use crate::{app::AppState, db::WriteTx, error::AppError};

const SETTINGS_KEY: &str = "distribution.settings";

/// How customers become distributors.
#[derive(
    async_graphql::Enum, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecruitmentMode {
    /// Anyone who applies is approved at once.
    Open,
    /// Applications wait for staff review.
    #[default]
    Review,
    /// Approved at once when the applicant's paid orders reach `spendThreshold`.
    SpendThreshold,
    /// Only with the referral code of an active distributor (approved at once).
    Invitation,
}

/// A question on the application form.
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Debug,
    PartialEq,
    Eq,
    async_graphql::SimpleObject,
    async_graphql::InputObject,
)]
#[serde(rename_all = "camelCase")]
#[graphql(input_name = "ApplicationFieldInput")]
pub struct ApplicationField {
    /// The answer's key, e.g. `experience`.
    pub key: String,
    /// What the form shows, e.g. 销售经验.
    pub label: String,
    /// Whether an application must answer it.
    pub required: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", default)]
pub struct DistributionSettings {
    pub recruitment_mode: RecruitmentMode,
    pub spend_threshold_fen: i64,
    pub application_fields: Vec<ApplicationField>,
    pub agreement: String,
    pub binding_mode: BindingMode,
    /// For `DAYS` binding.
    pub binding_days: u32,
    pub withdrawal_min_fen: i64,
    pub withdrawal_max_fen: i64,
    /// Percent of the amount.
    pub withdrawal_fee_rate: Decimal,
}

impl Default for DistributionSettings {
    fn default() -> Self {
        DistributionSettings {
            recruitment_mode: RecruitmentMode::Review,
            spend_threshold_fen: 0,
            application_fields: vec![
                ApplicationField {
                    key: "experience".into(),
                    label: "销售经验".into(),
                    required: true,
                },
                ApplicationField {
                    key: "channels".into(),
                    label: "推广渠道".into(),
                    required: false,
                },
            ],
            agreement: "推广员协议：佣金来自真实销售，不得虚假宣传。".into(),
            binding_mode: BindingMode::Permanent,
            binding_days: 30,
            withdrawal_min_fen: 1_000,
            withdrawal_max_fen: 5_000_000,
            withdrawal_fee_rate: Decimal::ZERO,
        }
    }
}

pub const MAX_FIELDS: usize = 20;
pub const MAX_ANSWER_CHARS: usize = 500;
pub const MAX_AGREEMENT_CHARS: usize = 20_000;

impl DistributionSettings {
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.application_fields.len() > MAX_FIELDS {
            return Err(("applicationFields", format!("at most {MAX_FIELDS} fields")));
        }
        let mut keys = std::collections::HashSet::new();
        for f in &self.application_fields {
            let key_ok = !f.key.is_empty()
                && f.key.len() <= 32
                && f.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !key_ok || f.label.trim().is_empty() || f.label.chars().count() > 64 {
                return Err((
                    "applicationFields",
                    "a field has a key of 1–32 letters, digits or _ and a label of 1–64 characters"
                        .into(),
                ));
            }
            if !keys.insert(f.key.as_str()) {
                return Err((
                    "applicationFields",
                    format!("the key {} is used twice", f.key),
                ));
            }
        }
        if self.agreement.chars().count() > MAX_AGREEMENT_CHARS {
            return Err((
                "agreement",
                format!("at most {MAX_AGREEMENT_CHARS} characters"),
            ));
        }
        if !(0..=crate::money::MAX_FEN).contains(&self.spend_threshold_fen) {
            return Err(("spendThreshold", "not a valid amount".into()));
        }
        if self.binding_mode == BindingMode::Days && !(1..=3650).contains(&self.binding_days) {
            return Err(("bindingDays", "a binding lasts 1 to 3650 days".into()));
        }
        if self.withdrawal_min_fen < 1
            || self.withdrawal_max_fen < self.withdrawal_min_fen
            || self.withdrawal_max_fen > crate::money::MAX_FEN
        {
            return Err((
                "withdrawalMin",
                "the minimum is at least ¥0.01 and not above the maximum".into(),
            ));
        }
        if self.withdrawal_fee_rate < Decimal::ZERO
            || self.withdrawal_fee_rate >= Decimal::ONE_HUNDRED
            || self.withdrawal_fee_rate.normalize().scale() > 2
        {
            return Err((
                "withdrawalFeeRate",
                "a fee rate is a percentage from 0 to below 100 with at most two decimals".into(),
            ));
        }
        Ok(())
    }

    /// Checks an applicant's answers against the form; returns them with unknown keys refused.
    pub fn check_answers(&self, answers: &[(String, String)]) -> Result<(), RuleError> {
        for (key, value) in answers {
            if !self.application_fields.iter().any(|f| &f.key == key) {
                return Err(("answers", format!("the form has no field {key}")));
            }
            if value.chars().count() > MAX_ANSWER_CHARS {
                return Err((
                    "answers",
                    format!("{key}: at most {MAX_ANSWER_CHARS} characters"),
                ));
            }
        }
        for f in self.application_fields.iter().filter(|f| f.required) {
            let given = answers
                .iter()
                .any(|(k, v)| k == &f.key && !v.trim().is_empty());
            if !given {
                return Err(("answers", format!("{} ({}) is required", f.label, f.key)));
            }
        }
        Ok(())
    }
}

pub async fn load(conn: &impl ConnectionTrait) -> Result<DistributionSettings, AppError> {
    Ok(system_setting::Entity::find_by_id(SETTINGS_KEY)
        .one(conn)
        .await?
        .and_then(|s| serde_json::from_str(&s.value).ok())
        .unwrap_or_default())
}

pub async fn save(tx: &WriteTx, settings: &DistributionSettings) -> Result<(), AppError> {
    crate::db::put_setting(&**tx, SETTINGS_KEY, serde_json::to_string(settings)?).await?;
    Ok(())
}

/// Parsed rule versions by id. Versions never change once written.
#[derive(Default)]
pub struct RuleVersions {
    parsed: RwLock<HashMap<i64, Arc<CommissionRules>>>,
}

impl RuleVersions {
    fn remember(&self, row: &commission_rule_version::Model) -> Arc<CommissionRules> {
        if let Some(r) = self.parsed.read().get(&row.id) {
            return r.clone();
        }
        let rules: Arc<CommissionRules> =
            Arc::new(serde_json::from_str(&row.rules).unwrap_or_default());
        self.parsed.write().insert(row.id, rules.clone());
        rules
    }

    /// The rules of `version`.
    pub async fn get(
        &self,
        conn: &impl ConnectionTrait,
        version: i64,
    ) -> Result<Arc<CommissionRules>, AppError> {
        if let Some(r) = self.parsed.read().get(&version) {
            return Ok(r.clone());
        }
        let row = commission_rule_version::Entity::find_by_id(version)
            .one(conn)
            .await?
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("rule version {version} missing")))?;
        Ok(self.remember(&row))
    }

    /// The version in force: the newest. With none written yet, the defaults are written as
    /// version 1 (inside `tx`, so the order that needed it keeps it).
    pub async fn current(&self, tx: &WriteTx) -> Result<(i64, Arc<CommissionRules>), AppError> {
        if let Some(row) = latest(&**tx).await? {
            let rules = self.remember(&row);
            return Ok((row.id, rules));
        }
        let row = publish(tx, &CommissionRules::default(), None).await?;
        Ok((row.id, self.remember(&row)))
    }
}

/// The newest rule version, if any.
pub async fn latest(
    conn: &impl ConnectionTrait,
) -> Result<Option<commission_rule_version::Model>, AppError> {
    Ok(commission_rule_version::Entity::find()
        .order_by_desc(commission_rule_version::Column::Id)
        .limit(1)
        .one(conn)
        .await?)
}

/// What `rules` are checked against: the levels' names and the SKUs of the products their
/// overrides name, as they are now.
async fn rule_context(
    conn: &impl ConnectionTrait,
    rules: &CommissionRules,
) -> Result<RuleContext, AppError> {
    let level_names = distributor_level::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|l| (l.id, l.name))
        .collect();
    let mut product_ids: Vec<i64> = rules.overrides.iter().map(|o| o.product_id).collect();
    product_ids.sort_unstable();
    product_ids.dedup();
    let names: HashMap<i64, String> = product::Entity::find()
        .filter(product::Column::Id.is_in(product_ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let skus = sku::Entity::find()
        .filter(sku::Column::ProductId.is_in(product_ids))
        .filter(sku::Column::Active.eq(true))
        .order_by_asc(sku::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|s| SkuPrices {
            product_id: s.product_id,
            sku_id: s.id,
            label: format!(
                "{} (SKU {})",
                names.get(&s.product_id).map_or("?", String::as_str),
                s.code
            ),
            price_fen: s.price_fen,
            cost_fen: s.cost_price_fen,
        })
        .collect();
    Ok(RuleContext { level_names, skus })
}

/// Publishes `rules` as the version in force, as staff save them: refused (and nothing written)
/// when a table is malformed, when tables could together pay a line more than its base, or
/// when a fixed override pays more per unit than a SKU it applies to earns now.
pub async fn publish_checked(
    app: &AppState,
    rules: &CommissionRules,
    by: Option<i64>,
) -> DistributionResult<commission_rule_version::Model> {
    let tx = app.db.begin_write().await?;
    if let Err((field, message)) = rules.validate(&rule_context(&*tx, rules).await?) {
        return reject(DistributionErrorCode::InvalidSettings, field, message);
    }
    let version = publish(&tx, rules, by).await?;
    tx.commit().await?;
    Ok(version)
}

/// Writes `rules` as a new version.
pub async fn publish(
    tx: &WriteTx,
    rules: &CommissionRules,
    by: Option<i64>,
) -> Result<commission_rule_version::Model, AppError> {
    Ok(commission_rule_version::ActiveModel {
        rules: Set(serde_json::to_string(rules)?),
        created_by: Set(by),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&**tx)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_are_valid() {
        assert!(DistributionSettings::default().validate().is_ok());
    }

    #[test]
    fn answers_follow_the_form() {
        let s = DistributionSettings::default();
        let a = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(s.check_answers(&a(&[("experience", "3 年")])).is_ok());
        assert!(s.check_answers(&a(&[("experience", "  ")])).is_err());
        assert!(s.check_answers(&a(&[("channels", "朋友圈")])).is_err());
        assert!(
            s.check_answers(&a(&[("experience", "x"), ("age", "30")]))
                .is_err()
        );
        let long = "长".repeat(MAX_ANSWER_CHARS + 1);
        assert!(s.check_answers(&a(&[("experience", &long)])).is_err());
    }

    #[test]
    fn settings_refuse_nonsense() {
        let bad = |f: fn(&mut DistributionSettings)| {
            let mut s = DistributionSettings::default();
            f(&mut s);
            s.validate().unwrap_err().0
        };
        assert_eq!(bad(|s| s.withdrawal_min_fen = 0), "withdrawalMin");
        assert_eq!(bad(|s| s.withdrawal_max_fen = 10), "withdrawalMin");
        assert_eq!(
            bad(|s| s.withdrawal_fee_rate = Decimal::ONE_HUNDRED),
            "withdrawalFeeRate"
        );
        assert_eq!(
            bad(|s| {
                s.binding_mode = BindingMode::Days;
                s.binding_days = 0
            }),
            "bindingDays"
        );
        assert_eq!(
            bad(|s| s.application_fields[1].key = "experience".into()),
            "applicationFields"
        );
    }
}
