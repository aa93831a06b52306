//! The service each client connection is served by: `POST /mcp/<server>`,
//! nearly every request a gateway sees, goes straight to the POST handler;
//! everything else goes through the axum router.
//!
//! Why not the router for all: its per-request machinery (route matching,
//! the path parameters, a copy of the header map for the extractor, boxed
//! services and futures) is a few percent of a proxied call's instructions
//! (docs/benchmarks.md). The router still has the POST route, and takes
//! any path the direct route declines, so both answer alike.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use http::{Method, Request};
use hyper::body::Incoming;
use tower::ServiceExt;

use super::post;
use crate::gateway::Gateway;

type Answer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// A connection's service.
#[derive(Clone)]
pub(crate) struct ConnService {
    /// The gateway whose POSTs take the direct route (none: router only).
    direct: Option<Arc<Gateway>>,
    router: Router,
}

impl ConnService {
    /// `router` for every request.
    pub(crate) fn router_only(router: Router) -> ConnService {
        ConnService {
            direct: None,
            router,
        }
    }

    /// `POST /mcp/<server>` straight to `gw`'s POST handler, the rest to
    /// `router`.
    pub(crate) fn with_direct_post(gw: Arc<Gateway>, router: Router) -> ConnService {
        ConnService {
            direct: Some(gw),
            router,
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, req: Request<Incoming>) -> Answer {
        if let Some(gw) = &self.direct
            && let Some(server) = direct_post_server(req.method(), req.uri().path())
        {
            let gw = gw.clone();
            let server = server.to_owned();
            let (parts, body) = req.into_parts();
            return Box::pin(async move {
                Ok(post::respond(&gw, &server, &parts.headers, Body::new(body)).await)
            });
        }
        let router = self.router.clone();
        Box::pin(router.oneshot(req.map(Body::new)))
    }
}

/// The server a request names if the direct route can take it: a POST to
/// `/mcp/<server>` with one path segment and nothing percent-encoded in it
/// (the router decodes those; here they are left to it).
fn direct_post_server<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    if method != Method::POST {
        return None;
    }
    let server = path.strip_prefix("/mcp/")?;
    let plain = !server.is_empty() && !server.contains(['/', '%']);
    plain.then_some(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_posts_to_one_server_take_the_direct_route() {
        let post = Method::POST;
        assert_eq!(direct_post_server(&post, "/mcp/crm"), Some("crm"));
        assert_eq!(
            direct_post_server(&post, "/mcp/my-server_2"),
            Some("my-server_2")
        );
        assert_eq!(direct_post_server(&Method::GET, "/mcp/crm"), None);
        assert_eq!(direct_post_server(&Method::DELETE, "/mcp/crm"), None);
        assert_eq!(direct_post_server(&post, "/mcp/"), None);
        assert_eq!(direct_post_server(&post, "/mcp/crm/"), None);
        assert_eq!(direct_post_server(&post, "/mcp/crm/x"), None);
        assert_eq!(direct_post_server(&post, "/mcp/cr%6D"), None);
        assert_eq!(direct_post_server(&post, "/mcp"), None);
        assert_eq!(direct_post_server(&post, "/healthz"), None);
        assert_eq!(direct_post_server(&post, "/other/mcp/crm"), None);
    }
}
