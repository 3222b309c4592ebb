//! Prometheus metrics at `/metrics`: HTTP requests by route pattern and status (count and latency
//! histogram), SCIM operations by connection, database pool usage, webhook deliveries and
//! backlog per endpoint, and the process's own (`crate::process_metrics`). Kept in process memory —
//! each replica exposes its own, as Prometheus expects — and rendered in the text format by hand
//! (no client library needed for counters and one histogram).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use roster_store::{ScimWriteTimes, Store};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    count: u64,
    sum: f64,
    /// Observations at or below each bound (cumulative at render time).
    buckets: [u64; BUCKETS.len()],
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i] += 1;
        }
    }
}

/// The process's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (method, route pattern, status) -> latency histogram.
    requests: Mutex<BTreeMap<(String, String, u16), Histogram>>,
    /// (connection id, method, resource, status) -> count.
    scim: Mutex<BTreeMap<(String, String, String, u16), u64>>,
}

impl Metrics {
    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            requests
                .entry((method.to_owned(), route.to_owned(), status))
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    pub fn observe_scim(&self, connection_id: &str, method: &str, resource: &str, status: u16) {
        if let Ok(mut scim) = self.scim.lock() {
            *scim
                .entry((
                    connection_id.to_owned(),
                    method.to_owned(),
                    resource.to_owned(),
                    status,
                ))
                .or_default() += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self, pool: (u32, u32), writes: ScimWriteTimes) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP roster_http_requests_total HTTP requests by route pattern and status."
        );
        let _ = writeln!(out, "# TYPE roster_http_requests_total counter");
        let requests = self.requests.lock().map(|r| r.clone()).unwrap_or_default();
        for ((method, route, status), histogram) in &requests {
            let _ = writeln!(
                out,
                "roster_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
                escape(route),
                histogram.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP roster_http_request_duration_seconds HTTP request latency by route pattern."
        );
        let _ = writeln!(out, "# TYPE roster_http_request_duration_seconds histogram");
        let mut by_route: BTreeMap<(String, String), Histogram> = BTreeMap::new();
        for ((method, route, _), histogram) in &requests {
            let merged = by_route.entry((method.clone(), route.clone())).or_default();
            merged.count += histogram.count;
            merged.sum += histogram.sum;
            for (total, own) in merged.buckets.iter_mut().zip(histogram.buckets) {
                *total += own;
            }
        }
        for ((method, route), histogram) in &by_route {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(histogram.buckets) {
                cumulative += count;
                let _ = writeln!(out, "roster_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
            }
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_sum{{{labels}}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "roster_http_request_duration_seconds_count{{{labels}}} {}",
                histogram.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP roster_scim_operations_total SCIM requests by connection, resource and status."
        );
        let _ = writeln!(out, "# TYPE roster_scim_operations_total counter");
        if let Ok(scim) = self.scim.lock() {
            for ((connection, method, resource, status), count) in scim.iter() {
                let _ = writeln!(
                    out,
                    "roster_scim_operations_total{{connection=\"{connection}\",method=\"{method}\",resource=\"{}\",status=\"{status}\"}} {count}",
                    escape(resource)
                );
            }
        }
        let (open, idle) = pool;
        let _ = writeln!(
            out,
            "# HELP roster_db_pool_connections Database pool connections by state."
        );
        let _ = writeln!(out, "# TYPE roster_db_pool_connections gauge");
        let _ = writeln!(out, "roster_db_pool_connections{{state=\"open\"}} {open}");
        let _ = writeln!(out, "roster_db_pool_connections{{state=\"idle\"}} {idle}");
        let _ = writeln!(
            out,
            "roster_db_pool_connections{{state=\"busy\"}} {}",
            open.saturating_sub(idle)
        );
        let _ = writeln!(
            out,
            "# HELP roster_scim_write_transactions_total Committed SCIM write transactions."
        );
        let _ = writeln!(out, "# TYPE roster_scim_write_transactions_total counter");
        let _ = writeln!(
            out,
            "roster_scim_write_transactions_total {}",
            writes.transactions
        );
        let _ = writeln!(out, "# HELP roster_scim_write_transaction_seconds_total Time of committed SCIM write transactions: own statements and commit (a share of it under SQLite group commit; lock wait excluded).");
        let _ = writeln!(
            out,
            "# TYPE roster_scim_write_transaction_seconds_total counter"
        );
        let _ = writeln!(
            out,
            "roster_scim_write_transaction_seconds_total {}",
            writes.transaction_time.as_secs_f64()
        );
        let _ = writeln!(out, "# HELP roster_scim_write_event_seconds_total Part of that time spent writing events to the outbox.");
        let _ = writeln!(out, "# TYPE roster_scim_write_event_seconds_total counter");
        let _ = writeln!(
            out,
            "roster_scim_write_event_seconds_total {}",
            writes.event_time.as_secs_f64()
        );
        out
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
pub async fn endpoint(
    metrics: web::Data<Metrics>,
    store: web::Data<Store>,
    sso: Option<web::Data<roster_sso::SsoState>>,
) -> HttpResponse {
    let mut body = metrics.render(store.pool_state(), store.scim_write_times());
    body.push_str(&render_logins(&store.login_outcome_counts()));
    if let Some(counts) = store.group_commit_counts() {
        body.push_str(&render_group_commit(counts));
    }
    if let Some(sso) = sso {
        body.push_str(&render_password_logins(sso.password_throttle.counts()));
    }
    body.push_str(&render_certificate_keys(
        roster_sso::saml::certificate_key_counts(),
    ));
    body.push_str(&render_webhook_deliveries(
        &roster_webhooks::delivery_counts(),
    ));
    let backlog_store = store.clone();
    match web::block(move || backlog_store.webhook_backlogs()).await {
        Ok(Ok(backlogs)) => body.push_str(&render_webhook_backlogs(&backlogs)),
        Ok(Err(err)) => tracing::warn!(error = %err, "metrics: webhook backlogs unavailable"),
        Err(_) => tracing::warn!("metrics: webhook backlogs unavailable"),
    }
    let certificate_store = store.clone();
    match web::block(move || crate::certificate_checks::expiries(&certificate_store)).await {
        Ok(Ok(expiries)) => body.push_str(&render_certificate_expiries(&expiries)),
        Ok(Err(err)) => tracing::warn!(error = %err, "metrics: certificate expiries unavailable"),
        Err(_) => tracing::warn!("metrics: certificate expiries unavailable"),
    }
    body.push_str(&crate::process_metrics::ProcessStats::read().render(env!("CARGO_PKG_VERSION")));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}

/// When each SAML connection's certificates expire, in Unix seconds: the IdP's signing
/// certificate (`use="signing"`, the latest its metadata lists) and the connection's own keys
/// (`sp_signing`, `sp_encryption`). Alert well before `time()` reaches it.
fn render_certificate_expiries(
    expiries: &[crate::certificate_checks::CertificateExpiry],
) -> String {
    let mut out = String::from(
        "# HELP roster_saml_certificate_expiry_timestamp_seconds When a SAML connection's \
         certificate expires: the IdP's signing certificate (use=signing) or the connection's own \
         request signing (sp_signing) and assertion decryption (sp_encryption) keys.\n\
         # TYPE roster_saml_certificate_expiry_timestamp_seconds gauge\n",
    );
    for expiry in expiries {
        let _ = writeln!(
            out,
            "roster_saml_certificate_expiry_timestamp_seconds{{connection=\"{}\",workspace=\"{}\",use=\"{}\"}} {}",
            expiry.connection.id,
            expiry.connection.workspace_id,
            expiry.certificate_use,
            expiry.expires_at.as_micros() / 1_000_000
        );
    }
    out
}

/// SQLite's group commit: commits and the writes they carried (writes / commits = writes per
/// fsync).
fn render_group_commit(counts: roster_store::GroupCommitCounts) -> String {
    format!(
        "# HELP roster_sqlite_commits_total SQLite commits of write batches (one fsync each).\n\
         # TYPE roster_sqlite_commits_total counter\n\
         roster_sqlite_commits_total {}\n\
         # HELP roster_sqlite_committed_writes_total Write transactions those commits carried.\n\
         # TYPE roster_sqlite_committed_writes_total counter\n\
         roster_sqlite_committed_writes_total {}\n",
        counts.commits, counts.writes
    )
}

/// Webhook delivery attempts this replica made, by endpoint and outcome.
fn render_webhook_deliveries(counts: &[((String, &'static str), u64)]) -> String {
    let mut out = String::from(
        "# HELP roster_webhook_deliveries_total Webhook delivery attempts by endpoint and outcome (this replica).\n\
         # TYPE roster_webhook_deliveries_total counter\n",
    );
    for ((endpoint, outcome), count) in counts {
        let _ = writeln!(
            out,
            "roster_webhook_deliveries_total{{endpoint=\"{}\",outcome=\"{outcome}\"}} {count}",
            escape(endpoint)
        );
    }
    out
}

/// What each webhook endpoint still has to receive (from the database: the same on every
/// replica).
fn render_webhook_backlogs(backlogs: &[roster_store::WebhookBacklog]) -> String {
    let mut out = String::from(
        "# HELP roster_webhook_backlog_events Events a webhook endpoint has still to receive: after its cursor, of its types, and pending resends.\n\
         # TYPE roster_webhook_backlog_events gauge\n",
    );
    for backlog in backlogs {
        let _ = writeln!(
            out,
            "roster_webhook_backlog_events{{endpoint=\"{}\",workspace=\"{}\",enabled=\"{}\"}} {}",
            escape(&backlog.endpoint_id),
            escape(backlog.workspace_id.as_deref().unwrap_or_default()),
            backlog.enabled,
            backlog.pending
        );
    }
    out
}

/// IdP certificates loaded into signature-check keys, and checks that reused a loaded one.
fn render_certificate_keys(counts: roster_sso::saml::KeyCacheCounts) -> String {
    format!(
        "# HELP roster_saml_certificate_loads_total IdP certificates decoded into signature-check keys.\n\
         # TYPE roster_saml_certificate_loads_total counter\n\
         roster_saml_certificate_loads_total {}\n\
         # HELP roster_saml_certificate_reuses_total SAML signature checks that reused a decoded certificate.\n\
         # TYPE roster_saml_certificate_reuses_total counter\n\
         roster_saml_certificate_reuses_total {}\n",
        counts.loads, counts.hits
    )
}

/// Login attempts this replica recorded, by protocol, outcome and failure reason.
fn render_logins(counts: &[((String, String, String), u64)]) -> String {
    let mut out = String::from(
        "# HELP roster_logins_total Login attempts (SSO and password) by protocol, outcome and failure reason.\n\
         # TYPE roster_logins_total counter\n",
    );
    for ((protocol, outcome, reason), count) in counts {
        let _ = writeln!(
            out,
            "roster_logins_total{{protocol=\"{}\",outcome=\"{}\",reason=\"{}\"}} {count}",
            escape(protocol),
            escape(outcome),
            escape(reason)
        );
    }
    out
}

/// The password-login counters of this replica: (Argon2 verifications, throttled attempts).
fn render_password_logins((verifications, throttled): (u64, u64)) -> String {
    format!(
        "# HELP roster_password_verifications_total Password hashes verified by POST /login/password.\n\
         # TYPE roster_password_verifications_total counter\n\
         roster_password_verifications_total {verifications}\n\
         # HELP roster_password_logins_throttled_total Password logins refused as too_many_attempts.\n\
         # TYPE roster_password_logins_throttled_total counter\n\
         roster_password_logins_throttled_total {throttled}\n"
    )
}

/// The SCIM resource a path names (`Users`, `Groups`, `Bulk`, ...), for the SCIM metric.
pub fn scim_resource(path: &str) -> &str {
    path.strip_prefix("/scim/v2/")
        .and_then(|rest| rest.split('/').next())
        .filter(|segment| !segment.is_empty())
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histograms() {
        let metrics = Metrics::default();
        metrics.observe_request("GET", "/scim/v2/Users/{id}", 200, Duration::from_millis(2));
        metrics.observe_request("GET", "/scim/v2/Users/{id}", 404, Duration::from_millis(30));
        metrics.observe_scim("c1", "GET", "Users", 200);
        let writes = ScimWriteTimes {
            transactions: 4,
            transaction_time: Duration::from_millis(8),
            event_time: Duration::from_millis(1),
        };
        let text = metrics.render((3, 1), writes);
        assert!(text.contains("roster_http_requests_total{method=\"GET\",route=\"/scim/v2/Users/{id}\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("roster_http_request_duration_seconds_bucket{method=\"GET\",route=\"/scim/v2/Users/{id}\",le=\"0.0025\"} 1"), "{text}");
        assert!(text.contains("roster_http_request_duration_seconds_bucket{method=\"GET\",route=\"/scim/v2/Users/{id}\",le=\"0.05\"} 2"), "{text}");
        assert!(text.contains("roster_http_request_duration_seconds_count{method=\"GET\",route=\"/scim/v2/Users/{id}\"} 2"), "{text}");
        assert!(text.contains("roster_scim_operations_total{connection=\"c1\",method=\"GET\",resource=\"Users\",status=\"200\"} 1"));
        assert!(text.contains("roster_db_pool_connections{state=\"busy\"} 2"));
        assert!(
            text.contains("roster_scim_write_transactions_total 4"),
            "{text}"
        );
        assert!(
            text.contains("roster_scim_write_event_seconds_total 0.001"),
            "{text}"
        );
    }

    #[test]
    fn scim_resources_from_paths() {
        assert_eq!(scim_resource("/scim/v2/Users/abc"), "Users");
        assert_eq!(scim_resource("/scim/v2/Bulk"), "Bulk");
        assert_eq!(scim_resource("/healthz"), "other");
    }
}
