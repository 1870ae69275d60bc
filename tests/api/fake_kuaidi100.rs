//! A fake Kuaidi100 (快递100) poll API for black-box tests, on 127.0.0.1:
//! * `POST /poll` records subscriptions (`schema=json&param=...`), refuses an unknown key (600)
//!   and answers 501 for a number already being tracked, as Kuaidi100 does;
//! * `POST /poll/query.do` checks `sign = MD5(param + key + customer)` (503 when wrong) and
//!   answers the tracking a test set with [`FakeKuaidi100::set_tracking`], or 500 "no result".
//!
//! [`push_body`] builds the signed form Kuaidi100 POSTs to a subscription's callback, so tests
//! can play the carrier's side of a push.
// A toolkit: each test uses some of the helpers, not all of them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::{Form, Router, extract::State, routing::post};
use md5::{Digest, Md5};
use parking_lot::Mutex;

/// The enterprise credentials the fake accepts.
pub const KEY: &str = "fake-kuaidi100-key";
pub const CUSTOMER: &str = "FAKECUSTOMER0123456789ABCDEF0123";

/// One scan event as tests describe it: Beijing time `yyyy-MM-dd HH:mm:ss`, the text, and an
/// optional area name.
#[derive(Clone, Debug)]
pub struct Entry {
    pub time: String,
    pub context: String,
    pub area_name: Option<String>,
}

impl Entry {
    pub fn new(time: &str, context: &str) -> Entry {
        Entry {
            time: time.to_string(),
            context: context.to_string(),
            area_name: None,
        }
    }
}

/// A subscription as the fake received it.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub company: String,
    pub number: String,
    pub key: String,
    pub callback_url: String,
    pub salt: String,
    pub resultv2: Option<String>,
    pub phone: Option<String>,
    /// The raw `param` JSON.
    pub param: String,
}

#[derive(Default)]
struct Inner {
    subscriptions: Vec<Subscription>,
    tracking: HashMap<(String, String), (String, Vec<Entry>)>,
    queries: Vec<serde_json::Value>,
}

#[derive(Clone)]
pub struct FakeKuaidi100 {
    pub port: u16,
    inner: Arc<Mutex<Inner>>,
}

impl FakeKuaidi100 {
    pub async fn start() -> FakeKuaidi100 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let inner: Arc<Mutex<Inner>> = Arc::default();
        let app = Router::new()
            .route("/poll", post(subscribe))
            .route("/poll/query.do", post(query))
            .with_state(inner.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeKuaidi100 { port, inner }
    }

    /// The base URL to hand the client (it appends `/poll` and `/poll/query.do`).
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What `/poll/query.do` answers for this parcel from now on. `entries` newest first.
    pub fn set_tracking(&self, com: &str, num: &str, state: &str, entries: Vec<Entry>) {
        self.inner.lock().tracking.insert(
            (com.to_string(), num.to_string()),
            (state.to_string(), entries),
        );
    }

    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.inner.lock().subscriptions.clone()
    }

    /// The `param` objects of the queries received (signature checked or not).
    pub fn queries(&self) -> Vec<serde_json::Value> {
        self.inner.lock().queries.clone()
    }
}

/// The form body Kuaidi100 POSTs to a callback: `param` (the push JSON) and
/// `sign = upper-case MD5(param + salt)`.
pub fn push_body(salt: &str, com: &str, nu: &str, state: &str, entries: &[Entry]) -> String {
    let delivered = state == "3" || state.starts_with("30");
    let param = serde_json::json!({
        "status": if delivered { "shutdown" } else { "polling" },
        "billstatus": "got",
        "message": "",
        "autoCheck": "0",
        "comOld": "",
        "comNew": "",
        "lastResult": tracking_json(com, nu, state, entries),
    })
    .to_string();
    let sign = md5_upper(&[&param, salt]);
    serde_urlencoded::to_string([("param", param.as_str()), ("sign", sign.as_str())]).unwrap()
}

fn tracking_json(com: &str, nu: &str, state: &str, entries: &[Entry]) -> serde_json::Value {
    let delivered = state == "3" || state.starts_with("30");
    serde_json::json!({
        "message": "ok",
        "state": state,
        "status": "200",
        "condition": "F00",
        "ischeck": if delivered { "1" } else { "0" },
        "com": com,
        "nu": nu,
        "data": entries.iter().map(|e| serde_json::json!({
            "context": e.context,
            "time": e.time,
            "ftime": e.time,
            "areaName": e.area_name.clone().unwrap_or_default(),
        })).collect::<Vec<_>>(),
    })
}

fn md5_upper(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for p in parts {
        hasher.update(p.as_bytes());
    }
    hex::encode_upper(hasher.finalize())
}

fn answer(result: bool, code: &str, message: &str) -> String {
    serde_json::json!({ "result": result, "returnCode": code, "message": message }).to_string()
}

async fn subscribe(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> String {
    if form.get("schema").map(String::as_str) != Some("json") {
        return answer(
            false,
            "700",
            "订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址",
        );
    }
    let Some(param) = form.get("param") else {
        return answer(
            false,
            "700",
            "订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址",
        );
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(param) else {
        return answer(false, "700", "订阅参数错误");
    };
    let text =
        |v: &serde_json::Value, k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
    let parameters = value.get("parameters").cloned().unwrap_or_default();
    let subscription = Subscription {
        company: text(&value, "company").unwrap_or_default(),
        number: text(&value, "number").unwrap_or_default(),
        key: text(&value, "key").unwrap_or_default(),
        callback_url: text(&parameters, "callbackurl").unwrap_or_default(),
        salt: text(&parameters, "salt").unwrap_or_default(),
        resultv2: text(&parameters, "resultv2"),
        phone: text(&parameters, "phone"),
        param: param.clone(),
    };
    if subscription.key != KEY {
        return answer(false, "600", "您不是合法的订阅者（即授权Key出错）");
    }
    if subscription.company.is_empty()
        || subscription.number.is_empty()
        || subscription.callback_url.is_empty()
    {
        return answer(
            false,
            "700",
            "订阅方的订阅数据存在错误（如不支持的快递公司、单号为空、单号超长等）或错误的回调地址",
        );
    }
    let mut inner = inner.lock();
    let already = inner
        .subscriptions
        .iter()
        .any(|s| s.company == subscription.company && s.number == subscription.number);
    inner.subscriptions.push(subscription);
    if already {
        return answer(false, "501", "重复订阅");
    }
    answer(true, "200", "提交成功")
}

async fn query(
    State(inner): State<Arc<Mutex<Inner>>>,
    Form(form): Form<HashMap<String, String>>,
) -> String {
    let (Some(customer), Some(sign), Some(param)) =
        (form.get("customer"), form.get("sign"), form.get("param"))
    else {
        return answer(false, "400", "找不到对应公司");
    };
    let parsed: serde_json::Value = serde_json::from_str(param).unwrap_or_default();
    let mut inner = inner.lock();
    inner.queries.push(parsed.clone());
    if customer != CUSTOMER || *sign != md5_upper(&[param, KEY, CUSTOMER]) {
        return answer(false, "503", "验证签名失败");
    }
    let com = parsed.get("com").and_then(|v| v.as_str()).unwrap_or("");
    let num = parsed.get("num").and_then(|v| v.as_str()).unwrap_or("");
    match inner.tracking.get(&(com.to_string(), num.to_string())) {
        Some((state, entries)) => tracking_json(com, num, state, entries).to_string(),
        None => answer(false, "500", "查询无结果，请隔段时间再查"),
    }
}
