//! Media types of `/graphql` (GraphQL over HTTP, <https://graphql.github.io/graphql-over-http/draft/>):
//! which of the two JSON response types a request's `Accept` allows, by the rules of RFC 9110
//! §12.5.1, and whether a POST body's `Content-Type` is one the server reads.

use axum::http::{HeaderMap, HeaderValue, header};

/// A media type `/graphql` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// `application/graphql-response+json`: a request error (no `data`) is a 4xx.
    GraphQLResponseJson,
    /// `application/json`, the legacy type: every GraphQL response is a 200.
    Json,
}

impl ResponseType {
    /// The `Content-Type` of an answer. The legacy type stays exactly `application/json`, as
    /// the server always sent it (JSON is UTF-8 by definition, RFC 8259 §8.1).
    pub fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Self::GraphQLResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json",
        })
    }

    fn media_type(self) -> (&'static str, &'static str) {
        match self {
            Self::GraphQLResponseJson => ("application", "graphql-response+json"),
            Self::Json => ("application", "json"),
        }
    }
}

/// The response type the request's `Accept` asks for; None when it allows neither (406).
///
/// Without an `Accept` header (or with only empty ones) the answer is `application/json`, as
/// GraphQL over HTTP recommends for clients that predate the new type. Otherwise each type
/// gets the weight of the most specific range that matches it, and the better weight wins.
/// At equal weights `application/graphql-response+json` wins when the client names it (the
/// type the spec tells servers to prefer), and `application/json` when only wildcards match
/// both (`*/*`, `application/*`): curl, reqwest and other generic clients send `*/*` and
/// predate the new type, so they keep the legacy answers (as the reference `graphql-http`
/// server does).
pub fn response_type(headers: &HeaderMap) -> Option<ResponseType> {
    let mut present = false;
    let mut ranges = Vec::new();
    for value in headers.get_all(header::ACCEPT) {
        // A value that is not visible ASCII names nothing we could match, but is still there.
        let text = value.to_str().unwrap_or("\u{0}");
        if text.trim().is_empty() {
            continue;
        }
        present = true;
        ranges.extend(split_outside_quotes(text, ',').filter_map(MediaRange::parse));
    }
    if !present {
        return Some(ResponseType::Json);
    }
    let new = weight(&ranges, ResponseType::GraphQLResponseJson);
    let legacy = weight(&ranges, ResponseType::Json);
    match (new, legacy) {
        (0, 0) => None,
        (new, legacy) if new > legacy || (new == legacy && named(&ranges, ResponseType::GraphQLResponseJson)) => {
            Some(ResponseType::GraphQLResponseJson)
        }
        _ => Some(ResponseType::Json),
    }
}

