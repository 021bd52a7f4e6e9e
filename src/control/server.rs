//! The control channel (`vigia ctl`): every action that changes state.
//! Served on a Unix socket (who may connect is decided by its permissions,
//! see [`super::socket`]) and, optionally, on TCP, where every request
//! must be signed ([`super::auth`]). Answers are JSON:
//! `{"result":"ok",...}` or `{"result":"error","error":"..."}`.
//!
//! - `GET /status`;
//! - `POST /checks/NAME/drain[?reason=TEXT]`, `POST /checks/NAME/undrain`;
//! - `POST /reload`, `POST /zones/ZONE/reload`;
//! - `POST /zones/ZONE/notify` (NOTIFY the zone's secondaries now);
//! - `POST /zones/ZONE/retransfer` (a secondary zone: AXFR from its
//!   primary now);
//! - `POST /querylog/on`, `POST /querylog/off`.

use std::sync::Arc;

use hyper::Method;
use serde_json::Value;

use super::auth::{unix_now, Refusal, Verifier};
use super::http::{self, percent_decode, Handler, HttpLimits, Reply, Req};
use super::scrape::ScrapeApi;
use crate::snapshot::Pacer;

/// Why an action failed: answered 404 or 500.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No such check or zone.
    NotFound(String),
    /// The action was tried and failed.
    Failed(String),
}

/// What the control channel asks of the application. Every method but
/// [`ControlApi::refused`] runs on a blocking thread.
pub trait ControlApi: ScrapeApi {
    /// Drains or undrains a check, keeping `reason` with a drain.
    fn set_drained(&self, check: &str, drained: bool, reason: &str) -> Result<Value, Failure>;
    /// Reloads the configuration and zones (`zone`: the zone asked for,
    /// which must exist).
    fn reload(&self, zone: Option<&str>) -> Result<Value, Failure>;
    /// Sends NOTIFY for the zone to its `notify` targets now.
    fn notify(&self, zone: &str) -> Result<Value, Failure>;
    /// A secondary zone: transfers it whole from its primary now.
    fn retransfer(&self, zone: &str) -> Result<Value, Failure>;
    /// Turns the query log on or off.
    fn set_query_log(&self, on: bool) -> Result<Value, String>;
    /// Counts a refused request (`vigia_control_refused_total{reason}`).
    fn refused(&self, reason: &str);
}

/// How requests on a listener are let in.
#[derive(Clone)]
pub enum Access {
    /// The Unix socket: its permissions decide.
    Socket,
    /// TCP: every request signed.
    Signed(Arc<Verifier>),
}

/// Serves the control channel on a Unix socket until the task is dropped.
pub async fn serve_unix(
    listener: tokio::net::UnixListener,
    api: Arc<dyn ControlApi>,
    limits: HttpLimits,
    allowed_hosts: Vec<String>,
) {
    http::serve_unix(listener, limits, handler(api, Access::Socket, allowed_hosts)).await
}

/// Serves the control channel on TCP, requests signed, until the task is
/// dropped.
pub async fn serve_tcp(
    listener: tokio::net::TcpListener,
    api: Arc<dyn ControlApi>,
    verifier: Arc<Verifier>,
    limits: HttpLimits,
    allowed_hosts: Vec<String>,
) {
    http::serve_tcp(
        listener,
        limits,
        handler(api, Access::Signed(verifier), allowed_hosts),
    )
    .await
}

/// Refusals logged at warning level per second (the rest at debug level;
/// all are counted): a flood of bad requests cannot flood the log.
const REFUSALS_LOGGED: u32 = 10;

/// The control channel's routes behind `access`.
pub fn handler(api: Arc<dyn ControlApi>, access: Access, allowed_hosts: Vec<String>) -> Handler {
    let allowed = Arc::new(allowed_hosts);
    let pace = Arc::new(Pacer::per_second(REFUSALS_LOGGED));
    Arc::new(move |req| {
        let (api, access, allowed, pace) = (api.clone(), access.clone(), allowed.clone(), pace.clone());
        Box::pin(async move {
            if let Err(why) = admit(&req, &access, &allowed) {
                if pace.try_now(std::time::Instant::now()) {
                    tracing::warn!(peer = %req.peer, method = %req.method, path = %req.path, reason = why.reason(), "control: request refused");
                } else {
                    tracing::debug!(peer = %req.peer, reason = why.reason(), "control: request refused");
                }
                api.refused(why.reason());
                return Reply::error(why.status(), why.message());
            }
            route(req, api).await
        })
    })
}

fn admit(req: &Req, access: &Access, allowed: &[String]) -> Result<(), Refusal> {
    if !http::host_allowed(req.header("host"), allowed) {
        return Err(Refusal::Host);
    }
    match access {
        Access::Socket => Ok(()),
        Access::Signed(v) => v.verify(
            req.method.as_str(),
            &req.path_and_query,
            req.header("authorization"),
            &req.body,
            unix_now(),
        ),
    }
}

/// What a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Status,
    Drain(String, bool, String),
    Reload(Option<String>),
    Notify(String),
    Retransfer(String),
    QueryLog(bool),
}

async fn route(req: Req, api: Arc<dyn ControlApi>) -> Reply {
    let action = match parse(&req) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let done = tokio::task::spawn_blocking(move || match action {
        Action::Status => Ok(api.status_json()),
        Action::Drain(check, drained, reason) => api.set_drained(&check, drained, &reason),
        Action::Reload(zone) => api.reload(zone.as_deref()),
        Action::Notify(zone) => api.notify(&zone),
        Action::Retransfer(zone) => api.retransfer(&zone),
        Action::QueryLog(on) => api.set_query_log(on).map_err(Failure::Failed),
    })
    .await;
    match done {
        Ok(Ok(mut v)) => {
            if let Some(o) = v.as_object_mut() {
                o.entry("result").or_insert_with(|| "ok".into());
            }
            Reply::json(200, &v)
        }
        Ok(Err(Failure::NotFound(e))) => Reply::error(404, e),
        Ok(Err(Failure::Failed(e))) => Reply::error(500, e),
        Err(e) => Reply::error(500, format!("the action panicked: {e}")),
    }
}

