//! Minimal HTTP/1.1 for the bench's load generator and the image check's probes: requests
//! encoded once into bytes, responses parsed from a buffer (`Content-Length` or chunked bodies),
//! and a blocking keep-alive client for the bench's setup. The load runs on the bench's event
//! loop (`crates/bench/src/load.rs`) with the same codec.
//!
//! Why not ureq or hyper: the tools build in seconds on a fresh machine, and a client that does
//! nothing but write a request and parse a response keeps the load generator's own CPU use
//! small — it shares the machine with the server it measures.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What the load generator needs of a response.
pub struct Response {
    pub status: u16,
    /// The `Location` header (SCIM create answers it with the new resource's URL).
    pub location: Option<String>,
    /// The `name=value` of each `Set-Cookie` header (the session an ACS login starts).
    pub set_cookies: Vec<String>,
    pub body: Vec<u8>,
}

impl Response {
    /// The value of the first `"key":"value"` string field in the (compact JSON) body.
    pub fn json_string(&self, key: &str) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        let needle = format!("\"{key}\":\"");
        let start = body.find(&needle)? + needle.len();
        let end = body[start..].find('"')? + start;
        Some(body[start..end].to_owned())
    }

    /// The id at the end of the `Location` header, else the body's `id` field.
    pub fn resource_id(&self) -> Option<String> {
        self.location
            .as_deref()
            .and_then(|location| location.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .or_else(|| self.json_string("id"))
    }
}

/// One request of the load generator.
pub struct Request {
    pub method: &'static str,
    pub path: String,
    pub body: Option<String>,
    pub content_type: &'static str,
    /// The whole `Authorization` header value, instead of the phase's bearer token (a client's
    /// HTTP Basic at the token endpoint, an access token at userinfo).
    pub authorization: Option<String>,
    /// A `Cookie` header (a browser's session at the authorization endpoint).
    pub cookie: Option<String>,
}

impl Request {
    /// A SCIM request (`application/scim+json` body when there is one).
    pub fn scim(method: &'static str, path: String, body: Option<String>) -> Self {
        Self {
            method,
            path,
            body,
            content_type: "application/scim+json",
            authorization: None,
            cookie: None,
        }
    }

    pub fn get(path: String) -> Self {
        Self::scim("GET", path, None)
    }

    /// A POST of an HTML form body (`application/x-www-form-urlencoded`), as a browser posts a
    /// SAML Response to the ACS.
    pub fn form(path: String, body: String) -> Self {
        Self {
            method: "POST",
            path,
            body: Some(body),
            content_type: "application/x-www-form-urlencoded",
            authorization: None,
            cookie: None,
        }
    }

    /// The same request with this `Authorization` header instead of the bearer token.
    pub fn with_authorization(self, authorization: String) -> Self {
        Self {
            authorization: Some(authorization),
            ..self
        }
    }

    /// The same request with this `Cookie` header.
    pub fn with_cookie(self, cookie: String) -> Self {
        Self {
            cookie: Some(cookie),
            ..self
        }
    }

    /// The bytes on the wire, with the `Host` and bearer token of `addr`'s server.
    pub fn encode(&self, addr: &str, token: &str) -> Vec<u8> {
        let mut head = match &self.authorization {
            Some(authorization) => format!(
                "{} {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {authorization}\r\n\
                 Accept: application/scim+json\r\n",
                self.method, self.path
            ),
            None => format!(
                "{} {} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
                 Accept: application/scim+json\r\n",
                self.method, self.path
            ),
        };
        if let Some(cookie) = &self.cookie {
            head.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if let Some(body) = &self.body {
            head.push_str(&format!(
                "Content-Type: {}\r\nContent-Length: {}\r\n",
                self.content_type,
                body.len()
            ));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        if let Some(body) = &self.body {
            bytes.extend_from_slice(body.as_bytes());
        }
        bytes
    }
}

/// A whole response parsed from the start of a buffer.
pub struct Parsed {
    pub response: Response,
    /// The server closes the connection after it (`Connection: close`, or a body that runs to
    /// the end of the stream).
    pub close: bool,
}

/// Parses the response at the start of `buf`: `Ok(None)` while it is incomplete. `at_end` says
/// the stream has ended, which completes a response whose body runs to the end.
pub fn parse_response(buf: &[u8], at_end: bool) -> Result<Option<Parsed>, String> {
    let Some(head_end) = buf.windows(4).position(|window| window == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let (mut length, mut chunked, mut close, mut location) = (None, false, false, None);
    let mut set_cookies = Vec::new();
    for header in lines {
        let Some((name, value)) = header.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<usize>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "connection" => close = value.eq_ignore_ascii_case("close"),
            "location" => location = Some(value.to_owned()),
            "set-cookie" => {
                let pair = value.split(';').next().unwrap_or_default().trim();
                set_cookies.push(pair.to_owned());
            }
            _ => {}
        }
    }
    let rest = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return Ok(None),
        }
    } else if let Some(length) = length {
        match rest.get(..length) {
            Some(body) => body.to_vec(),
            None => return Ok(None),
        }
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        Vec::new()
    } else if at_end {
        close = true;
        rest.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Parsed {
        response: Response {
            status,
            location,
            set_cookies,
            body,
        },
        close,
    }))
}

