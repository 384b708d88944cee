//! Pure, deterministic row generation: the same chain index and size give byte-identical rows on
//! every run and platform (integer arithmetic only, a hand-written hash instead of std's
//! randomly keyed `RandomState`). No I/O here, so the writers can run it on a blocking thread
//! while the previous chunk is being ingested.
//!
//! A chain is three campaigns. Row `p` of each table is a pure function of (campaign, `p`):
//! - generation row `p` is the domain at offset `p` of the generation space;
//! - DNS row `p` checks generated domain `p`;
//! - HTTP row `j` fetches the `j`-th DNS row whose business status is `lead_candidate` or
//!   `valid_dns` (`excluded` domains are excluded by policy, the other rows did not resolve).

use std::fmt::Write as _;

use uuid::Uuid;

use crate::entity::{BusinessStatus, ValidationStatus};

/// Namespace of the seed's name-based campaign ids (itself UUIDv5 of a URL in the URL namespace),
/// fixed forever: changing it would change every seeded id.
const NAMESPACE: Uuid = Uuid::from_bytes([
    0x5e, 0xed, 0xd0, 0x3a, 0x1f, 0x1c, 0x5b, 0x2e, 0x9a, 0x41, 0x6d, 0x0f, 0x1e, 0x5d, 0xf1, 0x00,
]);

/// 2026-01-01T00:00:00Z in milliseconds since the Unix epoch: the time seeded chain 0 starts.
pub(crate) const EPOCH_MS: i64 = 1_767_225_600_000;

/// Pause between the end of one campaign and the start of the next, in milliseconds.
const STAGE_GAP_MS: i64 = 10 * 60 * 1000;

/// The characters a generated domain is built from, in generation order.
pub(crate) const CHARSET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Character set as written in the source pattern.
const CHARSET_PATTERN: &str = "[a-z0-9]";

/// TLDs of every generation campaign, in generation order (the fastest-changing digit).
pub(crate) const TLDS: &[&str] = &["com", "net", "org", "io"];

/// Largest supported chain size: keeps every derived time far inside both backends' ranges.
pub const MAX_DOMAINS: u64 = 1_000_000_000;