/// The action of a request, or the answer to a bad one.
fn parse(req: &Req) -> Result<Action, Reply> {
    let post = req.method == Method::POST;
    let get = matches!(req.method, Method::GET | Method::HEAD);
    let parts: Vec<&str> = req.path.trim_start_matches('/').split('/').collect();
    let name = |raw: &str, what: &str| match percent_decode(raw, false) {
        Some(n) if !n.is_empty() => Ok(n),
        _ => Err(Reply::error(400, format!("bad {what} name in path"))),
    };
    let need = |ok: bool, allow: &'static str| {
        if ok {
            Ok(())
        } else {
            Err(Reply::not_allowed(allow))
        }
    };
    let no_query = || {
        if req.query.is_empty() {
            Ok(())
        } else {
            Err(Reply::error(400, "this endpoint takes no parameters"))
        }
    };
    match parts.as_slice() {
        ["status"] => need(get, "GET, HEAD").map(|()| Action::Status),
        ["reload"] => {
            need(post, "POST")?;
            no_query()?;
            Ok(Action::Reload(None))
        }
        ["checks", check, verb @ ("drain" | "undrain")] => {
            need(post, "POST")?;
            let drained = *verb == "drain";
            let reason = if drained {
                drain_reason(&req.query)?
            } else {
                no_query().map(|()| String::new())?
            };
            Ok(Action::Drain(name(check, "check")?, drained, reason))
        }
        ["zones", zone, verb @ ("reload" | "notify" | "retransfer")] => {
            need(post, "POST")?;
            no_query()?;
            let zone = name(zone, "zone")?;
            Ok(match *verb {
                "reload" => Action::Reload(Some(zone)),
                "notify" => Action::Notify(zone),
                _ => Action::Retransfer(zone),
            })
        }
        ["querylog", state @ ("on" | "off")] => {
            need(post, "POST")?;
            no_query()?;
            Ok(Action::QueryLog(*state == "on"))
        }
        _ => Err(Reply::not_found()),
    }
}

/// Longest drain reason kept (characters).
pub const MAX_REASON: usize = 200;

/// The `reason` parameter of a drain's query string (`+` or `%20` for
/// spaces): at most [`MAX_REASON`] characters, no control characters.
fn drain_reason(query: &str) -> Result<String, Reply> {
    let bad = |e: String| Reply::error(400, e);
    let mut reason = String::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k != "reason" {
            return Err(bad(format!("unknown parameter '{k}': only reason=TEXT")));
        }
        reason = percent_decode(v, true).ok_or_else(|| bad("reason: bad %-escape or not UTF-8".into()))?;
    }
    if reason.chars().count() > MAX_REASON {
        return Err(bad(format!("reason: longer than {MAX_REASON} characters")));
    }
    if reason.chars().any(char::is_control) {
        return Err(bad("reason: control characters are not allowed".into()));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, target: &str) -> Req {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        Req {
            method,
            path: path.into(),
            query: query.into(),
            path_and_query: target.into(),
            headers: Default::default(),
            body: Default::default(),
            peer: "test".into(),
        }
    }

    fn action(method: Method, target: &str) -> Result<Action, u16> {
        parse(&req(method, target)).map_err(|r| r.status)
    }

    #[test]
    fn routes() {
        use Method as M;
        assert_eq!(action(M::GET, "/status"), Ok(Action::Status));
        assert_eq!(action(M::POST, "/status"), Err(405));
        assert_eq!(action(M::POST, "/reload"), Ok(Action::Reload(None)));
        assert_eq!(action(M::GET, "/reload"), Err(405));
        assert_eq!(
            action(M::POST, "/checks/a%20b/drain?reason=moving+to%20host2"),
            Ok(Action::Drain("a b".into(), true, "moving to host2".into()))
        );
        assert_eq!(
            action(M::POST, "/checks/web/undrain"),
            Ok(Action::Drain("web".into(), false, String::new()))
        );
        for bad in ["?colour=red", "?reason=%0a", "?reason=%zz"] {
            assert_eq!(
                action(M::POST, &format!("/checks/web/drain{bad}")),
                Err(400),
                "{bad}"
            );
        }
        let long = "x".repeat(MAX_REASON + 1);
        assert_eq!(
            action(M::POST, &format!("/checks/web/drain?reason={long}")),
            Err(400)
        );
        assert_eq!(action(M::POST, "/checks//drain"), Err(400));
        assert_eq!(action(M::POST, "/checks/web/explode"), Err(404));
        assert_eq!(
            action(M::POST, "/zones/example.com./reload"),
            Ok(Action::Reload(Some("example.com.".into())))
        );
        assert_eq!(action(M::POST, "/zones/x/notify"), Ok(Action::Notify("x".into())));
        assert_eq!(
            action(M::POST, "/zones/x/retransfer"),
            Ok(Action::Retransfer("x".into()))
        );
        assert_eq!(action(M::GET, "/zones/x/retransfer"), Err(405));
        assert_eq!(action(M::POST, "/querylog/on"), Ok(Action::QueryLog(true)));
        assert_eq!(action(M::POST, "/querylog/off"), Ok(Action::QueryLog(false)));
        assert_eq!(action(M::POST, "/querylog/maybe"), Err(404));
        assert_eq!(action(M::GET, "/metrics"), Err(404));
        assert_eq!(action(M::GET, "/"), Err(404));
    }
}
