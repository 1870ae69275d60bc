//! Application state and the server lifecycle: connect and migrate, start the background tasks,
//! serve HTTP until asked to stop, then drain.
use std::{net::SocketAddr, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use entity::system_setting;
use sea_orm::{EntityTrait, Set};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    accounts::service::EVENT_UPDATED,
    auth::{PrincipalCache, Viewer, jwt::JwtKeys},
    cached_value::CachedValue,
    catalog::{
        cache::CatalogCache,
        keywords::KeywordCounter,
        media::{LocalDisk, MediaStore},
    },
    config::Config,
    db::Db,
    error::AppError,
    events::{self, EventBus},
    graphql,
    http::{self, HttpState},
    metrics::Metrics,
    orders::{
        listeners::OrderHooks, shipping::ShippingRules,
        shipping_templates::EVENT_SHIPPING_TEMPLATES_CHANGED,
    },
    search::SearchIndex,
};

pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub jwt: JwtKeys,
    pub principals: PrincipalCache,
    pub bus: Arc<EventBus>,
    pub metrics: Arc<Metrics>,
    /// Outbound HTTP (WeChat, payment providers, carriers).
    pub http: reqwest::Client,
    /// Cancelled when the server begins to shut down.
    pub shutdown: CancellationToken,
    /// Identifies this process in job leases.
    pub instance_id: String,
    /// The scheduled jobs' tasks, waited for (they give their leases back) before the
    /// database closes.
    pub tasks: tokio_util::task::TaskTracker,
    pub media: Arc<dyn MediaStore>,
    /// This instance's product search index.
    pub search: Arc<dyn SearchIndex>,
    pub keywords: KeywordCounter,
    /// The in-process read model of the catalogue.
    pub catalog: Arc<CatalogCache>,
    /// Whole responses to public catalogue queries.
    pub responses: crate::catalog::response_cache::ResponseCache,
    /// Decoded orders for lists (see `orders::cache`).
    pub orders: crate::orders::cache::OrderCache,
    /// Users shown beside orders in lists (see `accounts::cache`).
    pub users: crate::accounts::cache::UserCache,
    /// Queues in front of SKU rows for reservations (see `inventory::gates`).
    pub stock_gates: crate::inventory::gates::StockGates,
    /// Orders waiting to be written, in groups (`orders::placement`).
    pub placements: crate::orders::placement::PlacementLanes,
    /// WeChat Pay and Alipay, when configured.
    pub payments: crate::orders::providers::PaymentProviders,
    /// Commission rule versions, parsed once each.
    pub distribution: crate::distribution::settings::RuleVersions,
    /// WeChat's access token and the posters known to be stored.
    pub sharing: crate::sharing::SharingState,
    /// Who puts labels on products (`catalog::badges`): promotions.
    pub product_badges: Vec<Arc<dyn crate::catalog::badges::ProductBadges>>,
    /// Running promotion activities, kept in memory (`promotions::cache`).
    pub activities: Arc<crate::promotions::cache::ActivityCache>,
    /// Sign-ins waiting to be committed together (`points::sign_in`).
    pub sign_ins: crate::points::sign_in::SignInQueue,
    /// Coupon-centre claims waiting to be committed together (`promotions::claims`).
    pub coupon_claims: crate::promotions::claims::ClaimQueue,
    /// Member levels and who holds which, for the catalogue's member prices.
    pub members: Arc<crate::members::cache::MemberCache>,
    /// The default shipping template's rules (see `orders::shipping_templates`).
    pub shipping_default: Arc<CachedValue<Option<ShippingRules>>>,
    /// What the other areas do at an order's moments and in its pricing (`order_hooks`).
    pub order_hooks: OrderHooks,
    /// What other areas do when a share link is opened by someone else (points for sharing).
    pub share_listeners: Vec<Arc<dyn crate::distribution::team::ShareVisitListener>>,
    /// The areas that add figures to a distributor's performance (group buys).
    pub performance_figures: Vec<Arc<dyn crate::distribution::performance::PerformanceFigures>>,
    /// What other areas do when a customer registers (new-customer coupons).
    pub registration_listeners: Vec<Arc<dyn crate::accounts::RegistrationListener>>,
}

/// Who a token says the caller is, and until when.
pub struct Authenticated {
    pub viewer: Viewer,
    pub expires_at: Option<DateTime<Utc>>,
}

