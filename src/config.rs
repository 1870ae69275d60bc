//! Configuration: defaults, then an optional TOML file, then `DISTMALL_*` environment variables
//! (and `DATABASE_URL`). Every key is flat so that the file key `jwt_secret` and the variable
//! `DISTMALL_JWT_SECRET` name the same setting; the README lists them all.
use std::{net::SocketAddr, path::PathBuf};

use figment::{
    Figment, Metadata, Profile, Provider,
    providers::{Env, Format, Serialized, Toml},
    value::{Dict, Map, Value},
};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Development,
    Production,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    RS256,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Where the polling fallback gets parcel tracking from.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TrackingProviderKind {
    /// Kuaidi100's real-time query (needs `kuaidi100_customer` and `kuaidi100_key`).
    Kuaidi100,
    /// Made-up timelines for demos: never in production.
    Simulator,
    /// No polling; tracking arrives only by push.
    Off,
}

/// When earned points expire.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PointsExpiry {
    /// At the end of the year after the one they were earned in (shop time zone).
    EndOfNextYear,
    /// Points never expire.
    Never,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` (default) or `production`.
    pub env: RunMode,
    pub listen: SocketAddr,
    /// `sqlite://…` (default `./data/distmall.db`) or `postgres://…`.
    #[serde(deserialize_with = "text::plain")]
    pub database_url: String,
    pub db_max_connections: u32,
    pub log_format: LogFormat,
    #[serde(deserialize_with = "text::plain")]
    pub log_filter: String,

    pub jwt_algorithm: JwtAlgorithm,
    /// HS256 secret (at least 32 bytes). Required in production with HS256.
    #[serde(deserialize_with = "text::opt")]
    pub jwt_secret: Option<String>,
    /// RS256 private and public keys, PEM files.
    #[serde(deserialize_with = "text::opt")]
    pub jwt_private_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::opt")]
    pub jwt_public_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::plain")]
    pub jwt_issuer: String,
    #[serde(deserialize_with = "text::plain")]
    pub jwt_audience: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_days: u64,
    pub jwt_leeway_secs: u64,

    pub login_max_failures_per_phone: u32,
    pub login_max_failures_per_ip: u32,
    pub login_failure_window_secs: u64,
    pub login_lockout_secs: u64,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,

    #[serde(deserialize_with = "text::opt")]
    pub wechat_appid: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub wechat_secret: Option<String>,
    #[serde(deserialize_with = "text::plain")]
    pub wechat_api_base: String,

    pub graphql_max_depth: usize,
    pub graphql_max_complexity: usize,
    pub graphql_max_aliases: usize,
    pub graphql_max_directives: usize,
    /// Defaults to on in development and off in production.
    pub graphql_introspection: Option<bool>,
    /// "Did you mean …" hints in validation errors; defaults like introspection.
    pub graphql_suggestions: Option<bool>,
    /// The longest string (in characters) any argument or variable may hold, checked before
    /// execution; a field with a limit of its own (stated in its description) uses that.
    pub graphql_max_string_chars: usize,
    pub max_body_bytes: usize,
    /// The playground page (`/`, `/playground`). Defaults to on in development and off in
    /// production.
    pub playground: Option<bool>,
    /// Serve `/metrics` on this address of its own instead of `listen` (keep it off the
    /// public network).
    pub metrics_listen: Option<SocketAddr>,
    /// A token `/metrics` requires as `Authorization: Bearer …` (at least 16 characters).
    /// Production serves `/metrics` only with this or `metrics_listen` set.
    #[serde(deserialize_with = "text::opt")]
    pub metrics_token: Option<String>,
    /// Origins whose pages may call the API from a browser, with credentials (CORS):
    /// comma-separated, each `https://host` or `https://host:port` (the admin dashboard's).
    /// Unset: any localhost origin in development, none in production.
    #[serde(deserialize_with = "text::opt")]
    pub cors_allowed_origins: Option<String>,
    /// Adds `extensions.sqlStatements` to every response (tests and profiling).
    pub report_sql_statements: bool,
    /// Memory for whole responses to public catalogue queries (0 turns the cache off).
    pub response_cache_mb: usize,
    /// Products kept decoded in memory with their SKUs, images and specs.
    pub catalog_cache_products: usize,
    /// Orders kept decoded for lists, checked against the database's revision on every read
    /// (0 keeps none).
    pub order_cache_entries: usize,
    /// How often SQLite's write-ahead log is copied into the database file.
    pub sqlite_checkpoint_interval_ms: u64,
    /// Users kept for order lists' buyers, checked against the database's revision, which the
    /// list reads with its page (0 keeps none).
    pub user_cache_entries: usize,

    pub ws_init_timeout_secs: u64,
    pub ws_max_subscriptions: usize,
    pub ws_max_message_bytes: usize,

    /// How often the event dispatcher looks at the outbox when nothing woke it.
    pub events_poll_interval_ms: u64,
    pub shutdown_grace_secs: u64,

    /// Where uploaded media and the search index live (SQLite's file is set by `database_url`).
    #[serde(deserialize_with = "text::plain")]
    pub data_dir: PathBuf,
    /// Defaults to `<data_dir>/search-index`.
    #[serde(deserialize_with = "text::opt")]
    pub search_index_dir: Option<PathBuf>,
    pub upload_max_bytes: usize,
    pub image_min_side: u32,
    pub image_max_side: u32,
    /// The shop's local time as an offset from UTC, for business days in reports (8: China).
    pub business_utc_offset_hours: i32,
    /// How often counted search keywords are written to the database.
    pub keyword_flush_interval_ms: u64,
    /// How often scheduled on/off-sale times are applied.
    pub schedule_interval_secs: u64,

    /// Comma-separated addresses that receive low-stock e-mails.
    #[serde(deserialize_with = "text::plain")]
    pub purchasing_emails: String,
    #[serde(deserialize_with = "text::opt")]
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    #[serde(deserialize_with = "text::opt")]
    pub smtp_username: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub smtp_password: Option<String>,
    #[serde(deserialize_with = "text::plain")]
    pub smtp_from: String,
    /// `none`, `starttls` or `tls`.
    #[serde(deserialize_with = "text::plain")]
    pub smtp_tls: String,
    pub mailer_interval_ms: u64,

    /// Unpaid orders are cancelled (and their stock released) this long after placing.
    pub order_payment_timeout_secs: u64,
    /// Shipped orders with no delivery signal count as received this many days after shipping.
    pub order_auto_receive_days: u32,
    /// Days after delivery during which refunds and returns can be asked for; then the order
    /// completes.
    pub order_after_sales_days: u32,
    /// How often the order timers (payment timeout, auto receipt, completion) run.
    pub order_timer_interval_secs: u64,
    /// How often the settlement job checks whether the payout day has come.
    pub distribution_job_interval_secs: u64,
    /// Points earned per ¥1 of goods paid (before the member level's multiplier); 0 earns none.
    pub points_earn_per_yuan: u32,
    /// How many points make ¥1 when deducted at checkout.
    pub points_per_yuan_deducted: u32,
    /// At most this percentage of an order's goods amount (after other discounts) may be paid
    /// with points.
    pub points_deduction_cap_percent: u32,
    /// When earned points expire: `end_of_next_year` (the end of the year after they were
    /// earned, in the shop's time zone) or `never`.
    pub points_expiry: PointsExpiry,
    /// `myPoints.expiringSoon` counts points that expire within this many days.
    pub points_expiring_soon_days: u32,
    /// Points for a daily sign-in.
    pub points_sign_in_daily: u32,
    /// Extra points on given days of a sign-in streak: `day:points` pairs separated by commas,
    /// e.g. `7:20,30:100` (20 more on the 7th consecutive day, 100 more on the 30th).
    #[serde(deserialize_with = "text::plain")]
    pub points_sign_in_streak_bonuses: String,
    /// Points for registering (claimed once).
    pub points_task_register: u32,
    /// Points for completing the profile (nickname, avatar and birthday; claimed once).
    pub points_task_profile: u32,
    /// Points for the first completed order (once).
    pub points_task_first_order: u32,
    /// Points a distributor earns when someone else opens their share link.
    pub points_task_share: u32,
    /// At most this many share visits pay points per sharer and shop day.
    pub points_share_daily_cap: u32,
    /// How often the expiry and birthday jobs run.
    pub points_job_interval_secs: u64,
    /// How often the group-buy deadline job looks for groups past their deadline (and failed
    /// groups' refunds to send), in milliseconds: how late at most a group fails after it.
    pub group_buy_job_interval_ms: u64,
    /// The shop's name in share copy and posters.
    #[serde(deserialize_with = "text::plain")]
    pub shop_name: String,
    /// The mini-program page a poster's mini-program code opens (with the share code as its
    /// `scene`); used when `wechat_appid` and `wechat_secret` are set.
    #[serde(deserialize_with = "text::plain")]
    pub wechat_share_page: String,
    /// How long after opening a share a visitor's paid order is credited to it.
    pub share_order_window_days: u32,
    /// How long a scheduled job's lease lasts unless its holder renews it (every third of it);
    /// what an instance that dies without stopping blocks its jobs for. At least 3.
    pub job_lease_secs: u64,

    /// The shop's public https origin (`https://shop.example.com`), from which the payment
    /// providers' notification URLs are built (`/webhooks/wechatpay`, `/webhooks/alipay`).
    #[serde(deserialize_with = "text::opt")]
    pub public_url: Option<String>,
    /// WeChat Pay API v3 (direct merchant). All of these, with `wechat_appid`, enable it.
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_mch_id: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_merchant_serial_no: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_private_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_api_v3_key: Option<String>,
    /// The platform certificate serial or WeChat Pay public key id (`PUB_KEY_ID_…`) and its
    /// public key PEM, which every notification and response must be signed with.
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_platform_key_serial: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub wechatpay_platform_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::plain")]
    pub wechatpay_base_url: String,
    /// Alipay (RSA2). All three enable it.
    #[serde(deserialize_with = "text::opt")]
    pub alipay_app_id: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub alipay_private_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::opt")]
    pub alipay_public_key_path: Option<PathBuf>,
    #[serde(deserialize_with = "text::plain")]
    pub alipay_gateway_url: String,
    /// Where Alipay's H5 cashier returns the buyer after paying.
    #[serde(deserialize_with = "text::opt")]
    pub alipay_return_url: Option<String>,
    /// The salt Kuaidi100 signs pushes with; without it every push to `/webhooks/logistics`
    /// is refused.
    #[serde(deserialize_with = "text::opt")]
    pub kuaidi100_salt: Option<String>,
    /// Enterprise credentials for Kuaidi100's real-time query and subscriptions.
    #[serde(deserialize_with = "text::opt")]
    pub kuaidi100_customer: Option<String>,
    #[serde(deserialize_with = "text::opt")]
    pub kuaidi100_key: Option<String>,
    #[serde(deserialize_with = "text::plain")]
    pub kuaidi100_base_url: String,
    /// The public URL of `/webhooks/logistics`. With it (and the key and salt) every new
    /// shipment is subscribed for pushes.
    #[serde(deserialize_with = "text::opt")]
    pub kuaidi100_callback_url: Option<String>,
    /// `kuaidi100`, `simulator` or `off`. Unset: Kuaidi100 when a key is configured, else the
    /// simulator in development and off in production.
    pub tracking_provider: Option<TrackingProviderKind>,
    /// Shipments in transit without a push for this long are queried by the polling fallback.
    pub tracking_poll_stale_hours: u32,
    /// How often the polling fallback runs.
    pub tracking_poll_interval_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            env: RunMode::Development,
            listen: "127.0.0.1:8000".parse().expect("valid default address"),
            database_url: "sqlite://./data/distmall.db?mode=rwc".into(),
            db_max_connections: 0,
            log_format: LogFormat::Pretty,
            log_filter: "info,sqlx=warn,sea_orm=warn".into(),
            jwt_algorithm: JwtAlgorithm::HS256,
            jwt_secret: None,
            jwt_private_key_path: None,
            jwt_public_key_path: None,
            jwt_issuer: "distmall".into(),
            jwt_audience: "distmall-api".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            jwt_leeway_secs: 30,
            login_max_failures_per_phone: 5,
            login_max_failures_per_ip: 30,
            login_failure_window_secs: 15 * 60,
            login_lockout_secs: 15 * 60,
            trust_forwarded_for: false,
            wechat_appid: None,
            wechat_secret: None,
            wechat_api_base: "https://api.weixin.qq.com".into(),
            graphql_max_depth: 15,
            graphql_max_complexity: 2500,
            graphql_max_aliases: 30,
            graphql_max_directives: 5,
            graphql_introspection: None,
            graphql_suggestions: None,
            graphql_max_string_chars: 10_000,
            max_body_bytes: 256 * 1024,
            playground: None,
            metrics_listen: None,
            metrics_token: None,
            cors_allowed_origins: None,
            report_sql_statements: false,
            ws_init_timeout_secs: 10,
            ws_max_subscriptions: 50,
            response_cache_mb: 32,
            catalog_cache_products: 10_000,
            order_cache_entries: 5000,
            sqlite_checkpoint_interval_ms: 200,
            user_cache_entries: 5000,
            ws_max_message_bytes: 64 * 1024,
            events_poll_interval_ms: 500,
            shutdown_grace_secs: 10,
            data_dir: "./data".into(),
            search_index_dir: None,
            upload_max_bytes: 5 * 1024 * 1024,
            image_min_side: 100,
            image_max_side: 4096,
            business_utc_offset_hours: 8,
            keyword_flush_interval_ms: 10_000,
            schedule_interval_secs: 30,
            order_payment_timeout_secs: 30 * 60,
            order_auto_receive_days: 10,
            order_after_sales_days: 7,
            order_timer_interval_secs: 30,
            distribution_job_interval_secs: 60,
            job_lease_secs: 15,
            points_earn_per_yuan: 1,
            points_per_yuan_deducted: 100,
            points_deduction_cap_percent: 50,
            points_expiry: PointsExpiry::EndOfNextYear,
            points_expiring_soon_days: 30,
            points_sign_in_daily: 5,
            points_sign_in_streak_bonuses: "7:20".into(),
            points_task_register: 100,
            points_task_profile: 50,
            points_task_first_order: 100,
            points_task_share: 5,
            points_share_daily_cap: 3,
            points_job_interval_secs: 3600,
            group_buy_job_interval_ms: 5_000,
            shop_name: "微商城".into(),
            wechat_share_page: "pages/share/index".into(),
            share_order_window_days: 7,
            public_url: None,
            wechatpay_mch_id: None,
            wechatpay_merchant_serial_no: None,
            wechatpay_private_key_path: None,
            wechatpay_api_v3_key: None,
            wechatpay_platform_key_serial: None,
            wechatpay_platform_key_path: None,
            wechatpay_base_url: "https://api.mch.weixin.qq.com".into(),
            alipay_app_id: None,
            alipay_private_key_path: None,
            alipay_public_key_path: None,
            alipay_gateway_url: "https://openapi.alipay.com/gateway.do".into(),
            alipay_return_url: None,
            kuaidi100_salt: None,
            kuaidi100_customer: None,
            kuaidi100_key: None,
            kuaidi100_base_url: crate::logistics::kuaidi100::DEFAULT_BASE_URL.into(),
            kuaidi100_callback_url: None,
            tracking_provider: None,
            tracking_poll_stale_hours: 4,
            tracking_poll_interval_secs: 600,
            purchasing_emails: String::new(),
            smtp_host: None,
            smtp_port: 25,
            smtp_username: None,
            smtp_password: None,
            smtp_from: "distmall <noreply@localhost>".into(),
            smtp_tls: "none".into(),
            mailer_interval_ms: 2000,
        }
    }
}

