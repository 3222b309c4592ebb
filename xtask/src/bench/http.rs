//! A minimal keep-alive HTTP/1.1 client over `std::net::TcpStream`, just enough for the load
//! generator: one request at a time on one connection, `Content-Length` or chunked bodies.
//!
//! Why not ureq: xtask is standard library only so it builds in seconds on a fresh machine, and a
//! client that does nothing but write a request and read a response keeps the load generator's
//! own CPU use small — it shares the machine with the server it measures.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What the load generator needs of a response.
pub(crate) struct Response {
    pub(crate) status: u16,
    /// The `Location` header (SCIM create answers it with the new resource's URL).
    pub(crate) location: Option<String>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The value of the first `"key":"value"` string field in the (compact JSON) body.
    pub(crate) fn json_string(&self, key: &str) -> Option<String> {
        let body = std::str::from_utf8(&self.body).ok()?;
        let needle = format!("\"{key}\":\"");
        let start = body.find(&needle)? + needle.len();
        let end = body[start..].find('"')? + start;
        Some(body[start..end].to_owned())
    }

    /// The id at the end of the `Location` header, else the body's `id` field.
    pub(crate) fn resource_id(&self) -> Option<String> {
        self.location
            .as_deref()
            .and_then(|location| location.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .or_else(|| self.json_string("id"))
    }
}

/// One keep-alive connection to one server, with a bearer token.
pub(crate) struct Client {
    addr: String,
    token: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Client {
    pub(crate) fn new(addr: &str, token: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            token: token.to_owned(),
            stream: None,
        }
    }

    /// Sends one request and reads the whole response. A kept-alive connection the server has
    /// closed meanwhile is reopened once, when nothing of the response was read.
    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Result<Response, String> {
        self.send(method, path, body, "application/scim+json")
    }

    /// POSTs an HTML form body (`application/x-www-form-urlencoded`), as a browser posts a SAML
    /// Response to the ACS.
    pub(crate) fn request_form(&mut self, path: &str, body: &str) -> Result<Response, String> {
        self.send(
            "POST",
            path,
            Some(body),
            "application/x-www-form-urlencoded",
        )
    }

    fn send(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> Result<Response, String> {
        let reused = self.stream.is_some();
        match self.try_request(method, path, body, content_type) {
            Ok(response) => Ok(response),
            Err(Failure::BeforeResponse(_)) if reused => {
                self.stream = None;
                self.try_request(method, path, body, content_type)
                    .map_err(Failure::into_message)
            }
            Err(failure) => {
                self.stream = None;
                Err(failure.into_message())
            }
        }
    }

    fn connect(&mut self) -> Result<&mut BufReader<TcpStream>, Failure> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.addr)
                .map_err(|err| Failure::BeforeResponse(format!("connect {}: {err}", self.addr)))?;
            let _ = stream.set_nodelay(true);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
            self.stream = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        self.stream
            .as_mut()
            .ok_or_else(|| Failure::BeforeResponse("no connection".to_owned()))
    }

    fn try_request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        content_type: &str,
    ) -> Result<Response, Failure> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Accept: application/scim+json\r\n",
            self.addr, self.token
        );
        if let Some(body) = body {
            head.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        head.push_str("\r\n");
        head.push_str(body.unwrap_or_default());
        let reader = self.connect()?;
        reader
            .get_mut()
            .write_all(head.as_bytes())
            .map_err(|err| Failure::BeforeResponse(format!("write: {err}")))?;
        let mut line = String::new();
        let read = reader
            .read_line(&mut line)
            .map_err(|err| Failure::BeforeResponse(format!("read: {err}")))?;
        if read == 0 {
            return Err(Failure::BeforeResponse("connection closed".to_owned()));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse::<u16>().ok())
            .ok_or_else(|| Failure::During(format!("bad status line {line:?}")))?;
        let (mut length, mut chunked, mut close, mut location) = (None, false, false, None);
        loop {
            line.clear();
            reader
                .read_line(&mut line)
                .map_err(|err| Failure::During(format!("read headers: {err}")))?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                "location" => location = Some(value.to_owned()),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            read_chunked(reader, &mut body).map_err(Failure::During)?;
        } else if let Some(length) = length {
            body.resize(length, 0);
            reader
                .read_exact(&mut body)
                .map_err(|err| Failure::During(format!("read body: {err}")))?;
        } else if !(status == 204 || status == 304 || (100..200).contains(&status)) {
            reader
                .read_to_end(&mut body)
                .map_err(|err| Failure::During(format!("read body: {err}")))?;
            close = true;
        }
        if close {
            self.stream = None;
        }
        Ok(Response {
            status,
            location,
            body,
        })
    }
}

fn read_chunked(reader: &mut BufReader<TcpStream>, body: &mut Vec<u8>) -> Result<(), String> {
    let mut line = String::new();
    loop {
        line.clear();
        reader
            .read_line(&mut line)
            .map_err(|err| format!("read chunk size: {err}"))?;
        let size_text = line.trim().split(';').next().unwrap_or_default();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {line:?}"))?;
        if size == 0 {
            // Trailers, then the blank line that ends the message.
            loop {
                line.clear();
                reader
                    .read_line(&mut line)
                    .map_err(|err| format!("read trailer: {err}"))?;
                if line.trim().is_empty() {
                    return Ok(());
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader
            .read_exact(&mut body[start..])
            .map_err(|err| format!("read chunk: {err}"))?;
        line.clear();
        reader
            .read_line(&mut line)
            .map_err(|err| format!("read chunk end: {err}"))?;
    }
}

/// Where a request failed: before any byte of the response (safe to retry on a new connection)
/// or while reading it.
enum Failure {
    BeforeResponse(String),
    During(String),
}

impl Failure {
    fn into_message(self) -> String {
        match self {
            Failure::BeforeResponse(message) | Failure::During(message) => message,
        }
    }
}

/// Percent-encodes a query parameter value (everything but RFC 3986 unreserved characters).
pub(crate) fn encode_query(value: &str) -> String {
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
            body: br#"{"id":"zzz","nextCursor":"kabc"}"#.to_vec(),
        };
        assert_eq!(response.resource_id().as_deref(), Some("abc-1"));
        assert_eq!(response.json_string("nextCursor").as_deref(), Some("kabc"));
    }
}
