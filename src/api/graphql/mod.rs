//! The admin API: async-graphql schema, its types, and the HTTP endpoint around it.

mod codes;
mod endpoint;
mod mutation;
mod query;
mod sign_in;
mod types;

pub use endpoint::{graphiql, graphql_post};

use async_graphql::{EmptySubscription, Schema};

use mutation::Mutation;
use query::Query;

pub type AdminSchema = Schema<Query, Mutation, EmptySubscription>;

/// Depth stays above what the standard introspection query needs (about 13), so GraphiQL works.
pub const MAX_DEPTH: usize = 16;
pub const MAX_COMPLEXITY: usize = 5_000;

pub fn schema(app: std::sync::Arc<crate::app::Tessera>) -> AdminSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .data(app)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .extension(codes::ErrorCodes)
        .finish()
}

/// The SDL checked in as `graphql/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription).finish().sdl()
}