/// Which browser origins may call the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CorsOrigins {
    /// `http(s)://localhost`, `127.0.0.1` or `[::1]`, on any port (development).
    Localhost,
    /// Exactly these (lower-case) origins.
    Listed(Vec<String>),
}

impl CorsOrigins {
    /// Whether a request's `Origin` header is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        match self {
            CorsOrigins::Localhost => origin_parts(origin)
                .is_some_and(|(_, host)| matches!(host, "localhost" | "127.0.0.1" | "[::1]")),
            CorsOrigins::Listed(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
        }
    }
}

/// The scheme and host of an origin (`https://host[:port]`, nothing after it), if it is one.
fn origin_parts(origin: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = origin.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => !ipv6.is_empty() && ipv6.chars().all(|c| c.is_ascii_hexdigit() || c == ':'),
        None => {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    (host_ok && port_ok).then_some((scheme, host))
}

/// Environment variables exactly as set. figment's `Env` guesses each value's type, so
/// `DISTMALL_WECHATPAY_MCH_ID=1900000001` would arrive as a number (and a text setting would
/// refuse it) and `DISTMALL_SMTP_PASSWORD=0012` as the number 12; here every value stays the
/// text it is, and `Config`'s own types decide how it is read.
struct VerbatimEnv(Env);

impl Provider for VerbatimEnv {
    fn metadata(&self) -> Metadata {
        self.0.metadata()
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let dict = self
            .0
            .iter()
            .map(|(key, value)| (key.as_str().to_string(), Value::from(value)))
            .collect();
        Ok(Profile::Default.collect(dict))
    }
}

/// Text settings (names, ids, keys, URLs, paths) take any scalar: a TOML file may well say
/// `wechatpay_mch_id = 1900000001` without quotes, and every WeChat merchant id is digits.
mod text {
    use std::fmt;

    use serde::{
        Deserialize, Deserializer,
        de::{self, Visitor},
    };

    struct Text(String);

    impl<'de> Deserialize<'de> for Text {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(TextVisitor)
        }
    }

    struct TextVisitor;

    impl Visitor<'_> for TextVisitor {
        type Value = Text;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("text (or a number or boolean, taken as written)")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
            Ok(Text(v))
        }

        fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
            Ok(Text(v.to_string()))
        }
    }

    /// A `String` or `PathBuf` setting.
    pub fn plain<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<T, D::Error> {
        Text::deserialize(d).map(|t| t.0.into())
    }

    /// An optional `String` or `PathBuf` setting.
    pub fn opt<'de, D: Deserializer<'de>, T: From<String>>(d: D) -> Result<Option<T>, D::Error> {
        Option::<Text>::deserialize(d).map(|t| t.map(|t| t.0.into()))
    }
}

