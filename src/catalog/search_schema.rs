//! Product search for everyone: `products(filter, sortBy, first, after)` with facet counts,
//! search suggestions and hot keywords, backed by the embedded index. Consumers only ever get
//! products on sale: the index filters them, and every hit is checked against the database
//! again before it is returned.
use std::sync::Arc;

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, Edge, EmptyFields},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::{audience, brand};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    errors::CatalogError,
    indexing, keywords,
    types::{Audience, Brand, Category, Product, sees_everything, visible},
};
use crate::{
    auth::{Permission, PermissionGuard},
    error::AppError,
    graphql::{context::CtxExt, ids, relay, scalars::Money},
    money,
    search::{Facets, SearchQuery, SearchSort},
};

/// Deepest result a client may page to (search results are ranked; nobody reads page 500).
const MAX_OFFSET: usize = 10_000;

/// What to sort products by.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProductSortField {
    /// Best match first (newest first without a keyword).
    #[default]
    Relevance,
    /// By the lowest SKU price; direction applies.
    Price,
    /// Best sellers first.
    Sales,
    /// Newest first.
    Newest,
}

/// Which way a sort runs.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// How to order search results.
#[derive(InputObject, Default)]
pub struct ProductSortBy {
    /// What to sort by; `RELEVANCE` by default.
    #[graphql(default)]
    field: ProductSortField,
    /// Used by PRICE (ascending by default); the other fields always put the best first.
    #[graphql(default)]
    direction: SortDirection,
}

/// Search filters; all optional and combined with AND.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    /// Words as people type them (Chinese or not); every word must match. A search: at most
    /// 100 characters.
    keyword: Option<String>,
    /// This category and everything below it.
    category_id: Option<ID>,
    /// Any of these brands.
    brand_ids: Option<Vec<ID>>,
    /// Any of these audiences.
    audience_ids: Option<Vec<ID>>,
    /// Some SKU costs at least this much.
    price_min: Option<Money>,
    /// Some SKU costs at most this much.
    price_max: Option<Money>,
    /// Only products with at least one unit of an active SKU available.
    #[graphql(default)]
    in_stock_only: bool,
    /// Include drafts and products off sale (staff only; ignored for others).
    #[graphql(default)]
    include_unpublished: bool,
}

/// Products whose lowest price is in `[min, max)`.
#[derive(SimpleObject)]
pub struct PriceBucketCount {
    /// Lower bound in yuan, included.
    min: Money,
    /// Upper bound in yuan, excluded; null: no upper bound.
    max: Option<Money>,
    /// Matching products in the bucket.
    count: i64,
}

/// How many matching products are in one category (its own products, not its sub-categories').
#[derive(SimpleObject)]
pub struct CategoryCount {
    /// The category.
    category: Category,
    /// Matching products in it.
    count: i64,
}

/// How many matching products are of one brand.
#[derive(SimpleObject)]
pub struct BrandCount {
    /// The brand.
    brand: Brand,
    /// Matching products of it.
    count: i64,
}

/// How many matching products are for one audience.
#[derive(SimpleObject)]
pub struct AudienceCount {
    /// The audience tag.
    audience: Audience,
    /// Matching products for it.
    count: i64,
}

/// Counts over all matches (not just this page), to show next to each filter.
#[derive(SimpleObject)]
pub struct ProductFacets {
    /// By each product's own category; adds up to `totalCount` (minus uncategorised).
    categories: Vec<CategoryCount>,
    /// Adds up to `totalCount` (minus products without a brand).
    brands: Vec<BrandCount>,
    /// A product may be for several audiences.
    audiences: Vec<AudienceCount>,
    /// By lowest SKU price; adds up to `totalCount`.
    price_buckets: Vec<PriceBucketCount>,
}

/// The extra fields of a search connection.
pub struct SearchExtras {
    total: u64,
    facets: Option<ProductFacets>,
}

#[Object]
impl SearchExtras {
    /// Matching products across all pages.
    async fn total_count(&self) -> i64 {
        self.total as i64
    }

    /// Null unless selected (computing them costs a little).
    async fn facets(&self) -> Option<&ProductFacets> {
        self.facets.as_ref()
    }
}

pub type ProductSearchConnection = Connection<String, Product, SearchExtras, EmptyFields>;

fn offset_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

fn parse_offset_cursor(cursor: &str) -> Result<usize, AppError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse().ok()))
        .ok_or_else(|| AppError::bad_input("invalid cursor"))
}

fn decode_all(list: &Option<Vec<ID>>, type_name: &str) -> Vec<i64> {
    // An id that names nothing filters to nothing: keep an impossible id rather than dropping
    // the filter.
    list.iter()
        .flatten()
        .map(|id| ids::decode(type_name, id).unwrap_or(0))
        .collect()
}

