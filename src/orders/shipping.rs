//! Shipping templates (运费模板): flat, by weight or by item count, with per-province charges,
//! provinces not delivered to, and free shipping above an amount. Stored as JSON on
//! `shipping_templates.rules`; the default template prices every checkout.
use async_graphql::Enum;
use serde::{Deserialize, Serialize};

use super::pricing::PricingLine;

/// How a shipping template computes the fee.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShippingKind {
    /// One fee per order.
    Flat,
    /// First so many grams, then per additional step.
    ByWeight,
    /// First so many items, then per additional step.
    ByQuantity,
}

impl ShippingKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ShippingKind::Flat => "FLAT",
            ShippingKind::ByWeight => "BY_WEIGHT",
            ShippingKind::ByQuantity => "BY_QUANTITY",
        }
    }
}

/// `first_fee` covers the first `first_units` (grams or items); each started step of
/// `additional_units` beyond costs `additional_fee`. A flat charge is just `first_fee`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Charge {
    pub first_units: i64,
    pub first_fee_fen: i64,
    pub additional_units: i64,
    pub additional_fee_fen: i64,
}

impl Charge {
    pub fn flat(fee_fen: i64) -> Self {
        Charge {
            first_units: 0,
            first_fee_fen: fee_fen,
            additional_units: 0,
            additional_fee_fen: 0,
        }
    }

    fn fee(&self, kind: ShippingKind, units: i64) -> i64 {
        if kind == ShippingKind::Flat || self.additional_units <= 0 {
            return self.first_fee_fen;
        }
        let beyond = (units - self.first_units).max(0);
        let steps = (beyond + self.additional_units - 1) / self.additional_units;
        self.first_fee_fen + steps * self.additional_fee_fen
    }

    pub fn is_valid(&self) -> bool {
        self.first_units >= 0
            && self.first_fee_fen >= 0
            && self.additional_units >= 0
            && self.additional_fee_fen >= 0
            && self.first_fee_fen <= crate::money::MAX_FEN
            && self.additional_fee_fen <= crate::money::MAX_FEN
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionCharge {
    /// Province names as in addresses, e.g. "新疆".
    pub provinces: Vec<String>,
    pub charge: Charge,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShippingRules {
    pub kind: ShippingKind,
    pub base: Charge,
    #[serde(default)]
    pub regions: Vec<RegionCharge>,
    /// Goods amount (after discounts) from which shipping is free.
    #[serde(default)]
    pub free_above_fen: Option<i64>,
    #[serde(default)]
    pub excluded_provinces: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShippingRefusal {
    NotDeliverable(String),
}

/// Province names compare without the administrative suffix, so "新疆" matches
/// "新疆维吾尔自治区" and "广东省" matches "广东".
fn same_province(a: &str, b: &str) -> bool {
    let core = |s: &str| {
        let s = s.trim();
        [
            "维吾尔自治区",
            "壮族自治区",
            "回族自治区",
            "特别行政区",
            "自治区",
            "省",
            "市",
        ]
        .iter()
        .find_map(|suffix| s.strip_suffix(suffix))
        .unwrap_or(s)
        .to_string()
    };
    !a.trim().is_empty() && core(a) == core(b)
}

impl ShippingRules {
    pub fn fee(
        &self,
        lines: &[PricingLine],
        province: Option<&str>,
        goods_amount_fen: i64,
    ) -> Result<i64, ShippingRefusal> {
        if let Some(p) = province
            && self.excluded_provinces.iter().any(|x| same_province(x, p))
        {
            return Err(ShippingRefusal::NotDeliverable(p.to_string()));
        }
        if self.free_above_fen.is_some_and(|f| goods_amount_fen >= f) {
            return Ok(0);
        }
        let units = match self.kind {
            ShippingKind::Flat => 0,
            ShippingKind::ByWeight => lines
                .iter()
                .map(|l| i64::from(l.weight_grams.max(0)) * l.quantity)
                .sum(),
            ShippingKind::ByQuantity => lines.iter().map(|l| l.quantity).sum(),
        };
        let charge = province
            .and_then(|p| {
                self.regions
                    .iter()
                    .find(|r| r.provinces.iter().any(|x| same_province(x, p)))
            })
            .map_or(&self.base, |r| &r.charge);
        Ok(charge.fee(self.kind, units))
    }

    pub fn is_valid(&self) -> bool {
        self.base.is_valid()
            && self.regions.iter().all(|r| r.charge.is_valid())
            && self.free_above_fen.is_none_or(|f| f >= 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(weight: i32, qty: i64) -> PricingLine {
        PricingLine {
            sku_id: 1,
            product_id: 1,
            category_id: None,
            unit_price_fen: 1_000,
            quantity: qty,
            weight_grams: weight,
        }
    }

    fn by_weight() -> ShippingRules {
        ShippingRules {
            kind: ShippingKind::ByWeight,
            // ¥8 for the first kilo, ¥2 per started 500 g beyond.
            base: Charge {
                first_units: 1_000,
                first_fee_fen: 800,
                additional_units: 500,
                additional_fee_fen: 200,
            },
            regions: vec![RegionCharge {
                provinces: vec!["新疆".into(), "西藏".into()],
                charge: Charge {
                    first_units: 1_000,
                    first_fee_fen: 2_000,
                    additional_units: 1_000,
                    additional_fee_fen: 1_000,
                },
            }],
            free_above_fen: Some(9_900),
            excluded_provinces: vec!["台湾".into()],
        }
    }

    #[test]
    fn by_weight_charges_each_started_step() {
        let r = by_weight();
        assert_eq!(r.fee(&[line(1_000, 1)], Some("广东省"), 100), Ok(800));
        assert_eq!(r.fee(&[line(300, 4)], Some("广东省"), 100), Ok(1_000)); // 1.2 kg
        assert_eq!(r.fee(&[line(500, 4)], Some("广东"), 100), Ok(1_200)); // 2 kg
        assert_eq!(r.fee(&[line(500, 5)], None, 100), Ok(1_400)); // 2.5 kg
    }

    #[test]
    fn regions_have_their_own_charge_and_some_are_not_served() {
        let r = by_weight();
        assert_eq!(
            r.fee(&[line(1_500, 1)], Some("新疆维吾尔自治区"), 100),
            Ok(3_000)
        );
        assert!(r.fee(&[line(1, 1)], Some("台湾省"), 100).is_err());
    }

    #[test]
    fn free_above_an_amount() {
        assert_eq!(
            by_weight().fee(&[line(9_000, 1)], Some("新疆"), 9_900),
            Ok(0)
        );
    }

    #[test]
    fn by_quantity_and_flat() {
        let q = ShippingRules {
            kind: ShippingKind::ByQuantity,
            base: Charge {
                first_units: 2,
                first_fee_fen: 600,
                additional_units: 1,
                additional_fee_fen: 100,
            },
            regions: vec![],
            free_above_fen: None,
            excluded_provinces: vec![],
        };
        assert_eq!(q.fee(&[line(1, 1), line(1, 3)], None, 0), Ok(800));
        let flat = ShippingRules {
            kind: ShippingKind::Flat,
            base: Charge::flat(1_200),
            ..q
        };
        assert_eq!(flat.fee(&[line(99_999, 99)], None, 0), Ok(1_200));
    }
}
