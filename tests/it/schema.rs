/// graphql/schema.graphql is generated from the code; this fails when it is stale.
#[test]
fn checked_in_schema_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/graphql/schema.graphql");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    let current = tessera::api::graphql::sdl();
    assert!(checked_in == current, "graphql/schema.graphql is stale: regenerate it with `cargo run -- schema > graphql/schema.graphql`");
}
