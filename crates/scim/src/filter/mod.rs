//! SCIM filter and attribute-path parser (RFC 7644 §3.4.2.2 filters, §3.5.2 PATCH paths).
//!
//! Why this module exists: identity providers find users and groups with `?filter=` and address
//! PATCH targets with `path`, and both use one grammar. What Microsoft Entra ID and Okta really
//! send is looser than the RFC (unquoted values, schema URNs containing dots, mixed-case keywords,
//! `emails[type eq "work"].value eq "..."`), so it is parsed once, here, into a small tree that
//! the query and PATCH code walk. Input comes from the network: parsing never panics, nesting of
//! parentheses and brackets is capped at 50 levels and a filter holds at most 200 comparisons, so
//! the tree, and every recursive walk over it (drop, clone, display, evaluation), stays shallow.
//!
//! Error positions are 0-based character (not byte) offsets into the input.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;

/// Deepest nesting of `(...)`, `not (...)` and `[...]` accepted.
const MAX_DEPTH: usize = 50;
/// Most comparisons (`attr op value`, `attr pr`, `attr[...]`) in one filter; bounds the tree depth
/// that long `and`/`or` chains would otherwise create.
const MAX_TERMS: usize = 200;
/// Bound for evaluating caller-built trees (parsed ones are far shallower).
const MAX_EVAL_DEPTH: usize = 256;

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `path op value`, e.g. `userName eq "bob"`, `emails[type eq "work"].value eq "a@b.c"`,
    /// `meta.lastModified gt "2011-05-13T04:42:34Z"`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    /// `emails[type eq "work" and value co "@example.com"]` used as a whole filter term
    /// (path.value_filter is Some, path.sub_attr is None).
    Has(AttrPath),
}

/// A comparison operator (RFC 7644 §3.4.2.2, table 3): the domain's, which holds the keywords.
pub use roster_domain::query::CompareOp;

/// The literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
    Null,
}

/// An attribute path: `[schemaURN ":"] attr ["[" valFilter "]"] ["." subAttr]`.
/// Names are kept as sent; callers compare them case-insensitively.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// e.g. "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    pub schema: Option<String>,
    /// e.g. "emails", "name", "manager"
    pub attr: String,
    /// The filter between brackets; its attribute names are relative to one element.
    pub value_filter: Option<Box<Filter>>,
    /// e.g. "value", "givenName"
    pub sub_attr: Option<String>,
}

/// Why a filter or path was rejected, and where (0-based character offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at character {position})")]
pub struct FilterError {
    pub message: String,
    pub position: usize,
}

/// Parses a whole filter expression (the decoded `filter` query parameter).
pub fn parse_filter(input: &str) -> Result<Filter, FilterError> {
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.peek().is_none() {
        return Err(p.error("empty filter", 0));
    }
    let filter = p.parse_or(0, false)?;
    p.finish()?;
    Ok(filter)
}

/// A PATCH `path` (RFC 7644 §3.5.2: attrPath / valuePath ["." subAttr]).
pub fn parse_path(input: &str) -> Result<AttrPath, FilterError> {
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.peek().is_none() {
        return Err(p.error("empty path", 0));
    }
    let path = p.parse_attr_path(0, false)?;
    p.finish()?;
    Ok(path)
}

impl AttrPath {
    /// Whether this path names `attr` (and `sub`, if given), case-insensitively, ignoring the
    /// schema URN.
    ///
    /// With `sub == None` the sub-attribute is not looked at: `name.givenName` "is" `name`.
    pub fn is(&self, attr: &str, sub: Option<&str>) -> bool {
        self.attr.eq_ignore_ascii_case(attr)
            && sub.is_none_or(|s| {
                self.sub_attr
                    .as_deref()
                    .is_some_and(|mine| mine.eq_ignore_ascii_case(s))
            })
    }
}

/// `nameChar` of RFC 7643 §2.1 (`$` included for `$ref`).
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')
}

fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
        && chars.all(is_name_char)
}

/// Recursive-descent parser over the input's characters. Recursion happens only when entering
/// `(`, `not (` or `[`, and is bounded by [`MAX_DEPTH`]; `and`/`or` chains are loops.
struct Parser {
    chars: Vec<char>,
    pos: usize,
    terms: usize,
}

impl Parser {
    fn new(input: &str) -> Self {
        Parser {
            chars: input.chars().collect(),
            pos: 0,
            terms: 0,
        }
    }

    fn error(&self, message: impl Into<String>, position: usize) -> FilterError {
        FilterError {
            message: message.into(),
            position,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).copied()
    }

