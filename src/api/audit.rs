//! HTTP endpoints of the audit trail: a tenant's public audit key (public, no key needed) and
//! the NDJSON export (any key that may read the tenant).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};

use crate::api::graphql::{bearer, client_origin};
use crate::api::request_id::CorrelationId;
use crate::app::{AppError, RequestContext, Tessera};
use crate::audit::Range;
use crate::domain::values::TenantId;

fn error(e: &AppError, correlation_id: &str) -> HttpResponse {
    if let AppError::Internal(detail) = e {
        tracing::error!(correlation_id, error = %detail, "internal error");
    }
    HttpResponse::build(e.status())
        .json(serde_json::json!({ "error": { "code": e.code(), "message": e.public_message(), "correlationId": correlation_id } }))
}

/// GET /audit/{tenant}/public-key.pem: the tenant's audit public keys (PEM, oldest first).
pub async fn public_key(req: HttpRequest, path: web::Path<String>, app: web::Data<Arc<Tessera>>) -> HttpResponse {
    let correlation_id = CorrelationId::of(&req);
    let result = async {
        let tenant = TenantId::parse(&path.into_inner())?;
        app.audit_public_keys(tenant).await
    }
    .await;
    match result {
        Ok(keys) => HttpResponse::Ok()
            .content_type("application/x-pem-file")
            .body(keys.into_iter().map(|k| k.public_key_pem).collect::<Vec<_>>().join("")),
        Err(e) => error(&e, &correlation_id),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportQuery {
    tenant_id: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

/// GET /audit/export?tenantId=&since=&until=: the tenant's chain as NDJSON, streamed.
pub async fn export(req: HttpRequest, query: web::Query<ExportQuery>, app: web::Data<Arc<Tessera>>) -> HttpResponse {
    let correlation_id = CorrelationId::of(&req);
    let result = async {
        let secret =
            bearer(&req).ok_or_else(|| AppError::Unauthenticated("an API key is required: send Authorization: Bearer <key>".into()))?;
        let principal = app.authenticate(secret).await?;
        let ctx = RequestContext {
            principal,
            correlation_id: correlation_id.clone(),
            request_id: uuid::Uuid::new_v4().to_string(),
            origin: client_origin(&req),
            origin_recorded: Default::default(),
        };
        let tenant = query.tenant_id.as_deref().map(TenantId::parse).transpose()?;
        app.audit_export(&ctx, tenant, Range { since: query.since, until: query.until }).await
    }
    .await;
    let exporter = match result {
        Ok(exporter) => exporter,
        Err(e) => return error(&e, &correlation_id),
    };
    let chunks = futures::stream::unfold(Some(exporter), move |state| {
        let correlation_id = correlation_id.clone();
        async move {
            let mut exporter = state?;
            match exporter.next_chunk().await {
                Ok(Some(chunk)) => Some((Ok(web::Bytes::from(chunk)), Some(exporter))),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!(%correlation_id, error = %e, "audit export failed midway");
                    Some((Err(actix_web::error::ErrorInternalServerError("export failed")), None))
                }
            }
        }
    });
    HttpResponse::Ok().content_type("application/x-ndjson").streaming(chunks)
}
