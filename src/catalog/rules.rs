//! Pure catalog rules: specs and the SKU matrix, price changes, the category tree, rich-text
//! sanitising, safety-stock defaults and publishing preconditions.
use std::collections::{HashMap, HashSet};

use rust_decimal::Decimal;

use crate::money;

pub const MAX_SPECS: usize = 3;
pub const MAX_SPEC_VALUES: usize = 40;
pub const MAX_SKUS: usize = 600;
pub const NAME_MAX: usize = 120;
pub const SUBTITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 100_000;

/// A rule broken by an input: the input field and what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    pub field: &'static str,
    pub message: String,
}

fn violation(field: &'static str, message: impl Into<String>) -> Violation {
    Violation {
        field,
        message: message.into(),
    }
}

/// A spec dimension and its values: 颜色 → 红, 蓝.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecDef {
    pub name: String,
    pub values: Vec<String>,
}

/// Trims names and values and checks: at most 3 specs with distinct names of 1–32 characters,
/// each with 1–40 distinct values of 1–32 characters, at most 600 combinations.
pub fn clean_specs(specs: &[SpecDef]) -> Result<Vec<SpecDef>, Violation> {
    if specs.len() > MAX_SPECS {
        return Err(violation("specs", format!("at most {MAX_SPECS} specs")));
    }
    let mut names = HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        let name = spec.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 32 {
            return Err(violation("specs", "a spec name has 1 to 32 characters"));
        }
        if !names.insert(name.clone()) {
            return Err(violation("specs", format!("spec {name} is given twice")));
        }
        if spec.values.is_empty() || spec.values.len() > MAX_SPEC_VALUES {
            return Err(violation(
                "specs",
                format!("spec {name} needs 1 to {MAX_SPEC_VALUES} values"),
            ));
        }
        let mut seen = HashSet::new();
        let mut values = Vec::with_capacity(spec.values.len());
        for v in &spec.values {
            let v = v.trim().to_string();
            if v.is_empty() || v.chars().count() > 32 {
                return Err(violation("specs", "a spec value has 1 to 32 characters"));
            }
            if !seen.insert(v.clone()) {
                return Err(violation("specs", format!("{name}: {v} is given twice")));
            }
            values.push(v);
        }
        out.push(SpecDef { name, values });
    }
    let combinations: usize = out.iter().map(|s| s.values.len()).product();
    if combinations > MAX_SKUS {
        return Err(violation(
            "specs",
            format!("{combinations} combinations; at most {MAX_SKUS} SKUs per product"),
        ));
    }
    Ok(out)
}

/// Every combination of spec values, in spec order, the last spec varying fastest
/// (红/S, 红/M, 蓝/S, 蓝/M). No specs: one combination with no values.
pub fn sku_matrix(specs: &[SpecDef]) -> Vec<Vec<String>> {
    specs.iter().fold(vec![Vec::new()], |acc, spec| {
        acc.iter()
            .flat_map(|prefix| {
                spec.values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(v.clone());
                    next
                })
            })
            .collect()
    })
}

/// The per-product unique key of a combination (values joined by a control character that a
/// value cannot contain).
pub fn spec_key(values: &[String]) -> String {
    values.join("\u{1f}")
}

/// The values a `spec_key` was made of (none for a product without specs).
pub fn spec_values_of_key(key: &str) -> Vec<String> {
    if key.is_empty() {
        return Vec::new();
    }
    key.split('\u{1f}').map(str::to_string).collect()
}