/// What a chain is about: its generation constant, the keywords its HTTP campaign looks for,
/// and the phrases its pages use.
#[derive(Debug)]
struct Theme {
    constant: &'static str,
    keywords: [&'static str; 5],
    phrases: [&'static str; 3],
}

const THEMES: &[Theme] = &[
    Theme {
        constant: "shop",
        keywords: ["shop", "store", "cart", "deal", "shipping"],
        phrases: ["Online store", "Deals of the day", "Free shipping on all orders"],
    },
    Theme {
        constant: "cloud",
        keywords: ["cloud", "hosting", "server", "backup", "api"],
        phrases: ["Managed hosting", "Cloud platform", "Servers in minutes"],
    },
    Theme {
        constant: "green",
        keywords: ["green", "solar", "energy", "eco", "recycling"],
        phrases: ["Sustainable living", "Solar installers", "Eco products"],
    },
    Theme {
        constant: "smart",
        keywords: ["smart", "home", "device", "app", "automation"],
        phrases: ["Smart home", "Connected devices", "Home automation"],
    },
    Theme {
        constant: "data",
        keywords: ["data", "analytics", "dashboard", "insight", "report"],
        phrases: ["Analytics platform", "Business dashboards", "Data consulting"],
    },
    Theme {
        constant: "pixel",
        keywords: ["pixel", "design", "studio", "photo", "portfolio"],
        phrases: ["Design studio", "Photography portfolio", "Creative agency"],
    },
    Theme {
        constant: "travel",
        keywords: ["travel", "hotel", "flight", "booking", "tour"],
        phrases: ["Book your trip", "Hotels and flights", "Guided tours"],
    },
    Theme {
        constant: "fit",
        keywords: ["fitness", "gym", "training", "yoga", "coach"],
        phrases: ["Personal training", "Gym membership", "Online coaching"],
    },
];

/// Public resolvers and name-server sets the DNS records are drawn from.
const NS_PROVIDERS: &[[&str; 2]] = &[
    ["ns1.cloudflare.com", "ns2.cloudflare.com"],
    ["ns-1043.awsdns-02.org", "ns-1841.awsdns-38.co.uk"],
    ["dns1.registrar-servers.com", "dns2.registrar-servers.com"],
    ["ns1.digitalocean.com", "ns2.digitalocean.com"],
    ["ns1.googledomains.com", "ns2.googledomains.com"],
];
const MX_HOSTS: &[&str] = &["aspmx.l.google.com", "mx1.mail.ovh.net", "mx.zoho.com"];

// --- hashing -----------------------------------------------------------------------------------

/// splitmix64's finaliser: a fast, well-mixed 64-bit hash of a 64-bit value, identical everywhere.
pub(crate) const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// 64-bit FNV-1a, used to fold a campaign id into a hash key.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

/// The random stream of one row: splitmix64 seeded from (campaign, position). Draws are taken in
/// a fixed order per table, so a row never depends on anything but its campaign and position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowRng(u64);

impl RowRng {
    pub(crate) fn new(campaign_key: u64, position: u64) -> Self {
        Self(mix64(campaign_key ^ mix64(position.wrapping_add(GOLDEN))))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix64(self.0)
    }

    /// A draw in `0..n` (`n` small; the modulo bias is irrelevant for demo data).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A UUIDv7 whose timestamp is `ms` and whose 74 random bits come from `a` and `b`.
pub(crate) fn uuid_v7(ms: i64, a: u64, b: u64) -> Uuid {
    let mut bytes = [0u8; 16];
    let ms = (ms as u64) & 0xFFFF_FFFF_FFFF;
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    let rand_a = (a & 0x0FFF) as u16;
    bytes[6..8].copy_from_slice(&(0x7000 | rand_a).to_be_bytes());
    let rand_b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    bytes[8..].copy_from_slice(&rand_b.to_be_bytes());
    Uuid::from_bytes(bytes)
}

// --- campaign identity ---------------------------------------------------------------------------

/// The three campaign ids of one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainIds {
    /// The `domain_generation` campaign.
    pub generation: Uuid,
    /// The `dns_validation` campaign of the generated domains.
    pub dns: Uuid,
    /// The `http_keyword_validation` campaign of the DNS results that qualified.
    pub http: Uuid,
}

/// Name-based (UUIDv5) ids of chain `chain` (0-based) with `domains` generated domains, so
/// chains of different sizes are different campaigns and a re-run finds its own campaigns.
pub fn chain_ids(chain: u32, domains: u64) -> ChainIds {
    let id = |stage: &str| {
        Uuid::new_v5(
            &NAMESPACE,
            format!("domainflow-seed/chain/{chain}/domains/{domains}/{stage}").as_bytes(),
        )
    };
    ChainIds {
        generation: id("generation"),
        dns: id("dns"),
        http: id("http"),
    }
}

// --- rows ----------------------------------------------------------------------------------------

/// One `generated_domains` row (the campaign, keyword and pattern columns come from the plan).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DomainRow {
    pub id: Uuid,
    pub offset: i64,
    pub name: String,
    pub tld: &'static str,
    pub generated_at: i64,
    pub created_at: i64,
}

/// One `dns_validation_results` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DnsRow {
    pub id: Uuid,
    pub generated_domain_id: Uuid,
    pub name: String,
    pub status: ValidationStatus,
    pub business: Option<BusinessStatus>,
    /// JSON text, or None for SQL NULL.
    pub records: Option<String>,
    pub attempts: i32,
    pub last_checked_at: Option<i64>,
    pub created_at: i64,
}

impl Default for DnsRow {
    fn default() -> Self {
        Self {
            id: Uuid::nil(),
            generated_domain_id: Uuid::nil(),
            name: String::new(),
            status: ValidationStatus::Pending,
            business: None,
            records: None,
            attempts: 0,
            last_checked_at: None,
            created_at: 0,
        }
    }
}

/// One `http_keyword_results` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpRow {
    pub id: Uuid,
    pub dns_result_id: Uuid,
    pub name: String,
    pub status: ValidationStatus,
    pub status_code: i32,
    pub title: Option<String>,
    pub snippet: Option<String>,
    /// JSON array text, or None for SQL NULL.
    pub keywords: Option<String>,
    pub content_hash: Option<String>,
    pub attempts: i32,
    pub last_checked_at: Option<i64>,
    pub created_at: i64,
}

impl Default for HttpRow {
    fn default() -> Self {
        Self {
            id: Uuid::nil(),
            dns_result_id: Uuid::nil(),
            name: String::new(),
            status: ValidationStatus::Pending,
            status_code: 200,
            title: None,
            snippet: None,
            keywords: None,
            content_hash: None,
            attempts: 0,
            last_checked_at: None,
            created_at: 0,
        }
    }
}

/// Stored text of a validation status (the CHECK constraint's value set).
pub(crate) fn validation_str(status: ValidationStatus) -> &'static str {
    match status {
        ValidationStatus::Pending => "pending",
        ValidationStatus::Valid => "valid",
        ValidationStatus::Invalid => "invalid",
        ValidationStatus::Error => "error",
        ValidationStatus::Skipped => "skipped",
    }
}

/// Stored text of a business status.
pub(crate) fn business_str(status: BusinessStatus) -> &'static str {
    match status {
        BusinessStatus::ValidDns => "valid_dns",
        BusinessStatus::LeadCandidate => "lead_candidate",
        BusinessStatus::Excluded => "excluded",
    }
}

