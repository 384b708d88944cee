//! schema.graphql is the committed output of `export-schema`; this fails when they drift.

#[test]
fn schema_graphql_matches_export_schema() {
    let exported = domainflow::graphql::export_sdl();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &exported).expect("write schema.graphql");
        return;
    }
    assert!(
        committed == exported,
        "schema.graphql is out of date: run `cargo run -- export-schema --output schema.graphql` (or UPDATE_SCHEMA=1 cargo test schema) and commit it"
    );
}
