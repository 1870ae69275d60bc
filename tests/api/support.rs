//! Test support: a real server on a random port over a fresh database (a SQLite file by
//! default; a new PostgreSQL database per test when `DISTMALL_TEST_PG_URL` is set), a GraphQL
//! client, a graphql-transport-ws client, helpers to create accounts, and a check of what a
//! normalised client cache relies on (`assert_cache_consistent`).
use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

use distmall::{Config, Server};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// Where a test's data lives; removed when dropped.
pub struct TestDb {
    /// Data directory (media, search indexes) and, on SQLite, the database file.
    pub dir: PathBuf,
    kind: DbKind,
}

enum DbKind {
    Sqlite {
        url: String,
    },
    Postgres {
        admin_url: String,
        name: String,
        url: String,
    },
}

impl TestDb {
    pub async fn new() -> TestDb {
        let dir =
            std::env::temp_dir().join(format!("distmall-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let kind = match std::env::var("DISTMALL_TEST_PG_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                let name = format!("dm_t_{}", uuid::Uuid::new_v4().simple());
                let admin = sea_orm::Database::connect(&admin_url)
                    .await
                    .expect("connect to DISTMALL_TEST_PG_URL");
                sea_orm::ConnectionTrait::execute_unprepared(
                    &admin,
                    &format!("CREATE DATABASE {name}"),
                )
                .await
                .expect("create test database");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(b, _)| b)
                    .unwrap_or(&admin_url);
                let url = format!("{base}/{name}");
                DbKind::Postgres {
                    admin_url,
                    name,
                    url,
                }
            }
            _ => DbKind::Sqlite {
                url: format!("sqlite://{}?mode=rwc", dir.join("distmall.db").display()),
            },
        };
        TestDb { dir, kind }
    }

    pub fn url(&self) -> &str {
        match &self.kind {
            DbKind::Sqlite { url } | DbKind::Postgres { url, .. } => url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        match &self.kind {
            DbKind::Sqlite { .. } => {}
            DbKind::Postgres {
                admin_url, name, ..
            } => {
                let admin_url = admin_url.clone();
                let name = name.clone();
                // Drop runs inside the test's runtime; do the async cleanup on a thread of its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                            let _ = sea_orm::ConnectionTrait::execute_unprepared(
                                &admin,
                                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                            )
                            .await;
                            let _ = admin.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Server logs (warnings and errors, internal faults in full) in the failing test's output.
fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,sqlx=error")),
            )
            .with_test_writer()
            .try_init();
    });
}

/// The configuration every test server starts from.
pub fn test_config(db: &TestDb) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: db.url().to_string(),
        data_dir: db.dir.clone(),
        jwt_secret: Some(TEST_JWT_SECRET.into()),
        report_sql_statements: true,
        events_poll_interval_ms: 100,
        shutdown_grace_secs: 2,
        ..Config::default()
    }
}

pub struct TestServer {
    pub server: Option<Server>,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    // Declared last: dropped after the server stops.
    pub db: std::sync::Arc<TestDb>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> TestServer {
        let db = std::sync::Arc::new(TestDb::new().await);
        Self::start_on(db, adjust).await
    }

    /// Another server on the same database (multi-instance tests).
    pub async fn start_on(
        db: std::sync::Arc<TestDb>,
        adjust: impl FnOnce(&mut Config),
    ) -> TestServer {
        init_logging();
        let mut config = test_config(&db);
        // Each instance keeps its own search index, as separate machines would.
        config.search_index_dir = Some(
            db.dir
                .join(format!("search-{}", uuid::Uuid::new_v4().simple())),
        );
        adjust(&mut config);
        let server = Server::start(config).await.expect("server starts");
        TestServer {
            addr: server.addr,
            server: Some(server),
            http: reqwest::Client::new(),
            db,
        }
    }

    pub fn app(&self) -> &std::sync::Arc<distmall::app::AppState> {
        &self.server.as_ref().unwrap().app
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/graphql", self.addr)
    }

    /// POSTs one operation; returns the HTTP response (for its headers).
    pub async fn post_gql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request sent")
    }

    /// POSTs one operation; returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.post_gql(token, query, variables).await;
        resp.json().await.expect("JSON response")
    }

    /// POSTs and expects no GraphQL errors; returns `data`.
    pub async fn data(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let resp = self.gql(token, query, variables).await;
        assert!(resp.get("errors").is_none(), "unexpected errors: {resp:#}");
        resp["data"].clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.shutdown();
        }
    }
}

/// The `extensions.code` of the first error.
pub fn error_code(resp: &Value) -> String {
    resp["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {resp:#}"))
        .to_string()
}