/// The body of a complete chunked message, `None` while chunks are missing.
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(line_end) = rest.windows(2).position(|window| window == b"\r\n") else {
            return Ok(None);
        };
        let size_line = std::str::from_utf8(&rest[..line_end]).unwrap_or_default();
        let size_text = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_line:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailers, then the blank line that ends the message.
            return Ok(rest
                .windows(2)
                .position(|window| window == b"\r\n")
                .map(|_| body));
        }
        let Some(chunk) = rest.get(..size + 2) else {
            return Ok(None);
        };
        body.extend_from_slice(&chunk[..size]);
        rest = &rest[size + 2..];
    }
}

/// One blocking keep-alive connection to one server, with a bearer token: for the bench's setup
/// and checks (readiness, `/metrics`). The load itself runs on the bench's event loop.
pub struct Client {
    addr: String,
    token: String,
    stream: Option<TcpStream>,
}

impl Client {
    pub fn new(addr: &str, token: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            token: token.to_owned(),
            stream: None,
        }
    }

    /// Sends one request and reads the whole response.
    pub fn request(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, String> {
        let request = Request::scim(method, path.to_owned(), body.map(str::to_owned));
        let result = self.exchange(&request);
        if result.is_err() {
            self.stream = None;
        }
        result
    }

    fn exchange(&mut self, request: &Request) -> Result<Response, String> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .map_err(|err| format!("connect {}: {err}", self.addr))?;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            self.stream = Some(stream);
        }
        let stream = self.stream.as_mut().ok_or("no connection")?;
        let parsed = round_trip(stream, &request.encode(&self.addr, &self.token))?;
        if parsed.close {
            self.stream = None;
        }
        Ok(parsed.response)
    }
}

/// Writes the encoded `request` on `stream` and reads until a whole response has arrived.
pub fn round_trip(stream: &mut TcpStream, request: &[u8]) -> Result<Parsed, String> {
    stream
        .write_all(request)
        .map_err(|err| format!("write: {err}"))?;
    let (mut buf, mut chunk) = (Vec::new(), [0u8; 16 * 1024]);
    loop {
        let read = stream
            .read(&mut chunk)
            .map_err(|err| format!("read: {err}"))?;
        buf.extend_from_slice(&chunk[..read]);
        if let Some(parsed) = parse_response(&buf, read == 0)? {
            return Ok(parsed);
        }
        if read == 0 {
            return Err("connection closed before the whole response".to_owned());
        }
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_whole_responses_only() {
        let sized = b"HTTP/1.1 201 Created\r\nContent-Length: 4\r\nLocation: /x/u1\r\n\r\nbody";
        assert!(parse_response(&sized[..sized.len() - 1], false)
            .unwrap()
            .is_none());
        let parsed = parse_response(sized, false).unwrap().unwrap();
        assert_eq!(parsed.response.status, 201);
        assert_eq!(parsed.response.body, b"body");
        assert_eq!(parsed.response.resource_id().as_deref(), Some("u1"));
        assert!(!parsed.close);

        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert!(parse_response(&chunked[..chunked.len() - 2], false)
            .unwrap()
            .is_none());
        let parsed = parse_response(chunked, false).unwrap().unwrap();
        assert_eq!(parsed.response.body, b"abcde");

        let to_end = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it";
        assert!(parse_response(to_end, false).unwrap().is_none());
        let parsed = parse_response(to_end, true).unwrap().unwrap();
        assert_eq!(parsed.response.body, b"all of it");
        assert!(parsed.close);

        assert!(parse_response(b"garbage\r\n\r\n", false).is_err());
    }

    #[test]
    fn reads_cookies_and_sends_other_credentials() {
        let answer =
            b"HTTP/1.1 302 Found\r\nSet-Cookie: roster_session=abc.def; Path=/; HttpOnly\r\n\
                       set-cookie: other=1\r\nLocation: /app\r\nContent-Length: 0\r\n\r\n";
        let parsed = parse_response(answer, false).unwrap().unwrap();
        assert_eq!(
            parsed.response.set_cookies,
            ["roster_session=abc.def", "other=1"]
        );

        let bearer = String::from_utf8(Request::get("/x".to_owned()).encode("h", "t")).unwrap();
        assert!(bearer.contains("\r\nAuthorization: Bearer t\r\n"));
        assert!(!bearer.contains("Cookie"));
        let request = Request::form("/token".to_owned(), "a=b".to_owned())
            .with_authorization("Basic eDp5".to_owned())
            .with_cookie("roster_session=abc".to_owned());
        let encoded = String::from_utf8(request.encode("h", "t")).unwrap();
        assert!(encoded.contains("\r\nAuthorization: Basic eDp5\r\n"));
        assert!(!encoded.contains("Bearer"));
        assert!(encoded.contains("\r\nCookie: roster_session=abc\r\n"));
        assert!(encoded.ends_with("\r\n\r\na=b"));
    }

    #[test]
    fn encodes_a_filter() {
        assert_eq!(
            encode_query("userName eq \"a@b.c\""),
            "userName%20eq%20%22a%40b.c%22"
        );
    }

    #[test]
    fn finds_ids() {
        let response = Response {
            status: 201,
            location: Some("http://h/scim/v2/Users/abc-1".to_owned()),
            set_cookies: Vec::new(),
            body: br#"{"id":"zzz","nextCursor":"kabc"}"#.to_vec(),
        };
        assert_eq!(response.resource_id().as_deref(), Some("abc-1"));
        assert_eq!(response.json_string("nextCursor").as_deref(), Some("kabc"));
    }
}
