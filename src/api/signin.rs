//! The WS-Federation endpoints: passive requestor, sign-in form posts, sign-out and metadata.
//! Handlers only translate HTTP to the sign-in use cases and steps to pages.

use std::sync::Arc;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;

use crate::app::signin::{ClientMeta, Outcome, SignInForm, Step};
use crate::app::{AppError, Tessera};
use crate::domain::values::TenantId;
use crate::wsfed::views::{self, FormContext};
use crate::wsfed::{MetadataInput, WsFedRequest, federation_metadata, sign_in_response_page};

const COOKIE: &str = "tessera_session";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/wsfed/{tenant}", web::get().to(passive_get))
        .route("/wsfed/{tenant}", web::post().to(passive_post))
        .route("/wsfed/{tenant}/signin", web::post().to(form_post))
        .route("/wsfed/{tenant}/FederationMetadata/2007-06/FederationMetadata.xml", web::get().to(tenant_metadata))
        .route("/wsfed/{tenant}/{domain}/FederationMetadata/2007-06/FederationMetadata.xml", web::get().to(domain_metadata));
}

fn correlation(req: &HttpRequest) -> String {
    crate::api::request_id::CorrelationId::of(req)
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(body)
}

fn message(req: &HttpRequest, status: StatusCode, title: &str, text: &str) -> HttpResponse {
    html(status, views::message_page(title, text, &correlation(req)))
}

fn internal(req: &HttpRequest, err: &AppError) -> HttpResponse {
    let id = correlation(req);
    tracing::error!(correlation_id = %id, error = %err, "sign-in failed");
    let (status, text) = match err {
        AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side. Try again in a moment."),
        _ => (err.status(), "This sign-in request cannot be completed."),
    };
    html(status, views::message_page("Sign-in problem", text, &id))
}

fn tenant(req: &HttpRequest) -> Option<TenantId> {
    req.match_info().get("tenant").and_then(|t| TenantId::parse(t).ok())
}

fn client(req: &HttpRequest) -> ClientMeta {
    ClientMeta {
        ip: req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
        user_agent: req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned(),
    }
}

fn session_cookie(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE).map(|c| c.value().to_owned())
}

fn unknown_tenant(req: &HttpRequest) -> HttpResponse {
    message(req, StatusCode::NOT_FOUND, "Unknown sign-in address", "This sign-in address does not belong to any organization.")
}

async fn passive_get(req: HttpRequest, app: web::Data<Arc<Tessera>>) -> HttpResponse {
    let raw = req.query_string().to_owned();
    passive(&req, &app, &raw).await
}

async fn passive_post(req: HttpRequest, app: web::Data<Arc<Tessera>>, body: web::Bytes) -> HttpResponse {
    let raw = if body.is_empty() { req.query_string().to_owned() } else { String::from_utf8_lossy(&body).into_owned() };
    passive(&req, &app, &raw).await
}

async fn passive(req: &HttpRequest, app: &Tessera, raw: &str) -> HttpResponse {
    let Some(tenant_id) = tenant(req) else { return unknown_tenant(req) };
    let cookie = session_cookie(req);
    match WsFedRequest::from_urlencoded(raw) {
        Ok(WsFedRequest::SignIn(_)) => match app.begin_sign_in(tenant_id, raw, cookie.as_deref(), &client(req)).await {
            Ok(outcome) => render(req, app, tenant_id, outcome),
            Err(e) => internal(req, &e),
        },
        Ok(WsFedRequest::SignOut(r) | WsFedRequest::SignOutCleanup(r)) => match app.sign_out(tenant_id, cookie.as_deref(), r.reply()).await
        {
            Ok(reply) => {
                let mut response = match reply {
                    Some(url) => HttpResponse::SeeOther().insert_header((header::LOCATION, url.as_str())).finish(),
                    None => message(req, StatusCode::OK, "Signed out", "You have signed out. You can close this window."),
                };
                let _ = response.add_cookie(&removal_cookie(app, tenant_id));
                response
            }
            Err(e) => internal(req, &e),
        },
        Err(e) => message(req, StatusCode::BAD_REQUEST, "Invalid sign-in request", &format!("The sign-in request is invalid: {e}.")),
    }
}

#[derive(Debug, Deserialize)]
struct FormBody {
    #[serde(default)]
    request: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    step: String,
    upn: Option<String>,
    password: Option<String>,
    code: Option<String>,
}

