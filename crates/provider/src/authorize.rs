//! The authorization endpoint's rules (`/oauth2/authorize`), independent of HTTP.
//!
//! RFC 6749 §4.1.2.1 splits authorization errors in two: while the app and its redirect URI are
//! not established, the browser must not be sent anywhere (an open redirector otherwise), so the
//! answer is a page; once they are, every other error goes back to the app at that URI, with the
//! request's `state` and Roster's `iss` (RFC 9207, so a client talking to several providers can
//! tell who answered: the mix-up defence of RFC 9700 §4.4).

/// The `error` codes the authorization endpoint sends back to an app (RFC 6749 §4.1.2.1,
/// OpenID Connect Core §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeErrorCode {
    InvalidRequest,
    UnsupportedResponseType,
    InvalidScope,
    LoginRequired,
    RequestNotSupported,
    RequestUriNotSupported,
}

impl AuthorizeErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorizeErrorCode::InvalidRequest => "invalid_request",
            AuthorizeErrorCode::UnsupportedResponseType => "unsupported_response_type",
            AuthorizeErrorCode::InvalidScope => "invalid_scope",
            AuthorizeErrorCode::LoginRequired => "login_required",
            AuthorizeErrorCode::RequestNotSupported => "request_not_supported",
            AuthorizeErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// An authorization error sent back to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRedirect {
    /// The redirect URI of the request (it matched one the app registered).
    pub redirect_uri: String,
    pub error: AuthorizeErrorCode,
    /// A sentence for the app's developer (`error_description`).
    pub description: &'static str,
    /// The request's `state`, exactly as received.
    pub state: Option<String>,
    /// Roster's issuer identifier (`iss`).
    pub issuer: String,
}

impl ErrorRedirect {
    /// The redirect URI with `error`, `error_description`, `state` (when the request had one)
    /// and `iss` added to its query. Registered URIs have no fragment, so appending is exact.
    pub fn location(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("error", self.error.as_str());
        query.append_pair("error_description", self.description);
        if let Some(state) = &self.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &self.issuer);
        let separator = if self.redirect_uri.ends_with(['?', '&']) {
            ""
        } else if self.redirect_uri.contains('?') {
            "&"
        } else {
            "?"
        };
        format!("{}{separator}{}", self.redirect_uri, query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn redirect(uri: &str, state: Option<&str>) -> ErrorRedirect {
        ErrorRedirect {
            redirect_uri: uri.to_owned(),
            error: AuthorizeErrorCode::InvalidRequest,
            description: "bad & worse",
            state: state.map(str::to_owned),
            issuer: "https://roster.example".to_owned(),
        }
    }

    #[test]
    fn error_redirects_keep_the_registered_query_and_carry_state_and_iss() {
        let tail = "error=invalid_request&error_description=bad+%26+worse";
        let iss = "iss=https%3A%2F%2Froster.example";
        for (uri, state, expected) in [
            (
                "https://app.example/cb",
                Some("a b&c=d"),
                format!("https://app.example/cb?{tail}&state=a+b%26c%3Dd&{iss}"),
            ),
            (
                "https://app.example/cb?tenant=1",
                None,
                format!("https://app.example/cb?tenant=1&{tail}&{iss}"),
            ),
            (
                "https://app.example/cb?",
                None,
                format!("https://app.example/cb?{tail}&{iss}"),
            ),
        ] {
            assert_eq!(redirect(uri, state).location(), expected);
        }
    }
}
