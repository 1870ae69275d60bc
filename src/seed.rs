//! `distmall seed-demo`: a believable shop to look around in — 18 categories of Chinese
//! products from familiar brands, with specs, prices, stock (some of it low) and generated
//! product pictures. Everything goes through the normal services (so the stock ledger, events
//! and search index are as if staff had entered it) and is found by name before it is created,
//! so running it twice creates nothing twice.
use std::sync::Arc;

use entity::{audience, brand, category, product};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use crate::{
    app::AppState,
    catalog::{
        media,
        rules::{ProductStatus, SpecDef},
        service::{self, NewProduct, ProductFields, SkuDraft},
        taxonomy,
    },
    error::{AppError, ServiceError},
};

/// A leaf category: its parent, name, spec template, price range (yuan), product-name parts,
/// brands and audiences, and its picture colour.
struct Kind {
    parent: &'static str,
    name: &'static str,
    specs: &'static [(&'static str, &'static [&'static str])],
    price: (i64, i64),
    adjectives: &'static [&'static str],
    nouns: &'static [&'static str],
    brands: &'static [&'static str],
    audiences: &'static [&'static str],
    colour: [u8; 3],
}

const COLOURS: &[&str] = &["黑色", "白色", "藏青", "灰色"];
const CLOTHES: &[&str] = &["S", "M", "L", "XL"];
const SHOES: &[&str] = &["39码", "40码", "41码", "42码", "43码"];