/// Reuses `slot`'s allocation for `Some(text)`.
fn set_opt(slot: &mut Option<String>, build: impl FnOnce(&mut String)) {
    let mut s = slot.take().unwrap_or_default();
    s.clear();
    build(&mut s);
    *slot = Some(s);
}

// --- the plan of one chain -------------------------------------------------------------------------

/// Everything needed to generate any row of one chain, computed once.
#[derive(Debug, Clone)]
pub(crate) struct ChainPlan {
    pub chain: u32,
    pub domains: u64,
    pub ids: ChainIds,
    keys: [u64; 3],
    pub constant: String,
    /// Generated characters per domain: the smallest k ≥ 1 with 36^k × TLDs ≥ domains.
    pub length: u32,
    pub pattern: String,
    theme: &'static Theme,
    /// First row time of each campaign (generation, DNS, HTTP), in ms since the Unix epoch.
    pub base_ms: [i64; 3],
}

/// Smallest k ≥ 1 such that `CHARSET.len()^k × TLDS.len() ≥ n`.
pub(crate) fn variable_length(n: u64) -> u32 {
    let mut k = 1u32;
    let mut space = (CHARSET.len() * TLDS.len()) as u128;
    while space < u128::from(n) {
        k += 1;
        space *= CHARSET.len() as u128;
    }
    k
}

impl ChainPlan {
    /// The plan of chain `chain` with `domains` rows; callers keep `domains ≤ MAX_DOMAINS`.
    pub(crate) fn new(chain: u32, domains: u64) -> Self {
        let ids = chain_ids(chain, domains);
        let theme = &THEMES[chain as usize % THEMES.len()];
        let round = chain as usize / THEMES.len();
        let constant = if round == 0 {
            theme.constant.to_owned()
        } else {
            format!("{}{round}", theme.constant)
        };
        let length = variable_length(domains);
        let pattern = format!("prefix:{constant}+{CHARSET_PATTERN}{{{length}}}");
        // Chains run one after another; within a chain each stage starts after the previous one.
        let n_ms = domains as i64;
        let chain_span = 3 * (n_ms + STAGE_GAP_MS);
        let gen_base = EPOCH_MS + i64::from(chain) * chain_span;
        let dns_base = gen_base + n_ms + STAGE_GAP_MS;
        let http_base = dns_base + n_ms + STAGE_GAP_MS;
        Self {
            chain,
            domains,
            keys: [
                fnv1a64(ids.generation.as_bytes()),
                fnv1a64(ids.dns.as_bytes()),
                fnv1a64(ids.http.as_bytes()),
            ],
            ids,
            constant,
            length,
            pattern,
            theme,
            base_ms: [gen_base, dns_base, http_base],
        }
    }