impl AppState {
    /// Resolves an `Authorization` header value. No header is an anonymous caller; a header
    /// that is malformed, expired, badly signed, or names a disabled account is
    /// `UNAUTHENTICATED` — never silently anonymous.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Authenticated, AppError> {
        let Some(header) = header else {
            return Ok(Authenticated {
                viewer: Viewer::Anonymous,
                expires_at: None,
            });
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthenticated(
                    "the Authorization header must be `Bearer <token>`".into(),
                )
            })?;
        let claims = self.jwt.verify_remembered(token.trim()).map_err(|e| {
            AppError::Unauthenticated(match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
                    "the access token has expired; refresh it".into()
                }
                _ => "the access token is invalid".into(),
            })
        })?;
        let user_id = claims
            .user_id
            .ok_or_else(|| AppError::Unauthenticated("the access token is invalid".into()))?;
        let principal = self
            .principals
            .get(self.db.conn(), user_id)
            .await?
            .ok_or_else(|| {
                AppError::Unauthenticated("this account is disabled or no longer exists".into())
            })?;
        Ok(Authenticated {
            viewer: Viewer::User(principal),
            expires_at: Some(claims.expires_at()),
        })
    }
}

/// The development JWT secret: generated once and stored in the database, so every instance
/// on the same database shares it and tokens survive restarts.
async fn dev_jwt_secret(db: &Db) -> anyhow::Result<String> {
    const KEY: &str = "dev_jwt_secret";
    if let Some(s) = system_setting::Entity::find_by_id(KEY)
        .one(db.conn())
        .await?
    {
        return Ok(s.value);
    }
    let secret = crate::auth::refresh::generate() + &crate::auth::refresh::generate();
    let tx = db.begin_write().await?;
    system_setting::Entity::insert(system_setting::ActiveModel {
        key: Set(KEY.into()),
        value: Set(secret),
        updated_at: Set(Utc::now()),
    })
    .on_conflict_do_nothing()
    .exec(&*tx)
    .await?;
    tx.commit().await?;
    tracing::warn!(
        "using a generated development JWT secret; set DISTMALL_JWT_SECRET in production"
    );
    Ok(system_setting::Entity::find_by_id(KEY)
        .one(db.conn())
        .await?
        .map(|s| s.value)
        .unwrap_or_default())
}

/// Which search index the application state gets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SearchIndexMode {
    /// The on-disk index in `search_index_dir` (one process at a time).
    OnDisk,
    /// A throw-away index, for command-line tasks that run beside a server: the server's index
    /// picks their changes up from the outbox.
    Ephemeral,
}

