//! The HTTP client for every request Roster makes on its own.
//!
//! It is ureq with four things fixed, so no caller can forget one:
//! - **The address checked is the address connected to.** The agent's resolver resolves the
//!   host, refuses the request when any address is forbidden by the [`NetworkPolicy`], and hands
//!   ureq only those checked addresses; an IP-literal host goes through the same check. There
//!   is no second lookup an attacker's DNS could answer differently (DNS rebinding). An allowed
//!   answer is reused for the next few seconds' connections to that host (`RESOLVED_FOR`): ureq
//!   resolves before every request, even one that goes over a kept-alive connection.
//! - **No redirects.** A 3xx is an error naming the status; `Location` is never followed (a
//!   public URL answering 302 to `http://127.0.0.1/...` is the classic way around a URL check).
//! - **Capped bodies.** Each call says how much it reads; a longer body is an error, read no
//!   further than the cap (a declared `Content-Length` over the cap is refused before reading).
//! - **Timeouts.** Resolving and connecting, and the whole call including the body.
//!
//! Connections are kept alive and reused (ureq's pool, per scheme, host and port), so a run of
//! requests to one endpoint — a batch of webhooks — costs one connection, not one each. A
//! reused connection goes to the address that was checked when it was opened; every new
//! connection is checked again. A connection returns to the pool only once its response body
//! was read to the end, so a caller that has no use for the body ([`ReadBody::Discard`]) still
//! reads a short one ([`DRAIN_BYTES`]) and drops it.
//!
//! Proxies from the environment (`HTTP_PROXY`...) are ignored: through a proxy, the address
//! checked would be the proxy's, not the target's.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ureq::http::{header, HeaderName, HeaderValue, Method, Request, Response, Uri};
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::policy::{host_and_port, NetworkPolicy};
use crate::OutboundError;

/// How long a request may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving the host, and then connecting (TLS handshake included), each.
    pub connect: Duration,
    /// The whole call, from the lookup to the last byte of the body read.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(15),
        }
    }
}

/// What to do with the response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBody {
    /// Read it, failing with [`OutboundError::TooLarge`] past this many bytes.
    AtMost(u64),
    /// Only the status and headers matter (e.g. a webhook's acknowledgement): a body of at most
    /// [`DRAIN_BYTES`] is read and dropped so the connection can be reused; a longer one (or one
    /// that lasts until the connection closes) is not read, and its connection is closed. Never
    /// an error.
    Discard,
}

/// The longest response body [`ReadBody::Discard`] reads (to reuse the connection).
pub const DRAIN_BYTES: u64 = 64 * 1024;

/// Whether a body [`ReadBody::Discard`] has no use for is worth reading to keep the connection:
/// one of known length up to [`DRAIN_BYTES`], or chunked (read up to that many bytes). A body
/// without either lasts until the server closes the connection, which cannot be reused anyway.
fn drains(content_length: Option<u64>, chunked: bool) -> bool {
    match content_length {
        Some(length) => length <= DRAIN_BYTES,
        None => chunked,
    }
}

/// The outbound HTTP client: cheap to clone (clones share connections and the policy).
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    policy: Arc<NetworkPolicy>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    /// Public addresses only, default timeouts.
    fn default() -> Self {
        Self::new(NetworkPolicy::public_only(), Timeouts::default())
    }
}

impl Client {
    pub fn new(policy: NetworkPolicy, timeouts: Timeouts) -> Self {
        let policy = Arc::new(policy);
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .proxy(None)
            .timeout_resolve(Some(timeouts.connect))
            .timeout_connect(Some(timeouts.connect))
            .timeout_global(Some(timeouts.total))
            .user_agent(concat!("Roster/", env!("CARGO_PKG_VERSION")))
            .build();
        let resolver = CheckingResolver::new(Arc::clone(&policy));
        let agent = ureq::Agent::with_parts(config, DefaultConnector::default(), resolver);
        Self { agent, policy }
    }

