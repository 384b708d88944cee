//! Global object identification: opaque ids `base64url_nopad("v1:<Type>:<uuid>")` for
//! campaigns and `"v1:<Type>:<campaignUuid>:<rowUuid>"` for campaign rows, so resolving a row
//! touches only its campaign's shard.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use super::complete::Typed;
use crate::error::Error;

/// The object types that have global ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    Campaign,
    GeneratedDomain,
    DnsValidationResult,
    HttpKeywordResult,
}

impl NodeType {
    fn name(self) -> &'static str {
        match self {
            Self::Campaign => "Campaign",
            Self::GeneratedDomain => "GeneratedDomain",
            Self::DnsValidationResult => "DnsValidationResult",
            Self::HttpKeywordResult => "HttpKeywordResult",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        [
            Self::Campaign,
            Self::GeneratedDomain,
            Self::DnsValidationResult,
            Self::HttpKeywordResult,
        ]
        .into_iter()
        .find(|t| t.name() == name)
    }
}

/// A decoded global id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GlobalId {
    pub node_type: NodeType,
    /// The campaign the row belongs to (for a campaign: the campaign itself).
    pub campaign: Uuid,
    /// The row's primary key within its table.
    pub id: Uuid,
}

impl GlobalId {
    /// The global id of a campaign.
    pub fn campaign(id: Uuid) -> Self {
        Self {
            node_type: NodeType::Campaign,
            campaign: id,
            id,
        }
    }

    /// The global id of a row of a campaign.
    pub fn row(node_type: NodeType, campaign: Uuid, id: Uuid) -> Self {
        Self {
            node_type,
            campaign,
            id,
        }
    }

    /// The opaque text handed to clients.
    pub fn encode(&self) -> String {
        let mut encoded = String::with_capacity(128);
        self.encode_into(&mut encoded);
        encoded
    }

    /// Appends [`GlobalId::encode`]'s text to `out` (URL-safe base64: never needs JSON escaping).
    pub fn encode_into(&self, out: &mut String) {
        // Written piece by piece rather than with `format!`: every node of every page has one.
        let mut text = [0u8; 128];
        let mut len = 0;
        let mut put = |bytes: &[u8]| {
            text[len..len + bytes.len()].copy_from_slice(bytes);
            len += bytes.len();
        };
        let mut uuid = Uuid::encode_buffer();
        // At most 3 + the longest type name (19) + 1 + 36 + 1 + 36 = 96 bytes.
        put(b"v1:");
        put(self.node_type.name().as_bytes());
        put(b":");
        if self.node_type != NodeType::Campaign {
            put(self.campaign.hyphenated().encode_lower(&mut uuid).as_bytes());
            put(b":");
        }
        put(self.id.hyphenated().encode_lower(&mut uuid).as_bytes());
        crate::pagination::cursor::base64_into(&text[..len], out);
    }

