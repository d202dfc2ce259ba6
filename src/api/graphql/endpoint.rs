use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::FutureExt;

use super::AdminSchema;
use crate::api::error::graphql_error_body;
use crate::api::request_id::CorrelationId;
use crate::app::{ClientOrigin, RequestContext, Tessera};

pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// The client's address as the socket sees it (a proxy's `Forwarded` header is not trusted, as
/// anyone can send one) and its user agent.
pub fn client_origin(req: &HttpRequest) -> ClientOrigin {
    ClientOrigin {
        ip: req.peer_addr().map(|addr| addr.ip().to_string()),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    }
}

/// POST /graphql. The key is checked before anything else; the body is parsed here so that a
/// malformed one still gets a GraphQL-shaped answer with a code; a panic in a resolver becomes
/// an `INTERNAL` error instead of a dropped connection.
pub async fn graphql_post(
    req: HttpRequest,
    body: web::Bytes,
    schema: web::Data<AdminSchema>,
    app: web::Data<Arc<Tessera>>,
) -> HttpResponse {
    let correlation_id = CorrelationId::of(&req);
    let Some(secret) = bearer(&req) else {
        return HttpResponse::Unauthorized().json(graphql_error_body(
            "an API key is required: send Authorization: Bearer <key>",
            "UNAUTHENTICATED",
            &correlation_id,
        ));
    };
    let principal = match app.authenticate(secret).await {
        Ok(principal) => principal,
        Err(e) => return HttpResponse::build(e.status()).json(graphql_error_body(&e.public_message(), e.code(), &correlation_id)),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            return HttpResponse::BadRequest().json(graphql_error_body(
                &format!("the body is not a GraphQL request ({{\"query\": …, \"variables\": …}}): {e}"),
                "GRAPHQL_PARSE_FAILED",
                &correlation_id,
            ));
        }
    };
    let span = tracing::info_span!("graphql", key = %principal.key_id, role = principal.role.as_str(), tenant = ?principal.tenant_id.map(|t| t.to_string()));
    let context = RequestContext {
        principal,
        correlation_id: correlation_id.clone(),
        request_id: uuid::Uuid::new_v4().to_string(),
        origin: client_origin(&req),
        origin_recorded: Default::default(),
    };
    let execution = AssertUnwindSafe(tracing::Instrument::instrument(schema.execute(request.data(context)), span)).catch_unwind();
    match execution.await {
        Ok(response) => HttpResponse::Ok().json(response),
        Err(_) => {
            tracing::error!(%correlation_id, "panic while executing a GraphQL request");
            HttpResponse::Ok().json(graphql_error_body(
                "internal error; quote the correlation id to the operator",
                "INTERNAL",
                &correlation_id,
            ))
        }
    }
}

/// GET /graphql: GraphiQL, to explore the API in a browser.
pub async fn graphiql() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("Tessera admin API")
            .finish(),
    )
}
