//! The admin API: async-graphql schema, its types, and the HTTP endpoint around it.

mod audit;
mod codes;
mod deprovisioning;
mod endpoint;
mod federation;
mod forget;
mod jobs;
mod microsoft365;
mod mutation;
mod parsed;
mod payload;
mod provisioning;
mod query;
mod sign_in;
mod subscription;
mod types;

pub use endpoint::{bearer, client_origin, graphiql, graphql_post};
pub use subscription::graphql_ws;

use async_graphql::Schema;

use mutation::Mutation;
use query::Query;
use subscription::Subscription;

pub type AdminSchema = Schema<Query, Mutation, Subscription>;

/// Depth stays above what the standard introspection query needs (about 13), so GraphiQL works.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 5_000;

pub fn schema(app: std::sync::Arc<crate::app::Tessera>) -> AdminSchema {
    Schema::build(Query, Mutation, Subscription)
        .data(app)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(codes::ErrorCodes)
        .extension(parsed::ParsedDocuments::default())
        .finish()
}

/// The SDL checked in as `graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, Subscription).finish().sdl()
}