/// The codes of a payload's `userErrors`.
pub fn user_error_codes(payload: &Value) -> Vec<String> {
    payload["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("no userErrors in {payload:#}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

pub struct Account {
    pub token: String,
    pub refresh: String,
    pub id: String,
}

const AUTH_FIELDS: &str = "accessToken refreshToken user { id } userErrors { code field message }";

pub async fn register(s: &TestServer, phone: &str, password: &str) -> Account {
    let q = format!(
        "mutation($input: RegisterInput!) {{ register(input: $input) {{ {AUTH_FIELDS} }} }}"
    );
    let d = s
        .data(
            None,
            &q,
            json!({ "input": { "phone": phone, "password": password } }),
        )
        .await;
    account(&d["register"])
}

pub async fn login(s: &TestServer, phone: &str, password: &str) -> Value {
    let q = format!("mutation($input: LoginInput!) {{ login(input: $input) {{ {AUTH_FIELDS} }} }}");
    s.gql(
        None,
        &q,
        json!({ "input": { "phone": phone, "password": password } }),
    )
    .await
}

pub fn account(payload: &Value) -> Account {
    assert_eq!(payload["userErrors"], json!([]), "{payload:#}");
    Account {
        token: payload["accessToken"].as_str().unwrap().to_string(),
        refresh: payload["refreshToken"].as_str().unwrap().to_string(),
        id: payload["user"]["id"].as_str().unwrap().to_string(),
    }
}

pub const OWNER_PHONE: &str = "13900000000";
pub const OWNER_PASSWORD: &str = "Owner12345";

/// Creates the owner account (as `distmall admin create` does) and signs it in.
pub async fn owner(s: &TestServer) -> Account {
    distmall::accounts::service::create_owner(
        &s.app().db,
        OWNER_PHONE,
        OWNER_PASSWORD,
        Some("店主"),
    )
    .await
    .map_err(|_| "owner creation failed")
    .unwrap();
    let resp = login(s, OWNER_PHONE, OWNER_PASSWORD).await;
    account(&resp["data"]["login"])
}

/// Creates a staff member with `permissions` through the API and signs them in.
pub async fn staff(
    s: &TestServer,
    owner_token: &str,
    phone: &str,
    permissions: &[&str],
) -> Account {
    let d = s
        .data(
            Some(owner_token),
            "mutation($input: CreateStaffInput!) { createStaff(input: $input) { user { id } userErrors { code message } } }",
            json!({ "input": { "phone": phone, "password": "Staff12345", "permissions": permissions } }),
        )
        .await;
    assert_eq!(d["createStaff"]["userErrors"], json!([]), "{d:#}");
    account(&login(s, phone, "Staff12345").await["data"]["login"])
}

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A graphql-transport-ws client, speaking the protocol message by message.
pub struct WsClient {
    pub ws: Ws,
}

impl WsClient {
    pub async fn connect_with_protocol(url: &str, protocol: Option<&str>) -> WsClient {
        let mut req = url.into_client_request().unwrap();
        if let Some(p) = protocol {
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
        }
        let (ws, _) = connect_async(req).await.expect("websocket connects");
        WsClient { ws }
    }

    pub async fn connect(url: &str) -> WsClient {
        Self::connect_with_protocol(url, Some("graphql-transport-ws")).await
    }

    /// Connects and completes `connection_init` → `connection_ack`.
    pub async fn connect_and_init(url: &str, token: Option<&str>) -> WsClient {
        let mut c = Self::connect(url).await;
        let payload = match token {
            Some(t) => json!({ "authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        c.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
        let ack = c.recv().await.expect("connection_ack");
        assert_eq!(ack["type"], "connection_ack", "{ack}");
        c
    }

    pub async fn send(&mut self, v: Value) {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({
            "id": id,
            "type": "subscribe",
            "payload": { "query": query, "variables": variables }
        }))
        .await;
    }

    /// The next protocol message within 5 s; `None` when the socket closed.
    pub async fn recv(&mut self) -> Option<Value> {
        self.recv_within(Duration::from_secs(5)).await
    }

    pub async fn recv_within(&mut self, limit: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(limit, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Asserts nothing arrives for `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some(Ok(Message::Text(t)))) = tokio::time::timeout(wait, self.ws.next()).await {
            panic!("expected no message, got {t}");
        }
    }

    /// Waits for the server to close the socket; returns the close code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(15), self.ws.next())
                .await
                .expect("socket closes in time");
            match msg {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
                Some(Err(e)) => panic!("socket error before close: {e}"),
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// The statements one request ran, as the server reports them in `extensions.sqlStatements`.
pub fn statements(resp: &Value) -> u64 {
    resp["extensions"]["sqlStatements"].as_u64().unwrap()
}

/// Sends the same operation `n` times at once (each its own connection); the responses.
pub async fn at_once(
    s: &TestServer,
    token: Option<&str>,
    query: &str,
    variables: Value,
    n: usize,
) -> Vec<Value> {
    let tasks = (0..n).map(|_| {
        let mut req = reqwest::Client::new()
            .post(s.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        tokio::spawn(async move { req.send().await.unwrap().json::<Value>().await.unwrap() })
    });
    futures::future::join_all(tasks)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// An object's identity in a normalised client cache (Apollo's `InMemoryCache`, urql's
/// Graphcache, Relay): its `__typename` and `id`.
pub type CacheKey = (String, String);

fn cache_key(v: &Value) -> Option<CacheKey> {
    Some((
        v.get("__typename")?.as_str()?.to_string(),
        v.get("id")?.as_str()?.to_string(),
    ))
}

/// A field's value as a normalised cache stores it: objects with an identity become references
/// to their own record; everything else is kept inline.
fn as_stored(v: &Value) -> Value {
    match v {
        Value::Object(fields) => match cache_key(v) {
            Some((typename, id)) => json!({ "__ref": format!("{typename}:{id}") }),
            None => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), as_stored(v)))
                    .collect(),
            ),
        },
        Value::Array(items) => Value::Array(items.iter().map(as_stored).collect()),
        other => other.clone(),
    }
}

/// What a normalised client cache relies on: every object with the same `__typename` and `id`
/// shows the same value for every field, in every response it appears in (a cache merges them
/// into one record, so a field that differs overwrites what another view showed). Objects need
/// `__typename` selected to be checked (Apollo adds it itself). Fields are compared by response
/// key: do not alias, nor select one field with different arguments on one object.
/// `responses` are `(label, data)` pairs; the label names the response in a failure.
/// Returns how many times each identified object was seen, so a test can show the objects it
/// cares about really were compared.
pub fn assert_cache_consistent(responses: &[(&str, &Value)]) -> HashMap<CacheKey, usize> {
    // Per object: each field's stored value and where it was first seen.
    let mut records: HashMap<CacheKey, HashMap<String, (Value, String)>> = HashMap::new();
    let mut seen: HashMap<CacheKey, usize> = HashMap::new();
    fn walk(
        v: &Value,
        path: &str,
        records: &mut HashMap<CacheKey, HashMap<String, (Value, String)>>,
        seen: &mut HashMap<CacheKey, usize>,
    ) {
        match v {
            Value::Object(fields) => {
                if let Some(key) = cache_key(v) {
                    *seen.entry(key.clone()).or_default() += 1;
                    let record = records.entry(key.clone()).or_default();
                    for (field, value) in fields {
                        let stored = as_stored(value);
                        match record.get(field) {
                            Some((before, first_path)) => assert_eq!(
                                before, &stored,
                                "{}:{} shows {field} = {before} at {first_path} but {stored} at {path}: \
                                 a normalised cache keeps only the last",
                                key.0, key.1
                            ),
                            None => {
                                record.insert(field.clone(), (stored, path.to_string()));
                            }
                        }
                    }
                }
                for (field, value) in fields {
                    walk(value, &format!("{path}.{field}"), records, seen);
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), records, seen);
                }
            }
            _ => {}
        }
    }
    for (label, data) in responses {
        walk(data, label, &mut records, &mut seen);
    }
    seen
}

/// The `distmall` binary serving over a test's database in a process of its own: what an
/// operator runs, configured only through `DISTMALL_*` variables (and a file they name).
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `distmall serve` on a free port over `db` with `settings` as environment
    /// variables, and waits until it listens. Nothing else named `DISTMALL_*` reaches it.
    pub async fn start(db: &TestDb, settings: &[(&str, &str)]) -> ServerProcess {
        use tokio::io::AsyncBufReadExt;

        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_distmall"));
        cmd.arg("serve")
            .current_dir(&db.dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        for (name, _) in std::env::vars() {
            if name.starts_with("DISTMALL_") || name == "DATABASE_URL" || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        let index = db
            .dir
            .join(format!("search-{}", uuid::Uuid::new_v4().simple()));
        cmd.env("DISTMALL_LISTEN", "127.0.0.1:0")
            .env("DATABASE_URL", db.url())
            .env("DISTMALL_DATA_DIR", &db.dir)
            .env("DISTMALL_SEARCH_INDEX_DIR", index)
            .env("DISTMALL_JWT_SECRET", TEST_JWT_SECRET)
            .env("DISTMALL_CONFIG", db.dir.join("no-such-file.toml"))
            .env("DISTMALL_LOG_FORMAT", "json")
            .env("RUST_LOG", "info,sqlx=warn,sea_orm=warn");
        for (name, value) in settings {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().expect("the distmall binary starts");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let mut seen = Vec::new();
        let addr = loop {
            let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                .await
                .expect("the server listens within two minutes")
                .unwrap();
            let Some(line) = line else {
                panic!("the server exited before listening:\n{}", seen.join("\n"));
            };
            let entry: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if entry["fields"]["message"] == "distmall listening" {
                break entry["fields"]["addr"].as_str().unwrap().parse().unwrap();
            }
            seen.push(line);
        };
        // Keep reading its log, or the pipe fills and the server blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        ServerProcess { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends SIGTERM, as a deploy stops an instance, and waits until the process exits.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("still running");
        // SAFETY: kill(2) with a pid this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server stops within 30 s of SIGTERM")
            .unwrap()
    }

    /// Kills the process without warning (SIGKILL), as a crash or a lost machine would.
    pub async fn kill(mut self) {
        self.child.kill().await.unwrap();
    }

    /// POSTs one operation; returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = reqwest::Client::new()
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().json().await.unwrap()
    }
}
