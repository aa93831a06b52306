//! `docs/admin-openapi.yaml` as a test oracle: which operations it
//! documents, with which statuses, and whether a live answer fits the
//! schema documented for its status. Every answer checked is recorded, so
//! the test can say which documented statuses it never saw.

use std::collections::{BTreeMap, BTreeSet};

use http::HeaderMap;
use parking_lot::Mutex;
use serde_json::{Value, json};

/// One documented operation.
#[derive(Debug)]
pub(crate) struct Operation {
    /// The statuses it documents.
    pub(crate) statuses: BTreeSet<u16>,
    /// True when it needs the admin token (no `security: []`).
    pub(crate) authenticated: bool,
}

/// (method, path template, status).
pub(crate) type Seen = (String, String, u16);

/// The parsed document and what the test has seen of it.
pub(crate) struct Spec {
    doc: Value,
    seen: Mutex<BTreeSet<Seen>>,
}

impl Spec {
    /// Reads `docs/admin-openapi.yaml`.
    pub(crate) fn load() -> Spec {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/admin-openapi.yaml");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        Spec {
            doc,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// Every operation by (METHOD, path).
    pub(crate) fn operations(&self) -> BTreeMap<(String, String), Operation> {
        let mut out = BTreeMap::new();
        for (path, item) in self.doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                if method == "parameters" {
                    continue;
                }
                let statuses = op["responses"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(|s| s.parse().unwrap())
                    .collect();
                let authenticated = op.get("security") != Some(&json!([]));
                out.insert(
                    (method.to_uppercase(), path.clone()),
                    Operation {
                        statuses,
                        authenticated,
                    },
                );
            }
        }
        out
    }

    /// Everything checked so far.
    pub(crate) fn seen(&self) -> BTreeSet<Seen> {
        self.seen.lock().clone()
    }

    /// Checks one answer of `method path`: its status is documented, its
    /// documented headers are there, and a JSON body fits the schema.
    pub(crate) fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        headers: &HeaderMap,
        body: &Value,
    ) {
        let op = &self.doc["paths"][path][method.to_lowercase()];
        assert!(op.is_object(), "{method} {path} is not documented");
        let response = self.resolve(&op["responses"][status.to_string()]);
        assert!(
            response.is_object(),
            "{method} {path} answered {status}, which is not documented: {body}"
        );
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let value = headers
                .get(name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{method} {path} {status}: no {name} header"));
            if let Some(expected) = header["schema"]["const"].as_str() {
                assert_eq!(value, expected, "{method} {path} {status}: {name}");
            }
        }
        match response["content"].as_object() {
            None => assert_eq!(body, &Value::Null, "{method} {path} {status}: body"),
            Some(content) => {
                if let Some(json) = content.get("application/json") {
                    self.validate(&json["schema"], body, &format!("{method} {path} {status}"));
                } else {
                    assert!(body.is_string(), "{method} {path} {status}: a text body");
                }
            }
        }
        self.seen
            .lock()
            .insert((method.to_owned(), path.to_owned(), status));
    }

    /// Validates `instance` against `schema`, whose `$ref`s point into this
    /// document's components.
    pub(crate) fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let mut root = schema.as_object().cloned().unwrap_or_default();
        root.insert(
            "$schema".into(),
            "https://json-schema.org/draft/2020-12/schema".into(),
        );
        root.insert("components".into(), self.doc["components"].clone());
        let validator = jsonschema::validator_for(&Value::Object(root))
            .unwrap_or_else(|e| panic!("{what}: bad schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: {errors:#?}\nin {instance:#}");
    }

    /// Every schema and response in the document, compiled (a broken
    /// `$ref` fails here rather than in the one test that hits it).
    pub(crate) fn compile_all(&self) {
        for (name, _) in self.doc["components"]["schemas"].as_object().unwrap() {
            let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
            let mut root = schema.as_object().cloned().unwrap_or_default();
            root.insert("components".into(), self.doc["components"].clone());
            jsonschema::validator_for(&Value::Object(root))
                .unwrap_or_else(|e| panic!("schema {name}: {e}"));
        }
        for ((method, path), _) in self.operations() {
            let op = &self.doc["paths"][&path][method.to_lowercase()];
            for (status, r) in op["responses"].as_object().unwrap() {
                let r = self.resolve(r);
                assert!(r.is_object(), "{method} {path} {status}: dangling $ref");
                assert!(r["description"].is_string(), "{method} {path} {status}");
            }
        }
    }

    fn resolve(&self, v: &Value) -> Value {
        match v.get("$ref").and_then(Value::as_str) {
            Some(r) => self
                .doc
                .pointer(r.trim_start_matches('#'))
                .cloned()
                .unwrap_or(Value::Null),
            None => v.clone(),
        }
    }
}