    /// Skips whitespace (spaces, tabs, any Unicode whitespace); returns how much was skipped.
    fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// The run of name characters starting at `pos`, and where it ends.
    fn word_at(&self, pos: usize) -> (String, usize) {
        let mut end = pos;
        while self.peek_at(end).is_some_and(is_name_char) {
            end += 1;
        }
        (self.text(pos, end), end)
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars
            .get(start..end)
            .map(|s| s.iter().collect())
            .unwrap_or_default()
    }

    /// Consumes the keyword `kw` (case-insensitive, whole word) if it comes next.
    fn keyword(&mut self, kw: &str) -> bool {
        let (word, end) = self.word_at(self.pos);
        if word.eq_ignore_ascii_case(kw) {
            self.pos = end;
            true
        } else {
            false
        }
    }

    /// Describes what sits at the current position, for error messages.
    fn found(&self) -> String {
        match self.peek() {
            None => "the end of the input".to_string(),
            Some(c) if is_name_char(c) || c == '"' => {
                let mut end = self.pos;
                while end < self.pos + 30 && self.peek_at(end).is_some_and(|c| !c.is_whitespace()) {
                    end += 1;
                }
                format!("`{}`", self.text(self.pos, end))
            }
            Some(c) => format!("`{c}`"),
        }
    }

    /// After a complete filter or path: only whitespace may remain.
    fn finish(&mut self) -> Result<(), FilterError> {
        self.skip_ws();
        if self.peek().is_some() {
            return Err(self.error(format!("unexpected {}", self.found()), self.pos));
        }
        Ok(())
    }