    /// Keywords the HTTP campaign scans pages for.
    pub(crate) fn keywords(&self) -> &'static [&'static str; 5] {
        &self.theme.keywords
    }

    /// Size of the generation space: 36^length × TLDs.
    pub(crate) fn space(&self) -> u128 {
        (CHARSET.len() as u128).pow(self.length) * TLDS.len() as u128
    }

    /// Writes the domain at generation offset `p` into `out`: TLD = p mod TLDs (the fastest
    /// digit), the characters are the base-36 digits of p / TLDs, most significant first.
    pub(crate) fn domain_name(&self, p: u64, out: &mut String) -> &'static str {
        let tld = TLDS[(p % TLDS.len() as u64) as usize];
        let mut q = p / TLDS.len() as u64;
        let mut chars = [0u8; 16];
        let k = self.length as usize;
        for slot in chars[..k].iter_mut().rev() {
            *slot = CHARSET[(q % CHARSET.len() as u64) as usize];
            q /= CHARSET.len() as u64;
        }
        out.clear();
        out.push_str(&self.constant);
        // CHARSET is ASCII, so every byte is a char.
        out.extend(chars[..k].iter().map(|&b| b as char));
        out.push('.');
        out.push_str(tld);
        tld
    }

    /// Id and created_at (µs) of row `p` of stage `stage` (0 generation, 1 DNS, 2 HTTP), plus
    /// the row's random stream positioned after the draws they used.
    fn identity(&self, stage: usize, p: u64) -> (Uuid, i64, RowRng) {
        let mut rng = RowRng::new(self.keys[stage], p);
        let (a, b) = (rng.next(), rng.next());
        let ms = self.base_ms[stage] + p as i64;
        let created_at = ms * 1000 + ((a >> 12) % 1000) as i64;
        (uuid_v7(ms, a, b), created_at, rng)
    }

    /// Id of generated domain `p`.
    pub(crate) fn domain_id(&self, p: u64) -> Uuid {
        self.identity(0, p).0
    }

    /// Id of DNS result `p`.
    pub(crate) fn dns_id(&self, p: u64) -> Uuid {
        self.identity(1, p).0
    }

    /// Id of HTTP result `j`.
    pub(crate) fn http_id(&self, j: u64) -> Uuid {
        self.identity(2, j).0
    }

    /// Generation row `p`.
    pub(crate) fn domain(&self, p: u64, row: &mut DomainRow) {
        let (id, created_at, mut rng) = self.identity(0, p);
        row.id = id;
        row.offset = p as i64;
        row.tld = self.domain_name(p, &mut row.name);
        row.created_at = created_at;
        // Generated a little before it was stored.
        row.generated_at = created_at - 1 - rng.below(5_000) as i64;
    }

    /// Validation and business status of DNS row `p`: the first draws of its stream, so the
    /// HTTP stage can ask which rows qualify without building them.
    fn dns_status(&self, rng: &mut RowRng) -> (ValidationStatus, Option<BusinessStatus>) {
        let roll = rng.below(1000);
        let business_roll = rng.below(100);
        let status = match roll {
            0..700 => ValidationStatus::Valid,
            700..880 => ValidationStatus::Invalid,
            880..940 => ValidationStatus::Error,
            940..980 => ValidationStatus::Pending,
            _ => ValidationStatus::Skipped,
        };
        let business = (status == ValidationStatus::Valid).then_some(match business_roll {
            0..55 => BusinessStatus::ValidDns,
            55..85 => BusinessStatus::LeadCandidate,
            _ => BusinessStatus::Excluded,
        });
        (status, business)
    }

    /// Whether DNS row `p` goes on to HTTP keyword validation: its domain resolved and it is
    /// `lead_candidate` or `valid_dns` (`excluded` is excluded by policy).
    pub(crate) fn http_qualifies(&self, p: u64) -> bool {
        let (_, _, mut rng) = self.identity(1, p);
        matches!(
            self.dns_status(&mut rng).1,
            Some(BusinessStatus::LeadCandidate | BusinessStatus::ValidDns)
        )
    }

    /// DNS row `p`.
    pub(crate) fn dns(&self, p: u64, row: &mut DnsRow) {
        let (id, created_at, mut rng) = self.identity(1, p);
        let (status, business) = self.dns_status(&mut rng);
        row.id = id;
        row.generated_domain_id = self.domain_id(p);
        self.domain_name(p, &mut row.name);
        row.status = status;
        row.business = business;
        row.created_at = created_at;
        let checked_at = created_at + 20_000 + rng.below(2_000_000) as i64;
        match status {
            ValidationStatus::Valid => {
                row.attempts = 1 + i32::from(rng.below(10) == 0);
                row.last_checked_at = Some(checked_at);
                let name = &row.name;
                set_opt(&mut row.records, |s| dns_records(s, name, &mut rng));
            }
            ValidationStatus::Invalid => {
                row.attempts = 1 + i32::from(rng.below(5) == 0);
                row.last_checked_at = Some(checked_at);
                set_opt(&mut row.records, |s| s.push_str("{}"));
            }
            ValidationStatus::Error => {
                row.attempts = 3;
                row.last_checked_at = Some(checked_at);
                row.records = None;
            }
            ValidationStatus::Pending | ValidationStatus::Skipped => {
                row.attempts = 0;
                row.last_checked_at = None;
                row.records = None;
            }
        }
    }

    /// HTTP row `j`, which fetches the domain of DNS row `p` (the `j`-th qualifying one).
    pub(crate) fn http(&self, j: u64, p: u64, row: &mut HttpRow) {
        let (id, created_at, mut rng) = self.identity(2, j);
        row.id = id;
        row.dns_result_id = self.dns_id(p);
        self.domain_name(p, &mut row.name);
        row.created_at = created_at;
        row.status_code = match rng.below(100) {
            0..70 => 200,
            70..78 => 301,
            78..83 => 403,
            83..90 => 404,
            90..95 => 500,
            _ => 503,
        };
        let found_mask = if row.status_code == 200 && rng.below(100) < 65 {
            1 + rng.below(31) // a non-empty subset of the five keywords
        } else {
            0
        };
        row.status = match row.status_code {
            500.. => ValidationStatus::Error,
            200 if found_mask != 0 => ValidationStatus::Valid,
            _ => ValidationStatus::Invalid,
        };
        row.attempts = match row.status {
            ValidationStatus::Error => 3,
            _ => 1 + i32::from(rng.below(20) == 0),
        };
        row.last_checked_at = Some(created_at + 150_000 + rng.below(3_000_000) as i64);
        let theme = self.theme;
        let name = &row.name;
        match row.status_code {
            200 => {
                let phrase = theme.phrases[rng.below(theme.phrases.len() as u64) as usize];
                set_opt(&mut row.title, |s| {
                    let label = name.split('.').next().unwrap_or(name);
                    let mut chars = label.chars();
                    if let Some(first) = chars.next() {
                        s.extend(first.to_uppercase());
                        s.push_str(chars.as_str());
                    }
                    s.push_str(" · ");
                    s.push_str(phrase);
                });
                set_opt(&mut row.snippet, |s| {
                    if found_mask == 0 {
                        let _ = write!(
                            s,
                            "Welcome to {name}. This site is under construction, please come back soon."
                        );
                    } else {
                        let _ = write!(s, "{phrase} at {name}:");
                        for (i, kw) in theme.keywords.iter().enumerate() {
                            if found_mask & (1 << i) != 0 {
                                s.push(' ');
                                s.push_str(kw);
                            }
                        }
                        s.push('.');
                    }
                });
                set_opt(&mut row.keywords, |s| {
                    s.push('[');
                    let mut first = true;
                    for (i, kw) in theme.keywords.iter().enumerate() {
                        if found_mask & (1 << i) != 0 {
                            if !first {
                                s.push(',');
                            }
                            first = false;
                            s.push('"');
                            s.push_str(kw);
                            s.push('"');
                        }
                    }
                    s.push(']');
                });
            }
            301 => {
                set_opt(&mut row.title, |s| s.push_str("301 Moved Permanently"));
                set_opt(&mut row.snippet, |s| {
                    let _ = write!(s, "The document has moved to https://www.{name}/.");
                });
                set_opt(&mut row.keywords, |s| s.push_str("[]"));
            }
            403 => {
                set_opt(&mut row.title, |s| s.push_str("403 Forbidden"));
                set_opt(&mut row.snippet, |s| {
                    s.push_str("You don't have permission to access this resource.")
                });
                set_opt(&mut row.keywords, |s| s.push_str("[]"));
            }
            404 => {
                set_opt(&mut row.title, |s| s.push_str("404 Not Found"));
                set_opt(&mut row.snippet, |s| {
                    s.push_str("The requested URL was not found on this server.")
                });
                set_opt(&mut row.keywords, |s| s.push_str("[]"));
            }
            _ => {
                row.title = None;
                row.snippet = None;
                row.keywords = None;
            }
        }
        if row.status_code < 500 {
            set_opt(&mut row.content_hash, |s| {
                for _ in 0..4 {
                    let _ = write!(s, "{:016x}", rng.next());
                }
            });
        } else {
            row.content_hash = None;
        }
    }

    /// Number of HTTP rows: DNS rows that qualify. One pass over the hash, a few ms per million.
    pub(crate) fn http_total(&self) -> u64 {
        (0..self.domains).filter(|&p| self.http_qualifies(p)).count() as u64
    }

    /// DNS position of HTTP row `j` (`domains` when `j` is past the end).
    pub(crate) fn http_source_position(&self, j: u64) -> u64 {
        let mut seen = 0;
        for p in 0..self.domains {
            if self.http_qualifies(p) {
                if seen == j {
                    return p;
                }
                seen += 1;
            }
        }
        self.domains
    }
}

