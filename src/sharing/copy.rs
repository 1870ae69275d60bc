//! Share copy (分享文案): short texts written from a product's or group's facts by templates
//! staff may edit, one per target and channel. Pure functions; the service loads the
//! templates and the facts.
//!
//! A template is text with `{placeholder}`s and optional `[sections]`: a section is left out
//! whole when a placeholder inside it has no value (a product without a market price, a group
//! already full), so no copy ever says "原价" with nothing after it. Sections do not nest.
use std::fmt;

/// What a share points at.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareTarget {
    /// A product's page.
    Product,
    /// A group buy's share page (places left, deadline).
    Group,
    /// The shop's home page.
    Shop,
}

/// Where the share is posted; the copy differs by channel.
#[derive(async_graphql::Enum, Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ShareChannel {
    /// 朋友圈: a longer text that sells.
    Moments,
    /// 微信群: short, with urgency.
    ChatGroup,
    /// 好友: personal, one to one.
    Friend,
}

impl ShareTarget {
    pub const ALL: [ShareTarget; 3] = [ShareTarget::Product, ShareTarget::Group, ShareTarget::Shop];

    pub fn as_str(self) -> &'static str {
        match self {
            ShareTarget::Product => "PRODUCT",
            ShareTarget::Group => "GROUP",
            ShareTarget::Shop => "SHOP",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

impl ShareChannel {
    pub const ALL: [ShareChannel; 3] = [
        ShareChannel::Moments,
        ShareChannel::ChatGroup,
        ShareChannel::Friend,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ShareChannel::Moments => "MOMENTS",
            ShareChannel::ChatGroup => "CHAT_GROUP",
            ShareChannel::Friend => "FRIEND",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// The placeholders a template may use, with what each stands for (shown to staff).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("name", "商品名称"),
    ("sellingPoint", "卖点（商品副标题）"),
    ("price", "售价，如 ¥99.00（多规格时为最低价）"),
    ("marketPrice", "划线价"),
    ("groupPrice", "拼团价"),
    ("groupSize", "成团人数"),
    ("placesLeft", "还差几人成团（已满或已结束时为空）"),
    ("hoursLeft", "距截止还有几小时"),
    ("sharer", "分享人的昵称"),
    ("shop", "店铺名称"),
];

/// The longest template staff may save, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 300;

/// The facts a copy is written from; `None` leaves the sections that use it out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyFacts {
    pub name: Option<String>,
    pub selling_point: Option<String>,
    pub price: Option<String>,
    pub market_price: Option<String>,
    pub group_price: Option<String>,
    pub group_size: Option<i32>,
    pub places_left: Option<i32>,
    pub hours_left: Option<i64>,
    pub sharer: Option<String>,
    pub shop: Option<String>,
}

impl CopyFacts {
    fn value(&self, placeholder: &str) -> Option<String> {
        let text = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        match placeholder {
            "name" => text(&self.name),
            "sellingPoint" => text(&self.selling_point),
            "price" => text(&self.price),
            "marketPrice" => text(&self.market_price),
            "groupPrice" => text(&self.group_price),
            "groupSize" => self.group_size.map(|n| n.to_string()),
            "placesLeft" => self.places_left.filter(|n| *n > 0).map(|n| n.to_string()),
            "hoursLeft" => self.hours_left.filter(|n| *n > 0).map(|n| n.to_string()),
            "sharer" => text(&self.sharer),
            "shop" => text(&self.shop),
            _ => None,
        }
    }
}

/// Why a template cannot be saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    Empty,
    TooLong {
        chars: usize,
    },
    UnknownPlaceholder(String),
    /// A `{` or `[` without its closing pair, a stray closing one, or a section in a section.
    Unbalanced {
        at: usize,
    },
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::Empty => write!(f, "the template is empty"),
            TemplateError::TooLong { chars } => write!(
                f,
                "the template has {chars} characters; at most {MAX_TEMPLATE_CHARS}"
            ),
            TemplateError::UnknownPlaceholder(p) => write!(
                f,
                "unknown placeholder {{{p}}}; known: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|(p, _)| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            TemplateError::Unbalanced { at } => write!(
                f,
                "unbalanced {{ }} or [ ] at character {at} (sections do not nest)"
            ),
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(String),
    Section(Vec<Piece>),
}

fn parse(template: &str) -> Result<Vec<Piece>, TemplateError> {
    let chars = template.chars().count();
    if template.trim().is_empty() {
        return Err(TemplateError::Empty);
    }
    if chars > MAX_TEMPLATE_CHARS {
        return Err(TemplateError::TooLong { chars });
    }
    let mut top: Vec<Piece> = Vec::new();
    let mut section: Option<Vec<Piece>> = None;
    let mut text = String::new();
    let mut iter = template.chars().enumerate();
    let flush = |text: &mut String, into: &mut Vec<Piece>| {
        if !text.is_empty() {
            into.push(Piece::Text(std::mem::take(text)));
        }
    };
    while let Some((at, c)) = iter.next() {
        let in_section = section.is_some();
        let into = section.as_mut().unwrap_or(&mut top);
        match c {
            '{' => {
                flush(&mut text, into);
                let mut name = String::new();
                loop {
                    match iter.next() {
                        Some((_, '}')) => break,
                        Some((_, c)) if c.is_ascii_alphanumeric() => name.push(c),
                        _ => return Err(TemplateError::Unbalanced { at }),
                    }
                }
                if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                    return Err(TemplateError::UnknownPlaceholder(name));
                }
                into.push(Piece::Placeholder(name));
            }
            '[' if !in_section => {
                flush(&mut text, into);
                section = Some(Vec::new());
            }
            ']' if in_section => {
                flush(&mut text, into);
                let inner = section.take().unwrap_or_default();
                top.push(Piece::Section(inner));
            }
            '[' | ']' | '}' => return Err(TemplateError::Unbalanced { at }),
            c => text.push(c),
        }
    }
    if section.is_some() {
        return Err(TemplateError::Unbalanced { at: chars });
    }
    flush(&mut text, &mut top);
    Ok(top)
}