/// `颜色:红 尺码:S`, for order snapshots and display.
pub fn spec_label(specs: &[SpecDef], values: &[String]) -> String {
    specs
        .iter()
        .zip(values)
        .map(|(s, v)| format!("{}:{}", s.name, v))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A new price after changing it by `percent` (−90 … +1000), rounded half away from zero to
/// the fen; `None` when the percentage is out of range or the result is below one fen.
pub fn adjust_price_fen(price_fen: i64, percent: Decimal) -> Option<i64> {
    if percent < Decimal::from(-90) || percent > Decimal::from(1000) {
        return None;
    }
    let factor = (Decimal::ONE_HUNDRED + percent) / Decimal::ONE_HUNDRED;
    let new = money::round_to_fen(money::to_decimal(price_fen) * factor);
    money::to_fen(new).filter(|f| *f >= 1)
}

/// The category tree as child → parent.
pub type Parents = HashMap<i64, Option<i64>>;

/// `id` and its ancestors, nearest first. Stops at a cycle rather than looping.
pub fn ancestors(parents: &Parents, id: i64) -> Vec<i64> {
    let mut out = vec![id];
    let mut current = id;
    while let Some(Some(parent)) = parents.get(&current) {
        if out.contains(parent) {
            break;
        }
        out.push(*parent);
        current = *parent;
    }
    out
}

/// `root` and every category below it.
pub fn descendants(parents: &Parents, root: i64) -> Vec<i64> {
    let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
    for (child, parent) in parents {
        if let Some(p) = parent {
            children.entry(*p).or_default().push(*child);
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(kids) = children.get(&out[i]) {
            for k in kids {
                if !out.contains(k) {
                    out.push(*k);
                }
            }
        }
        i += 1;
    }
    out
}

/// Moving `id` under `new_parent` would put it below itself.
pub fn would_create_cycle(parents: &Parents, id: i64, new_parent: Option<i64>) -> bool {
    new_parent.is_some_and(|p| ancestors(parents, p).contains(&id))
}

/// The safety stock that applies to a SKU: its own, else its product's, else the nearest
/// category's (own category first, then up the tree), else the global default.
pub fn effective_safety_stock(
    sku: Option<i32>,
    product: Option<i32>,
    category_chain: &[Option<i32>],
    global: i32,
) -> i32 {
    sku.or(product)
        .or_else(|| category_chain.iter().flatten().next().copied())
        .unwrap_or(global)
}

/// Product life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProductStatus {
    Draft,
    OnSale,
    OffSale,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "DRAFT",
            ProductStatus::OnSale => "ON_SALE",
            ProductStatus::OffSale => "OFF_SALE",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "ON_SALE" => ProductStatus::OnSale,
            "OFF_SALE" => ProductStatus::OffSale,
            _ => ProductStatus::Draft,
        }
    }
}

/// What a SKU needs to say about itself for the publishing check.
pub struct SkuForSale {
    pub active: bool,
    pub price_fen: i64,
}

/// Why a product cannot go on sale, if it cannot: it needs a name, a category and at least one
/// active SKU with a price.
pub fn publish_problem(name: &str, category: Option<i64>, skus: &[SkuForSale]) -> Option<String> {
    if name.trim().is_empty() {
        return Some("the product has no name".into());
    }
    if category.is_none() {
        return Some("the product has no category".into());
    }
    if !skus.iter().any(|s| s.active && s.price_fen > 0) {
        return Some("the product has no SKU with a price".into());
    }
    None
}