/// Connects, migrates and builds the application state. The flag says whether the search index
/// must be rebuilt.
pub async fn prepare(
    config: Config,
    search_mode: SearchIndexMode,
) -> anyhow::Result<(Arc<AppState>, bool)> {
    config.validate().map_err(anyhow::Error::msg)?;
    let metrics = Arc::new(Metrics::default());
    let db = Db::connect(&config, metrics.clone()).await?;
    db.migrate().await?;
    let dev_secret = if config.jwt_secret.is_none() && !config.is_production() {
        Some(dev_jwt_secret(&db).await?)
    } else {
        None
    };
    let jwt = JwtKeys::from_config(&config, dev_secret.as_deref())?;
    let media: Arc<dyn MediaStore> = Arc::new(LocalDisk {
        root: config.data_dir.join("media"),
        url_prefix: "/media".into(),
    });
    // Local commits invalidate at once (a writer reads its own writes); other instances'
    // commits arrive through the dispatcher (`spawn_background`).
    let catalog = Arc::new(CatalogCache::new(config.catalog_cache_products));
    {
        let catalog = catalog.clone();
        db.on_commit(Arc::new(move |events| catalog.apply(events)));
    }
    let members = Arc::new(crate::members::cache::MemberCache::default());
    {
        let members = members.clone();
        db.on_commit(Arc::new(move |events| {
            for e in events {
                members.apply(e.event_type, e.aggregate_id);
            }
        }));
    }
    let activities = Arc::new(crate::promotions::cache::ActivityCache::default());
    {
        let activities = activities.clone();
        db.on_commit(Arc::new(move |events| {
            for e in events {
                activities.apply(e.event_type);
            }
        }));
    }
    let shipping_default = Arc::new(CachedValue::default());
    {
        let shipping_default = Arc::clone(&shipping_default);
        db.on_commit(Arc::new(move |events| {
            if events
                .iter()
                .any(|e| e.event_type == EVENT_SHIPPING_TEMPLATES_CHANGED)
            {
                shipping_default.forget();
            }
        }));
    }
    let (search, needs_rebuild) = match search_mode {
        SearchIndexMode::OnDisk => {
            let dir = config.search_index_path();
            tokio::task::spawn_blocking(move || crate::search::open_or_create(&dir))
                .await?
                .map_err(|e| {
                    e.context(format!(
                        "cannot open the search index in {} (is another distmall process using it?)",
                        config.search_index_path().display()
                    ))
                })?
        }
        SearchIndexMode::Ephemeral => (crate::search::in_memory()?, false),
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let payments = crate::orders::providers::PaymentProviders::from_config(&config, &http)?;
    let responses =
        crate::catalog::response_cache::ResponseCache::new(config.response_cache_mb << 20);
    let orders = crate::orders::cache::OrderCache::new(config.order_cache_entries);
    let users = crate::accounts::cache::UserCache::new(config.user_cache_entries);
    let stock_gates = crate::inventory::gates::StockGates::new(db.is_postgres());
    let placements = crate::orders::placement::PlacementLanes::new(db.is_postgres());
    let app = Arc::new(AppState {
        payments,
        config: Arc::new(config),
        db,
        jwt,
        principals: PrincipalCache::new(Duration::from_secs(5)),
        bus: Arc::new(EventBus::new()),
        metrics,
        http,
        shutdown: CancellationToken::new(),
        instance_id: uuid::Uuid::new_v4().simple().to_string(),
        tasks: tokio_util::task::TaskTracker::new(),
        media,
        search,
        keywords: KeywordCounter::default(),
        catalog: catalog.clone(),
        responses,
        orders,
        users,
        stock_gates,
        placements,
        distribution: Default::default(),
        sharing: Default::default(),
        members,
        sign_ins: Default::default(),
        coupon_claims: Default::default(),
        product_badges: vec![Arc::new(crate::promotions::order_hooks::PromotionBadges)],
        activities,
        shipping_default,
        order_hooks: order_hooks(),
        share_listeners: vec![Arc::new(crate::points::order_hooks::PointsSharing)],
        performance_figures: vec![Arc::new(crate::group_buying::performance::GroupBuyFigures)],
        registration_listeners: vec![Arc::new(crate::promotions::occasions::WelcomeCoupons)],
    });
    Ok((app, needs_rebuild))
}

/// The areas that act at an order's moments, attribute it and price it. Orders know none of
/// them: this is where they are wired together.
fn order_hooks() -> OrderHooks {
    let distribution = Arc::new(crate::distribution::order_hooks::DistributionOrders);
    let members = Arc::new(crate::members::order_hooks::MembersOrders);
    let points = Arc::new(crate::points::order_hooks::PointsOrders);
    let promotions = Arc::new(crate::promotions::order_hooks::PromotionsOrders);
    let group_buys = Arc::new(crate::group_buying::order_hooks::GroupBuyOrders);
    OrderHooks {
        attributor: Some(distribution.clone()),
        // The refusals a placed order may meet (points or a coupon spent meanwhile) come first
        // and last; either way nothing of the order is kept.
        listeners: vec![
            points.clone(),
            distribution,
            members.clone(),
            promotions.clone(),
            Arc::new(crate::sharing::order_hooks::SharingOrders),
            // A place in a group is taken after every other refusal had its say, so a refused
            // order never holds one.
            group_buys.clone(),
            // Last: a payment counts the SKU's sales on the SKU's row, the row every order of
            // a hot SKU waits for. Taken after the group's row, as placing an order takes the
            // group's place before it reserves the SKU, so a payment and a placement never
            // wait for each other's row (a deadlock on PostgreSQL), and held for the shortest
            // time.
            Arc::new(crate::catalog::order_hooks::CatalogOrders),
        ],
        pricing: vec![members.clone(), promotions, points, group_buys.clone()],
        early_access: vec![members],
        group_buys: Some(group_buys),
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// Where `/metrics` is served when `metrics_listen` gives it an address of its own.
    pub metrics_addr: Option<SocketAddr>,
    pub app: Arc<AppState>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Binds `config.listen` (port 0 picks a free port), migrates, and serves in the background.
    pub async fn start(config: Config) -> anyhow::Result<Server> {
        let (app, needs_rebuild) = prepare(config, SearchIndexMode::OnDisk).await?;
        let listener = TcpListener::bind(app.config.listen).await?;
        let addr = listener.local_addr()?;
        spawn_background(&app);
        crate::catalog::indexing::start(&app, needs_rebuild).await?;
        let schema = graphql::build(&app.config, Some(app.clone()));
        let state = HttpState::new(app.clone(), schema)?;
        let metrics_addr = match app.config.metrics_listen {
            Some(at) => Some(serve_metrics(at, state.clone()).await?),
            None => {
                if !app.config.metrics_on_main_listener() {
                    tracing::warn!(
                        "/metrics is not served: set metrics_listen or metrics_token to scrape it"
                    );
                }
                None
            }
        };
        let router = http::router(state)?;
        let shutdown = app.shutdown.clone();
        let grace = Duration::from_secs(app.config.shutdown_grace_secs);
        let task = tokio::spawn(async move {
            let serve = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown.clone().cancelled_owned());
            let serving = tokio::spawn(async move { serve.await });
            shutdown.cancelled().await;
            // Open keep-alive and WebSocket connections get `grace` to finish.
            match tokio::time::timeout(grace, serving).await {
                Ok(joined) => joined??,
                Err(_) => {
                    tracing::warn!("shutdown grace period over; closing remaining connections")
                }
            }
            Ok(())
        });
        tracing::info!(%addr, "distmall listening");
        Ok(Server {
            addr,
            metrics_addr,
            app,
            task,
        })
    }

    /// Begins graceful shutdown.
    pub fn shutdown(&self) {
        self.app.shutdown.cancel();
    }

    /// Waits until the server has stopped and the scheduled jobs have finished the run they
    /// were in and given their leases back, then closes the database.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.task.await?;
        let tasks = &self.app.tasks;
        tasks.close();
        let grace = Duration::from_secs(self.app.config.shutdown_grace_secs);
        if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
            tracing::warn!(
                "scheduled jobs still running at the end of the grace period; their leases run out on their own"
            );
        }
        self.app.db.clone().close().await;
        result
    }
}