const KINDS: &[Kind] = &[
    Kind {
        parent: "服装",
        name: "男装",
        specs: &[("颜色", COLOURS), ("尺码", CLOTHES)],
        price: (59, 399),
        adjectives: &["纯棉", "修身", "宽松", "商务", "休闲", "加绒"],
        nouns: &["短袖T恤", "长袖衬衫", "牛仔裤", "夹克", "卫衣"],
        brands: &["优衣库", "海澜之家", "李宁"],
        audiences: &["男士"],
        colour: [52, 73, 94],
    },
    Kind {
        parent: "服装",
        name: "女装",
        specs: &[
            ("颜色", &["米白", "雾霾蓝", "焦糖色", "黑色"]),
            ("尺码", CLOTHES),
        ],
        price: (69, 599),
        adjectives: &["法式", "复古", "高腰", "针织", "碎花", "百搭"],
        nouns: &["连衣裙", "半身裙", "开衫", "阔腿裤", "风衣"],
        brands: &["优衣库", "太平鸟", "ONLY"],
        audiences: &["女士"],
        colour: [231, 76, 60],
    },
    Kind {
        parent: "运动鞋",
        name: "跑步鞋",
        specs: &[("颜色", &["黑白", "荧光绿", "深蓝"]), ("尺码", SHOES)],
        price: (299, 1299),
        adjectives: &["男子轻便", "女子缓震", "透气", "专业竞速", "防滑耐磨"],
        nouns: &["跑步运动鞋", "跑鞋", "训练鞋"],
        brands: &["耐克", "阿迪达斯", "李宁", "安踏"],
        audiences: &["男士", "女士"],
        colour: [230, 126, 34],
    },
    Kind {
        parent: "运动鞋",
        name: "篮球鞋",
        specs: &[("颜色", &["红黑", "白金"]), ("尺码", SHOES)],
        price: (399, 1599),
        adjectives: &["高帮", "低帮", "实战", "缓震"],
        nouns: &["篮球鞋", "球鞋", "战靴"],
        brands: &["耐克", "李宁", "安踏"],
        audiences: &["男士"],
        colour: [192, 57, 43],
    },
    Kind {
        parent: "运动鞋",
        name: "休闲鞋",
        specs: &[("颜色", &["白色", "黑色", "卡其"]), ("尺码", SHOES)],
        price: (199, 699),
        adjectives: &["经典", "小白", "百搭", "复古"],
        nouns: &["帆布鞋", "板鞋", "德训鞋", "乐福鞋"],
        brands: &["匡威", "回力", "阿迪达斯"],
        audiences: &["男士", "女士", "学生"],
        colour: [149, 165, 166],
    },
    Kind {
        parent: "数码",
        name: "手机配件",
        specs: &[("颜色", &["透明", "黑色", "星光色"])],
        price: (19, 199),
        adjectives: &["防摔", "磁吸", "超薄", "快充"],
        nouns: &["手机壳", "充电器", "数据线", "钢化膜", "充电宝"],
        brands: &["小米", "华为", "绿联", "Anker"],
        audiences: &["学生"],
        colour: [41, 128, 185],
    },
    Kind {
        parent: "数码",
        name: "耳机音响",
        specs: &[("颜色", &["白色", "黑色"])],
        price: (99, 1999),
        adjectives: &["无线", "降噪", "运动", "头戴式", "便携"],
        nouns: &["蓝牙耳机", "音箱", "耳机"],
        brands: &["华为", "小米", "漫步者", "索尼"],
        audiences: &["学生", "男士", "女士"],
        colour: [142, 68, 173],
    },
    Kind {
        parent: "家居",
        name: "床上用品",
        specs: &[
            ("尺寸", &["1.5米床", "1.8米床"]),
            ("颜色", &["奶白", "灰蓝", "豆沙"]),
        ],
        price: (99, 1299),
        adjectives: &["全棉", "水洗棉", "天丝", "加厚", "亲肤"],
        nouns: &["四件套", "被子", "枕头", "床垫"],
        brands: &["罗莱", "水星家纺", "富安娜"],
        audiences: &["女士"],
        colour: [26, 188, 156],
    },
    Kind {
        parent: "家居",
        name: "收纳整理",
        specs: &[("规格", &["小号", "中号", "大号"])],
        price: (19, 199),
        adjectives: &["可折叠", "透明", "大容量", "防尘"],
        nouns: &["收纳箱", "收纳盒", "衣架", "置物架"],
        brands: &["禧天龙", "天马"],
        audiences: &["女士"],
        colour: [22, 160, 133],
    },
    Kind {
        parent: "母婴",
        name: "奶粉辅食",
        specs: &[("段位", &["1段", "2段", "3段"])],
        price: (89, 399),
        adjectives: &["有机", "婴儿", "幼儿", "营养"],
        nouns: &["配方奶粉", "米粉", "果泥"],
        brands: &["飞鹤", "美赞臣", "爱他美"],
        audiences: &["孕婴"],
        colour: [241, 196, 15],
    },
    Kind {
        parent: "母婴",
        name: "童装童鞋",
        specs: &[
            ("颜色", &["粉色", "蓝色", "黄色"]),
            ("尺码", &["90", "100", "110", "120"]),
        ],
        price: (49, 399),
        adjectives: &["儿童", "宝宝", "纯棉", "加厚"],
        nouns: &["羽绒服", "连体衣", "运动鞋", "卫衣"],
        brands: &["巴拉巴拉", "安踏"],
        audiences: &["儿童"],
        colour: [243, 156, 18],
    },
    Kind {
        parent: "美妆",
        name: "护肤",
        specs: &[("容量", &["30ml", "50ml", "100ml"])],
        price: (99, 1499),
        adjectives: &["保湿", "修护", "美白", "抗初老"],
        nouns: &["精华液", "面霜", "面膜", "爽肤水", "乳液"],
        brands: &["兰蔻", "雅诗兰黛", "珀莱雅", "百雀羚"],
        audiences: &["女士"],
        colour: [233, 30, 99],
    },
    Kind {
        parent: "美妆",
        name: "彩妆",
        specs: &[("色号", &["01", "02", "03"])],
        price: (79, 499),
        adjectives: &["哑光", "持久", "水润", "丝绒"],
        nouns: &["口红", "粉底液", "眼影盘", "腮红"],
        brands: &["花西子", "完美日记", "兰蔻"],
        audiences: &["女士"],
        colour: [214, 51, 132],
    },
    Kind {
        parent: "食品",
        name: "休闲零食",
        specs: &[("规格", &["单袋", "家庭装"])],
        price: (9, 129),
        adjectives: &["香辣", "原味", "每日", "网红"],
        nouns: &["坚果", "牛肉干", "饼干", "薯片"],
        brands: &["三只松鼠", "良品铺子", "百草味"],
        audiences: &["学生"],
        colour: [211, 84, 0],
    },
    Kind {
        parent: "食品",
        name: "茶饮冲调",
        specs: &[("规格", &["250g", "500g"])],
        price: (29, 699),
        adjectives: &["明前", "高山", "特级", "手工"],
        nouns: &["龙井茶", "普洱茶", "红茶", "挂耳咖啡"],
        brands: &["西湖牌", "大益", "三顿半"],
        audiences: &["男士", "老人"],
        colour: [39, 174, 96],
    },
    Kind {
        parent: "个护清洁",
        name: "洗护",
        specs: &[("规格", &["400ml", "750ml"])],
        price: (19, 159),
        adjectives: &["控油", "去屑", "氨基酸", "温和"],
        nouns: &["洗发水", "沐浴露", "洗面奶", "牙膏"],
        brands: &["花王", "海飞丝", "舒肤佳"],
        audiences: &["男士", "女士"],
        colour: [52, 152, 219],
    },
    Kind {
        parent: "箱包",
        name: "箱包",
        specs: &[("颜色", &["黑色", "银色", "墨绿"])],
        price: (99, 1999),
        adjectives: &["商务", "大容量", "轻便", "防水"],
        nouns: &["双肩包", "行李箱", "斜挎包", "电脑包"],
        brands: &["新秀丽", "小米"],
        audiences: &["男士", "学生"],
        colour: [127, 140, 141],
    },
    Kind {
        parent: "户外",
        name: "户外运动",
        specs: &[("颜色", &["军绿", "黑色", "橙色"])],
        price: (49, 1299),
        adjectives: &["防风", "速干", "超轻", "露营"],
        nouns: &["冲锋衣", "帐篷", "登山杖", "睡袋"],
        brands: &["迪卡侬", "探路者", "骆驼"],
        audiences: &["男士", "女士"],
        colour: [46, 204, 113],
    },
];