/// Whether a POST body of this `Content-Type` is read: `application/json` with any parameters
/// (the media type compared case-insensitively), or no `Content-Type` at all, which the server
/// has always accepted. `application/graphql-response+json` is a response type, not a request one.
pub fn is_json_request(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// One media range of an `Accept` header: `type/subtype`, its parameters and its weight.
#[derive(Debug, PartialEq)]
struct MediaRange {
    /// Lowercase; `*` for any.
    kind: String,
    /// Lowercase; `*` for any.
    subtype: String,
    /// Parameters before the weight, names lowercase, values unquoted.
    parameters: Vec<(String, String)>,
    /// The weight in thousandths (`q=0.5` is 500).
    weight: u16,
}

impl MediaRange {
    /// The range `element` describes; None when it is not one (then it matches nothing).
    fn parse(element: &str) -> Option<Self> {
        let mut parts = split_outside_quotes(element, ';');
        let (kind, subtype) = parts.next()?.trim().split_once('/')?;
        if !is_token(kind) || !is_token(subtype) || (kind == "*" && subtype != "*") {
            return None;
        }
        let mut range = MediaRange {
            kind: kind.to_ascii_lowercase(),
            subtype: subtype.to_ascii_lowercase(),
            parameters: Vec::new(),
            weight: 1000,
        };
        for parameter in parts {
            let parameter = parameter.trim();
            if parameter.is_empty() {
                continue;
            }
            let (name, value) = parameter.split_once('=')?;
            let name = name.trim().to_ascii_lowercase();
            if name == "q" {
                range.weight = parse_qvalue(value.trim())?;
                // What follows the weight are extension parameters (RFC 7231's accept-ext),
                // which do not restrict the range.
                break;
            }
            range.parameters.push((name, unquote(value.trim())?));
        }
        Some(range)
    }

    /// Whether this range includes `media`. Our answers are UTF-8 and have no other
    /// parameter, so a range matches only if its parameters are at most `charset=utf-8`.
    fn matches(&self, media: ResponseType) -> bool {
        let (kind, subtype) = media.media_type();
        (self.kind == "*" || self.kind == kind)
            && (self.subtype == "*" || self.subtype == subtype)
            && self
                .parameters
                .iter()
                .all(|(name, value)| name == "charset" && value.eq_ignore_ascii_case("utf-8"))
    }

    /// Ranks ranges: a type beats a wildcard, and parameters make a range more specific.
    fn specificity(&self) -> (u8, u8, usize) {
        (
            u8::from(self.kind != "*"),
            u8::from(self.subtype != "*"),
            self.parameters.len(),
        )
    }
}

/// The weight `ranges` give `media`: that of the most specific matching range (RFC 9110: "the
/// most specific reference has precedence"; of equally specific ones, the highest), 0 when none.
fn weight(ranges: &[MediaRange], media: ResponseType) -> u16 {
    ranges
        .iter()
        .filter(|range| range.matches(media))
        .max_by_key(|range| (range.specificity(), range.weight))
        .map_or(0, |range| range.weight)
}

/// Whether `ranges` name `media` itself (not through a wildcard) with a weight above 0.
fn named(ranges: &[MediaRange], media: ResponseType) -> bool {
    ranges
        .iter()
        .any(|range| range.kind != "*" && range.subtype != "*" && range.weight > 0 && range.matches(media))
}

/// A qvalue (`0`, `0.5`, `1.000`; at most three decimals, at most 1) in thousandths.
fn parse_qvalue(text: &str) -> Option<u16> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, digit| acc * 10 + u16::from(digit - b'0'));
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// A token (RFC 9110 §5.6.2), `*` included.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A parameter value: a token, or a quoted string without its quotes and escapes.
fn unquote(value: &str) -> Option<String> {
    let Some(inner) = value.strip_prefix('"') else {
        return is_token(value).then(|| value.to_owned());
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return chars.as_str().is_empty().then_some(out),
            c => out.push(c),
        }
    }
    None
}