/// Realistic records of a domain that resolved: A (and often AAAA), usually MX, always NS.
fn dns_records(s: &mut String, name: &str, rng: &mut RowRng) {
    let ip = rng.next();
    let ns = NS_PROVIDERS[rng.below(NS_PROVIDERS.len() as u64) as usize];
    let has_aaaa = rng.below(100) < 40;
    let mx = rng.below(100);
    let ttl = [300, 600, 3600][rng.below(3) as usize];
    // Public-looking IPv4: first octet in 23..=222, skipping the private 172/192 ranges by
    // construction is not worth it for demo data.
    let _ = write!(
        s,
        "{{\"A\":[\"{}.{}.{}.{}\"]",
        23 + (ip & 0xFF) % 200,
        (ip >> 8) & 0xFF,
        (ip >> 16) & 0xFF,
        1 + ((ip >> 24) & 0xFF) % 254
    );
    if has_aaaa {
        let _ = write!(
            s,
            ",\"AAAA\":[\"2606:4700:{:x}:{:x}::{:x}\"]",
            (ip >> 32) & 0xFFFF,
            (ip >> 48) & 0xFFFF,
            1 + (ip & 0xFFF)
        );
    }
    if mx < 75 {
        if mx < 45 {
            let _ = write!(
                s,
                ",\"MX\":[{{\"host\":\"mx1.{name}\",\"priority\":10}},{{\"host\":\"mx2.{name}\",\"priority\":20}}]"
            );
        } else {
            let host = MX_HOSTS[(mx % MX_HOSTS.len() as u64) as usize];
            let _ = write!(s, ",\"MX\":[{{\"host\":\"{host}\",\"priority\":1}}]");
        }
    }
    let _ = write!(s, ",\"NS\":[\"{}\",\"{}\"],\"TTL\":{ttl}}}", ns[0], ns[1]);
}

/// The three tables a chain fills, in the order they are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeedTable {
    /// `generated_domains` of the generation campaign.
    GeneratedDomains,
    /// `dns_validation_results` of the DNS campaign.
    DnsValidationResults,
    /// `http_keyword_results` of the HTTP campaign.
    HttpKeywordResults,
}