impl Config {
    /// Defaults ← `distmall.toml` (or the file named by `DISTMALL_CONFIG`) ← environment.
    pub fn load() -> Result<Self, Box<figment::Error>> {
        let file = std::env::var("DISTMALL_CONFIG").unwrap_or_else(|_| "distmall.toml".into());
        // Only variables naming a setting: other DISTMALL_* variables (DISTMALL_ADMIN_PASSWORD,
        // the test suite's DISTMALL_TEST_PG_URL…) belong to other tools.
        let known: Vec<String> = match serde_json::to_value(Config::default()) {
            Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let mut figment = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(file))
            .merge(VerbatimEnv(Env::prefixed("DISTMALL_").filter(move |k| {
                known.iter().any(|f| k.as_str().eq_ignore_ascii_case(f))
            })));
        if let Ok(url) = std::env::var("DATABASE_URL") {
            figment = figment.merge(Serialized::default("database_url", url));
        }
        // Lossy: a number or a switch set in the environment arrives as text ("30", "true")
        // and is read as the number or switch the setting is.
        figment.extract_lossy().map_err(Box::new)
    }

    pub fn is_production(&self) -> bool {
        self.env == RunMode::Production
    }

    pub fn introspection_enabled(&self) -> bool {
        self.graphql_introspection.unwrap_or(!self.is_production())
    }

