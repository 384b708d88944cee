//! sea-orm models of the six tables, the value sets stored in them, and the one time type
//! that reads and writes correctly on both backends.
//!
//! These are the database's shape. GraphQL output types live in `graphql/` and are built from
//! these models; the two change for different reasons.

pub mod campaign;
pub mod connection_pool_metric;
pub mod decode;
pub mod dns_validation_result;
pub mod enums;
pub mod generated_domain;
pub mod http_keyword_result;
pub mod query_performance_metric;
pub mod timestamp;

pub use decode::DecodeRow;
pub use enums::{BusinessStatus, CampaignStatus, CampaignType, ValidationStatus};
pub use timestamp::Timestamp;