    /// The policy every request of this client is checked against.
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// Sends a request; any status that is not a redirect is an answer (the caller judges 4xx
    /// and 5xx), a redirect is [`OutboundError::Redirect`].
    pub fn send(
        &self,
        request: Request<Vec<u8>>,
        read: ReadBody,
    ) -> Result<Response<Vec<u8>>, OutboundError> {
        let (host, _) = host_and_port(request.uri())?;
        let (parts, body) = request.into_parts();
        let response = match self.run(&parts, &body) {
            // A pooled connection the server closed as the request went out: ureq drops it, and
            // the request goes once more, on a connection opened (and checked) for it.
            Err(err) if closed_under_us(&err) => self.run(&parts, &body),
            answered => answered,
        }
        .map_err(|err| from_ureq(err, &host))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(OutboundError::Redirect {
                status: status.as_u16(),
            });
        }
        let (parts, mut body) = response.into_parts();
        let bytes = match read {
            ReadBody::Discard => {
                let chunked = parts
                    .headers
                    .get_all(header::TRANSFER_ENCODING)
                    .iter()
                    .any(|value| value.to_str().is_ok_and(|v| v.contains("chunked")));
                if drains(body.content_length(), chunked) {
                    // Read to the end so the connection returns to the pool; a failure here only
                    // means it does not (the answer is the status, already in).
                    let mut reader = body.with_config().limit(DRAIN_BYTES).reader();
                    let _ = std::io::copy(&mut reader, &mut std::io::sink());
                }
                Vec::new()
            }
            ReadBody::AtMost(limit) => {
                if body.content_length().is_some_and(|length| length > limit) {
                    return Err(OutboundError::TooLarge { limit });
                }
                body.with_config()
                    .limit(limit)
                    .read_to_vec()
                    .map_err(|err| match err {
                        ureq::Error::BodyExceedsLimit(_) => OutboundError::TooLarge { limit },
                        other => from_ureq(other, &host),
                    })?
            }
        };
        Ok(Response::from_parts(parts, bytes))
    }

    fn run(
        &self,
        parts: &ureq::http::request::Parts,
        body: &[u8],
    ) -> Result<Response<ureq::Body>, ureq::Error> {
        let mut request = Request::builder()
            .method(parts.method.clone())
            .uri(parts.uri.clone())
            .version(parts.version);
        if let Some(headers) = request.headers_mut() {
            headers.extend(parts.headers.clone());
        }
        if body.is_empty() && matches!(parts.method, Method::GET | Method::HEAD) {
            self.agent.run(request.body(())?)
        } else {
            self.agent.run(request.body(body.to_vec())?)
        }
    }

    /// `GET url`.
    pub fn get(&self, url: &str, read: ReadBody) -> Result<Response<Vec<u8>>, OutboundError> {
        self.send(request(Method::GET, url, &[], None, Vec::new())?, read)
    }

    /// `POST url` with a JSON body and extra headers.
    pub fn post_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        json: &str,
        read: ReadBody,
    ) -> Result<Response<Vec<u8>>, OutboundError> {
        let body = json.as_bytes().to_vec();
        let request = request(Method::POST, url, headers, Some("application/json"), body)?;
        self.send(request, read)
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body and extra headers.
    pub fn post_form(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        fields: &[(&str, &str)],
        read: ReadBody,
    ) -> Result<Response<Vec<u8>>, OutboundError> {
        let body = form_urlencoded(fields).into_bytes();
        let request = request(
            Method::POST,
            url,
            headers,
            Some("application/x-www-form-urlencoded"),
            body,
        )?;
        self.send(request, read)
    }
}

fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    content_type: Option<&'static str>,
    body: Vec<u8>,
) -> Result<Request<Vec<u8>>, OutboundError> {
    let uri: Uri = url.parse().map_err(|_| {
        OutboundError::InvalidUrl("the URL must be http:// or https:// with a host".to_owned())
    })?;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    if let Some(content_type) = content_type {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    for (name, value) in headers {
        let name = HeaderName::try_from(*name).map_err(|_| {
            OutboundError::InvalidRequest(format!("{name:?} is not a valid header name"))
        })?;
        let value = HeaderValue::try_from(*value).map_err(|_| {
            OutboundError::InvalidRequest(format!("the value of header {name} is not valid"))
        })?;
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

/// `application/x-www-form-urlencoded` (the WHATWG serializer: unreserved bytes as they are,
/// space as `+`, everything else percent-encoded).
fn form_urlencoded(fields: &[(&str, &str)]) -> String {
    fn encode(out: &mut String, text: &str) {
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                    out.push(char::from(byte));
                }
                b' ' => out.push('+'),
                other => out.push_str(&format!("%{other:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (index, (name, value)) in fields.iter().enumerate() {
        if index > 0 {
            out.push('&');
        }
        encode(&mut out, name);
        out.push('=');
        encode(&mut out, value);
    }
    out
}

/// Whether a request failed because its connection was closed before any answer came: a
/// reset, a broken pipe, or the end of the stream. On a kept-alive connection that is a server
/// closing it (its idle timeout) just as the request was sent, which ureq's check at reuse
/// cannot see coming; sent again, such a request reaches the server at most once more, as a
/// delivery's retry would.
fn closed_under_us(err: &ureq::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err,
        ureq::Error::Io(io) if matches!(
            io.kind(),
            ErrorKind::ConnectionReset
                | ErrorKind::ConnectionAborted
                | ErrorKind::BrokenPipe
                | ErrorKind::UnexpectedEof
        )
    )
}

fn from_ureq(err: ureq::Error, host: &str) -> OutboundError {
    match err {
        ureq::Error::Other(inner) => match inner.downcast::<OutboundError>() {
            Ok(refused) => *refused,
            Err(other) => OutboundError::Transport(other.to_string()),
        },
        ureq::Error::Timeout(phase) => OutboundError::Timeout {
            phase: phase.to_string(),
        },
        ureq::Error::HostNotFound => OutboundError::Unresolvable {
            host: host.to_owned(),
            message: "no such host".to_owned(),
        },
        ureq::Error::BadUri(message) => OutboundError::InvalidUrl(message),
        ureq::Error::Http(err) => OutboundError::InvalidRequest(err.to_string()),
        ureq::Error::Io(err) if err.kind() == std::io::ErrorKind::TimedOut => {
            OutboundError::Timeout {
                phase: "socket".to_owned(),
            }
        }
        other => OutboundError::Transport(other.to_string()),
    }
}

/// How long a host name's checked addresses are reused for the next connections to it, so a run
/// of requests (a batch of webhooks) costs one look-up, not one each. ureq resolves before it
/// looks for a pooled connection, and its system resolver starts a thread per look-up.
const RESOLVED_FOR: Duration = Duration::from_secs(5);

/// The policy on every address a host resolves to: the request goes on only when all of them are
/// allowed, and ureq connects to exactly these. An IP-literal host is its own address (no
/// look-up); a host name goes to ureq's system resolver, and its allowed answer is reused for
/// [`RESOLVED_FOR`] (never a refused one: that is an error each time).
#[derive(Debug)]
struct CheckingResolver {
    policy: Arc<NetworkPolicy>,
    system: DefaultResolver,
    /// `host:port` -> the addresses it resolved to, all allowed, and when.
    recent: Mutex<HashMap<String, (Vec<SocketAddr>, Instant)>>,
}

impl CheckingResolver {
    fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self {
            policy,
            system: DefaultResolver::default(),
            recent: Mutex::default(),
        }
    }

    fn check(&self, host: &str, addresses: &[SocketAddr]) -> Result<(), ureq::Error> {
        for address in addresses {
            self.policy.check_address(address.ip()).map_err(|range| {
                ureq::Error::Other(Box::new(OutboundError::forbidden(
                    host,
                    address.ip(),
                    range,
                )))
            })?;
        }
        Ok(())
    }

    fn answer(&self, addresses: &[SocketAddr]) -> ResolvedSocketAddrs {
        let mut resolved = self.empty();
        for address in addresses {
            resolved.push(*address);
        }
        resolved
    }
}

impl Resolver for CheckingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let (host, port) = host_and_port(uri).map_err(|err| ureq::Error::Other(Box::new(err)))?;
        if let Ok(ip) = host.parse::<IpAddr>() {
            let address = [SocketAddr::new(ip, port)];
            self.check(&host, &address)?;
            return Ok(self.answer(&address));
        }
        let key = format!("{host}:{port}");
        let now = Instant::now();
        {
            let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((addresses, _)) = recent
                .get(&key)
                .filter(|(_, at)| now.duration_since(*at) < RESOLVED_FOR)
            {
                return Ok(self.answer(addresses));
            }
        }
        let addresses = self.system.resolve(uri, config, timeout)?;
        self.check(&host, &addresses)?;
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.retain(|_, (_, at)| now.duration_since(*at) < RESOLVED_FOR);
        recent.insert(key, (addresses.to_vec(), now));
        Ok(addresses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_encoded_like_browsers_do() {
        assert_eq!(
            form_urlencoded(&[("logout_token", "a.b-c_d*"), ("note", "x y&z=1/é")]),
            "logout_token=a.b-c_d*&note=x+y%26z%3D1%2F%C3%A9"
        );
        assert_eq!(form_urlencoded(&[]), "");
    }

    #[test]
    fn discarded_bodies_are_read_only_when_short_and_delimited() {
        // (Content-Length, chunked) -> read to keep the connection
        let cases = [
            (Some(0), false, true),
            (Some(2), false, true),
            (Some(DRAIN_BYTES), false, true),
            (Some(DRAIN_BYTES + 1), false, false),
            (None, true, true),
            (None, false, false),
        ];
        for (length, chunked, read) in cases {
            assert_eq!(drains(length, chunked), read, "{length:?} {chunked}");
        }
    }

    #[test]
    fn bad_headers_are_refused_before_sending() {
        for header in [("bad name", "v"), ("x", "a\nb")] {
            let err =
                request(Method::POST, "http://8.8.8.8/", &[header], None, vec![]).unwrap_err();
            assert!(
                matches!(err, OutboundError::InvalidRequest(_)),
                "{header:?}: {err}"
            );
        }
    }
}
