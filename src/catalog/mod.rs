//! Catalog (ARCHITECTURE.md §3.2): categories, brands, audiences, products with specs, SKUs and images.
pub mod badges;
pub mod cache;
pub mod errors;
pub mod indexing;
pub mod keywords;
pub mod media;
pub mod order_hooks;
pub mod response_cache;
pub mod rules;
pub mod schema;
pub mod search_schema;
pub mod service;
pub mod taxonomy;
pub mod types;