/// `text` split at each `separator` outside a quoted string (a comma inside a quoted
/// parameter value does not end a media range).
fn split_outside_quotes(text: &str, separator: char) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        let mut escaped = false;
        for (i, c) in current.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' if quoted => escaped = true,
                '"' => quoted = !quoted,
                c if c == separator && !quoted => {
                    rest = Some(&current[i + c.len_utf8()..]);
                    return Some(&current[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use ResponseType::{GraphQLResponseJson as New, Json};

    fn accept(values: &[&str]) -> Option<ResponseType> {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).expect("a header value"));
        }
        response_type(&headers)
    }

    #[test]
    fn without_accept_the_legacy_type() {
        assert_eq!(accept(&[]), Some(Json));
        assert_eq!(accept(&[""]), Some(Json));
        assert_eq!(accept(&["  "]), Some(Json));
    }

    #[test]
    fn the_type_asked_for() {
        let cases = [
            ("application/json", Some(Json)),
            ("application/graphql-response+json", Some(New)),
            ("APPLICATION/Graphql-Response+JSON", Some(New)),
            ("application/json; charset=utf-8", Some(Json)),
            ("application/json;charset=\"UTF-8\"", Some(Json)),
            ("application/graphql-response+json; charset=utf-8", Some(New)),
            // Both, equally acceptable: the new type.
            ("application/json, application/graphql-response+json", Some(New)),
            ("application/graphql-response+json, application/json", Some(New)),
            // Wildcards only (curl, reqwest, browsers): the legacy type.
            ("*/*", Some(Json)),
            ("application/*", Some(Json)),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Some(Json),
            ),
            ("application/graphql-response+json, */*", Some(New)),
            // Weights decide.
            ("application/graphql-response+json;q=0.9, application/json", Some(Json)),
            (
                "application/json;q=0.5, application/graphql-response+json;q=0.6",
                Some(New),
            ),
            (
                "application/json;q=1.000, application/graphql-response+json;q=0.999",
                Some(Json),
            ),
            ("application/graphql-response+json;q=0, */*", Some(Json)),
            ("application/json;q=0, */*", Some(New)),
            ("application/json;q=0, */*;q=0.1", Some(New)),
            // A more specific range overrides a wildcard, in either order.
            ("*/*;q=0.1, application/json", Some(Json)),
            ("application/json, */*;q=0.1", Some(Json)),
            ("application/*;q=0.2, */*;q=0.9, application/json;q=0.3", Some(Json)),
            // GraphiQL's fetcher and the pages.
            ("application/json, multipart/mixed", Some(Json)),
            // Extension parameters after the weight do not restrict the range.
            (
                "application/graphql-response+json;q=0.5;level=1, application/json;q=0.4",
                Some(New),
            ),
            // Whitespace and empty list elements are allowed.
            (" , application/json ;  q=0.7 ,", Some(Json)),
            // Neither.
            ("text/plain", None),
            ("text/html", None),
            ("text/*", None),
            ("application/xml, text/*", None),
            ("application/json;q=0", None),
            ("application/json;q=0, application/graphql-response+json;q=0", None),
            ("*/*;q=0", None),
            ("application/json; charset=latin1", None),
            ("application/json; profile=x", None),
            ("application/graphql+json", None),
            ("json", None),
            ("garbage", None),
            ("*/json", None),
            // A bad weight spoils its range only.
            ("application/json;q=2", None),
            ("application/json;q=0.5555", None),
            (
                "application/json;q=abc, application/graphql-response+json;q=0.1",
                Some(New),
            ),
            // A comma inside a quoted value does not end the range.
            (
                "application/json;x=\"a,b\", application/graphql-response+json",
                Some(New),
            ),
            ("text/plain;x=\"a,application/json\"", None),
        ];
        for (value, expected) in cases {
            assert_eq!(accept(&[value]), expected, "Accept: {value}");
        }
    }

    #[test]
    fn accept_headers_combine() {
        assert_eq!(accept(&["text/plain", "application/json"]), Some(Json));
        assert_eq!(accept(&["", "text/plain"]), None);
    }

    #[test]
    fn qvalues() {
        for (text, expected) in [
            ("0", Some(0)),
            ("0.", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("1", Some(1000)),
            ("1.0", Some(1000)),
            ("1.000", Some(1000)),
            ("1.001", None),
            ("2", None),
            ("-1", None),
            (".5", None),
            ("0.5x", None),
            ("", None),
        ] {
            assert_eq!(parse_qvalue(text), expected, "q={text}");
        }
    }

    #[test]
    fn request_content_types() {
        let content_type = |value: Option<&str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(value).expect("a header value"),
                );
            }
            is_json_request(&headers)
        };
        for value in [
            None,
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("Application/JSON;charset=UTF-8"),
            Some(" application/json "),
        ] {
            assert!(content_type(value), "{value:?}");
        }
        for value in [
            "application/graphql-response+json",
            "application/graphql",
            "application/jsonx",
            "application/json-seq",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
        ] {
            assert!(!content_type(Some(value)), "{value}");
        }
    }
}