/// Rich-text descriptions keep formatting, images and links, and lose everything that can run:
/// scripts, event-handler attributes, `style`, and any URL that is not http(s) or relative.
pub fn sanitize_html(html: &str) -> String {
    let tags: HashSet<&str> = [
        "p",
        "br",
        "hr",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "del",
        "sub",
        "sup",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "ul",
        "ol",
        "li",
        "blockquote",
        "pre",
        "code",
        "span",
        "div",
        "img",
        "a",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "figure",
        "figcaption",
    ]
    .into_iter()
    .collect();
    let mut attributes: HashMap<&str, HashSet<&str>> = HashMap::new();
    attributes.insert(
        "img",
        ["src", "alt", "width", "height"].into_iter().collect(),
    );
    attributes.insert("a", ["href", "title"].into_iter().collect());
    attributes.insert("td", ["colspan", "rowspan"].into_iter().collect());
    attributes.insert("th", ["colspan", "rowspan"].into_iter().collect());
    ammonia::Builder::default()
        .tags(tags)
        .tag_attributes(attributes)
        .generic_attributes(HashSet::new())
        .url_schemes(["http", "https"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(html)
        .to_string()
}

/// The text of (sanitised) HTML, for search: tags become spaces, entities are decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn spec(name: &str, values: &[&str]) -> SpecDef {
        SpecDef {
            name: name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn the_matrix_is_every_combination_in_order() {
        let m = sku_matrix(&[spec("颜色", &["红", "蓝"]), spec("尺码", &["S", "M", "L"])]);
        assert_eq!(m.len(), 6);
        assert_eq!(m[0], vec!["红", "S"]);
        assert_eq!(m[1], vec!["红", "M"]);
        assert_eq!(m[5], vec!["蓝", "L"]);
        assert_eq!(sku_matrix(&[]), vec![Vec::<String>::new()]);
    }

    #[test]
    fn specs_are_cleaned_and_bounded() {
        let cleaned = clean_specs(&[spec(" 颜色 ", &[" 红", "蓝 "])]).unwrap();
        assert_eq!(cleaned, vec![spec("颜色", &["红", "蓝"])]);
        assert!(clean_specs(&[spec("颜色", &["红", "红"])]).is_err());
        assert!(clean_specs(&[spec("颜色", &[])]).is_err());
        assert!(clean_specs(&[spec("颜色", &["红"]), spec("颜色", &["蓝"])]).is_err());
        assert!(
            clean_specs(&[
                spec("a", &["1"]),
                spec("b", &["1"]),
                spec("c", &["1"]),
                spec("d", &["1"])
            ])
            .is_err()
        );
        let many: Vec<String> = (0..30).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            clean_specs(&[spec("a", &many), spec("b", &many)]).is_err(),
            "900 SKUs"
        );
    }

    #[test]
    fn labels_and_keys() {
        let specs = [spec("颜色", &["红"]), spec("尺码", &["S"])];
        let values = vec!["红".to_string(), "S".to_string()];
        assert_eq!(spec_label(&specs, &values), "颜色:红 尺码:S");
        assert_ne!(
            spec_key(&["a b".into()]),
            spec_key(&["a".into(), "b".into()])
        );
        assert_eq!(spec_values_of_key(&spec_key(&values)), values);
        assert_eq!(spec_values_of_key(&spec_key(&[])), Vec::<String>::new());
    }

    #[test]
    fn price_changes_round_half_away_from_zero() {
        let pct = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(adjust_price_fen(9900, pct("-10")), Some(8910));
        assert_eq!(adjust_price_fen(1999, pct("15")), Some(2299)); // 22.9885 → 22.99
        assert_eq!(adjust_price_fen(5, pct("-10")), Some(5)); // 0.045 → 0.05
        assert_eq!(adjust_price_fen(1, pct("-90")), None); // 0.001 → 0.00: below a fen
        assert_eq!(adjust_price_fen(100, pct("-95")), None);
        assert_eq!(adjust_price_fen(100, pct("1001")), None);
    }

    #[test]
    fn the_category_tree() {
        // 1 ← 2 ← 3, 1 ← 4
        let parents: Parents = [(1, None), (2, Some(1)), (3, Some(2)), (4, Some(1))].into();
        assert_eq!(ancestors(&parents, 3), vec![3, 2, 1]);
        let mut d = descendants(&parents, 1);
        d.sort();
        assert_eq!(d, vec![1, 2, 3, 4]);
        assert_eq!(descendants(&parents, 3), vec![3]);
        assert!(would_create_cycle(&parents, 1, Some(3)));
        assert!(would_create_cycle(&parents, 2, Some(2)));
        assert!(!would_create_cycle(&parents, 3, Some(4)));
        assert!(!would_create_cycle(&parents, 3, None));
    }

    #[test]
    fn safety_stock_defaults_down_the_chain() {
        assert_eq!(effective_safety_stock(Some(3), Some(5), &[Some(7)], 10), 3);
        assert_eq!(effective_safety_stock(None, Some(5), &[Some(7)], 10), 5);
        assert_eq!(effective_safety_stock(None, None, &[None, Some(7)], 10), 7);
        assert_eq!(effective_safety_stock(None, None, &[None, None], 10), 10);
    }

    #[test]
    fn publishing_needs_a_priced_sku_and_a_category() {
        let priced = [SkuForSale {
            active: true,
            price_fen: 100,
        }];
        assert_eq!(publish_problem("鞋", Some(1), &priced), None);
        assert!(publish_problem("鞋", None, &priced).is_some());
        assert!(
            publish_problem(
                "鞋",
                Some(1),
                &[SkuForSale {
                    active: false,
                    price_fen: 100
                }]
            )
            .is_some()
        );
        assert!(
            publish_problem(
                "鞋",
                Some(1),
                &[SkuForSale {
                    active: true,
                    price_fen: 0
                }]
            )
            .is_some()
        );
    }

    #[test]
    fn descriptions_lose_everything_that_can_run() {
        let payloads = [
            "<script>alert(1)</script><p>ok</p>",
            "<img src=x onerror=alert(1)>",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
            "<a href=\"&#106;avascript:alert(1)\">x</a>",
            "<svg onload=alert(1)><circle/></svg>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<p style=\"background:url(javascript:alert(1))\">x</p>",
            "<div onclick=\"steal()\">x</div>",
            "<img src=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">",
            "<object data=\"x.swf\"></object><embed src=\"x.swf\">",
            "<form action=\"https://evil\"><input name=p></form>",
            "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
        ];
        for p in payloads {
            let clean = sanitize_html(p).to_lowercase();
            for bad in [
                "<script",
                "onerror",
                "onload",
                "onclick",
                "javascript:",
                "<iframe",
                "style=",
                "data:",
                "<svg",
                "<object",
                "<embed",
                "<form",
                "<input",
            ] {
                assert!(!clean.contains(bad), "{p} → {clean}");
            }
        }
        let kept = sanitize_html(
            "<p><strong>纯棉</strong> <a href=\"https://shop.example/x\">详情</a><img src=\"/media/a.png\" alt=\"图\"></p>",
        );
        assert!(kept.contains("<strong>纯棉</strong>"));
        assert!(kept.contains("href=\"https://shop.example/x\""));
        assert!(kept.contains("src=\"/media/a.png\""));
    }

    #[test]
    fn html_becomes_searchable_text() {
        assert_eq!(
            html_to_text("<p>纯棉&amp;透气</p><p>舒适</p>"),
            "纯棉&透气 舒适"
        );
    }
}
