//! The filter and path grammar, table-driven, plus generated hostile inputs.

use super::*;
use pretty_assertions::assert_eq;

/// Parses `input`, checks its canonical rendering, and that the rendering parses back to the
/// same tree.
fn check(input: &str, expected: &str) {
    let filter = parse_filter(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(filter.to_string(), expected, "rendering of {input:?}");
    assert_eq!(
        parse_filter(expected),
        Ok(filter),
        "re-parse of {expected:?}"
    );
}

/// `input` is rejected with a message containing `message` at `position`.
fn check_err(input: &str, message: &str, position: usize) {
    let e = parse_filter(input).expect_err(input);
    assert!(e.message.contains(message), "{input:?}: got {e}");
    assert_eq!(e.position, position, "{input:?}: got {e}");
}

/// Parses a PATCH path and checks its rendering and re-parse.
fn check_path(input: &str, expected: &str) {
    let path = parse_path(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
    assert_eq!(path.to_string(), expected, "rendering of {input:?}");
    assert_eq!(parse_path(expected), Ok(path), "re-parse of {expected:?}");
}

fn check_path_err(input: &str, message: &str, position: usize) {
    let e = parse_path(input).expect_err(input);
    assert!(e.message.contains(message), "{input:?}: got {e}");
    assert_eq!(e.position, position, "{input:?}: got {e}");
}

fn path(attr: &str) -> AttrPath {
    AttrPath {
        schema: None,
        attr: attr.into(),
        value_filter: None,
        sub_attr: None,
    }
}

fn eq(attr: &str, value: &str) -> Filter {
    Filter::Compare {
        path: path(attr),
        op: CompareOp::Eq,
        value: CompValue::Str(value.into()),
    }
}

fn pr(attr: &str) -> Filter {
    Filter::Present(path(attr))
}

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn operators_and_keywords() {
    check(r#"userName eq "bob""#, r#"userName eq "bob""#);
    check(r#"UserName EQ "bob""#, r#"UserName eq "bob""#);
    check(
        r#"userName Eq "bob" AND active eq TRUE"#,
        r#"userName eq "bob" and active eq true"#,
    );
    check(r#"a ne "x""#, r#"a ne "x""#);
    check(r#"a co "x""#, r#"a co "x""#);
    check(r#"a sw "x""#, r#"a sw "x""#);
    check(r#"a EW "x""#, r#"a ew "x""#);
    check(r#"a gt "x""#, r#"a gt "x""#);
    check(r#"a ge "x""#, r#"a ge "x""#);
    check(r#"a lt "x""#, r#"a lt "x""#);
    check(r#"a le "x""#, r#"a le "x""#);
    check("title pr", "title pr");
    check("title PR", "title pr");
    check("a pr Or b pr", "a pr or b pr");
}

#[test]
fn precedence_and_parentheses() {
    check("a pr or b pr and c pr", "a pr or b pr and c pr");
    check("a pr and b pr or c pr", "a pr and b pr or c pr");
    check("(a pr or b pr) and c pr", "(a pr or b pr) and c pr");
    check("a pr and (b pr or c pr)", "a pr and (b pr or c pr)");
    check("a pr and b pr and c pr", "a pr and b pr and c pr");
    check("a pr and (b pr and c pr)", "a pr and (b pr and c pr)");
    check("a pr or (b pr or c pr)", "a pr or (b pr or c pr)");
    check("((a pr))", "a pr");
    check("not (a pr)", "not (a pr)");
    check("NOT(a pr)", "not (a pr)");
    check("not (a pr) and b pr", "not (a pr) and b pr");
    check("not (a pr or b pr)", "not (a pr or b pr)");
    check("not pr", "not pr");
    check(r#"not eq "x""#, r#"not eq "x""#);
    check("and pr and or pr", "and pr and or pr");
}

#[test]
fn trees() {
    let f = |s: &str| parse_filter(s).unwrap();
    let b = Box::new;
    assert_eq!(
        f("a pr or b pr and c pr"),
        Filter::Or(b(pr("a")), b(Filter::And(b(pr("b")), b(pr("c")))))
    );
    assert_eq!(
        f("a pr and b pr and c pr"),
        Filter::And(b(Filter::And(b(pr("a")), b(pr("b")))), b(pr("c")))
    );
    assert_eq!(f("not (a pr)"), Filter::Not(b(pr("a"))));
    assert_eq!(
        f(r#"emails[type eq "work"].value eq "user@contoso.com""#),
        Filter::Compare {
            path: AttrPath {
                value_filter: Some(b(eq("type", "work"))),
                sub_attr: Some("value".into()),
                ..path("emails")
            },
            op: CompareOp::Eq,
            value: CompValue::Str("user@contoso.com".into()),
        }
    );
    assert_eq!(
        f(r#"emails[type eq "work" and value co "@x.com"]"#),
        Filter::Has(AttrPath {
            value_filter: Some(b(Filter::And(
                b(eq("type", "work")),
                b(Filter::Compare {
                    path: path("value"),
                    op: CompareOp::Co,
                    value: CompValue::Str("@x.com".into())
                })
            ))),
            ..path("emails")
        })
    );
    assert_eq!(
        f(&format!(r#"{ENT}:manager.value eq "id2""#)),
        Filter::Compare {
            path: AttrPath {
                schema: Some(ENT.into()),
                sub_attr: Some("value".into()),
                ..path("manager")
            },
            op: CompareOp::Eq,
            value: CompValue::Str("id2".into()),
        }
    );
    assert_eq!(
        f("age gt 5"),
        Filter::Compare {
            path: path("age"),
            op: CompareOp::Gt,
            value: CompValue::Num(5.into())
        }
    );
    assert_eq!(
        f("a eq NULL"),
        Filter::Compare {
            path: path("a"),
            op: CompareOp::Eq,
            value: CompValue::Null
        }
    );
    assert_eq!(
        f("a eq False"),
        Filter::Compare {
            path: path("a"),
            op: CompareOp::Eq,
            value: CompValue::Bool(false)
        }
    );
    assert_eq!(f(r#"a eq "true""#), eq("a", "true"));
}

#[test]
fn attribute_paths_in_filters() {
    check(r#"name.givenName eq "Bob""#, r#"name.givenName eq "Bob""#);
    check(
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    );
    check(r#"emails.value eq "a@b.c""#, r#"emails.value eq "a@b.c""#);
    check(
        r#"emails[type eq "work"].value eq "user@contoso.com""#,
        r#"emails[type eq "work"].value eq "user@contoso.com""#,
    );
    check(
        r#"emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"]"#,
    );
    check(
        r#"emails[type eq "work"] and userName eq "x""#,
        r#"emails[type eq "work"] and userName eq "x""#,
    );
    check(
        r#"emails[not (type eq "work")]"#,
        r#"emails[not (type eq "work")]"#,
    );
    check(
        r#"emails[type eq "work"].value pr"#,
        r#"emails[type eq "work"].value pr"#,
    );
    check(r#"members.$ref eq "x""#, r#"members.$ref eq "x""#);
    check(r#"$ref pr"#, r#"$ref pr"#);
    check(r#"x-y_z eq 1"#, r#"x-y_z eq 1"#);
    check(
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x""#,
    );
    check(
        &format!(r#"{ENT}:manager eq "id2""#),
        &format!(r#"{ENT}:manager eq "id2""#),
    );
    check(
        &format!(r#"{ENT}:manager.value eq "id2""#),
        &format!(r#"{ENT}:manager.value eq "id2""#),
    );
    check(
        &format!(r#"{ENT}:employeeNumber eq "7""#),
        &format!(r#"{ENT}:employeeNumber eq "7""#),
    );
    check(
        &format!(r#"{ENT}:emails[type eq "w"].value pr"#),
        &format!(r#"{ENT}:emails[type eq "w"].value pr"#),
    );
}

#[test]
fn values() {
    check(r#"a eq "q\"b\\s\/\u0041\n""#, r#"a eq "q\"b\\s/A\n""#);
    check(r#"a eq "Zoë 日本""#, r#"a eq "Zoë 日本""#);
    check(r#"a eq "a) and (b""#, r#"a eq "a) and (b""#);
    check(r#"a eq """#, r#"a eq """#);
    check("a eq 5", "a eq 5");
    check("a eq -1.5e3", "a eq -1500.0");
    check("a eq 0.25", "a eq 0.25");
    check("a eq True", "a eq true");
    check("a eq FALSE", "a eq false");
    check("a eq Null", "a eq null");
    check("a eq 01", r#"a eq "01""#);
    check("a eq 1e999", r#"a eq "1e999""#);
    check("a eq +1", r#"a eq "+1""#);
}

#[test]
fn lenient_input_from_real_identity_providers() {
    check(
        "emails.Value co example.com",
        r#"emails.Value co "example.com""#,
    );
    check(
        "meta.Created gt 2015-10-10T14:38:21.8617979-07:00",
        r#"meta.Created gt "2015-10-10T14:38:21.8617979-07:00""#,
    );
    check(
        "name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)",
        r#"name.FamilyName eq "Employee" and (emails.Value co "example.com" or emails.Value co "example.org")"#,
    );
    check("(userName eq bob)", r#"userName eq "bob""#);
    check(
        "emails[type eq work].value eq x",
        r#"emails[type eq "work"].value eq "x""#,
    );
    check(
        r#"DisplayName eq "BobIsAmazing""#,
        r#"DisplayName eq "BobIsAmazing""#,
    );
    check("userName\teq\t\"bob\"", r#"userName eq "bob""#);
    check("  userName   eq  \"bob\"  ", r#"userName eq "bob""#);
    check("userName eq\"bob\"", r#"userName eq "bob""#);
    check(
        r#"active eq true and (meta.lastModified ge "2024-01-01T00:00:00Z" and meta.lastModified le "2024-02-01T00:00:00Z")"#,
        r#"active eq true and (meta.lastModified ge "2024-01-01T00:00:00Z" and meta.lastModified le "2024-02-01T00:00:00Z")"#,
    );
    check(
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
        r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#,
    );
}

#[test]
fn errors() {
    check_err("", "empty filter", 0);
    check_err("  \t", "empty filter", 0);
    check_err("userName", "expected an operator after `userName`", 8);
    check_err(
        r#"userName "bob""#,
        "expected an operator after `userName`",
        9,
    );
    check_err(
        r#"userName+eq+"bob""#,
        "expected an operator after `userName`",
        8,
    );
    check_err(
        r#"userName eqx "bob""#,
        "expected an operator after `userName`",
        9,
    );
    check_err(r#"userName eq "bob"#, "unterminated string", 12);
    check_err(r#"userName eq "bob\"#, "unterminated string", 12);
    check_err("userName eq", "expected a value after `eq`", 11);
    check_err("(userName eq )", "expected a value after `eq`", 13);
    check_err(r#"userName eq "bob")"#, "unexpected `)`", 17);
    check_err(r#"(userName eq "bob""#, "expected `)`", 18);
    check_err(")", "unexpected `)`", 0);
    check_err("()", "unexpected `)`", 1);
    check_err(r#"userName eq "a" xyz"#, "unexpected `xyz`", 16);
    check_err(r#"userName eq "a" "b""#, "unexpected `\"b\"`", 16);
    check_err(
        r#"userName eq "a" and"#,
        "expected an attribute name, found the end",
        19,
    );
    check_err(r#"emails[type eq "work""#, "expected `]`", 21);
    check_err(
        r#"emails[type eq "work"] eq "x""#,
        "expected `.subAttribute`",
        23,
    );
    check_err(
        r#"emails[type[value eq "x"] eq "w"]"#,
        "cannot be nested",
        11,
    );
    check_err(
        r#"emails.value[type eq "w"]"#,
        "must come before the sub-attribute",
        12,
    );
    check_err(
        r#"emails[type eq "w"]. eq "x""#,
        "expected a sub-attribute name",
        20,
    );
    check_err(
        r#"1abc eq "x""#,
        "expected an attribute name, found `1abc`",
        0,
    );
    check_err(r#""x" eq "x""#, "expected an attribute name", 0);
    check_err(r#"a.b.c eq "x""#, "invalid sub-attribute name `b.c`", 2);
    check_err(r#"urn:x:2.0: eq "x""#, "invalid attribute name ``", 10);
    check_err(r#"a.1 eq "x""#, "invalid sub-attribute name `1`", 2);
    check_err(r#"a eq "\x""#, "invalid string", 5);
    check_err(r#"a eq "\ud800""#, "invalid string", 5);
    check_err("a eq \"tab\there\"", "invalid string", 5);
    check_err("not (a pr", "expected `)`", 9);
    check_err("a pr and not", "expected an operator after `not`", 12);
}

#[test]
fn limits() {
    let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
    check(&nested(50), "a pr");
    check_err(&nested(51), "nesting deeper than 50", 50);
    check_err(&"(".repeat(100_000), "nesting deeper than 50", 50);
    check_err(&"not (".repeat(100_000), "nesting deeper than 50", 250);
    let nots = |n: usize| format!("{}a pr{}", "not (".repeat(n), ")".repeat(n));
    assert!(parse_filter(&nots(50)).is_ok());
    check_err(&nots(51), "nesting deeper than 50", 250);
    let chain = |n: usize| vec!["a pr"; n].join(" or ");
    check(&chain(200), &chain(200));
    check_err(&chain(201), "more than 200 comparisons", 1600);
    check_err(
        &"a pr and ".repeat(100_000),
        "more than 200 comparisons",
        1800,
    );
    check_err(&"emails[".repeat(1000), "cannot be nested", 13);
}

#[test]
fn paths() {
    check_path("members", "members");
    check_path(
        r#"members[value eq "2819c223"]"#,
        r#"members[value eq "2819c223"]"#,
    );
    check_path(
        r#"emails[type eq "work"].value"#,
        r#"emails[type eq "work"].value"#,
    );
    check_path("name.familyName", "name.familyName");
    check_path(&format!("{ENT}:manager"), &format!("{ENT}:manager"));
    check_path(
        &format!("{ENT}:manager.value"),
        &format!("{ENT}:manager.value"),
    );
    check_path(
        r#"addresses[type eq "work"].streetAddress"#,
        r#"addresses[type eq "work"].streetAddress"#,
    );
    check_path(
        r#"roles[primary eq "True"].value"#,
        r#"roles[primary eq "True"].value"#,
    );
    check_path(
        r#"members[value eq "a" or value eq "b"]"#,
        r#"members[value eq "a" or value eq "b"]"#,
    );
    check_path(" name.givenName ", "name.givenName");
    check_path(ENT, ENT);
    let p = parse_path(&format!("{ENT}:manager")).unwrap();
    assert_eq!(
        p,
        AttrPath {
            schema: Some(ENT.into()),
            ..path("manager")
        }
    );
    let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").unwrap();
    assert_eq!(
        p.schema.as_deref(),
        Some("urn:ietf:params:scim:schemas:core:2.0:User")
    );
    assert_eq!(
        (p.attr.as_str(), p.sub_attr.as_deref()),
        ("name", Some("givenName"))
    );
}

#[test]
fn path_errors() {
    check_path_err("", "empty path", 0);
    check_path_err("members[", "expected an attribute name, found the end", 8);
    check_path_err("]", "unexpected `]`", 0);
    check_path_err(".x", "expected an attribute name, found `.`", 0);
    check_path_err("name.", "invalid sub-attribute name ``", 5);
    check_path_err(r#"members[value eq "a"] x"#, "unexpected `x`", 22);
    check_path_err(r#"members[value eq "a"]x"#, "unexpected `x`", 21);
    check_path_err(
        r#"emails[type eq "work"]."#,
        "expected a sub-attribute name",
        23,
    );
    check_path_err("userName eq", "unexpected `eq`", 9);
    check_path_err("members[]", "unexpected `]`", 8);
}

#[test]
fn is_matches_names_case_insensitively() {
    let p = |s: &str| parse_path(s).unwrap();
    assert!(p("userName").is("USERNAME", None));
    assert!(p("name.FamilyName").is("name", Some("familyName")));
    assert!(p("name.familyName").is("name", None));
    assert!(!p("name.familyName").is("name", Some("givenName")));
    assert!(!p("name").is("name", Some("givenName")));
    assert!(!p("nickName").is("name", None));
    assert!(p(&format!("{ENT}:manager.value")).is("manager", Some("value")));
    assert!(p(r#"members[value eq "a"]"#).is("members", None));
    assert!(p(r#"emails[type eq "work"].value"#).is("Emails", Some("VALUE")));
}

/// Evaluates `filter` against one element.
fn check_match(filter: &str, element: Value, expected: bool) {
    let f = parse_filter(filter).unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    assert_eq!(f.matches(&element), expected, "{filter} on {element}");
}

#[test]
fn matching_one_element() {
    use serde_json::json;
    let work = json!({"type": "work", "value": "Bob@Example.com", "primary": true, "n": 5});
    check_match(r#"type eq "work""#, work.clone(), true);
    check_match(r#"TYPE eq "WORK""#, work.clone(), true);
    check_match(r#"type eq "home""#, work.clone(), false);
    check_match(r#"type ne "home""#, work.clone(), true);
    check_match(r#"value co "@example""#, work.clone(), true);
    check_match(r#"value sw "bob@""#, work.clone(), true);
    check_match(r#"value ew ".COM""#, work.clone(), true);
    check_match(r#"value ew ".org""#, work.clone(), false);
    check_match(r#"value gt "a""#, work.clone(), true);
    check_match(r#"value lt "a""#, work.clone(), false);
    check_match("primary eq true", work.clone(), true);
    check_match(r#"primary eq "True""#, work.clone(), true);
    check_match("primary eq false", work.clone(), false);
    check_match(r#"primary eq "yes""#, work.clone(), false);
    check_match("n ge 5", work.clone(), true);
    check_match("n lt 5", work.clone(), false);
    check_match("n eq 5.0", work.clone(), true);
    check_match(r#"n eq "5""#, work.clone(), false);
    check_match("display pr", work.clone(), false);
    check_match("value pr", work.clone(), true);
    check_match("display eq null", work.clone(), true);
    check_match("value eq null", work.clone(), false);
    check_match(r#"display eq "x""#, work.clone(), false);
    check_match(r#"display ne "x""#, work.clone(), true);
    check_match(r#"type eq "work" and primary eq true"#, work.clone(), true);
    check_match(r#"type eq "home" or primary eq true"#, work.clone(), true);
    check_match(r#"not (type eq "work")"#, work.clone(), false);
    check_match(r#"value.x eq "a""#, json!({"value": {"X": "A"}}), true);
    check_match(r#"value eq "a""#, json!("a"), false);
    check_match("value pr", json!({"value": ""}), false);
    check_match(r#"emails[type eq "work"]"#, work, false);
}

/// A small xorshift generator, so the "fuzz" tests are deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len())]
    }

    fn path(&mut self, out: &mut String, depth: usize) {
        out.push_str(self.pick(&[
            "",
            "",
            "",
            "urn:ietf:params:scim:schemas:core:2.0:User:",
            "urn:x:2.0:User:",
        ]));
        out.push_str(self.pick(&[
            "userName", "emails", "Name", "meta", "$ref", "a-b_c", "not", "and", "or",
        ]));
        if depth < 3 && self.next(4) == 0 {
            out.push('[');
            self.filter(out, 3);
            out.push(']');
        }
        if self.next(3) == 0 {
            out.push_str(self.pick(&[".value", ".givenName", ".lastModified"]));
        }
    }

    fn filter(&mut self, out: &mut String, depth: usize) {
        let ws = ["", " ", "  ", "\t"];
        match self.next(if depth > 5 { 3 } else { 7 }) {
            0 | 1 => {
                self.path(out, depth);
                out.push(' ');
                out.push_str(self.pick(&["eq", "NE", "co", "sw", "Ew", "gt", "ge", "lt", "le"]));
                out.push_str(self.pick(&[" ", "  "]));
                out.push_str(self.pick(&[
                    r#""bob""#,
                    r#""a\"b""#,
                    r#""\u00e9)""#,
                    "42",
                    "-1.5e3",
                    "TRUE",
                    "null",
                    "bare",
                    "2015-10-10T14:38:21-07:00",
                    r#""""#,
                ]));
            }
            2 => {
                self.path(out, depth);
                out.push_str(" pr");
            }
            3 | 4 => {
                self.filter(out, depth + 1);
                out.push_str(self.pick(&[" and ", " or ", " AND ", "\tOr\t"]));
                self.filter(out, depth + 1);
            }
            5 => {
                out.push_str(self.pick(&["not (", "NOT(", "not  ("]));
                self.filter(out, depth + 1);
                out.push(')');
            }
            _ => {
                out.push('(');
                out.push_str(self.pick(&ws));
                self.filter(out, depth + 1);
                out.push(')');
            }
        }
    }
}

/// Generated filters (valid, then mutated) never panic; whatever parses renders to something
/// that parses back to the same tree.
#[test]
fn random_input() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut parsed = 0;
    for round in 0..20_000 {
        let mut input = String::new();
        rng.filter(&mut input, 0);
        if round % 2 == 1 {
            let chars: Vec<char> = input.chars().collect();
            let at = rng.next(chars.len() + 1);
            let cut = (at + rng.next(4)).min(chars.len());
            let insert = rng.pick(&[
                "", "(", ")", "[", "]", "\"", "\\", " ", ".", ":", "é", "and", "0",
            ]);
            input = chars[..at].iter().collect::<String>()
                + insert
                + &chars[cut..].iter().collect::<String>();
        }
        if let Ok(f) = parse_filter(&input) {
            parsed += 1;
            assert_eq!(parse_filter(&f.to_string()), Ok(f), "{input:?}");
        }
        if let Ok(p) = parse_path(&input) {
            assert_eq!(parse_path(&p.to_string()), Ok(p), "{input:?}");
        }
    }
    assert!(parsed > 10_000, "only {parsed} inputs parsed");
}

#[test]
fn numbers_print_back_to_the_same_number() {
    for text in [
        "s eq 5e278",
        "s eq 0.1",
        "s eq -12",
        "s eq 18446744073709551615",
        "s eq 1.5E-7",
    ] {
        let printed = parse_filter(text).unwrap().to_string();
        assert_eq!(
            parse_filter(&printed).unwrap().to_string(),
            printed,
            "{text}"
        );
    }
}