/// Checks a template staff want to save.
pub fn validate(template: &str) -> Result<(), TemplateError> {
    parse(template).map(|_| ())
}

/// Writes the copy. A template that does not parse (it was checked when saved, so only a
/// default edited in code could) falls back to the product's name.
pub fn render(template: &str, facts: &CopyFacts) -> String {
    fn fill(pieces: &[Piece], facts: &CopyFacts) -> Option<String> {
        let mut out = String::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder(p) => out.push_str(&facts.value(p)?),
                Piece::Section(inner) => {
                    if let Some(s) = fill(inner, facts) {
                        out.push_str(&s);
                    }
                }
            }
        }
        Some(out)
    }
    let Ok(pieces) = parse(template) else {
        return facts.name.clone().unwrap_or_default();
    };
    // A placeholder outside any section with no value reads as nothing rather than failing
    // the whole copy.
    let mut out = String::new();
    for piece in &pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Placeholder(p) => out.push_str(&facts.value(p).unwrap_or_default()),
            Piece::Section(inner) => {
                if let Some(s) = fill(inner, facts) {
                    out.push_str(&s);
                }
            }
        }
    }
    out.trim().to_string()
}

/// The copy used until staff save their own: 朋友圈 sells, 群 is short and urgent, 好友 is
/// personal.
pub fn default_template(target: ShareTarget, channel: ShareChannel) -> &'static str {
    use ShareChannel::*;
    use ShareTarget::*;
    match (target, channel) {
        (Product, Moments) => {
            "好物推荐｜{name}[ · {sellingPoint}]\n到手价 {price}[，原价 {marketPrice}]。我自己也在用，品质放心，感兴趣的朋友点链接看看"
        }
        (Product, ChatGroup) => "【{name}】{price}[，原价{marketPrice}]，手慢无！",
        (Product, Friend) => "{name}挺不错的，{price}[，{sellingPoint}]，推荐给你看看～",
        (Group, Moments) => {
            "{groupSize}人拼团｜{name}[ · {sellingPoint}]\n拼团价 {groupPrice}，单买 {price}。[还差{placesLeft}人成团，][{hoursLeft}小时后截止，]一起拼更划算！"
        }
        (Group, ChatGroup) => {
            "【拼团】{name} 拼团价{groupPrice}[，还差{placesLeft}人]，快来一起拼！"
        }
        (Group, Friend) => "我在拼{name}，拼团价{groupPrice}[，还差{placesLeft}人]，帮我凑个团吧～",
        (Shop, Moments) => "推荐一家我常逛的店：{shop}，好物多、价格实在，点链接进店看看",
        (Shop, ChatGroup) => "【{shop}】上新了，进店看看有没有你喜欢的～",
        (Shop, Friend) => "我常在{shop}买东西，推荐给你～[ —— {sharer}]",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product() -> CopyFacts {
        CopyFacts {
            name: Some("云南小粒咖啡豆".into()),
            selling_point: Some("中度烘焙，坚果香".into()),
            price: Some("¥99.00".into()),
            market_price: None,
            sharer: Some("小明".into()),
            shop: Some("山野好物".into()),
            ..Default::default()
        }
    }

    #[test]
    fn placeholders_are_filled_and_sections_without_a_value_are_left_out() {
        let copy = render(
            default_template(ShareTarget::Product, ShareChannel::ChatGroup),
            &product(),
        );
        assert_eq!(copy, "【云南小粒咖啡豆】¥99.00，手慢无！");
        let with_market = CopyFacts {
            market_price: Some("¥129.00".into()),
            ..product()
        };
        let copy = render(
            default_template(ShareTarget::Product, ShareChannel::ChatGroup),
            &with_market,
        );
        assert_eq!(copy, "【云南小粒咖啡豆】¥99.00，原价¥129.00，手慢无！");
    }

    #[test]
    fn a_full_group_says_nothing_about_places_left() {
        let group = CopyFacts {
            group_price: Some("¥79.00".into()),
            group_size: Some(3),
            places_left: Some(2),
            hours_left: Some(23),
            ..product()
        };
        let template = default_template(ShareTarget::Group, ShareChannel::Moments);
        assert_eq!(
            render(template, &group),
            "3人拼团｜云南小粒咖啡豆 · 中度烘焙，坚果香\n拼团价 ¥79.00，单买 ¥99.00。还差2人成团，23小时后截止，一起拼更划算！"
        );
        let full = CopyFacts {
            places_left: Some(0),
            hours_left: Some(0),
            ..group
        };
        assert_eq!(
            render(template, &full),
            "3人拼团｜云南小粒咖啡豆 · 中度烘焙，坚果香\n拼团价 ¥79.00，单买 ¥99.00。一起拼更划算！"
        );
    }

    #[test]
    fn every_default_template_is_valid_and_writes_something_for_every_target() {
        let everything = CopyFacts {
            group_price: Some("¥79.00".into()),
            group_size: Some(3),
            places_left: Some(1),
            hours_left: Some(5),
            market_price: Some("¥129.00".into()),
            ..product()
        };
        for target in ShareTarget::ALL {
            for channel in ShareChannel::ALL {
                let t = default_template(target, channel);
                assert_eq!(validate(t), Ok(()), "{target:?} {channel:?}");
                let copy = render(t, &everything);
                assert!(!copy.contains('{') && !copy.contains('['), "{copy}");
                assert!(copy.chars().count() >= 10, "{copy}");
            }
        }
    }

    #[test]
    fn bad_templates_are_refused_with_the_reason() {
        assert_eq!(validate("  "), Err(TemplateError::Empty));
        assert_eq!(
            validate("{name} {price"),
            Err(TemplateError::Unbalanced { at: 7 })
        );
        assert_eq!(
            validate("{name} {cost}"),
            Err(TemplateError::UnknownPlaceholder("cost".into()))
        );
        assert_eq!(
            validate("[a [b] c]"),
            Err(TemplateError::Unbalanced { at: 3 })
        );
        assert_eq!(validate("a ] b"), Err(TemplateError::Unbalanced { at: 2 }));
        assert_eq!(
            validate("[{name}"),
            Err(TemplateError::Unbalanced { at: 7 })
        );
        let long = "好".repeat(MAX_TEMPLATE_CHARS + 1);
        assert_eq!(
            validate(&long),
            Err(TemplateError::TooLong {
                chars: MAX_TEMPLATE_CHARS + 1
            })
        );
        assert!(
            TemplateError::UnknownPlaceholder("cost".into())
                .to_string()
                .contains("{groupPrice}")
        );
    }

    #[test]
    fn a_placeholder_outside_sections_without_a_value_reads_as_nothing() {
        let copy = render("{name}{marketPrice}!", &product());
        assert_eq!(copy, "云南小粒咖啡豆!");
    }
}
