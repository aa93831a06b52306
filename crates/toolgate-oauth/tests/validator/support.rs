//! Test keys, token signing, settings, and a JWKS server that counts its
//! fetches and can be told to rotate keys or fail.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{Value, json};
use toolgate_oauth::{KeySource, ManualClock, Settings, Validator};

pub(crate) const ISSUER: &str = "https://as.example";
pub(crate) const AUDIENCE: &str = "https://gw.example/mcp/crm";
/// The tests' "now": 2027-01-15.
pub(crate) const T0: u64 = 1_800_000_000;

pub(crate) fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0)
}

pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A test signing key with its `kid`.
pub(crate) struct TestKey {
    pub(crate) kid: &'static str,
    pub(crate) alg: jsonwebtoken::Algorithm,
    pub(crate) encoding: EncodingKey,
    pub(crate) public_pem: String,
}

impl TestKey {
    fn load(file: &str, kid: &'static str, alg: jsonwebtoken::Algorithm) -> TestKey {
        let private = fixture(&format!("{file}.key.pem"));
        let encoding = match alg.family() {
            jsonwebtoken::AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(private.as_bytes()),
            jsonwebtoken::AlgorithmFamily::Ec => EncodingKey::from_ec_pem(private.as_bytes()),
            jsonwebtoken::AlgorithmFamily::Ed => EncodingKey::from_ed_pem(private.as_bytes()),
            jsonwebtoken::AlgorithmFamily::Hmac => unreachable!(),
        }
        .unwrap();
        TestKey {
            kid,
            alg,
            encoding,
            public_pem: fixture(&format!("{file}.pub.pem")),
        }
    }

    /// The public JWK, with `kid` and `alg`.
    pub(crate) fn jwk(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, self.alg).unwrap();
        jwk.common.key_id = Some(self.kid.to_string());
        serde_json::to_value(jwk).unwrap()
    }

    /// A token over `claims` with this key's alg and kid.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.to_string());
        self.sign_with(header, claims)
    }

    /// A token with a hand-made header.
    pub(crate) fn sign_with(&self, header: Header, claims: &Value) -> String {
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

pub(crate) fn rsa_a() -> TestKey {
    TestKey::load("rsa_a", "rsa-a", jsonwebtoken::Algorithm::RS256)
}
pub(crate) fn rsa_b() -> TestKey {
    TestKey::load("rsa_b", "rsa-b", jsonwebtoken::Algorithm::RS256)
}
pub(crate) fn ec() -> TestKey {
    TestKey::load("ec_p256", "ec-1", jsonwebtoken::Algorithm::ES256)
}
pub(crate) fn ed() -> TestKey {
    TestKey::load("ed25519", "ed-1", jsonwebtoken::Algorithm::EdDSA)
}

/// A JWK Set of `keys`' public halves.
pub(crate) fn jwks(keys: &[&TestKey]) -> String {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

/// Claims a validator with default settings accepts at [`T0`].
pub(crate) fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-42",
        "client_id": "agent-7",
        "scope": "crm.read crm.write",
        "iat": T0,
        "exp": T0 + 3600,
        "jti": "token-1",
    })
}

/// [`claims`] with members replaced (`null` removes one).
pub(crate) fn claims_with(changes: Value) -> Value {
    let mut claims = claims();
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    claims
}

pub(crate) fn settings(keys: KeySource) -> Settings {
    Settings::new(ISSUER, vec![AUDIENCE.to_string()], keys)
}

/// A validator on `settings` with a manual clock at [`T0`].
pub(crate) fn validator(settings: Settings) -> (Validator, ManualClock) {
    let clock = ManualClock::at(t0());
    let validator = Validator::new(settings, Arc::new(clock.clone())).unwrap();
    (validator, clock)
}

/// A validator with static keys `rsa_a` and `ec` (a JWK Set) and `tweak`ed
/// default settings.
pub(crate) fn static_validator(tweak: impl FnOnce(&mut Settings)) -> Validator {
    let mut s = settings(KeySource::Jwk(jwks(&[&rsa_a(), &ec()])));
    tweak(&mut s);
    validator(s).0
}

/// A JWKS endpoint on 127.0.0.1 that counts its fetches.
pub(crate) struct JwksServer {
    pub(crate) url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

struct Shared {
    fetches: AtomicUsize,
    down: AtomicBool,
    delay: Mutex<Duration>,
    body: Mutex<String>,
    cache_control: Mutex<Option<String>>,
}

impl JwksServer {
    pub(crate) async fn start(jwks: String) -> JwksServer {
        let shared = Arc::new(Shared {
            fetches: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            delay: Mutex::new(Duration::ZERO),
            body: Mutex::new(jwks),
            cache_control: Mutex::new(None),
        });
        let app = axum::Router::new()
            .route("/jwks", axum::routing::get(serve_jwks))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        JwksServer { url, shared, task }
    }

    pub(crate) fn fetches(&self) -> usize {
        self.shared.fetches.load(Ordering::SeqCst)
    }

    /// Serves `jwks` from now on.
    pub(crate) fn serve(&self, jwks: String) {
        *self.shared.body.lock() = jwks;
    }

    /// Answers 503 (still counting) while `down`.
    pub(crate) fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::SeqCst);
    }

    /// Waits `delay` before each answer.
    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.shared.delay.lock() = delay;
    }

    pub(crate) fn set_cache_control(&self, value: &str) {
        *self.shared.cache_control.lock() = Some(value.to_string());
    }

    pub(crate) fn settings(&self) -> Settings {
        settings(KeySource::JwksUrl(self.url.clone()))
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.fetches.fetch_add(1, Ordering::SeqCst);
    let delay = *shared.delay.lock();
    tokio::time::sleep(delay).await;
    if shared.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    let mut resp = shared.body.lock().clone().into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    if let Some(cc) = shared.cache_control.lock().as_deref() {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_str(cc).unwrap());
    }
    resp
}

/// A loopback port nothing listens on.
pub(crate) async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/jwks")
}
