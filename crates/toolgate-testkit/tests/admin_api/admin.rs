//! A client of the admin listener that checks every answer against the
//! OpenAPI document.

use reqwest::Method;
use serde_json::Value;

use crate::spec::Spec;

/// One answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// The JSON body, the text of a text body, or null for none.
    pub(crate) body: Value,
}

/// The admin listener of one gateway, with a token (or none).
pub(crate) struct Admin<'s> {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    spec: &'s Spec,
}

/// A request body: its content type and bytes.
pub(crate) type Body<'a> = Option<(&'a str, Vec<u8>)>;

impl<'s> Admin<'s> {
    pub(crate) fn new(base: &str, token: Option<&str>, spec: &'s Spec) -> Admin<'s> {
        Admin {
            base: base.to_owned(),
            token: token.map(str::to_owned),
            http: reqwest::Client::new(),
            spec,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The same listener with another token.
    pub(crate) fn with_token(&self, token: Option<&str>) -> Admin<'s> {
        Admin::new(&self.base, token, self.spec)
    }

    /// Sends `method` to the route `template`, with `args` filling its
    /// `{...}` segments in order, and checks the answer against the spec.
    pub(crate) async fn send(
        &self,
        method: Method,
        template: &str,
        args: &[&str],
        body: Body<'_>,
    ) -> Answer {
        let mut path = template.to_owned();
        for arg in args {
            let (start, end) = (path.find('{').unwrap(), path.find('}').unwrap());
            path.replace_range(start..=end, arg);
        }
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let is_json = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = if text.is_empty() {
            Value::Null
        } else if is_json {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
        } else {
            Value::String(text)
        };
        self.spec
            .check(method.as_str(), template, status, &headers, &body);
        Answer { status, body }
    }

    pub(crate) async fn get(&self, template: &str, args: &[&str]) -> Answer {
        self.send(Method::GET, template, args, None).await
    }

    pub(crate) async fn post_json(&self, template: &str, args: &[&str], body: &Value) -> Answer {
        let bytes = serde_json::to_vec(body).unwrap();
        self.send(
            Method::POST,
            template,
            args,
            Some(("application/json", bytes)),
        )
        .await
    }

    pub(crate) async fn text(
        &self,
        method: Method,
        template: &str,
        args: &[&str],
        text: &[u8],
    ) -> Answer {
        self.send(
            method,
            template,
            args,
            Some(("application/json", text.to_vec())),
        )
        .await
    }

    pub(crate) async fn delete(&self, template: &str, args: &[&str]) -> Answer {
        self.send(Method::DELETE, template, args, None).await
    }
}
