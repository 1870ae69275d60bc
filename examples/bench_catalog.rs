//! Generates a large catalogue for the load benchmarks in `bench/` (not demo data: use
//! `distmall seed-demo` for that). Rows are written in bulk, one transaction per chunk.
//!
//! `DATABASE_URL=sqlite://…?mode=rwc cargo run --release --example bench_catalog -- 10000`
use chrono::Utc;
use distmall::{Config, db::Db, metrics::Metrics};
use entity::{brand, category, product, product_image, product_spec, sku};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};

const ADJECTIVES: &[&str] = &[
    "男子轻便",
    "女子缓震",
    "透气",
    "经典",
    "儿童",
    "纯棉",
    "无线",
    "防水",
    "加厚",
    "复古",
];
const NOUNS: &[&str] = &[
    "跑步运动鞋",
    "篮球鞋",
    "帆布鞋",
    "短袖T恤",
    "羽绒服",
    "蓝牙耳机",
    "手机壳",
    "双肩包",
    "保温杯",
    "四件套",
];
const BRANDS: &[&str] = &[
    "耐克",
    "阿迪达斯",
    "李宁",
    "安踏",
    "华为",
    "小米",
    "优衣库",
    "罗莱",
    "新秀丽",
    "匡威",
];
const COLOURS: &[&str] = &["黑色", "白色", "蓝色", "红色"];
const SIZES: &[&str] = &["S", "M", "L"];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: i64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let config = Config::load()?;
    let db = Db::connect(&config, std::sync::Arc::new(Metrics::default())).await?;
    db.migrate().await?;
    let now = Utc::now();

    let tx = db.begin_write().await?;
    let mut leaf_categories = Vec::new();
    for (i, top) in ["服装", "鞋靴", "数码", "家居", "箱包"].iter().enumerate() {
        let parent = category::ActiveModel {
            parent_id: Set(None),
            name: Set(top.to_string()),
            sort_order: Set(i as i32),
            safety_stock: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&*tx)
        .await?;
        for j in 0..4 {
            let leaf = category::ActiveModel {
                parent_id: Set(Some(parent.id)),
                name: Set(format!("{top}{j}")),
                sort_order: Set(j),
                safety_stock: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&*tx)
            .await?;
            leaf_categories.push(leaf.id);
        }
    }
    let mut brand_ids = Vec::new();
    for b in BRANDS {
        brand_ids.push(
            brand::ActiveModel {
                name: Set(b.to_string()),
                logo_url: Set(None),
                sort_order: Set(0),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&*tx)
            .await?
            .id,
        );
    }
    tx.commit().await?;

    let specs_json = serde_json::to_string(COLOURS)?;
    let sizes_json = serde_json::to_string(SIZES)?;
    // 100 products (1,200 SKUs) per statement stays under SQLite's 32,766 parameters.
    for chunk in (1..=n).collect::<Vec<_>>().chunks(100) {
        let tx = db.begin_write().await?;
        let mut products = Vec::new();
        for &i in chunk {
            let b = (i as usize) % BRANDS.len();
            products.push(product::ActiveModel {
                id: Set(i),
                name: Set(format!(
                    "{} {}{} {i}",
                    BRANDS[b],
                    ADJECTIVES[(i as usize / 7) % ADJECTIVES.len()],
                    NOUNS[(i as usize / 3) % NOUNS.len()]
                )),
                subtitle: Set("官方正品 七天无理由".into()),
                description_html: Set("<p>品质保证，舒适耐用。</p>".into()),
                description_text: Set("品质保证，舒适耐用。".into()),
                category_id: Set(Some(leaf_categories[(i as usize) % leaf_categories.len()])),
                brand_id: Set(Some(brand_ids[b])),
                status: Set(if i % 20 == 7 { "DRAFT" } else { "ON_SALE" }.into()),
                sort_weight: Set((i % 100) as i32),
                safety_stock: Set(None),
                scheduled_on_sale_at: Set(None),
                scheduled_off_sale_at: Set(None),
                sales: Set((i * 37) % 1000),
                published_at: Set(Some(now)),
                created_at: Set(now),
                updated_at: Set(now),
            });
        }
        product::Entity::insert_many(products)
            .exec_without_returning(&*tx)
            .await?;
        let mut specs = Vec::new();
        let mut skus = Vec::new();
        let mut images = Vec::new();
        for &i in chunk {
            specs.push(product_spec::ActiveModel {
                product_id: Set(i),
                name: Set("颜色".into()),
                values: Set(specs_json.clone()),
                sort_order: Set(0),
                ..Default::default()
            });
            specs.push(product_spec::ActiveModel {
                product_id: Set(i),
                name: Set("尺码".into()),
                values: Set(sizes_json.clone()),
                sort_order: Set(1),
                ..Default::default()
            });
            let base = 2_900 + (i * 1_337) % 90_000;
            for (c, colour) in COLOURS.iter().enumerate() {
                for (s, size) in SIZES.iter().enumerate() {
                    let values = vec![colour.to_string(), size.to_string()];
                    skus.push(sku::ActiveModel {
                        product_id: Set(i),
                        code: Set(format!("B{i:06}-{c}{s}")),
                        spec_values: Set(serde_json::to_string(&values)?),
                        spec_key: Set(values.join("\u{1f}")),
                        price_fen: Set(base + (c as i64) * 500),
                        market_price_fen: Set(Some(base * 13 / 10)),
                        cost_price_fen: Set(base / 2),
                        stock: Set((i * 7 + c as i64 + s as i64) % 200),
                        safety_stock: Set(None),
                        weight_grams: Set(500),
                        barcode: Set(None),
                        active: Set(true),
                        low_stock_alerted: Set(false),
                        sales: Set(0),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    });
                }
            }
            images.push(product_image::ActiveModel {
                product_id: Set(Some(i)),
                storage_key: Set("bench/cover.png".into()),
                url: Set("/media/bench/cover.png".into()),
                content_type: Set("image/png".into()),
                width: Set(800),
                height: Set(800),
                bytes: Set(1024),
                sort_order: Set(0),
                created_by: Set(None),
                created_at: Set(now),
                ..Default::default()
            });
        }
        product_spec::Entity::insert_many(specs)
            .exec_without_returning(&*tx)
            .await?;
        sku::Entity::insert_many(skus)
            .exec_without_returning(&*tx)
            .await?;
        product_image::Entity::insert_many(images)
            .exec_without_returning(&*tx)
            .await?;
        tx.commit().await?;
    }
    if db.is_postgres() {
        // Explicit ids above: move the sequence past them.
        sea_orm::ConnectionTrait::execute_unprepared(
            db.conn(),
            "SELECT setval(pg_get_serial_sequence('products', 'id'), (SELECT MAX(id) FROM products))",
        )
        .await?;
    }
    println!("generated {n} products with 12 SKUs each");
    Ok(())
}