fn fen(m: Option<Money>, field: &str) -> Result<Option<i64>, AppError> {
    m.map(|m| {
        money::to_fen(m.0).ok_or_else(|| AppError::bad_input(format!("{field} is out of range")))
    })
    .transpose()
}

async fn facets(ctx: &Context<'_>, f: Facets) -> Result<ProductFacets, AppError> {
    let categories = ctx.loaders().categories().await?;
    let brand_ids: Vec<i64> = f.brands.iter().map(|b| b.0).collect();
    let brands = brand::Entity::find()
        .filter(brand::Column::Id.is_in(brand_ids))
        .all(ctx.app().db.conn())
        .await?;
    let audience_ids: Vec<i64> = f.audiences.iter().map(|a| a.0).collect();
    let audiences = audience::Entity::find()
        .filter(audience::Column::Id.is_in(audience_ids))
        .all(ctx.app().db.conn())
        .await?;
    Ok(ProductFacets {
        categories: f
            .categories
            .into_iter()
            .filter_map(|(id, n)| {
                categories
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| CategoryCount {
                        category: Category(Arc::new(c.clone())),
                        count: n as i64,
                    })
            })
            .collect(),
        brands: f
            .brands
            .into_iter()
            .filter_map(|(id, n)| {
                brands.iter().find(|b| b.id == id).map(|b| BrandCount {
                    brand: Brand(Arc::new(b.clone())),
                    count: n as i64,
                })
            })
            .collect(),
        audiences: f
            .audiences
            .into_iter()
            .filter_map(|(id, n)| {
                audiences
                    .iter()
                    .find(|a| a.id == id)
                    .map(|a| AudienceCount {
                        audience: Audience(Arc::new(a.clone())),
                        count: n as i64,
                    })
            })
            .collect(),
        price_buckets: f
            .price_buckets
            .into_iter()
            .map(|b| PriceBucketCount {
                min: Money(money::to_decimal(b.min_fen)),
                max: b.max_fen.map(|m| Money(money::to_decimal(m))),
                count: b.count as i64,
            })
            .collect(),
    })
}

/// A keyword shoppers searched for often, to suggest in the search box.
#[derive(SimpleObject)]
pub struct HotKeyword {
    /// The keyword as searched, trimmed, in lower case, with inner spaces collapsed.
    keyword: String,
    /// Searches over the last seven days.
    searches: i64,
}

/// The result of `rebuildSearchIndex`.
#[derive(SimpleObject)]
pub struct RebuildSearchIndexPayload {
    /// Products now in the index; null when refused.
    indexed: Option<i64>,
    /// Why the rebuild was refused. Empty today: a rebuild waits for one already running and
    /// then runs; listed so that every mutation answers the same way.
    user_errors: Vec<CatalogError>,
}

/// Those of `ids` that `query` would no longer match as the products are now (`now`): gone,
/// or off sale for a search of products on sale.
fn no_longer_matching(
    query: &SearchQuery,
    ids: &[i64],
    now: &std::collections::HashMap<i64, Arc<entity::product::Model>>,
) -> Vec<i64> {
    ids.iter()
        .copied()
        .filter(|id| {
            now.get(id).is_none_or(|p| {
                !query.include_unpublished
                    && p.status != super::rules::ProductStatus::OnSale.as_str()
            })
        })
        .collect()
}

#[derive(Default)]
pub struct SearchQueryRoot;

