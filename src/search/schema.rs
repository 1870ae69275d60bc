//! Tantivy schema of the product index and the mapping from [`ProductDoc`].

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{Index, TantivyDocument};

use super::ProductDoc;
use super::analyzer::{GRAMS_TOKENIZER, GramsTokenizer, WORDS_TOKENIZER, WordsTokenizer};

/// Descriptions beyond this many bytes are not indexed: the tail of a long
/// description adds indexing time and noise, rarely a useful match.
const MAX_DESCRIPTION_BYTES: usize = 20_000;

/// Stored for a missing brand, category or price, so that those fast columns
/// have a value for every document: reading an optional column costs a rank
/// lookup per document, which dominated facet counting.
pub(super) const NO_VALUE: i64 = i64::MIN;

/// Names of the fast fields read by the collector and at start-up.
pub(super) mod fast {
    pub const ID: &str = "id";
    pub const BRAND_ID: &str = "brand_id";
    pub const CATEGORY_ID: &str = "category_id";
    pub const MIN_PRICE: &str = "min_price";
    pub const SALES: &str = "sales";
    pub const CREATED_AT: &str = "created_at";
    pub const ON_SALE: &str = "on_sale";
}

/// Texts are grouped into tiers by how much a match in them is worth; each
/// tier has a words field and a grams field (see the analyzer).
#[derive(Clone, Copy)]
pub(super) struct Tier {
    pub words: Field,
    pub grams: Field,
    pub boost: f32,
}

#[derive(Clone, Copy)]
pub(super) struct Fields {
    pub id: Field,
    /// name + brand, subtitle + categories + spec values, description.
    pub tiers: [Tier; 3],
    pub name_stored: Field,
    pub brand_stored: Field,
    pub brand_id: Field,
    pub category_id: Field,
    pub category_path: Field,
    pub audience: Field,
    pub price: Field,
    pub min_price: Field,
    pub in_stock: Field,
    pub on_sale: Field,
    pub sales: Field,
    pub created_at: Field,
}

fn text_options(tokenizer: &str, record: IndexRecordOption) -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(record),
    )
}

fn add_tier(builder: &mut tantivy::schema::SchemaBuilder, name: &str, boost: f32) -> Tier {
    Tier {
        words: builder.add_text_field(
            &format!("{name}_words"),
            text_options(WORDS_TOKENIZER, IndexRecordOption::WithFreqs),
        ),
        // Positions make phrase (substring) queries over grams possible.
        grams: builder.add_text_field(
            &format!("{name}_grams"),
            text_options(GRAMS_TOKENIZER, IndexRecordOption::WithFreqsAndPositions),
        ),
        boost,
    }
}

pub(super) fn build_schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_i64_field(fast::ID, INDEXED | FAST),
        tiers: [
            add_tier(&mut b, "title", 4.0),
            add_tier(&mut b, "detail", 2.0),
            add_tier(&mut b, "body", 1.0),
        ],
        name_stored: b.add_text_field("name", STORED),
        brand_stored: b.add_text_field("brand_name", STORED),
        brand_id: b.add_i64_field(fast::BRAND_ID, INDEXED | FAST),
        category_id: b.add_i64_field(fast::CATEGORY_ID, FAST),
        category_path: b.add_i64_field("category_path", INDEXED),
        audience: b.add_i64_field("audience", INDEXED),
        // A fast-field range query matches a doc when any of its values is in range.
        price: b.add_i64_field("price", FAST),
        min_price: b.add_i64_field(fast::MIN_PRICE, FAST),
        in_stock: b.add_bool_field("in_stock", INDEXED),
        on_sale: b.add_bool_field(fast::ON_SALE, INDEXED | FAST),
        sales: b.add_i64_field(fast::SALES, FAST),
        created_at: b.add_i64_field(fast::CREATED_AT, FAST),
    };
    (b.build(), fields)
}

/// Tantivy needs the analyzers registered by name on every opened index.
pub(super) fn register_tokenizers(index: &Index) {
    index.tokenizers().register(WORDS_TOKENIZER, WordsTokenizer);
    index.tokenizers().register(GRAMS_TOKENIZER, GramsTokenizer);
}

fn add_text(doc: &mut TantivyDocument, tier: &Tier, text: &str) {
    if !text.trim().is_empty() {
        doc.add_text(tier.words, text);
        doc.add_text(tier.grams, text);
    }
}

pub(super) fn to_document(f: &Fields, p: &ProductDoc) -> TantivyDocument {
    let mut doc = TantivyDocument::default();
    doc.add_i64(f.id, p.id);

    let [title, detail, body] = &f.tiers;
    add_text(&mut doc, title, &p.name);
    add_text(&mut doc, title, &p.brand_name);
    add_text(&mut doc, detail, &p.subtitle);
    for text in p.category_names.iter().chain(&p.spec_values) {
        add_text(&mut doc, detail, text);
    }
    let description = &p.description_text;
    add_text(
        &mut doc,
        body,
        &description[..description.floor_char_boundary(MAX_DESCRIPTION_BYTES)],
    );

    doc.add_text(f.name_stored, &p.name);
    doc.add_text(f.brand_stored, &p.brand_name);

    doc.add_i64(f.brand_id, p.brand_id.unwrap_or(NO_VALUE));
    doc.add_i64(f.category_id, p.category_id.unwrap_or(NO_VALUE));
    for &id in &p.category_path_ids {
        doc.add_i64(f.category_path, id);
    }
    for &id in &p.audience_ids {
        doc.add_i64(f.audience, id);
    }
    for &price in &p.sku_prices_fen {
        doc.add_i64(f.price, price);
    }
    let min_price = p.sku_prices_fen.iter().min();
    doc.add_i64(f.min_price, min_price.copied().unwrap_or(NO_VALUE));
    doc.add_bool(f.in_stock, p.in_stock);
    doc.add_bool(f.on_sale, p.on_sale);
    doc.add_i64(f.sales, p.sales);
    doc.add_i64(f.created_at, p.created_at);
    doc
}