impl SeedTable {
    /// All three, in write order.
    pub const ALL: [SeedTable; 3] = [
        SeedTable::GeneratedDomains,
        SeedTable::DnsValidationResults,
        SeedTable::HttpKeywordResults,
    ];

    /// The table's name in the schema.
    pub fn name(self) -> &'static str {
        match self {
            SeedTable::GeneratedDomains => "generated_domains",
            SeedTable::DnsValidationResults => "dns_validation_results",
            SeedTable::HttpKeywordResults => "http_keyword_results",
        }
    }

    /// Its campaign column (the first column of its primary key).
    pub(crate) fn campaign_column(self) -> &'static str {
        match self {
            SeedTable::GeneratedDomains => "domain_generation_campaign_id",
            SeedTable::DnsValidationResults => "dns_campaign_id",
            SeedTable::HttpKeywordResults => "http_keyword_campaign_id",
        }
    }

    /// Columns written, in the order the writers encode them.
    pub(crate) fn columns(self) -> &'static [&'static str] {
        match self {
            SeedTable::GeneratedDomains => &[
                "id",
                "domain_generation_campaign_id",
                "domain_name",
                "offset_index",
                "tld",
                "source_keyword",
                "source_pattern",
                "generated_at",
                "created_at",
            ],
            SeedTable::DnsValidationResults => &[
                "id",
                "dns_campaign_id",
                "generated_domain_id",
                "domain_name",
                "validation_status",
                "business_status",
                "dns_records",
                "attempts",
                "last_checked_at",
                "created_at",
            ],
            SeedTable::HttpKeywordResults => &[
                "id",
                "http_keyword_campaign_id",
                "dns_result_id",
                "domain_name",
                "validation_status",
                "http_status_code",
                "page_title",
                "content_snippet",
                "found_keywords",
                "content_hash",
                "attempts",
                "last_checked_at",
                "created_at",
            ],
        }
    }

    /// Index of the table's campaign within a chain (0 generation, 1 DNS, 2 HTTP).
    pub(crate) fn stage(self) -> usize {
        match self {
            SeedTable::GeneratedDomains => 0,
            SeedTable::DnsValidationResults => 1,
            SeedTable::HttpKeywordResults => 2,
        }
    }
}

/// A row of any of the three tables, so the writers can be written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AnyRow {
    Domain(DomainRow),
    Dns(DnsRow),
    Http(HttpRow),
}

/// Walks the rows of one table of one chain in order, from any starting row.
#[derive(Debug, Clone)]
pub(crate) struct RowCursor {
    pub plan: std::sync::Arc<ChainPlan>,
    pub table: SeedTable,
    /// Index of the next row within the table.
    pub next_row: u64,
    /// For HTTP: the DNS position to look for the next qualifying row from.
    next_source: u64,
}

impl RowCursor {
    /// A cursor at row `start` of `table`.
    pub(crate) fn new(plan: std::sync::Arc<ChainPlan>, table: SeedTable, start: u64) -> Self {
        let next_source = match table {
            SeedTable::HttpKeywordResults => plan.http_source_position(start),
            _ => start,
        };
        Self {
            plan,
            table,
            next_row: start,
            next_source,
        }
    }

    /// An empty row buffer of this cursor's table, to be filled again and again.
    pub(crate) fn empty_row(&self) -> AnyRow {
        match self.table {
            SeedTable::GeneratedDomains => AnyRow::Domain(DomainRow::default()),
            SeedTable::DnsValidationResults => AnyRow::Dns(DnsRow::default()),
            SeedTable::HttpKeywordResults => AnyRow::Http(HttpRow::default()),
        }
    }

