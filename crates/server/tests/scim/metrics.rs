//! `/metrics` counts real requests by route pattern, SCIM operations by connection and login
//! attempts by outcome and reason.

use crate::common::TestApp;

#[test]
fn metrics_count_requests_by_route_and_scim_connection() {
    let app = TestApp::new();
    let id = app.create_user("m", "e-m");
    app.scim("GET", &format!("/Users/{id}"), None);
    app.scim("GET", "/Users/00000000-0000-0000-0000-000000000000", None);
    // A refused password login is counted by its reason.
    let login = app.raw(
        "POST",
        "/login/password",
        Some("workspace=acme&user_name=nobody&password=wrong".to_owned()),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(login.status, 401, "{:?}", login.body);
    let reply = app.raw("GET", "/metrics", None, &[]);
    assert_eq!(reply.status, 200);
    let text = reply.body.as_str().unwrap_or_default().to_owned();
    let connection = app.connection.id.to_string();
    for want in [
        "roster_http_requests_total{method=\"POST\",route=\"/scim/v2/Users\",status=\"201\"} 1".to_owned(),
        "roster_http_requests_total{method=\"GET\",route=\"/scim/v2/Users/{id}\",status=\"200\"} 1".to_owned(),
        "roster_http_requests_total{method=\"GET\",route=\"/scim/v2/Users/{id}\",status=\"404\"} 1".to_owned(),
        format!("roster_scim_operations_total{{connection=\"{connection}\",method=\"GET\",resource=\"Users\",status=\"404\"}} 1"),
        "roster_http_request_duration_seconds_count{method=\"GET\",route=\"/scim/v2/Users/{id}\"} 2".to_owned(),
        "# TYPE roster_db_pool_connections gauge".to_owned(),
        "roster_logins_total{protocol=\"password\",outcome=\"failure\",reason=\"invalid_credentials\"} 1".to_owned(),
    ] {
        assert!(text.contains(&want), "missing {want} in\n{text}");
    }
    assert!(!text.contains(&id), "user ids never become labels");
}
