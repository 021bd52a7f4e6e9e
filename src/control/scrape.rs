//! The read-only listener on `[metrics] listen`: `GET /metrics`
//! (Prometheus text) and `GET /status` (JSON); HEAD too. Every other
//! method is answered 405 and every other path 404: nothing that changes
//! state is served here (that is the control channel's, [`super::server`]).

use std::sync::Arc;

use super::http::{self, Handler, HttpLimits, Reply};

/// What the metrics listener reads from the application.
pub trait ScrapeApi: Send + Sync + 'static {
    /// The `/metrics` body.
    fn metrics_text(&self) -> String;
    /// The `/status` document (may wait for a reload to finish: called on
    /// a blocking thread).
    fn status_json(&self) -> serde_json::Value;
}

/// Serves `/metrics` and `/status` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Arc<dyn ScrapeApi>,
    limits: HttpLimits,
    allowed_hosts: Vec<String>,
) {
    http::serve_tcp(listener, limits, handler(api, allowed_hosts)).await
}

fn handler(api: Arc<dyn ScrapeApi>, allowed_hosts: Vec<String>) -> Handler {
    let allowed = Arc::new(allowed_hosts);
    Arc::new(move |req| {
        let (api, allowed) = (api.clone(), allowed.clone());
        Box::pin(async move {
            if !http::host_allowed(req.header("host"), &allowed) {
                tracing::debug!(peer = %req.peer, host = ?req.header("host"), "metrics: Host not allowed");
                return http::host_refused("metrics");
            }
            route(&req, api).await
        })
    })
}

async fn route(req: &http::Req, api: Arc<dyn ScrapeApi>) -> Reply {
    let read = matches!(req.method, hyper::Method::GET | hyper::Method::HEAD);
    match req.path.as_str() {
        "/metrics" if read => Reply::text(
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            api.metrics_text(),
        ),
        "/status" if read => match tokio::task::spawn_blocking(move || api.status_json()).await {
            Ok(v) => Reply::json(200, &v),
            Err(e) => Reply::error(500, format!("status failed: {e}")),
        },
        "/metrics" | "/status" => Reply::not_allowed("GET, HEAD"),
        _ => Reply::error(
            404,
            "no such endpoint: this listener serves GET /metrics and /status only; \
             drain, reload and the other actions are on the control channel (vigia ctl)",
        ),
    }
}