    fn descend(&self, depth: usize) -> Result<usize, FilterError> {
        if depth >= MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH}"), self.pos));
        }
        Ok(depth + 1)
    }

    fn expect_close(&mut self, close: char, open_pos: usize) -> Result<(), FilterError> {
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        let open = if close == ')' { '(' } else { '[' };
        Err(self.error(
            format!(
                "expected `{close}` to close the `{open}` at character {open_pos}, found {}",
                self.found()
            ),
            self.pos,
        ))
    }

    fn parse_or(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_and(depth, in_brackets)?;
        loop {
            self.skip_ws();
            if !self.keyword("or") {
                return Ok(left);
            }
            let right = self.parse_and(depth, in_brackets)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
    }

    fn parse_and(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, FilterError> {
        let mut left = self.parse_term(depth, in_brackets)?;
        loop {
            self.skip_ws();
            if !self.keyword("and") {
                return Ok(left);
            }
            let right = self.parse_term(depth, in_brackets)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
    }

    /// `( filter )`, `not ( filter )`, or an attribute expression.
    fn parse_term(&mut self, depth: usize, in_brackets: bool) -> Result<Filter, FilterError> {
        self.skip_ws();
        if self.peek() == Some('(') {
            let inner = self.descend(depth)?;
            let open = self.pos;
            self.pos += 1;
            let filter = self.parse_or(inner, in_brackets)?;
            self.expect_close(')', open)?;
            return Ok(filter);
        }
        let (word, end) = self.word_at(self.pos);
        if word.eq_ignore_ascii_case("not") {
            let mut after = end;
            while self.peek_at(after).is_some_and(char::is_whitespace) {
                after += 1;
            }
            if self.peek_at(after) == Some('(') {
                let inner = self.descend(depth)?;
                self.pos = after + 1;
                let filter = self.parse_or(inner, in_brackets)?;
                self.expect_close(')', after)?;
                return Ok(Filter::Not(Box::new(filter)));
            }
        }
        let start = self.pos;
        let path = self.parse_attr_path(depth, in_brackets)?;
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(self.error(format!("more than {MAX_TERMS} comparisons"), start));
        }
        self.parse_operator(path)
    }

    /// What follows an attribute path inside a filter: `pr`, or an operator and a value.
    fn parse_operator(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        let before_ws = self.pos;
        self.skip_ws();
        let op_pos = self.pos;
        let (word, end) = self.word_at(op_pos);
        let op = CompareOp::from_keyword(&word);
        let is_pr = word.eq_ignore_ascii_case("pr");
        if path.value_filter.is_some() && path.sub_attr.is_none() {
            if op.is_some() || is_pr {
                return Err(self.error(
                    format!("expected `.subAttribute` between `{path}` and `{word}`"),
                    op_pos,
                ));
            }
            self.pos = before_ws;
            return Ok(Filter::Has(path));
        }
        if is_pr {
            self.pos = end;
            return Ok(Filter::Present(path));
        }
        let Some(op) = op else {
            return Err(self.error(format!("expected an operator after `{path}`"), op_pos));
        };
        self.pos = end;
        let value = self.parse_value(op)?;
        Ok(Filter::Compare { path, op, value })
    }

    /// A JSON string, number, `true`/`false`/`null`, or (leniently) a bare token read up to the
    /// next whitespace, `)` or `]`.
    fn parse_value(&mut self, op: CompareOp) -> Result<CompValue, FilterError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None | Some(')') | Some(']') => {
                Err(self.error(format!("expected a value after `{}`", op.as_str()), start))
            }
            Some('"') => self.parse_string().map(CompValue::Str),
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && c != ')' && c != ']')
                {
                    self.pos += 1;
                }
                let token = self.text(start, self.pos);
                Ok(if token.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if token.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if token.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else if let Some(n) = parse_number(&token) {
                    CompValue::Num(n)
                } else {
                    CompValue::Str(token)
                })
            }
        }
    }

    /// A JSON string literal starting at the current `"`; escapes decoded as JSON does.
    fn parse_string(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match self.peek_at(i) {
                None => return Err(self.error("unterminated string", start)),
                Some('\\') => i += 2,
                Some('"') => break,
                Some(_) => i += 1,
            }
        }
        let literal = self.text(start, i + 1);
        self.pos = i + 1;
        serde_json::from_str::<String>(&literal)
            .map_err(|e| self.error(format!("invalid string: {e}"), start))
    }

    /// `[schemaURN ":"] attr ["[" valFilter "]"] ["." subAttr]`: the attribute name follows the
    /// last `:` before any `[`, and the sub-attribute follows the first `.` after that colon.
    fn parse_attr_path(
        &mut self,
        depth: usize,
        in_brackets: bool,
    ) -> Result<AttrPath, FilterError> {
        let start = self.pos;
        match self.peek() {
            Some(c) if c.is_ascii_alphabetic() || c == '$' => {}
            Some(c @ (')' | ']')) => return Err(self.error(format!("unexpected `{c}`"), start)),
            _ => {
                return Err(self.error(
                    format!("expected an attribute name, found {}", self.found()),
                    start,
                ))
            }
        }
        while self
            .peek()
            .is_some_and(|c| is_name_char(c) || c == ':' || c == '.')
        {
            self.pos += 1;
        }
        let head = self.text(start, self.pos);
        let (schema, rest, rest_pos) = match head.rfind(':') {
            Some(i) => {
                let schema = &head[..i];
                let rest_pos = start + schema.chars().count() + 1;
                (Some(schema.to_string()), &head[i + 1..], rest_pos)
            }
            None => (None, head.as_str(), start),
        };
        let (attr, sub_attr) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        if !is_valid_name(attr) {
            return Err(self.error(format!("invalid attribute name `{attr}`"), rest_pos));
        }
        if let Some(sub) = sub_attr {
            if !is_valid_name(sub) {
                let sub_pos = rest_pos + attr.chars().count() + 1;
                return Err(self.error(format!("invalid sub-attribute name `{sub}`"), sub_pos));
            }
        }
        let mut path = AttrPath {
            schema,
            attr: attr.to_string(),
            value_filter: None,
            sub_attr: sub_attr.map(str::to_string),
        };
        if self.peek() != Some('[') {
            return Ok(path);
        }
        if path.sub_attr.is_some() {
            return Err(self.error(
                "a value filter `[...]` must come before the sub-attribute",
                self.pos,
            ));
        }
        if in_brackets {
            return Err(self.error("value filters cannot be nested", self.pos));
        }
        let inner = self.descend(depth)?;
        let open = self.pos;
        self.pos += 1;
        let filter = self.parse_or(inner, true)?;
        self.expect_close(']', open)?;
        path.value_filter = Some(Box::new(filter));
        if self.peek() == Some('.') {
            self.pos += 1;
            let (sub, end) = self.word_at(self.pos);
            if !is_valid_name(&sub) {
                return Err(self.error(
                    format!(
                        "expected a sub-attribute name after `.`, found {}",
                        self.found()
                    ),
                    self.pos,
                ));
            }
            self.pos = end;
            path.sub_attr = Some(sub);
        }
        Ok(path)
    }
}

impl Filter {
    /// Whether one element of a multi-valued attribute (e.g. `{"type":"work","value":"a@b.c"}`)
    /// matches this filter, as inside `emails[...]`. Strings compare case-insensitively
    /// (caseExact=false, the SCIM default) and `"True"` equals `true` (Entra's role filters);
    /// comparing an absent attribute is false except with `ne`; nested value filters never match.
    pub(crate) fn matches(&self, element: &Value) -> bool {
        self.matches_at(element, 0)
    }