    pub fn suggestions_enabled(&self) -> bool {
        self.graphql_suggestions.unwrap_or(!self.is_production())
    }

    pub fn playground_enabled(&self) -> bool {
        self.playground.unwrap_or(!self.is_production())
    }

    /// Whether the main listener serves `/metrics`: not when it has an address of its own,
    /// and in production only behind a token.
    pub fn metrics_on_main_listener(&self) -> bool {
        self.metrics_listen.is_none() && (self.metrics_token.is_some() || !self.is_production())
    }

    /// The browser origins allowed to call the API (see `cors_allowed_origins`).
    pub fn cors_origins(&self) -> Result<CorsOrigins, String> {
        let Some(list) = &self.cors_allowed_origins else {
            return Ok(if self.is_production() {
                CorsOrigins::Listed(Vec::new())
            } else {
                CorsOrigins::Localhost
            });
        };
        list.split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| {
                origin_parts(o).map(|_| o.to_ascii_lowercase()).ok_or_else(|| {
                    format!(
                        "cors_allowed_origins: {o:?} is not an origin (scheme and host, such as https://admin.example.com, with no path)"
                    )
                })
            })
            .collect::<Result<_, _>>()
            .map(CorsOrigins::Listed)
    }

    pub fn purchasing_email_list(&self) -> Vec<String> {
        self.purchasing_emails
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    pub fn search_index_path(&self) -> PathBuf {
        self.search_index_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("search-index"))
    }

    /// The tracking source the polling fallback uses (see `tracking_provider`).
    pub fn tracking_provider_kind(&self) -> TrackingProviderKind {
        self.tracking_provider
            .unwrap_or(if self.kuaidi100_key.is_some() {
                TrackingProviderKind::Kuaidi100
            } else if self.is_production() {
                TrackingProviderKind::Off
            } else {
                TrackingProviderKind::Simulator
            })
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Refuses settings that must never reach production.
    pub fn validate(&self) -> Result<(), String> {
        self.cors_origins()?;
        match self.tracking_provider_kind() {
            TrackingProviderKind::Kuaidi100
                if self.kuaidi100_key.is_none() || self.kuaidi100_customer.is_none() =>
            {
                return Err(
                    "tracking_provider = \"kuaidi100\" needs kuaidi100_customer and kuaidi100_key"
                        .into(),
                );
            }
            _ => {}
        }
        crate::points::rules::StreakBonuses::parse(&self.points_sign_in_streak_bonuses)
            .map_err(|e| format!("points_sign_in_streak_bonuses: {e}"))?;
        if self.points_per_yuan_deducted == 0 || self.points_deduction_cap_percent > 100 {
            return Err(
                "points_per_yuan_deducted must be at least 1 and points_deduction_cap_percent at most 100"
                    .into(),
            );
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.chars().count() < 16)
        {
            return Err("metrics_token must be at least 16 characters".into());
        }
        if !self.is_production() {
            return Ok(());
        }
        // Simulated tracking would mark real orders delivered.
        if self.tracking_provider_kind() == TrackingProviderKind::Simulator {
            return Err("the tracking simulator is for demos; it cannot run in production".into());
        }
        match self.jwt_algorithm {
            JwtAlgorithm::HS256 => match &self.jwt_secret {
                Some(s) if s.len() >= 32 => {}
                Some(_) => return Err("DISTMALL_JWT_SECRET must be at least 32 bytes".into()),
                None => {
                    return Err(
                        "production mode needs DISTMALL_JWT_SECRET (or RS256 key files)".into(),
                    );
                }
            },
            JwtAlgorithm::RS256 => {
                if self.jwt_private_key_path.is_none() || self.jwt_public_key_path.is_none() {
                    return Err("RS256 needs DISTMALL_JWT_PRIVATE_KEY_PATH and DISTMALL_JWT_PUBLIC_KEY_PATH".into());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// figment's Jail returns its own (large) error type; that is its API, not ours.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn production_requires_an_explicit_secret() {
        let mut c = Config {
            env: RunMode::Production,
            ..Config::default()
        };
        assert!(c.validate().is_err());
        c.jwt_secret = Some("short".into());
        assert!(c.validate().is_err());
        c.jwt_secret = Some("x".repeat(32));
        assert!(c.validate().is_ok());
        assert!(!c.introspection_enabled());
    }

    #[test]
    fn unrelated_distmall_variables_are_ignored_and_settings_are_read() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DISTMALL_ADMIN_PASSWORD", "secret");
            jail.set_env("DISTMALL_TEST_PG_URL", "postgres://x");
            jail.set_env("DISTMALL_GRAPHQL_MAX_DEPTH", "9");
            jail.set_env("DATABASE_URL", "postgres://db/distmall");
            let c = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(c.graphql_max_depth, 9);
            assert_eq!(c.database_url, "postgres://db/distmall");
            Ok(())
        });
    }

    /// The value `key` loads as, as JSON (`Err` when the configuration is refused).
    fn loaded(key: &str) -> Result<serde_json::Value, String> {
        let c = Config::load().map_err(|e| e.to_string())?;
        Ok(serde_json::to_value(c).unwrap()[key].clone())
    }

    /// Every text setting: those that take a word and give it back.
    fn text_settings() -> Vec<String> {
        let serde_json::Value::Object(all) = serde_json::to_value(Config::default()).unwrap()
        else {
            unreachable!()
        };
        all.keys()
            .filter(|key| {
                let mut is_text = false;
                figment::Jail::expect_with(|jail| {
                    jail.set_env(format!("DISTMALL_{}", key.to_uppercase()), "some-text");
                    is_text = loaded(key) == Ok(serde_json::json!("some-text"));
                    Ok(())
                });
                is_text
            })
            .cloned()
            .collect()
    }

    #[test]
    fn every_text_setting_takes_any_value_from_the_environment_and_the_file_as_written() {
        let keys = text_settings();
        for key in [
            "wechatpay_mch_id",
            "alipay_app_id",
            "smtp_password",
            "data_dir",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} is a text setting");
        }
        for key in &keys {
            figment::Jail::expect_with(|jail| {
                let var = format!("DISTMALL_{}", key.to_uppercase());
                for value in [
                    "1900000001",
                    "2021000000000001",
                    "0012",
                    "1.50",
                    "-7",
                    "true",
                ] {
                    jail.set_env(&var, value);
                    assert_eq!(loaded(key), Ok(serde_json::json!(value)), "{var}={value}");
                }
                Ok(())
            });
            figment::Jail::expect_with(|jail| {
                for (toml, value) in [
                    ("1900000001", "1900000001"),
                    ("2021000000000001", "2021000000000001"),
                    ("-7", "-7"),
                    ("true", "true"),
                    ("\"0012\"", "0012"),
                ] {
                    jail.create_file("distmall.toml", &format!("{key} = {toml}"))?;
                    assert_eq!(loaded(key), Ok(serde_json::json!(value)), "{key} = {toml}");
                }
                Ok(())
            });
        }
    }

    #[test]
    fn numbers_and_switches_are_read_from_the_environment_and_bad_ones_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("DISTMALL_SMTP_PORT", "2525");
            jail.set_env("DISTMALL_BUSINESS_UTC_OFFSET_HOURS", "-5");
            jail.set_env("DISTMALL_TRUST_FORWARDED_FOR", "true");
            jail.set_env("DISTMALL_GRAPHQL_INTROSPECTION", "false");
            jail.set_env("DISTMALL_ENV", "production");
            let c = Config::load().map_err(|e| e.to_string())?;
            assert_eq!(c.smtp_port, 2525);
            assert_eq!(c.business_utc_offset_hours, -5);
            assert!(c.trust_forwarded_for);
            assert_eq!(c.graphql_introspection, Some(false));
            assert!(c.is_production());
            jail.set_env("DISTMALL_SMTP_PORT", "lots");
            assert!(Config::load().is_err());
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("distmall.toml", "grapql_max_depth = 3")?;
            assert!(Config::load().is_err());
            Ok(())
        });
    }

    #[test]
    fn tracking_defaults_to_the_simulator_only_in_development() {
        let mut c = Config::default();
        assert_eq!(c.tracking_provider_kind(), TrackingProviderKind::Simulator);
        c.kuaidi100_key = Some("k".into());
        assert!(
            c.validate().is_err(),
            "a key without a customer cannot query"
        );
        c.kuaidi100_customer = Some("c".into());
        assert_eq!(c.tracking_provider_kind(), TrackingProviderKind::Kuaidi100);
        assert!(c.validate().is_ok());
        let mut prod = Config {
            env: RunMode::Production,
            jwt_secret: Some("x".repeat(32)),
            ..Config::default()
        };
        assert_eq!(prod.tracking_provider_kind(), TrackingProviderKind::Off);
        assert!(prod.validate().is_ok());
        prod.tracking_provider = Some(TrackingProviderKind::Simulator);
        assert!(prod.validate().is_err());
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        let with = |list: &str| {
            Config {
                cors_allowed_origins: Some(list.into()),
                ..Config::default()
            }
            .cors_origins()
        };
        let listed = with("https://Admin.example.com, http://10.0.0.5:8080").unwrap();
        assert!(listed.allows("https://admin.example.com"));
        assert!(listed.allows("http://10.0.0.5:8080"));
        assert!(!listed.allows("https://admin.example.com.evil.net"));
        assert!(!listed.allows("http://admin.example.com"));
        assert!(!listed.allows("http://localhost:5173"));
        for bad in [
            "*",
            "admin.example.com",
            "https://admin.example.com/",
            "https://admin.example.com/app",
            "https://user@admin.example.com",
            "ftp://admin.example.com",
            "https://admin.example.com:port",
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
        assert_eq!(with(""), Ok(CorsOrigins::Listed(vec![])));

        let dev = Config::default().cors_origins().unwrap();
        for local in [
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "https://localhost",
            "http://[::1]:8080",
        ] {
            assert!(dev.allows(local), "{local}");
        }
        for other in [
            "https://admin.example.com",
            "http://localhost.evil.net",
            "null",
        ] {
            assert!(!dev.allows(other), "{other}");
        }
        let prod = Config {
            env: RunMode::Production,
            ..Config::default()
        };
        assert!(!prod.cors_origins().unwrap().allows("http://localhost:5173"));
    }

    #[test]
    fn development_defaults_allow_introspection() {
        let c = Config::default();
        assert!(c.validate().is_ok());
        assert!(c.introspection_enabled());
        assert!(c.is_sqlite());
    }
}