/// Products per leaf category.
const PER_KIND: usize = 12;

/// A small deterministic generator, so every run builds the same shop.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo + 1) as u64)) as i64
    }
}

/// What a run created.
#[derive(Debug, Default)]
pub struct SeedReport {
    pub categories: usize,
    pub brands: usize,
    pub products: usize,
    pub distributors: usize,
}

/// The password of every demo account (README: demo accounts).
pub const DEMO_PASSWORD: &str = "Demo12345";

/// The seed's distribution example (ARCHITECTURE.md §11): D3 recruited D2, D2 recruited D1, and the demo
/// buyer is bound to D1 — a ¥100.00 order pays D1 ¥20.00, D2 ¥10.00 and D3 ¥5.00 under the
/// default rules (20% / 10% / 5% of sales, settled monthly on the 5th).
const DEMO_TEAM: &[(&str, &str)] = &[
    ("13800000003", "王总"),
    ("13800000002", "李姐"),
    ("13800000001", "小张"),
];
const DEMO_BUYER: (&str, &str) = ("13800000100", "顾客小陈");

async fn demo_user(app: &AppState, phone: &str, nickname: &str) -> Result<i64, AppError> {
    if let Some(u) = entity::user::Entity::find()
        .filter(entity::user::Column::Phone.eq(phone))
        .one(app.db.conn())
        .await?
    {
        return Ok(u.id);
    }
    let session = crate::accounts::service::register(app, phone, DEMO_PASSWORD, Some(nickname))
        .await
        .map_err(user_err)?;
    Ok(session.user.id)
}