    fn matches_at(&self, element: &Value, depth: usize) -> bool {
        let next = depth + 1;
        match self {
            _ if depth > MAX_EVAL_DEPTH => false,
            Filter::And(l, r) => l.matches_at(element, next) && r.matches_at(element, next),
            Filter::Or(l, r) => l.matches_at(element, next) || r.matches_at(element, next),
            Filter::Not(x) => !x.matches_at(element, next),
            Filter::Present(path) => path
                .lookup(element)
                .is_some_and(|v| !v.is_null() && v != ""),
            Filter::Compare { path, op, value } => compare(path.lookup(element), *op, value),
            Filter::Has(_) => false,
        }
    }
}

impl AttrPath {
    /// The value this element-relative path names in `element` (names match case-insensitively).
    fn lookup<'a>(&self, element: &'a Value) -> Option<&'a Value> {
        let get = |v: &'a Value, name: &str| {
            let mut entries = v.as_object()?.iter();
            entries
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        };
        let found = get(element, &self.attr).filter(|_| self.value_filter.is_none())?;
        match &self.sub_attr {
            None => Some(found),
            Some(sub) => get(found, sub),
        }
    }
}

fn compare(actual: Option<&Value>, op: CompareOp, expected: &CompValue) -> bool {
    let as_bool = |s: &str| s.to_ascii_lowercase().parse::<bool>().ok();
    let ordering: Option<Ordering> = match (actual.filter(|v| !v.is_null()), expected) {
        (None, CompValue::Null) => return op == CompareOp::Eq,
        (None, _) | (Some(_), CompValue::Null) => return op == CompareOp::Ne,
        (Some(Value::String(a)), CompValue::Str(b)) => {
            let (a, b) = (a.to_lowercase(), b.to_lowercase());
            match op {
                CompareOp::Co => return a.contains(&b),
                CompareOp::Sw => return a.starts_with(&b),
                CompareOp::Ew => return a.ends_with(&b),
                _ => Some(a.cmp(&b)),
            }
        }
        (Some(Value::Bool(a)), CompValue::Bool(b)) => Some(a.cmp(b)),
        (Some(Value::Bool(a)), CompValue::Str(b)) => as_bool(b).map(|b| a.cmp(&b)),
        (Some(Value::String(a)), CompValue::Bool(b)) => as_bool(a).map(|a| a.cmp(b)),
        (Some(Value::Number(a)), CompValue::Num(b)) => a
            .as_f64()
            .zip(b.as_f64())
            .and_then(|(a, b)| a.partial_cmp(&b)),
        _ => None,
    };
    ordering.map_or(op == CompareOp::Ne, |o| match op {
        CompareOp::Ne => o.is_ne(),
        CompareOp::Gt => o.is_gt(),
        CompareOp::Ge => o.is_ge(),
        CompareOp::Lt => o.is_lt(),
        CompareOp::Le => o.is_le(),
        _ => o.is_eq(),
    })
}

/// A JSON number token, correctly rounded (serde_json's own float parsing may be off by an ulp,
/// which would make a printed filter parse back to a different number).
fn parse_number(token: &str) -> Option<serde_json::Number> {
    if !token.starts_with(|c: char| c == '-' || c.is_ascii_digit())
        || token.parse::<serde_json::Number>().is_err()
    {
        return None;
    }
    if let Ok(i) = token.parse::<i64>() {
        return Some(i.into());
    }
    if let Ok(u) = token.parse::<u64>() {
        return Some(u.into());
    }
    token
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Str(s) => f.write_str(&serde_json::to_string(s).map_err(|_| fmt::Error)?),
            CompValue::Num(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(filter) = &self.value_filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attr {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

/// Canonical form: lowercase keywords, JSON literals, single spaces, and parentheses only where
/// precedence or left-associativity needs them (so parsing the output gives back the same tree).
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn operand(f: &mut fmt::Formatter<'_>, x: &Filter, parens: bool) -> fmt::Result {
            if parens {
                write!(f, "({x})")
            } else {
                write!(f, "{x}")
            }
        }
        match self {
            Filter::And(l, r) => {
                operand(f, l, matches!(**l, Filter::Or(..)))?;
                f.write_str(" and ")?;
                operand(f, r, matches!(**r, Filter::Or(..) | Filter::And(..)))
            }
            Filter::Or(l, r) => {
                operand(f, l, false)?;
                f.write_str(" or ")?;
                operand(f, r, matches!(**r, Filter::Or(..)))
            }
            Filter::Not(x) => write!(f, "not ({x})"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::Has(path) => write!(f, "{path}"),
        }
    }
}

#[cfg(test)]
mod tests;
