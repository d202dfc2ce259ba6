//! Parsed documents kept by their text. Clients send the same few documents over and over (a
//! provisioning script's mutation, with variables carrying what changes), and parsing was 5 % of
//! the server's CPU in a profile of the command mix (docs/benchmarks.md). Validation, depth and
//! complexity limits still run on every request; a document that does not parse is never kept.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

/// Documents kept at most (all dropped when full: the working set refills at once).
const MAX_DOCUMENTS: usize = 512;
/// Longer documents are parsed each time (nobody sends those in bulk).
const MAX_TEXT: usize = 16 * 1024;

#[derive(Default, Clone)]
pub struct ParsedDocuments {
    documents: Arc<Mutex<HashMap<String, ExecutableDocument>>>,
}

impl ParsedDocuments {
    /// How many documents are kept now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.documents.lock().map(|d| d.len()).unwrap_or(0)
    }
}

impl ExtensionFactory for ParsedDocuments {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Extension for ParsedDocuments {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(document) = self.documents.lock().ok().and_then(|d| d.get(query).cloned()) {
            return Ok(document);
        }
        let document = next.run(ctx, query, variables).await?;
        if query.len() <= MAX_TEXT
            && let Ok(mut documents) = self.documents.lock()
        {
            if documents.len() >= MAX_DOCUMENTS {
                documents.clear();
            }
            documents.insert(query.to_owned(), document.clone());
        }
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};

    use super::*;

    struct Query;

    #[Object]
    impl Query {
        async fn twice(&self, n: i32) -> i32 {
            n * 2
        }
    }

    #[tokio::test]
    async fn a_document_is_parsed_once_and_answers_alike() {
        let parsed = ParsedDocuments::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).extension(parsed.clone()).finish();
        let request = |n: i32| {
            async_graphql::Request::new("query($n: Int!) { twice(n: $n) }").variables(Variables::from_json(serde_json::json!({ "n": n })))
        };
        assert_eq!(schema.execute(request(2)).await.data.into_json().unwrap(), serde_json::json!({ "twice": 4 }));
        assert_eq!(schema.execute(request(5)).await.data.into_json().unwrap(), serde_json::json!({ "twice": 10 }), "variables still count");
        assert_eq!(parsed.len(), 1);

        // What does not parse is not kept, and fails every time; a kept document is validated anew.
        for _ in 0..2 {
            assert!(schema.execute("{ twice(n: ").await.is_err());
        }
        assert_eq!(parsed.len(), 1);
        for _ in 0..2 {
            let response = schema.execute("{ twice }").await;
            assert!(response.is_err(), "missing argument must fail validation each time");
        }
        assert_eq!(parsed.len(), 2);
    }
}
