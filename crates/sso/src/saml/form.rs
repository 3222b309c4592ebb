//! The ACS's `application/x-www-form-urlencoded` body (`SAMLResponse`, `RelayState`), decoded
//! here rather than through `web::Form`: serde_urlencoded decodes each value byte by byte through
//! an iterator and then copies it through a lossy UTF-8 conversion, about 6 % of a login's CPU
//! on a 10–20 kB `SAMLResponse` (docs/performance.md). The rules are the same: `+` is a space,
//! `%XX` a byte, a `%` not followed by two hex digits stays as it is, invalid UTF-8 becomes
//! U+FFFD, other fields are ignored, and a field given twice is refused.

/// The two fields the ACS reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct AcsForm {
    pub saml_response: Option<String>,
    pub relay_state: Option<String>,
}

/// A field the form carries twice: which answer was meant is unknowable, so it is refused.
#[derive(Debug, PartialEq, Eq)]
pub struct DuplicateField(pub &'static str);

impl AcsForm {
    pub fn parse(body: &[u8]) -> Result<Self, DuplicateField> {
        let mut form = AcsForm::default();
        for pair in body.split(|byte| *byte == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &b""[..]),
            };
            let (slot, field) = match decode(name).as_str() {
                "SAMLResponse" => (&mut form.saml_response, "SAMLResponse"),
                "RelayState" => (&mut form.relay_state, "RelayState"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(DuplicateField(field));
            }
            *slot = Some(decode(value));
        }
        Ok(form)
    }
}

/// Percent- and plus-decodes one name or value.
fn decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    loop {
        // The bytes up to the next escape are copied at once (half the time of one at a time
        // in a debug build, where a 256 KiB response's form was a good part of a refusal).
        let plain = rest
            .iter()
            .position(|byte| matches!(byte, b'+' | b'%'))
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..plain]);
        let Some((&escape, tail)) = rest[plain..].split_first() else {
            break;
        };
        rest = tail;
        match escape {
            b'+' => out.push(b' '),
            _ => match (tail.first().and_then(hex), tail.get(1).and_then(hex)) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    rest = &tail[2..];
                }
                _ => out.push(b'%'),
            },
        }
    }
    String::from_utf8(out)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

fn hex(digit: &u8) -> Option<u8> {
    char::from(*digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_browsers_encode() {
        let form =
            AcsForm::parse(b"SAMLResponse=PHNh%2Bb%2F9%3D%3D&RelayState=%2Fhome%3Fa%3D1+2&x=y")
                .unwrap();
        assert_eq!(form.saml_response.as_deref(), Some("PHNh+b/9=="));
        assert_eq!(form.relay_state.as_deref(), Some("/home?a=1 2"));
    }

    #[test]
    fn keeps_what_is_not_an_escape_and_replaces_invalid_utf8() {
        let form = AcsForm::parse(b"SAMLResponse=100%&RelayState=%zz%4").unwrap();
        assert_eq!(form.saml_response.as_deref(), Some("100%"));
        assert_eq!(form.relay_state.as_deref(), Some("%zz%4"));
        let form = AcsForm::parse(b"SAMLResponse=%FF%41").unwrap();
        assert_eq!(form.saml_response.as_deref(), Some("\u{FFFD}A"));
    }

    #[test]
    fn missing_fields_are_none_and_duplicates_are_refused() {
        assert_eq!(AcsForm::parse(b"").unwrap(), AcsForm::default());
        assert_eq!(
            AcsForm::parse(b"RelayState")
                .unwrap()
                .relay_state
                .as_deref(),
            Some("")
        );
        assert_eq!(
            AcsForm::parse(b"SAMLResponse=a&SAML%52esponse=b"),
            Err(DuplicateField("SAMLResponse"))
        );
    }
}
