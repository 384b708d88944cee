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
