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
