//! Schema assembly and the GraphQL conventions shared by every area (DESIGN §4).
pub mod context;
pub mod errors;
pub mod guardrails;
pub mod ids;
pub mod live;
pub mod loaders;
pub mod node;
pub mod relay;
pub mod scalars;

use std::sync::Arc;

use async_graphql::{MergedObject, MergedSubscription, SDLExportOptions, Schema};

use crate::{
    accounts::{AccountMutation, AccountQuery},
    app::AppState,
    catalog::{
        schema::{CatalogMutation, CatalogQuery},
        search_schema::{SearchMutationRoot, SearchQueryRoot},
    },
    config::Config,
    distribution::schema::{DistributionMutation, DistributionQuery, DistributionSubscription},
    inventory::schema::{InventoryMutation, InventoryQuery, InventorySubscription},
    notifications::{NotificationMutation, NotificationQuery, NotificationSubscription},
    orders::{
        fulfilment_schema::{FulfilmentMutation, FulfilmentQuery},
        refund_schema::{RefundMutation, RefundQuery},
        schema::{OrderMutation, OrderQuery, OrderSubscription},
    },
    points::schema::{PointsMutation, PointsQuery, PointsSubscription},
};

#[derive(MergedObject, Default)]
pub struct QueryRoot(
    AccountQuery,
    CatalogQuery,
    SearchQueryRoot,
    InventoryQuery,
    NotificationQuery,
    OrderQuery,
    RefundQuery,
    FulfilmentQuery,
    DistributionQuery,
    PointsQuery,
    node::NodeQuery,
);

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    AccountMutation,
    CatalogMutation,
    SearchMutationRoot,
    InventoryMutation,
    NotificationMutation,
    OrderMutation,
    RefundMutation,
    FulfilmentMutation,
    DistributionMutation,
    PointsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    NotificationSubscription,
    InventorySubscription,
    OrderSubscription,
    DistributionSubscription,
    PointsSubscription,
);

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema with the configured limits. `app` is absent only when exporting the SDL.
pub fn build(config: &Config, app: Option<Arc<AppState>>) -> AppSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    // Cost, aliases and introspection are checked by `guardrails` in the transports.
    .limit_depth(config.graphql_max_depth)
    .limit_directives(config.graphql_max_directives);
    if !config.introspection_enabled() {
        builder = builder.disable_introspection();
    }
    if !config.suggestions_enabled() {
        builder = builder.disable_suggestions();
    }
    if let Some(app) = app {
        builder = builder.data(app);
    }
    builder.finish()
}

/// The SDL as checked in at `schema.graphql`: fields, arguments and enum values sorted, so the
/// file changes only when the API does.
pub fn sdl() -> String {
    build(&Config::default(), None).sdl_with_options(
        SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