/// Serves `/metrics` alone on `at` until shutdown; returns the bound address.
async fn serve_metrics(at: SocketAddr, state: HttpState) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind(at).await?;
    let addr = listener.local_addr()?;
    let shutdown = state.app.shutdown.clone();
    let router = http::metrics_router(state);
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the metrics listener failed");
        }
    });
    tracing::info!(%addr, "metrics listening");
    Ok(addr)
}

fn spawn_background(app: &Arc<AppState>) {
    crate::jobs::spawn(
        app,
        "catalog.schedule",
        Duration::from_secs(app.config.schedule_interval_secs.max(1)),
        crate::catalog::service::apply_schedules,
    );
    crate::catalog::keywords::spawn_flusher(
        app,
        Duration::from_millis(app.config.keyword_flush_interval_ms.max(50)),
    );
    crate::jobs::spawn(
        app,
        "mailer",
        Duration::from_millis(app.config.mailer_interval_ms.max(100)),
        crate::mailer::send_due,
    );
    crate::orders::spawn_jobs(app);
    crate::distribution::spawn_jobs(app);
    crate::jobs::spawn(
        app,
        "members.yearly_review",
        Duration::from_secs(app.config.distribution_job_interval_secs.max(1)),
        crate::members::service::review_job,
    );
    crate::points::spawn_jobs(app);
    crate::promotions::spawn_jobs(app);
    crate::group_buying::spawn_jobs(app);
    tokio::spawn(events::run_dispatcher(
        app.db.clone(),
        app.bus.clone(),
        app.metrics.clone(),
        Duration::from_millis(app.config.events_poll_interval_ms),
        app.shutdown.clone(),
    ));
    // Changes made through any instance drop what this instance cached about them.
    let mut rx = app.bus.receiver();
    let weak = Arc::downgrade(app);
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(e) => match weak.upgrade() {
                    Some(app) => {
                        if e.event_type == EVENT_UPDATED {
                            app.principals.invalidate(e.aggregate_id);
                        }
                        if e.event_type == EVENT_SHIPPING_TEMPLATES_CHANGED {
                            app.shipping_default.forget();
                        }
                        app.members.apply(&e.event_type, e.aggregate_id);
                        app.activities.apply(&e.event_type);
                        app.catalog.apply_dispatched(&e);
                    }
                    None => return,
                },
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
}