async fn seed_distribution(app: &AppState, report: &mut SeedReport) -> Result<(), AppError> {
    use crate::distribution::{settings, team};
    let tx = app.db.begin_write().await?;
    app.distribution.current(&tx).await?;
    tx.commit().await?;
    let mut inviter: Option<i64> = None;
    for (phone, nickname) in DEMO_TEAM {
        let id = demo_user(app, phone, nickname).await?;
        if team::find(app.db.conn(), id).await?.is_none() {
            let tx = app.db.begin_write().await?;
            team::create(&tx, id, inviter).await?;
            tx.commit().await?;
            app.principals.invalidate(id);
            report.distributors += 1;
        }
        inviter = Some(id);
    }
    let buyer = demo_user(app, DEMO_BUYER.0, DEMO_BUYER.1).await?;
    if let Some(d1) = inviter
        && let Some(d1) = team::find(app.db.conn(), d1).await?
    {
        let tx = app.db.begin_write().await?;
        let conf = settings::load(&*tx).await?;
        // Permanent first touch: a second run keeps the binding it made.
        let _ = team::touch(&tx, &conf, buyer, &d1, None).await?;
        tx.commit().await?;
    }
    Ok(())
}

fn user_err<T: std::fmt::Debug>(e: ServiceError<T>) -> AppError {
    match e {
        ServiceError::App(e) => e,
        ServiceError::User(u) => AppError::Internal(anyhow::anyhow!("demo data refused: {u:?}")),
    }
}

async fn category_id(
    app: &AppState,
    name: &str,
    parent: Option<i64>,
    report: &mut SeedReport,
) -> Result<i64, AppError> {
    let existing = category::Entity::find()
        .filter(category::Column::Name.eq(name))
        .all(app.db.conn())
        .await?
        .into_iter()
        .find(|c| c.parent_id == parent);
    if let Some(c) = existing {
        return Ok(c.id);
    }
    report.categories += 1;
    Ok(
        taxonomy::create_category(app, name, parent, report.categories as i32, None)
            .await
            .map_err(user_err)?
            .id,
    )
}

async fn brand_id(app: &AppState, name: &str, report: &mut SeedReport) -> Result<i64, AppError> {
    if let Some(b) = brand::Entity::find()
        .filter(brand::Column::Name.eq(name))
        .one(app.db.conn())
        .await?
    {
        return Ok(b.id);
    }
    report.brands += 1;
    Ok(taxonomy::save_brand(app, None, name, None, 0)
        .await
        .map_err(user_err)?
        .id)
}

async fn audience_id(app: &AppState, name: &str) -> Result<i64, AppError> {
    if let Some(a) = audience::Entity::find()
        .filter(audience::Column::Name.eq(name))
        .one(app.db.conn())
        .await?
    {
        return Ok(a.id);
    }
    Ok(taxonomy::save_audience(app, None, name, 0)
        .await
        .map_err(user_err)?
        .id)
}