    /// Fills `row` with the next row and advances; false when the table is complete.
    pub(crate) fn fill_next(&mut self, row: &mut AnyRow) -> bool {
        let plan = &*self.plan;
        match (self.table, row) {
            (SeedTable::GeneratedDomains, AnyRow::Domain(row)) if self.next_row < plan.domains => {
                plan.domain(self.next_row, row);
            }
            (SeedTable::DnsValidationResults, AnyRow::Dns(row)) if self.next_row < plan.domains => {
                plan.dns(self.next_row, row);
            }
            (SeedTable::HttpKeywordResults, AnyRow::Http(row)) => {
                let Some(p) = (self.next_source..plan.domains).find(|&p| plan.http_qualifies(p)) else {
                    self.next_source = plan.domains;
                    return false;
                };
                plan.http(self.next_row, p, row);
                self.next_source = p + 1;
            }
            _ => return false,
        }
        self.next_row += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    fn collect(plan: &Arc<ChainPlan>, table: SeedTable, start: u64) -> Vec<AnyRow> {
        let mut cursor = RowCursor::new(plan.clone(), table, start);
        let mut row = cursor.empty_row();
        let mut rows = Vec::new();
        while cursor.fill_next(&mut row) {
            rows.push(row.clone());
        }
        rows
    }

    #[test]
    fn hash_is_the_published_splitmix64() {
        // splitmix64 seeded with 0: the first output of the reference implementation.
        assert_eq!(mix64(GOLDEN), 0xE220_A839_7B1D_CDAF);
        assert_eq!(fnv1a64(b""), 0xCBF2_9CE4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xAF63_DC4C_8601_EC8C);
    }

    #[test]
    fn campaign_ids_are_stable_and_depend_on_chain_and_size() {
        let a = chain_ids(0, 1_000);
        assert_eq!(a, chain_ids(0, 1_000));
        assert_eq!(a.generation.get_version_num(), 5);
        assert_ne!(a.generation, chain_ids(0, 1_001).generation);
        assert_ne!(a.generation, chain_ids(1, 1_000).generation);
        let all: HashSet<_> = [a.generation, a.dns, a.http].into();
        assert_eq!(all.len(), 3);
        assert_eq!(
            Uuid::new_v5(&NAMESPACE, b"domainflow-seed/chain/0/domains/1000/generation"),
            a.generation
        );
    }

    /// Pinned output: if this fails, every database seeded before the change holds different
    /// rows than a re-run would write, and resuming it would mix the two. Change on purpose only.
    #[test]
    fn output_is_pinned() {
        assert_eq!(
            chain_ids(0, 2_000_000).generation.to_string(),
            "a0181427-afe5-584e-a5ae-01870ec96244"
        );
        let plan = ChainPlan::new(0, 2_000_000);
        let mut d = DomainRow::default();
        plan.domain(12_345, &mut d);
        assert_eq!(d.id.to_string(), "019b76da-d839-7251-adce-dc108eeac1fd");
        assert_eq!((d.name.as_str(), d.tld), ("shopacn0.net", "net"));
        assert_eq!(
            (d.generated_at, d.created_at),
            (1_767_225_612_342_284, 1_767_225_612_345_157)
        );
        let mut r = DnsRow::default();
        plan.dns(7, &mut r);
        assert_eq!(r.id.to_string(), "019b7702-5447-7e64-b34f-5ae6d7b27135");
        assert_eq!(r.generated_domain_id, plan.domain_id(7));
        assert_eq!(
            (r.status, r.business),
            (ValidationStatus::Valid, Some(BusinessStatus::LeadCandidate))
        );
        assert_eq!(
            r.records.as_deref(),
            Some(
                r#"{"A":["177.55.244.93"],"AAAA":["2606:4700:df77:8353::79b"],"NS":["ns1.googledomains.com","ns2.googledomains.com"],"TTL":300}"#
            )
        );
        assert_eq!(
            (r.attempts, r.last_checked_at, r.created_at),
            (1, Some(1_767_228_200_400_885), 1_767_228_200_007_133)
        );
    }

    #[test]
    fn variable_length_is_the_smallest_that_covers() {
        assert_eq!(variable_length(1), 1);
        assert_eq!(variable_length(144), 1);
        assert_eq!(variable_length(145), 2);
        assert_eq!(variable_length(2_000_000), 4); // 36^4 × 4 = 6,718,464
        assert_eq!(variable_length(6_718_464), 4);
        assert_eq!(variable_length(6_718_465), 5);
        assert_eq!(variable_length(MAX_DOMAINS), 6);
    }

    #[test]
    fn offsets_decode_in_mixed_radix() {
        let plan = ChainPlan::new(0, 2_000_000);
        let mut s = String::new();
        assert_eq!(plan.domain_name(0, &mut s), "com");
        assert_eq!(s, "shopaaaa.com");
        plan.domain_name(1, &mut s);
        assert_eq!(s, "shopaaaa.net");
        plan.domain_name(3, &mut s);
        assert_eq!(s, "shopaaaa.io");
        plan.domain_name(4, &mut s);
        assert_eq!(s, "shopaaab.com");
        // p = (digits) × 4 + tld: "ab9z" = ((0×36 + 1)×36 + 35)×36 + 25 = 2,581; × 4 + 2 (org).
        plan.domain_name(2_581 * 4 + 2, &mut s);
        assert_eq!(s, "shopab9z.org");
        assert_eq!(plan.pattern, "prefix:shop+[a-z0-9]{4}");
        // Name order is not offset order: the TLD is the fastest digit and digits sort first.
        let mut names: Vec<String> = (0..200)
            .map(|p| {
                let mut s = String::new();
                plan.domain_name(p, &mut s);
                s
            })
            .collect();
        let by_offset = names.clone();
        names.sort();
        assert_ne!(names, by_offset);
    }

    #[test]
    fn ten_thousand_rows_are_unique_ordered_and_deterministic() {
        let plan = Arc::new(ChainPlan::new(3, 10_000));
        let domains = collect(&plan, SeedTable::GeneratedDomains, 0);
        assert_eq!(domains.len(), 10_000);
        assert_eq!(
            domains,
            collect(&Arc::new(ChainPlan::new(3, 10_000)), SeedTable::GeneratedDomains, 0)
        );
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        let mut last_id = Uuid::nil();
        for (p, row) in domains.iter().enumerate() {
            let AnyRow::Domain(d) = row else {
                panic!("domain row expected")
            };
            assert_eq!(d.offset, p as i64);
            assert!(d.name.starts_with("smart") && d.name.ends_with(d.tld));
            assert!(names.insert(d.name.clone()), "duplicate name {}", d.name);
            assert!(ids.insert(d.id), "duplicate id");
            assert_eq!(d.id.get_version_num(), 7);
            assert!(d.id > last_id, "ids are time-ordered");
            last_id = d.id;
            assert!(d.generated_at < d.created_at && d.created_at - d.generated_at < 10_000);
            // The UUIDv7 timestamp is created_at in ms.
            let (secs, nanos) = d.id.get_timestamp().map(|t| t.to_unix()).unwrap_or((0, 0));
            assert_eq!(secs as i64 * 1000 + i64::from(nanos) / 1_000_000, d.created_at / 1000);
        }

        let dns = collect(&plan, SeedTable::DnsValidationResults, 0);
        assert_eq!(dns.len(), 10_000);
        let mut dns_ids = HashSet::new();
        let mut counts = std::collections::HashMap::new();
        for (row, domain) in dns.iter().zip(&domains) {
            let (AnyRow::Dns(r), AnyRow::Domain(d)) = (row, domain) else {
                panic!("row kinds")
            };
            assert_eq!(r.generated_domain_id, d.id);
            assert_eq!(r.name, d.name);
            assert!(dns_ids.insert(r.id) && !ids.contains(&r.id));
            assert_eq!(r.business.is_some(), r.status == ValidationStatus::Valid);
            if let Some(json) = &r.records {
                serde_json::from_str::<serde_json::Value>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            }
            *counts.entry((r.status, r.business)).or_insert(0u32) += 1;
        }
        let valid: u32 = counts
            .iter()
            .filter(|((s, _), _)| *s == ValidationStatus::Valid)
            .map(|(_, n)| n)
            .sum();
        assert!((6_700..7_300).contains(&valid), "valid {valid}");
        let leads = counts[&(ValidationStatus::Valid, Some(BusinessStatus::LeadCandidate))];
        assert!((1_800..2_400).contains(&leads), "lead candidates {leads}");

        let http = collect(&plan, SeedTable::HttpKeywordResults, 0);
        assert_eq!(http.len() as u64, plan.http_total());
        let qualifying: Vec<_> = dns
            .iter()
            .filter_map(|r| match r {
                AnyRow::Dns(r)
                    if matches!(
                        r.business,
                        Some(BusinessStatus::LeadCandidate | BusinessStatus::ValidDns)
                    ) =>
                {
                    Some(r)
                }
                _ => None,
            })
            .collect();
        assert_eq!(qualifying.len(), http.len());
        for (row, source) in http.iter().zip(qualifying) {
            let AnyRow::Http(h) = row else {
                panic!("http row expected")
            };
            assert_eq!(h.dns_result_id, source.id);
            assert_eq!(h.name, source.name);
            assert_eq!(h.status == ValidationStatus::Error, h.status_code >= 500);
            assert_eq!(
                h.status == ValidationStatus::Valid,
                h.status_code == 200 && h.keywords.as_deref() != Some("[]")
            );
            if let Some(json) = &h.keywords {
                serde_json::from_str::<Vec<String>>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            }
            if let Some(hash) = &h.content_hash {
                assert_eq!(hash.len(), 64);
            }
        }
        // Resuming from any row gives the same rows as walking from the start.
        assert_eq!(collect(&plan, SeedTable::HttpKeywordResults, 1_234)[..], http[1_234..]);
        assert_eq!(collect(&plan, SeedTable::DnsValidationResults, 9_999)[..], dns[9_999..]);
    }

    #[test]
    fn status_texts_match_the_entity_enums() {
        use sea_orm::{ActiveEnum, Iterable};
        for s in ValidationStatus::iter() {
            assert_eq!(validation_str(s), s.to_value());
        }
        for s in BusinessStatus::iter() {
            assert_eq!(business_str(s), s.to_value());
        }
    }

    #[test]
    fn campaigns_of_a_chain_do_not_overlap_in_time() {
        let plan = ChainPlan::new(1, 5_000);
        let next = ChainPlan::new(2, 5_000);
        assert!(plan.base_ms[0] + 5_000 < plan.base_ms[1]);
        assert!(plan.base_ms[1] + 5_000 < plan.base_ms[2]);
        assert!(plan.base_ms[2] + 5_000 < next.base_ms[0]);
        assert_eq!(ChainPlan::new(8, 10).constant, "shop1");
    }
}