#[Object]
impl SearchQueryRoot {
    /// Searches and lists products: keyword (Chinese-aware), filters, sorting and facet counts.
    /// Consumers and distributors see only products on sale.
    async fn products(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to match; every product (on sale) when omitted.")] filter: Option<
            ProductFilter,
        >,
        #[graphql(desc = "The order of results; best match first when omitted.")] sort_by: Option<
            ProductSortBy,
        >,
        #[graphql(
            desc = "At most this many products (0–100; 20 by default). Results page forward only, at most 10,000 deep."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "Only results after this cursor (`pageInfo.endCursor` for the next page)."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<ProductSearchConnection> {
        let filter = filter.unwrap_or_default();
        let sort_by = sort_by.unwrap_or_default();
        let limit = first.unwrap_or(relay::DEFAULT_PAGE_SIZE);
        if !(0..=relay::MAX_PAGE_SIZE).contains(&limit) {
            return Err(AppError::bad_input(format!(
                "first must be between 0 and {}",
                relay::MAX_PAGE_SIZE
            ))
            .into());
        }
        let offset = after
            .as_deref()
            .map(parse_offset_cursor)
            .transpose()?
            .map_or(0, |o| o + 1);
        if offset > MAX_OFFSET {
            return Err(AppError::bad_input("narrow the search to see more results").into());
        }
        let staff = sees_everything(ctx.viewer());
        let mut query = SearchQuery {
            keyword: filter.keyword.clone(),
            category_id: filter
                .category_id
                .as_ref()
                .map(|c| ids::decode("Category", c).unwrap_or(0)),
            brand_ids: decode_all(&filter.brand_ids, "Brand"),
            audience_ids: decode_all(&filter.audience_ids, "Audience"),
            price_min_fen: fen(filter.price_min, "priceMin")?,
            price_max_fen: fen(filter.price_max, "priceMax")?,
            in_stock_only: filter.in_stock_only,
            include_unpublished: staff && filter.include_unpublished,
            exclude_ids: Vec::new(),
            sort: match (sort_by.field, sort_by.direction) {
                (ProductSortField::Relevance, _) => SearchSort::Relevance,
                (ProductSortField::Price, SortDirection::Asc) => SearchSort::PriceAsc,
                (ProductSortField::Price, SortDirection::Desc) => SearchSort::PriceDesc,
                (ProductSortField::Sales, _) => SearchSort::Sales,
                (ProductSortField::Newest, _) => SearchSort::Newest,
            },
            offset,
            limit: limit as usize,
            with_facets: ctx.look_ahead().field("facets").exists(),
        };
        // Hits, totals and facets must agree with what this response can show. The index
        // lags the database by a moment: products changed since it last caught up are checked
        // first and left out of the search if they no longer match; a hit that turns out not
        // to match (changed during this request) is left out by a second search.
        let unindexed = ctx.app().catalog.unindexed_products();
        if !unindexed.is_empty() {
            let now = ctx.loaders().products(unindexed.iter().copied()).await?;
            query.exclude_ids = no_longer_matching(&query, &unindexed, &now);
        }
        let recorder = ctx.loaders().recorder();
        let search = &ctx.app().search;
        let mut second_search = false;
        let (result, products) = loop {
            if let Some(r) = recorder {
                r.search(search.generation());
            }
            let result = search.search(&query).map_err(AppError::Internal)?;
            let products = ctx.loaders().products(result.ids.iter().copied()).await?;
            let changed = no_longer_matching(&query, &result.ids, &products);
            if changed.is_empty() || second_search {
                break (result, products);
            }
            query.exclude_ids.extend(changed);
            second_search = true;
        };
        // Hot keywords are what shoppers look for: staff searching the dashboard are not counted.
        if offset == 0
            && !staff
            && let Some(k) = &filter.keyword
        {
            ctx.app().keywords.record(k);
            if let Some(r) = recorder {
                r.keyword(k);
            }
        }
        let facets = match result.facets {
            Some(f) => Some(facets(ctx, f).await?),
            None => None,
        };
        let has_next = offset + result.ids.len() < result.total as usize;
        let mut conn = Connection::with_additional_fields(
            offset > 0,
            has_next,
            SearchExtras {
                total: result.total,
                facets,
            },
        );
        let viewer = ctx.viewer();
        conn.edges.extend(
            result
                .ids
                .iter()
                .enumerate()
                .filter_map(|(i, id)| products.get(id).map(|p| (i, p.clone())))
                .filter(|(_, p)| visible(viewer, p))
                .map(|(i, p)| Edge::new(offset_cursor(offset + i), Product(p))),
        );
        Ok(conn)
    }

    /// Completions of product and brand names (of products on sale) for what the user is
    /// typing. Public.
    async fn search_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "What the user has typed so far: at most 100 characters, of which the \
                          first 32 are completed."
        )]
        prefix: String,
        #[graphql(
            desc = "At most this many completions (1–20).",
            default = 8,
            validator(minimum = 1, maximum = 20)
        )]
        first: usize,
    ) -> async_graphql::Result<Vec<String>> {
        let prefix: String = prefix.chars().take(32).collect();
        let search = &ctx.app().search;
        if let Some(r) = ctx.loaders().recorder() {
            r.search(search.generation());
        }
        Ok(search.suggest(&prefix, first).map_err(AppError::Internal)?)
    }

    /// The keywords consumers and distributors searched most in the last seven days (staff
    /// searches are not counted).
    async fn hot_keywords(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "At most this many keywords (1–50), most searched first.",
            default = 10,
            validator(minimum = 1, maximum = 50)
        )]
        first: u64,
    ) -> async_graphql::Result<Vec<HotKeyword>> {
        let app = ctx.app();
        Ok(keywords::hot(app.db.conn(), keywords::today(app), first)
            .await?
            .into_iter()
            .map(|(keyword, searches)| HotKeyword { keyword, searches })
            .collect())
    }
}

#[derive(Default)]
pub struct SearchMutationRoot;

#[Object]
impl SearchMutationRoot {
    /// Rebuilds this instance's search index from the database (staff with CATALOG). Indexes
    /// follow changes by themselves; this is for repairs.
    #[graphql(guard = "PermissionGuard(Permission::Catalog)")]
    async fn rebuild_search_index(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<RebuildSearchIndexPayload> {
        let n = indexing::rebuild(ctx.app()).await?;
        Ok(RebuildSearchIndexPayload {
            indexed: Some(n as i64),
            user_errors: vec![],
        })
    }
}
