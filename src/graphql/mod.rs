//! Schema assembly and the GraphQL conventions shared by every area (ARCHITECTURE.md §4).
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
    group_buying::schema::{GroupBuyMutation, GroupBuyQuery, GroupBuySubscription},
    inventory::schema::{InventoryMutation, InventoryQuery, InventorySubscription},
    members::schema::{MembersMutation, MembersQuery},
    notifications::{NotificationMutation, NotificationQuery, NotificationSubscription},
    orders::{
        fulfilment_schema::{FulfilmentMutation, FulfilmentQuery},
        refund_schema::{RefundMutation, RefundQuery},
        schema::{OrderMutation, OrderQuery, OrderSubscription},
    },
    points::schema::{PointsMutation, PointsQuery, PointsSubscription},
    promotions::schema::{PromotionsMutation, PromotionsQuery},
    sharing::schema::{SharingMutation, SharingQuery},
};

/// Everything that can be read. Catalogue queries (`product`, `products`, `categories`…) need no
/// sign-in; `my…` fields read the signed-in user's own data; staff fields need the permission
/// their description names. Objects the caller may not see come back as `null` or `NOT_FOUND`.
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
    MembersQuery,
    PointsQuery,
    PromotionsQuery,
    GroupBuyQuery,
    SharingQuery,
    node::NodeQuery,
);

/// Everything that changes state. Each mutation is all or nothing; business refusals come back
/// in the payload's `userErrors` (nothing changed), other failures as GraphQL errors with
/// `extensions.code` (ARCHITECTURE.md §4.3, §4.4).
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
    MembersMutation,
    PointsMutation,
    PromotionsMutation,
    GroupBuyMutation,
    SharingMutation,
);

/// Live updates over WebSocket (graphql-transport-ws). Every event carries an `eventId`; pass the
/// last one you received as `after` when re-subscribing to first receive what you missed, once
/// (ARCHITECTURE.md §4.10).
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    NotificationSubscription,
    InventorySubscription,
    OrderSubscription,
    DistributionSubscription,
    PointsSubscription,
    GroupBuySubscription,
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
    describe_connections(builder).finish()
}

type Builder = async_graphql::SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot>;

/// async-graphql generates the connection types without a description; each gets one here.
fn describe_connections(builder: Builder) -> Builder {
    use crate::{
        catalog::search_schema::ProductSearchConnection, distribution::types as dist,
        graphql::relay::Page, inventory::schema::StockMovement, notifications::Notification,
        orders::types, points::types as points,
    };
    builder
        .override_output_type_description::<Page<Notification>>(
            "A page of the signed-in user's notifications, newest first.",
        )
        .override_output_type_description::<Page<crate::accounts::User>>(
            "A page of staff accounts, oldest first.",
        )
        .override_output_type_description::<ProductSearchConnection>(
            "A page of products matching a search, in the requested order, with facet counts \
             over every match.",
        )
        .override_output_type_description::<Page<StockMovement>>(
            "A page of the stock ledger, newest movement first.",
        )
        .override_output_type_description::<Page<types::Order>>(
            "A page of orders, in the requested order (newest first by default).",
        )
        .override_output_type_description::<Page<types::Refund>>(
            "A page of refund and return requests, newest first.",
        )
        .override_output_type_description::<Page<dist::Distributor>>(
            "A page of distributors, newest account first.",
        )
        .override_output_type_description::<Page<dist::DistributorApplication>>(
            "A page of distributor applications, newest first.",
        )
        .override_output_type_description::<Page<dist::Commission>>(
            "A page of commission records, newest first.",
        )
        .override_output_type_description::<Page<dist::LedgerEntry>>(
            "A page of a distributor's balance ledger, newest entry first.",
        )
        .override_output_type_description::<Page<dist::Withdrawal>>(
            "A page of withdrawal requests, newest first.",
        )
        .override_output_type_description::<Page<dist::MonthlyReport>>(
            "A page of monthly distributor reports, newest first.",
        )
        .override_output_type_description::<Page<dist::SettlementRun>>(
            "A page of settlement runs, newest first.",
        )
        .override_output_type_description::<Page<points::PointsEntry>>(
            "A page of a member's points ledger, newest entry first.",
        )
        .override_output_type_description::<Page<points::PointsMallItem>>(
            "A page of the points mall's redeemable SKUs, newest first.",
        )
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
