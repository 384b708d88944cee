// TEMPORARY local stub until the seed branch merges. Do not commit.
use sea_orm::{DatabaseConnection, DbErr};
pub struct SeedOptions {
    pub campaigns: u32,
    pub domains: u64,
    pub progress: bool,
}
pub struct SeedReport;
impl std::fmt::Display for SeedReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "stub")
    }
}
pub async fn seed(_db: &DatabaseConnection, _o: &SeedOptions) -> Result<SeedReport, DbErr> {
    Ok(SeedReport)
}
pub async fn load_demo_if_empty(_db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(false)
}
pub struct ChainIds {
    pub generation: uuid::Uuid,
    pub dns: uuid::Uuid,
    pub http: uuid::Uuid,
}
pub fn chain_ids(_c: u32, _d: u64) -> ChainIds {
    ChainIds {
        generation: uuid::Uuid::nil(),
        dns: uuid::Uuid::nil(),
        http: uuid::Uuid::nil(),
    }
}
