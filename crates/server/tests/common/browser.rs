//! A browser as the HTTP tests drive it by hand: a client that follows no redirect and treats
//! no status as an error, and the cookies a response sets.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

/// A client that follows no redirect (tests read each `Location`) and returns every status.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
}

/// The value of the cookie `name` a response sets, if any.
pub fn cookie_set_by(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all("set-cookie")
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(prefix.as_str()))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

/// The `roster_session` token a response sets, if any.
pub fn session_set_by(response: &ureq::http::Response<ureq::Body>) -> Option<String> {
    cookie_set_by(response, "roster_session")
}

/// An admin API call (`/api/v1/admin{path}`) on the server at `base` with the API key `key`:
/// the status and the JSON body (`Null` when there is none).
pub fn admin_call(
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> (u16, serde_json::Value) {
    let url = format!("{base}/api/v1/admin{path}");
    let auth = format!("Bearer {key}");
    let mut response = match (method, body) {
        ("GET", _) => agent().get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => agent().delete(&url).header("Authorization", &auth).call(),
        ("POST", Some(body)) => agent()
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
        ("POST", None) => agent()
            .post(&url)
            .header("Authorization", &auth)
            .send_empty(),
        ("PUT", Some(body)) => agent()
            .put(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(body.to_string()),
        other => panic!("no such call: {other:?}"),
    }
    .unwrap();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        response.status().as_u16(),
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}