    /// Decodes a global id; anything malformed is BAD_USER_INPUT.
    pub fn decode(raw: &str) -> Result<Self, Error> {
        let bad = || Error::BadUserInput(format!("{} is not a valid global id", echo(raw)));
        if raw.len() > 200 {
            return Err(bad());
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
        let text = std::str::from_utf8(&bytes).map_err(|_| bad())?;
        let mut parts = text.split(':');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let node_type = parts.next().and_then(NodeType::from_name).ok_or_else(bad)?;
        let mut uuid = || -> Result<Uuid, Error> {
            let part = parts.next().ok_or_else(bad)?;
            // Only the canonical hyphenated form we issue.
            if part.len() != 36 {
                return Err(bad());
            }
            Uuid::parse_str(part).map_err(|_| bad())
        };
        let id = match node_type {
            NodeType::Campaign => {
                let id = uuid()?;
                Self::campaign(id)
            }
            other => {
                let campaign = uuid()?;
                let row = uuid()?;
                Self::row(other, campaign, row)
            }
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(id)
    }

    /// Decodes a global id that must be of `expected` type.
    pub fn decode_as(raw: &str, expected: NodeType) -> Result<Self, Error> {
        let id = Self::decode(raw)?;
        if id.node_type != expected {
            return Err(Error::BadUserInput(format!(
                "{} is the id of a {}, not of a {}",
                echo(raw),
                id.node_type.name(),
                expected.name()
            )));
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_junk() {
        let c = GlobalId::campaign(Uuid::from_u128(1));
        assert_eq!(GlobalId::decode(&c.encode()).ok(), Some(c));
        let r = GlobalId::row(NodeType::DnsValidationResult, Uuid::from_u128(1), Uuid::from_u128(2));
        assert_eq!(GlobalId::decode(&r.encode()).ok(), Some(r));
        for junk in [
            "",
            "abc",
            "djE6Q2FtcGFpZ24",
            &URL_SAFE_NO_PAD.encode("v1:Nope:x"),
            &URL_SAFE_NO_PAD.encode("v2:Campaign:00000000-0000-0000-0000-000000000001"),
        ] {
            assert!(GlobalId::decode(junk).is_err(), "{junk}");
        }
        assert!(GlobalId::decode_as(&c.encode(), NodeType::GeneratedDomain).is_err());
    }
}

/// A client's value quoted in an error message: whole when short, else its start and length,
/// so a huge argument is not sent straight back.
fn echo(raw: &str) -> String {
    const SHOWN: usize = 64;
    match raw.char_indices().nth(SHOWN) {
        None => format!("{raw:?}"),
        Some((end, _)) => format!("{:?}… ({} bytes)", &raw[..end], raw.len()),
    }
}

/// An object with a global id (Relay Global Object Identification).
#[derive(async_graphql::Interface)]
#[graphql(field(
    name = "id",
    ty = "async_graphql::ID",
    desc = "Opaque global id; `node(id:)` resolves it."
))]
pub enum Node {
    Campaign(super::campaign::Campaign),
    GeneratedDomain(super::results::GeneratedDomain),
    DnsValidationResult(super::results::DnsValidationResult),
    HttpKeywordResult(super::results::HttpKeywordResult),
}

/// Root fields resolving global ids; they need the `read` scope.
#[derive(Default)]
pub struct NodeQuery;

#[async_graphql::Object(guard = "super::access::RequireScope(crate::auth::Scope::Read)")]
impl NodeQuery {
    /// The object with this global id; null when it does not exist. A malformed id is
    /// BAD_USER_INPUT.
    async fn node(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "A global id (any object's `id`).")] id: async_graphql::ID,
    ) -> crate::error::ApiResult<Option<Typed<Node>>> {
        let id = GlobalId::decode(&id)?;
        Ok(load_node(ctx, id).await?.map(Typed))
    }

    /// The objects with these global ids, in order; null for each that does not exist.
    /// Loaded in batches (one query per type and campaign).
    #[graphql(complexity = "super::limits::list_cost(ids.len(), child_complexity)")]
    async fn nodes(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(desc = "Global ids (at most the maximum page size).")] ids: Vec<async_graphql::ID>,
    ) -> crate::error::ApiResult<Vec<Option<Typed<Node>>>> {
        let max = super::ApiContext::get(ctx)?.max_page_size;
        if ids.len() > max as usize {
            return Err(Error::BadUserInput(format!("`ids` takes at most {max} ids, got {}", ids.len())).into());
        }
        let ids = ids
            .iter()
            .map(|id| GlobalId::decode(id))
            .collect::<Result<Vec<_>, _>>()?;
        let nodes = futures::future::try_join_all(ids.into_iter().map(|id| load_node(ctx, id))).await?;
        Ok(nodes.into_iter().map(|node| node.map(Typed)).collect())
    }
}

async fn load_node(ctx: &async_graphql::Context<'_>, id: GlobalId) -> crate::error::ApiResult<Option<Node>> {
    use super::loader::{CampaignKey, RowKey};
    use crate::entity::{dns_validation_result, generated_domain, http_keyword_result};
    let loader = &super::ApiContext::get(ctx)?.loader;
    Ok(match id.node_type {
        NodeType::Campaign => loader
            .load_one(CampaignKey(id.id))
            .await?
            .map(|m| Node::Campaign(super::campaign::Campaign(m))),
        NodeType::GeneratedDomain => loader
            .load_one(RowKey::<generated_domain::Entity>::new(id.campaign, id.id))
            .await?
            .map(|m| Node::GeneratedDomain(super::results::GeneratedDomain(m))),
        NodeType::DnsValidationResult => loader
            .load_one(RowKey::<dns_validation_result::Entity>::new(id.campaign, id.id))
            .await?
            .map(|m| Node::DnsValidationResult(super::results::DnsValidationResult(m))),
        NodeType::HttpKeywordResult => loader
            .load_one(RowKey::<http_keyword_result::Entity>::new(id.campaign, id.id))
            .await?
            .map(|m| Node::HttpKeywordResult(super::results::HttpKeywordResult(m))),
    })
}
