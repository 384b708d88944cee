//! Access control: optional bearer tokens from configuration, each with scopes.
//!
//! The server keeps only the SHA-256 digest of each token — a configured plain token is hashed
//! at start-up, and `sha256:<hex>` entries let the configuration hold no secret at all. A
//! presented token is hashed and compared with every configured digest in constant time, so
//! neither the configuration, the logs nor response timing reveals a token. Error messages
//! never repeat what the client sent.

use std::fmt;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Shortest plain token accepted in the configuration: anything shorter is guessable.
pub const MIN_PLAIN_TOKEN_LEN: usize = 16;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Query data: campaigns, their rows and global-id lookups.
    Read,
    /// Read the server's own health: `Query.metrics` and GET /metrics.
    Metrics,
}

impl Scope {
    /// Every scope, in the order the README lists them.
    pub const ALL: [Scope; 2] = [Scope::Read, Scope::Metrics];

    /// The scope's name in the configuration (`read`, `metrics`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Metrics => "metrics",
        }
    }

    /// Parses a configured scope name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name.trim())
    }

    fn bit(self) -> u8 {
        match self {
            Self::Read => 1,
            Self::Metrics => 2,
        }
    }
}

/// A set of scopes.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope: what a request has when no tokens are configured.
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// True when `scope` is in the set.
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, scope| bits | scope.bit()))
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(Scope::ALL.into_iter().filter(|s| self.contains(*s)).map(Scope::as_str))
            .finish()
    }
}

/// One configured token: a name for logs, its scopes and the SHA-256 digest of its secret.
/// The secret itself is never kept, and `Debug` does not print the digest either.
#[derive(Clone)]
pub struct ApiToken {
    name: Arc<str>,
    scopes: Scopes,
    digest: [u8; 32],
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiToken")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("digest", &"<redacted>")
            .finish()
    }
}

impl ApiToken {
    /// A token from its configuration entry. `secret` is `sha256:<64 hex digits>` (the digest
    /// of the token clients send) or the plain token itself (at least
    /// [`MIN_PLAIN_TOKEN_LEN`] characters). The error says why without repeating the secret.
    pub fn new(name: &str, scopes: Scopes, secret: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("a token needs a name (used in logs instead of the token)".to_owned());
        }
        if scopes == Scopes::default() {
            return Err(format!("token {name:?} has no scopes (use read, metrics or both)"));
        }
        let digest = match secret.strip_prefix("sha256:") {
            Some(hex) => decode_digest(hex)
                .ok_or_else(|| format!("token {name:?}: sha256: must be followed by 64 hexadecimal digits"))?,
            None if secret.chars().count() < MIN_PLAIN_TOKEN_LEN => {
                return Err(format!(
                    "token {name:?} is shorter than {MIN_PLAIN_TOKEN_LEN} characters"
                ));
            }
            None if secret.chars().any(char::is_whitespace) => {
                return Err(format!("token {name:?} contains whitespace"));
            }
            None => sha256(secret.as_bytes()),
        };
        Ok(Self {
            name: name.into(),
            scopes,
            digest,
        })
    }

    /// The token's name (safe to log).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the token may do.
    pub fn scopes(&self) -> Scopes {
        self.scopes
    }
}

/// Who is making a request: the matched token's name and scopes, or — when no tokens are
/// configured — an open principal with every scope.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The token's name; `None` when access control is off.
    pub token: Option<Arc<str>>,
    /// What the request may do.
    pub scopes: Scopes,
}

impl Principal {
    /// The principal of every request when no tokens are configured.
    pub fn open() -> Self {
        Self {
            token: None,
            scopes: Scopes::all(),
        }
    }

    /// FORBIDDEN unless the principal has `scope`.
    pub fn require(&self, scope: Scope) -> Result<(), Error> {
        if self.scopes.contains(scope) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "this token lacks the `{}` scope this operation needs",
                scope.as_str()
            )))
        }
    }
}

/// The configured tokens and the checks against them.
#[derive(Debug, Clone, Default)]
pub struct AccessControl {
    tokens: Vec<ApiToken>,
}

impl AccessControl {
    /// Access control with these tokens; with none, every request is allowed everything.
    pub fn new(tokens: Vec<ApiToken>) -> Self {
        Self { tokens }
    }

    /// True when tokens are configured, so requests must present one.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Checks the value of an HTTP `Authorization` header (`Bearer <token>`).
    pub fn authenticate_header(&self, header: Option<&[u8]>) -> Result<Principal, Error> {
        if !self.enabled() {
            return Ok(Principal::open());
        }
        let header = header.ok_or_else(|| {
            Error::Unauthenticated("authentication required: send `Authorization: Bearer <token>`".to_owned())
        })?;
        let token = std::str::from_utf8(header)
            .ok()
            .and_then(|value| {
                let (scheme, token) = value.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
            })
            .ok_or_else(|| Error::Unauthenticated("the Authorization header must be `Bearer <token>`".to_owned()))?;
        self.authenticate_token(token)
    }