async fn form_post(req: HttpRequest, app: web::Data<Arc<Tessera>>, body: web::Bytes) -> HttpResponse {
    let Some(tenant_id) = tenant(&req) else { return unknown_tenant(&req) };
    let Ok(form) = serde_urlencoded::from_bytes::<FormBody>(&body) else {
        return message(&req, StatusCode::BAD_REQUEST, "Invalid form", "The form could not be read. Please start again.");
    };
    let form = SignInForm {
        request: form.request,
        csrf: form.csrf,
        step: form.step,
        upn: form.upn,
        password: form.password.map(SecretString::from),
        code: form.code,
    };
    let cookie = session_cookie(&req);
    match app.continue_sign_in(tenant_id, form, cookie.as_deref(), &client(&req)).await {
        Ok(outcome) => render(&req, &app, tenant_id, outcome),
        Err(e) => internal(&req, &e),
    }
}

fn cookie_for(app: &Tessera, tenant_id: TenantId, value: String) -> Cookie<'static> {
    Cookie::build(COOKIE, value)
        .path(format!("/wsfed/{tenant_id}"))
        .http_only(true)
        .secure(app.sign_in_settings().secure_cookies())
        .same_site(SameSite::Lax)
        .finish()
}

fn removal_cookie(app: &Tessera, tenant_id: TenantId) -> Cookie<'static> {
    let mut cookie = cookie_for(app, tenant_id, String::new());
    cookie.make_removal();
    cookie
}

fn render(req: &HttpRequest, app: &Tessera, tenant_id: TenantId, outcome: Outcome) -> HttpResponse {
    let action = format!("/wsfed/{tenant_id}/signin");
    let ctx = FormContext { action: &action, csrf: &outcome.csrf, request: &outcome.request };
    let mut response = match &outcome.step {
        Step::AskUpn { error, login_hint } => html(StatusCode::OK, views::upn_page(&ctx, login_hint.as_deref(), *error)),
        Step::AskPassword { upn, error } => html(StatusCode::OK, views::password_page(&ctx, upn, *error)),
        Step::AskCode { upn, error } => html(StatusCode::OK, views::code_page(&ctx, upn, *error)),
        Step::Enroll { upn, otpauth_uri, secret, qr_svg, error } => {
            html(StatusCode::OK, views::enroll_page(&ctx, upn, qr_svg, otpauth_uri, secret, *error))
        }
        Step::RecoveryCodes { codes } => html(StatusCode::OK, views::recovery_codes_page(&ctx, codes)),
        Step::Token { reply, wresult, wctx } => match sign_in_response_page(reply, wresult, wctx.as_deref(), None) {
            Ok(page) => html(StatusCode::OK, page),
            Err(e) => return internal(req, &AppError::Internal(e.to_string())),
        },
        Step::Refused { message: text } => message(req, StatusCode::FORBIDDEN, "You can't sign in here", text),
        Step::BadRequest { message: text } => message(req, StatusCode::BAD_REQUEST, "Invalid sign-in request", text),
    };
    if let Some(value) = outcome.set_cookie {
        let _ = response.add_cookie(&cookie_for(app, tenant_id, value));
    }
    response
}

async fn tenant_metadata(req: HttpRequest, app: web::Data<Arc<Tessera>>) -> HttpResponse {
    let Some(tenant_id) = tenant(&req) else { return unknown_tenant(&req) };
    let issuer = app.sign_in_settings().passive_endpoint(&tenant_id.to_string());
    metadata(&req, &app, tenant_id, &issuer).await
}

async fn domain_metadata(req: HttpRequest, app: web::Data<Arc<Tessera>>) -> HttpResponse {
    let Some(tenant_id) = tenant(&req) else { return unknown_tenant(&req) };
    let domain = match req.match_info().get("domain").map(crate::domain::values::DomainName::parse) {
        Some(Ok(domain)) => domain,
        _ => return message(&req, StatusCode::NOT_FOUND, "Unknown domain", "No such domain."),
    };
    let issuer = app.sign_in_settings().domain_issuer(&tenant_id.to_string(), domain.as_str());
    metadata(&req, &app, tenant_id, &issuer).await
}

async fn metadata(req: &HttpRequest, app: &Tessera, tenant_id: TenantId, issuer: &str) -> HttpResponse {
    let keys = match app.tenant_keys(tenant_id).await {
        Ok(keys) => keys,
        Err(AppError::NotFound(_)) => return unknown_tenant(req),
        Err(e) => return internal(req, &e),
    };
    let endpoint = app.sign_in_settings().passive_endpoint(&tenant_id.to_string());
    let input =
        MetadataInput { issuer, passive_endpoint: &endpoint, active_certificate: &keys.active, next_certificate: keys.next.as_ref() };
    match federation_metadata(&input) {
        Ok(xml) => HttpResponse::Ok()
            .content_type("application/samlmetadata+xml")
            .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300")))
            .body(xml),
        Err(e) => internal(req, &AppError::Internal(e.to_string())),
    }
}
