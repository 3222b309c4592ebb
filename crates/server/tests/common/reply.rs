//! A response as the HTTP tests read it: status, headers (lowercased names) and the body parsed
//! as JSON, shared by the test crates that call Roster over real HTTP.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

/// A response: status, headers (lowercased names), JSON body (Null when empty, a string when
/// not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    /// Reads `response` to its end.
    pub fn read(mut response: ureq::http::Response<ureq::Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_lowercase(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let text = response.body_mut().read_to_string().unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Self {
            status,
            headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Asserts an admin API error with this status and code, in its one shape (`code`, a
    /// message in words, `detail`); returns the message.
    pub fn assert_admin_error(&self, status: u16, code: &str) -> String {
        assert_eq!(
            (self.status, self.body["code"].as_str()),
            (status, Some(code)),
            "{:#}",
            self.body
        );
        let message = self.body["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{:#}", self.body);
        assert!(self.body.get("detail").is_some(), "{:#}", self.body);
        message.to_owned()
    }

    /// Asserts a SCIM error with this status and scimType.
    pub fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status, status, "{:#}", self.body);
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{:#}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string());
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{:#}", self.body);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }
}