    /// Checks a token as the client sent it. Every configured digest is compared, in constant
    /// time, whatever matches first.
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, Error> {
        if !self.enabled() {
            return Ok(Principal::open());
        }
        let presented = sha256(token.as_bytes());
        let mut matched = None;
        for candidate in &self.tokens {
            if constant_time_eq(&presented, &candidate.digest) && matched.is_none() {
                matched = Some(candidate);
            }
        }
        match matched {
            Some(token) => Ok(Principal {
                token: Some(token.name.clone()),
                scopes: token.scopes,
            }),
            None => Err(Error::Unauthenticated("the bearer token is not valid".to_owned())),
        }
    }

    /// The hook for GraphQL over WebSocket (subscriptions do not exist yet): checks the token
    /// of a `connection_init` payload, which carries it as `{"Authorization": "Bearer …"}`
    /// (any capitalisation of the key) or `{"token": "…"}`.
    pub fn authenticate_connection_init(&self, payload: &serde_json::Value) -> Result<Principal, Error> {
        if !self.enabled() {
            return Ok(Principal::open());
        }
        let object = payload.as_object();
        let header = object.and_then(|o| {
            o.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
                .and_then(|(_, value)| value.as_str())
        });
        if let Some(header) = header {
            return self.authenticate_header(Some(header.as_bytes()));
        }
        match object.and_then(|o| o.get("token")).and_then(|t| t.as_str()) {
            Some(token) => self.authenticate_token(token),
            None => Err(Error::Unauthenticated(
                "authentication required: put `Authorization: Bearer <token>` in the connection_init payload"
                    .to_owned(),
            )),
        }
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Equality of two digests whose running time does not depend on where they differ.
fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    // Keeps the optimizer from turning the fold into an early-exit comparison.
    std::hint::black_box(diff) == 0
}

fn decode_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16);
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = u8::try_from(nibble(pair[0])? * 16 + nibble(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(digest: [u8; 32]) -> String {
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn control() -> AccessControl {
        let read = [Scope::Read].into_iter().collect();
        let both = Scopes::all();
        AccessControl::new(vec![
            ApiToken::new("dashboard", read, "plain-token-0123456789").expect("plain token"),
            ApiToken::new(
                "ops",
                both,
                &format!("sha256:{}", hex(sha256(b"hashed-token-0123456789"))),
            )
            .expect("hash"),
        ])
    }

    #[test]
    fn plain_and_hashed_tokens_authenticate() {
        let access = control();
        let p = access
            .authenticate_header(Some(b"Bearer plain-token-0123456789"))
            .expect("plain");
        assert_eq!(p.token.as_deref(), Some("dashboard"));
        assert!(p.require(Scope::Read).is_ok() && p.require(Scope::Metrics).is_err());
        let p = access
            .authenticate_header(Some(b"bearer  hashed-token-0123456789 "))
            .expect("hashed");
        assert_eq!(p.token.as_deref(), Some("ops"));
        assert!(p.require(Scope::Metrics).is_ok());
        for bad in [
            &b"Bearer nope"[..],
            b"Basic plain-token-0123456789",
            b"plain-token-0123456789",
            b"\xff\xfe",
        ] {
            assert!(matches!(
                access.authenticate_header(Some(bad)),
                Err(Error::Unauthenticated(_))
            ));
        }
        assert!(matches!(
            access.authenticate_header(None),
            Err(Error::Unauthenticated(_))
        ));
    }

    #[test]
    fn without_tokens_everything_is_open() {
        let p = AccessControl::default().authenticate_header(None).expect("open");
        assert!(p.token.is_none() && p.require(Scope::Read).is_ok() && p.require(Scope::Metrics).is_ok());
    }

    #[test]
    fn connection_init_payloads_carry_tokens() {
        let access = control();
        let ok = [
            serde_json::json!({ "Authorization": "Bearer plain-token-0123456789" }),
            serde_json::json!({ "authorization": "Bearer plain-token-0123456789" }),
            serde_json::json!({ "token": "plain-token-0123456789" }),
        ];
        for payload in ok {
            assert!(access.authenticate_connection_init(&payload).is_ok(), "{payload}");
        }
        for payload in [
            serde_json::json!({}),
            serde_json::json!(null),
            serde_json::json!({ "token": "x" }),
        ] {
            assert!(access.authenticate_connection_init(&payload).is_err(), "{payload}");
        }
    }

    #[test]
    fn bad_entries_are_refused_without_echoing_the_secret() {
        let read: Scopes = [Scope::Read].into_iter().collect();
        for (name, scopes, secret) in [
            ("", read, "long-enough-token-123"),
            ("t", Scopes::default(), "long-enough-token-123"),
            ("t", read, "tiny"),
            ("t", read, "sha256:abc"),
            ("t", read, "has whitespace in it!"),
        ] {
            let err = ApiToken::new(name, scopes, secret).expect_err("refused");
            assert!(!err.contains(secret), "{err}");
        }
        let token = ApiToken::new("t", read, "long-enough-token-123").expect("ok");
        assert!(!format!("{token:?}").contains("long-enough"));
    }

    #[test]
    fn constant_time_eq_is_equality() {
        let a = sha256(b"a");
        let mut b = a;
        assert!(constant_time_eq(&a, &b));
        b[31] ^= 1;
        assert!(!constant_time_eq(&a, &b));
    }
}