/// A 360×360 product picture: a diagonal gradient of the category colour with a lighter disc,
/// different for every product. Integer arithmetic only: it runs unoptimised in tests.
pub fn picture(colour: [u8; 3], seed: u64) -> Vec<u8> {
    const SIZE: i64 = 360;
    let mut rng = Lcg(seed);
    let (cx, cy) = (rng.range(100, 260), rng.range(100, 260));
    let r2 = rng.range(60, 120).pow(2);
    let mut pixels = Vec::with_capacity((SIZE * SIZE * 3) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            // 75 % … 125 % of the colour along the diagonal, lightened inside the disc.
            let shade = 75 + 50 * (x + y) / (2 * SIZE);
            let inside = (x - cx).pow(2) + (y - cy).pow(2) < r2;
            for c in colour {
                let base = (i64::from(c) * shade / 100).min(255);
                let v = if inside {
                    base + (255 - base) * 55 / 100
                } else {
                    base
                };
                pixels.push(v as u8);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, SIZE as u32, SIZE as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("PNG header");
        writer.write_image_data(&pixels).expect("PNG data");
    }
    out
}

/// Builds the demo shop; safe to run again.
pub async fn seed_demo(app: &Arc<AppState>) -> Result<SeedReport, AppError> {
    let mut report = SeedReport::default();
    let mut rng = Lcg(20261128);
    for (k, kind) in KINDS.iter().enumerate() {
        let parent = category_id(app, kind.parent, None, &mut report).await?;
        let leaf = if kind.parent == kind.name {
            parent
        } else {
            category_id(app, kind.name, Some(parent), &mut report).await?
        };
        let mut audiences = Vec::new();
        for a in kind.audiences {
            audiences.push(audience_id(app, a).await?);
        }
        let combos = kind
            .adjectives
            .iter()
            .flat_map(|a| kind.nouns.iter().map(move |n| format!("{a}{n}")));
        for (i, base) in combos.take(PER_KIND).enumerate() {
            let brand_name = kind.brands[i % kind.brands.len()];
            let name = format!("{brand_name} {base}");
            if product::Entity::find()
                .filter(product::Column::Name.eq(&name))
                .one(app.db.conn())
                .await?
                .is_some()
            {
                continue;
            }
            let brand = brand_id(app, brand_name, &mut report).await?;
            let price = rng.range(kind.price.0, kind.price.1) * 100 + [0, 90, 99][i % 3];
            let stock = match rng.range(0, 9) {
                0 => 0,
                1 => rng.range(1, 8),
                _ => rng.range(20, 300),
            };
            let image_bytes = picture(kind.colour, (k * 100 + i) as u64);
            let image = media::upload_image(app, None, image_bytes)
                .await
                .map_err(user_err)?;
            let specs: Vec<SpecDef> = kind
                .specs
                .iter()
                .map(|(n, v)| SpecDef {
                    name: n.to_string(),
                    values: v.iter().map(|s| s.to_string()).collect(),
                })
                .collect();
            let draft = SkuDraft {
                price: Decimal::new(price, 2),
                market_price: Some(Decimal::new(price * 13 / 10 / 100 * 100, 2)),
                cost_price: Decimal::new(price * rng.range(40, 60) / 100, 2),
                initial_stock: stock,
                weight_grams: rng.range(100, 2000) as i32,
                ..SkuDraft::default()
            };
            let description = format!(
                "<p><strong>{name}</strong></p><p>{}品质，{}精选。适合{}。</p><ul><li>7天无理由退换</li><li>正品保障</li></ul>",
                kind.adjectives[i % kind.adjectives.len()],
                kind.name,
                kind.audiences.join("、")
            );
            let created = service::create_product(
                app,
                None,
                NewProduct {
                    fields: ProductFields {
                        name: Some(name),
                        subtitle: Some(format!("{brand_name}官方正品 · {}", kind.name)),
                        description_html: Some(description),
                        category_id: Some(Some(leaf)),
                        brand_id: Some(Some(brand)),
                        audience_ids: Some(audiences.clone()),
                        sort_weight: Some(rng.range(0, 100) as i32),
                        image_ids: Some(vec![image.id]),
                        ..ProductFields::default()
                    },
                    specs,
                    skus: vec![draft],
                },
            )
            .await
            .map_err(user_err)?;
            // Most products are on sale; a few stay drafts, as in a real shop.
            if i % 6 != 5 {
                service::set_status(app, &[created.id], ProductStatus::OnSale)
                    .await
                    .map_err(user_err)?;
            }
            report.products += 1;
        }
    }
    seed_distribution(app, &mut report).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_big_enough_and_names_are_unique() {
        let mut names = std::collections::HashSet::new();
        let mut leaves = std::collections::HashSet::new();
        for k in KINDS {
            leaves.insert((k.parent, k.name));
            let combos: Vec<String> = k
                .adjectives
                .iter()
                .flat_map(|a| k.nouns.iter().map(move |n| format!("{a}{n}")))
                .collect();
            assert!(
                combos.len() >= PER_KIND,
                "{} has only {} names",
                k.name,
                combos.len()
            );
            for (i, base) in combos.iter().take(PER_KIND).enumerate() {
                assert!(names.insert(format!("{} {base}", k.brands[i % k.brands.len()])));
            }
        }
        assert!(names.len() >= 200);
        let parents: std::collections::HashSet<&str> = KINDS.iter().map(|k| k.parent).collect();
        assert!(leaves.len() + parents.len() >= 15);
    }

    #[test]
    fn pictures_are_png_of_the_right_size() {
        let p = picture([10, 20, 30], 1);
        assert!(p.starts_with(b"\x89PNG"));
        assert_ne!(p, picture([10, 20, 30], 2));
        assert!(p.len() < 200_000);
    }
}
