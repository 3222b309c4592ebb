//! Why an outbound request failed. Each message is written for the person who reads it where
//! the failure is recorded (the webhook delivery log, a login event, a set-up error), and never
//! quotes the URL's path or query (a webhook URL may carry a token).

use std::net::IpAddr;

use crate::policy::IpNetwork;

/// A refused or failed outbound request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not an absolute `http(s)://` URL with a host, or it carries credentials.
    #[error("{0}")]
    InvalidUrl(String),
    /// A header or body that cannot be sent as given.
    #[error("{0}")]
    InvalidRequest(String),
    /// A network in the configuration that does not parse.
    #[error("{0}")]
    InvalidNetwork(String),
    /// The host resolves to an address the policy does not allow.
    #[error(
        "{host} resolves to {address}, in the {range_name} range {range}; Roster connects to \
         non-public addresses only when security.allow_private_network_urls or \
         security.allowed_private_networks allows it"
    )]
    Forbidden {
        host: String,
        address: IpAddr,
        range: IpNetwork,
        range_name: &'static str,
    },
    /// The host name does not resolve.
    #[error("cannot resolve {host}: {message}")]
    Unresolvable { host: String, message: String },
    /// A 3xx answer: redirects are never followed.
    #[error("the server answered HTTP {status} (a redirect); redirects are not followed")]
    Redirect { status: u16 },
    /// The response body is larger than the caller's cap (it was not read past the cap).
    #[error("the response is larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// No complete answer in time (`phase` says which timeout fired).
    #[error("no answer in time ({phase} timeout)")]
    Timeout { phase: String },
    /// Anything else on the way: connection refused, TLS, a malformed HTTP answer.
    #[error("{0}")]
    Transport(String),
}

impl OutboundError {
    pub(crate) fn forbidden(host: &str, address: IpAddr, range: (IpNetwork, &'static str)) -> Self {
        Self::Forbidden {
            host: host.to_owned(),
            address,
            range: range.0,
            range_name: range.1,
        }
    }

    /// Whether the policy (or the URL's shape) refused the request before anything was sent,
    /// as opposed to the server failing to answer well.
    pub fn is_refused_by_policy(&self) -> bool {
        match self {
            Self::InvalidUrl(_) | Self::Forbidden { .. } => true,
            Self::InvalidRequest(_)
            | Self::InvalidNetwork(_)
            | Self::Unresolvable { .. }
            | Self::Redirect { .. }
            | Self::TooLarge { .. }
            | Self::Timeout { .. }
            | Self::Transport(_) => false,
        }
    }
}
