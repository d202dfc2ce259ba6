//! The sign-in steps. Every step re-parses and re-checks the original WS-Fed request (carried in
//! the form), checks the CSRF token against the server-side session, and ends in a [`Step`]
//! for the HTTP layer to render.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::{mfa, session, throttle};
use crate::app::{AppError, TenantScope, Tessera};
use crate::domain::sign_in::{ClientInfo, IssuedClaims, SignIn, SignInCommand, SignInDetails, SignInFailure};
use crate::domain::tenant::{MfaPolicy, Tenant};
use crate::domain::user::{User, UserCommand, UserStatus};
use crate::domain::values::{TenantId, Upn, UserId};
use crate::domain::{Personal, SealedSecret};
use crate::eventstore::EventMetadata;
use crate::wsfed::{
    AssertionId, AuthMethod, MICROSOFT_ONLINE_REALM, MicrosoftCloud, ReplyPolicy, ReplyUrl, SignInRequest, TokenInput, WsFedRequest,
    issue_rstr,
};

/// Who is at the other end of the request.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub ip: String,
    pub user_agent: String,
}

/// A sign-in form as posted.
#[derive(Debug, Default)]
pub struct SignInForm {
    pub request: String,
    pub csrf: String,
    pub step: String,
    pub upn: Option<String>,
    pub password: Option<SecretString>,
    pub code: Option<String>,
}

/// What to show next.
#[derive(Debug)]
pub enum Step {
    AskUpn {
        error: Option<&'static str>,
        login_hint: Option<String>,
    },
    AskPassword {
        upn: String,
        error: Option<&'static str>,
    },
    AskCode {
        upn: String,
        error: Option<&'static str>,
    },
    Enroll {
        upn: String,
        otpauth_uri: String,
        secret: String,
        qr_svg: String,
        error: Option<&'static str>,
    },
    RecoveryCodes {
        codes: Vec<String>,
    },
    /// The self-posting token form.
    Token {
        reply: ReplyUrl,
        wresult: String,
        wctx: Option<String>,
    },
    /// A clear refusal: no token (HTTP 403).
    Refused {
        message: String,
    },
    /// The request itself is unusable (HTTP 400).
    BadRequest {
        message: String,
    },
}

/// A step, plus the session cookie to set and the values the form needs.
#[derive(Debug)]
pub struct Outcome {
    pub step: Step,
    /// A new session id to set as the cookie.
    pub set_cookie: Option<String>,
    pub csrf: String,
    /// The WS-Fed request to carry in the next form.
    pub request: String,
}

const GENERIC_FAILURE: &str = "The user name or password is incorrect.";
const LOCKED: &str = "Too many failed attempts. Wait a few minutes, then try again.";
const BAD_CODE: &str = "That code is not valid. Enter the current code from your authenticator app, or a recovery code.";
const EXPIRED: &str = "Your sign-in page expired. Please start again.";

struct Checked {
    tenant_id: TenantId,
    tenant: Arc<Tenant>,
    request: SignInRequest,
    reply: ReplyUrl,
}

impl Tessera {
    fn idle(&self) -> TimeDelta {
        TimeDelta::minutes(self.sign_in.session_idle_minutes.max(1))
    }

    fn absolute(&self) -> TimeDelta {
        TimeDelta::hours(self.sign_in.session_absolute_hours.max(1))
    }

    /// Parses the WS-Fed request and decides where a token may go.
    async fn check_request(&self, tenant_id: TenantId, raw: &str) -> Result<Result<Checked, Step>, AppError> {
        let bad = |message: String| Ok(Err(Step::BadRequest { message }));
        let request = match WsFedRequest::from_urlencoded(raw) {
            Ok(WsFedRequest::SignIn(request)) => request,
            Ok(_) => return bad("This address only accepts sign-in requests here.".into()),
            Err(e) => return bad(format!("The sign-in request is invalid: {e}.")),
        };
        if request.realm() != MICROSOFT_ONLINE_REALM {
            return bad("The application asking you to sign in (wtrealm) is not known to this sign-in service.".into());
        }
        let tenant = self.sign_in_tenant(tenant_id).await?;
        if !tenant.exists() {
            return bad("This sign-in address does not belong to any organization.".into());
        }
        let reply = match request.reply() {
            None => MicrosoftCloud::Global.reply_url(),
            Some(wreply) => {
                let mut policy = ReplyPolicy::microsoft().allowing_loopback_http(self.sign_in.allow_loopback_reply);
                for url in &tenant.reply_urls {
                    policy = match policy.clone().allow_url(url) {
                        Ok(p) => p,
                        Err(_) => policy,
                    };
                }
                match policy.check(wreply) {
                    Ok(reply) => reply,
                    Err(e) => return bad(format!("The address to return to (wreply) is not allowed: {e}.")),
                }
            }
        };
        Ok(Ok(Checked { tenant_id, tenant, request, reply }))
    }

    /// `wa=wsignin1.0` arriving from the relying party.
    pub async fn begin_sign_in(
        &self,
        tenant_id: TenantId,
        raw: &str,
        cookie: Option<&str>,
        client: &ClientMeta,
    ) -> Result<Outcome, AppError> {
        let checked = match self.check_request(tenant_id, raw).await? {
            Ok(checked) => checked,
            Err(step) => return Ok(Outcome { step, set_cookie: None, csrf: String::new(), request: String::new() }),
        };
        let tenant_key = tenant_id.to_string();
        let existing = match cookie {
            Some(cookie) => session::load(self.db(), &self.crypto, &tenant_key, cookie, self.idle(), self.absolute()).await?,
            None => None,
        };
        // Single sign-on: a signed-in session gets a token without a prompt, unless the relying
        // party demands a fresh sign-in (wfresh=0) or one more recent than the session's.
        if let Some(row) = &existing
            && let (Some(user_id), Some(auth_instant)) = (&row.user_id, row.auth_instant)
            && let Ok(user_id) = UserId::parse(user_id)
        {
            let fresh_enough = match checked.request.freshness() {
                Some(crate::wsfed::Freshness::Reauthenticate) => false,
                Some(crate::wsfed::Freshness::MaxAgeMinutes(m)) => Utc::now() - auth_instant <= TimeDelta::minutes(i64::from(m)),
                None => true,
            };
            if fresh_enough {
                let step = self.finish(&checked, user_id, auth_instant, row.mfa_done, true, client).await?;
                return Ok(Outcome { step, set_cookie: None, csrf: row.csrf_token.clone(), request: raw.to_owned() });
            }
        }
        // A session not signed in is kept, so two tabs share it; an anonymous one only while it
        // has at least half its (never extended) lifetime left.
        let (set_cookie, row) = match existing {
            Some(row) if row.user_id.is_none() && !(row.anonymous && Utc::now() - row.created_at > self.idle() / 2) => (None, row),
            _ => {
                let (cookie, row) = session::anonymous(&self.crypto, &tenant_key)?;
                (Some(cookie), row)
            }
        };
        let login_hint = checked.request.login_hint().map(str::to_owned);
        Ok(Outcome { step: Step::AskUpn { error: None, login_hint }, set_cookie, csrf: row.csrf_token, request: raw.to_owned() })
    }

    /// A posted sign-in form.
    pub async fn continue_sign_in(
        &self,
        tenant_id: TenantId,
        form: SignInForm,
        cookie: Option<&str>,
        client: &ClientMeta,
    ) -> Result<Outcome, AppError> {
        let checked = match self.check_request(tenant_id, &form.request).await? {
            Ok(checked) => checked,
            Err(step) => return Ok(Outcome { step, set_cookie: None, csrf: String::new(), request: String::new() }),
        };
        let tenant_key = tenant_id.to_string();
        let row = match cookie {
            Some(cookie) => session::load(self.db(), &self.crypto, &tenant_key, cookie, self.idle(), self.absolute()).await?,
            None => None,
        };
        let row = match row {
            Some(row) if constant_time_eq(row.csrf_token.as_bytes(), form.csrf.as_bytes()) => row,
            _ => {
                let (cookie, row) = session::anonymous(&self.crypto, &tenant_key)?;
                return Ok(Outcome {
                    step: Step::AskUpn { error: Some(EXPIRED), login_hint: None },
                    set_cookie: Some(cookie),
                    csrf: row.csrf_token,
                    request: form.request,
                });
            }
        };
        let mut outcome = Outcome {
            step: Step::AskUpn { error: None, login_hint: None },
            set_cookie: None,
            csrf: row.csrf_token.clone(),
            request: form.request.clone(),
        };
        outcome.step = match form.step.as_str() {
            "upn" => match form.upn.as_deref().map(Upn::parse) {
                Some(Ok(upn)) => Step::AskPassword { upn: upn.to_string(), error: None },
                _ => Step::AskUpn { error: Some("Enter your user name, like name@contoso.com."), login_hint: form.upn.clone() },
            },
            "password" => {
                let (step, new_session) = self.password_step(&checked, &row, &form, client).await?;
                if let Some((cookie, csrf)) = new_session {
                    outcome.set_cookie = Some(cookie);
                    outcome.csrf = csrf;
                }
                step
            }
            "code" | "enroll" => {
                let (step, new_session) = self.code_step(&checked, &row, &form, client).await?;
                if let Some((cookie, csrf)) = new_session {
                    outcome.set_cookie = Some(cookie);
                    outcome.csrf = csrf;
                }
                step
            }
            "finish" => match (&row.user_id, row.auth_instant) {
                (Some(user_id), Some(at)) => match UserId::parse(user_id) {
                    Ok(user_id) => self.finish(&checked, user_id, at, row.mfa_done, false, client).await?,
                    Err(_) => Step::AskUpn { error: Some(EXPIRED), login_hint: None },
                },
                _ => Step::AskUpn { error: Some(EXPIRED), login_hint: None },
            },
            _ => Step::AskUpn { error: None, login_hint: None },
        };
        Ok(outcome)
    }

    /// The tenant's state, from the cache when it is fresh (`tenant_state`).
    async fn sign_in_tenant(&self, tenant_id: TenantId) -> Result<Arc<Tenant>, AppError> {
        let generation = crate::projections::tenants::generation();
        if let Some(tenant) = self.sign_in_guard.tenants.get(tenant_id, generation) {
            return Ok(tenant);
        }
        // The generation was read before the fold: a change projected meanwhile marks it stale.
        let tenant = Arc::new(self.load::<Tenant>(&tenant_id.to_string()).await?);
        self.sign_in_guard.tenants.put(tenant_id, tenant.clone(), generation);
        Ok(tenant)
    }

    async fn dummy_hash(&self) -> Result<String, AppError> {
        self.sign_in_guard.dummy_hash.get_or_try_init(|| self.passwords.hash("not a password of anyone")).await.cloned()
    }

    async fn find_user(&self, tenant_id: TenantId, upn: &Upn) -> Result<Option<(UserId, User)>, AppError> {
        let row = crate::read::users::by_upn(self.db(), &TenantScope::sign_in_endpoint(tenant_id), &upn.to_string()).await?;
        let Some(row) = row else { return Ok(None) };
        let Ok(user_id) = UserId::parse(&row.user_id) else { return Ok(None) };
        let user = self.load::<User>(&format!("{tenant_id}/{user_id}")).await?;
        Ok(user.exists().then_some((user_id, user)))
    }

    async fn password_step(
        &self,
        checked: &Checked,
        row: &session::SessionRow,
        form: &SignInForm,
        client: &ClientMeta,
    ) -> Result<(Step, Option<(String, String)>), AppError> {
        let tenant = checked.tenant_id.to_string();
        let Some(Ok(upn)) = form.upn.as_deref().map(Upn::parse) else {
            return Ok((Step::AskUpn { error: Some("Enter your user name, like name@contoso.com."), login_hint: None }, None));
        };
        let upn_text = upn.to_string();
        // Throttling counts under pseudonyms, so its table holds neither UPNs nor addresses.
        let account = self.personal_data().upn_pseudonym(self.db(), &checked.tenant_id, &upn_text).await?;
        let address = self.personal_data().ip_pseudonym(self.db(), &checked.tenant_id, &client.ip).await?;
        let password = form.password.as_ref().map(|p| p.expose_secret().to_owned()).unwrap_or_default();
        let again = |error| Step::AskPassword { upn: upn_text.clone(), error: Some(error) };
        let standing = throttle::standing(self.db(), &tenant, &throttle::account(&account), &throttle::address(&address)).await?;
        let lock = if standing.account_locked {
            Some(SignInFailure::AccountLocked)
        } else if standing.address_locked {
            Some(SignInFailure::AddressLocked)
        } else {
            None
        };
        let found = self.find_user(checked.tenant_id, &upn).await?;
        let user_id = found.as_ref().map(|(id, _)| *id);
        if let Some(reason) = lock {
            self.record_failure(checked, user_id, &upn_text, false, reason, client).await?;
            return Ok((again(LOCKED), None));
        }
        // Unknown users and users without a password cost one argon2 verification too.
        let sealed = found.as_ref().and_then(|(_, u)| u.password_hash.clone());
        let phc = match &sealed {
            Some(sealed) => String::from_utf8(
                self.crypto.open(&format!("password:{tenant}"), sealed.ciphertext()).map_err(|e| AppError::Internal(e.to_string()))?,
            )
            .map_err(|e| AppError::Internal(e.to_string()))?,
            None => self.dummy_hash().await?,
        };
        let verified = self.passwords.verify(&password, &phc).await? && sealed.is_some();
        let failure = match (&found, verified) {
            (None, _) => Some(SignInFailure::UnknownUser),
            (Some(_), _) if sealed.is_none() => Some(SignInFailure::NoPasswordSet),
            (Some(_), false) => Some(SignInFailure::WrongPassword),
            _ => None,
        };
        if let Some(reason) = failure {
            throttle::fail(self.db(), &tenant, &throttle::account(&account), throttle::FREE_ACCOUNT_FAILURES).await?;
            throttle::fail(self.db(), &tenant, &throttle::address(&address), throttle::FREE_ADDRESS_FAILURES).await?;
            self.record_failure(checked, user_id, &upn_text, false, reason, client).await?;
            return Ok((again(GENERIC_FAILURE), None));
        }
        let Some((user_id, user)) = found else { return Ok((again(GENERIC_FAILURE), None)) };
        if standing.account_failed {
            throttle::clear(self.db(), &tenant, &throttle::account(&account)).await?;
        }
        if let Some((reason, message)) = refusal(&checked.tenant, &user) {
            self.record_failure(checked, Some(user_id), &upn_text, false, reason, client).await?;
            return Ok((Step::Refused { message: message.into() }, None));
        }
        let policy = checked.tenant.mfa_policy;
        match (policy, user.totp_seed.is_some()) {
            (MfaPolicy::Off, _) | (MfaPolicy::Optional, false) => {
                let (cookie, new_row) = session::authenticate(self.db(), row, &user_id.to_string(), false).await?;
                let at = new_row.auth_instant.unwrap_or_else(Utc::now);
                // The user was loaded from its events for this very request: no second load.
                let step = self.finish_with(checked, user_id, user, at, false, false, client).await?;
                Ok((step, Some((cookie, new_row.csrf_token))))
            }
            (_, true) => {
                let stored = session::set_pending(self.db(), row, Some(&user_id.to_string()), Some(&upn_text), None).await?;
                Ok((Step::AskCode { upn: upn_text, error: None }, stored.map(|(cookie, row)| (cookie, row.csrf_token))))
            }
            (MfaPolicy::Required, false) => {
                let seed = mfa::new_seed();
                let sealed = self.crypto.seal(&format!("totp:{tenant}:{user_id}"), &seed);
                let stored = session::set_pending(self.db(), row, Some(&user_id.to_string()), Some(&upn_text), Some(&sealed)).await?;
                Ok((enroll_step(&seed, &upn_text, None)?, stored.map(|(cookie, row)| (cookie, row.csrf_token))))
            }
        }
    }

    async fn code_step(
        &self,
        checked: &Checked,
        row: &session::SessionRow,
        form: &SignInForm,
        client: &ClientMeta,
    ) -> Result<(Step, Option<(String, String)>), AppError> {
        let tenant = checked.tenant_id.to_string();
        let (Some(user_text), Some(upn)) = (&row.pending_user_id, &row.pending_upn) else {
            return Ok((Step::AskUpn { error: Some(EXPIRED), login_hint: None }, None));
        };
        let user_id = UserId::parse(user_text).map_err(AppError::from)?;
        let account = self.personal_data().upn_pseudonym(self.db(), &checked.tenant_id, upn).await?;
        let user = self.load::<User>(&format!("{tenant}/{user_id}")).await?;
        if let Some((reason, message)) = refusal(&checked.tenant, &user) {
            self.record_failure(checked, Some(user_id), upn, false, reason, client).await?;
            return Ok((Step::Refused { message: message.into() }, None));
        }
        if throttle::locked(self.db(), &tenant, &throttle::account(&account)).await? {
            self.record_failure(checked, Some(user_id), upn, false, SignInFailure::AccountLocked, client).await?;
            return Ok((Step::AskCode { upn: upn.clone(), error: Some(LOCKED) }, None));
        }
        let code = form.code.clone().unwrap_or_default();
        let now = Utc::now().timestamp().max(0) as u64;
        let context = format!("totp:{tenant}:{user_id}");
        let open = |sealed: &str| self.crypto.open(&context, sealed).map_err(|e| AppError::Internal(e.to_string()));
        let mut recovery_codes = None;
        let ok = if let (Some(pending), "enroll") = (&row.pending_totp_seed, form.step.as_str()) {
            let seed = open(pending)?;
            let ok = match mfa::check(&seed, upn, &code, now) {
                Some(step) => throttle::claim_totp_step(self.db(), &tenant, &user_id.to_string(), step).await?,
                None => false,
            };
            if ok {
                let codes = mfa::recovery_codes();
                let command = UserCommand::EnrollTotp {
                    seed: SealedSecret::new(pending.clone()),
                    recovery_code_hashes: codes.iter().map(|c| mfa::code_hash(c)).collect(),
                };
                self.store.execute::<User>(&format!("{tenant}/{user_id}"), command, &user_metadata(checked.tenant_id, user_id)).await?;
                recovery_codes = Some(codes);
            } else {
                self.record_failure(checked, Some(user_id), upn, false, SignInFailure::WrongSecondFactor, client).await?;
                return Ok((enroll_step(&seed, upn, Some(BAD_CODE))?, None));
            }
            ok
        } else if let Some(seed) = &user.totp_seed {
            if mfa::is_recovery_code(&code) {
                let command = UserCommand::UseRecoveryCode { code_hash: mfa::code_hash(&code) };
                self.store
                    .execute::<User>(&format!("{tenant}/{user_id}"), command, &user_metadata(checked.tenant_id, user_id))
                    .await
                    .is_ok()
            } else {
                match mfa::check(&open(seed.ciphertext())?, upn, &code, now) {
                    Some(step) => throttle::claim_totp_step(self.db(), &tenant, &user_id.to_string(), step).await?,
                    None => false,
                }
            }
        } else {
            false
        };
        if !ok {
            throttle::fail(self.db(), &tenant, &throttle::account(&account), throttle::FREE_ACCOUNT_FAILURES).await?;
            self.record_failure(checked, Some(user_id), upn, false, SignInFailure::WrongSecondFactor, client).await?;
            return Ok((Step::AskCode { upn: upn.clone(), error: Some(BAD_CODE) }, None));
        }
        throttle::clear(self.db(), &tenant, &throttle::account(&account)).await?;
        let (cookie, new_row) = session::authenticate(self.db(), row, &user_id.to_string(), true).await?;
        let step = match recovery_codes {
            Some(codes) => Step::RecoveryCodes { codes },
            None => self.finish(checked, user_id, new_row.auth_instant.unwrap_or_else(Utc::now), true, false, client).await?,
        };
        Ok((step, Some((cookie, new_row.csrf_token))))
    }

    /// Re-checks the policy on the write side's state and issues the token.
    async fn finish(
        &self,
        checked: &Checked,
        user_id: UserId,
        auth_instant: DateTime<Utc>,
        mfa_done: bool,
        from_session: bool,
        client: &ClientMeta,
    ) -> Result<Step, AppError> {
        let user = self.load::<User>(&format!("{}/{user_id}", checked.tenant_id)).await?;
        self.finish_with(checked, user_id, user, auth_instant, mfa_done, from_session, client).await
    }

    /// `finish` with the user's state already folded from its events in this request.
    #[allow(clippy::too_many_arguments)]
    async fn finish_with(
        &self,
        checked: &Checked,
        user_id: UserId,
        user: User,
        auth_instant: DateTime<Utc>,
        mfa_done: bool,
        from_session: bool,
        client: &ClientMeta,
    ) -> Result<Step, AppError> {
        let tenant = checked.tenant_id;
        let upn = user.upn.as_ref().map(ToString::to_string).unwrap_or_default();
        if let Some((reason, message)) = refusal(&checked.tenant, &user) {
            self.record_failure(checked, Some(user_id), &upn, mfa_done, reason, client).await?;
            return Ok(Step::Refused { message: message.into() });
        }
        let (Some(user_upn), Some(immutable_id)) = (&user.upn, &user.immutable_id) else {
            return Err(AppError::Internal("a signed-in user has no UPN".into()));
        };
        let (key_id, credential) = self.active_credential(tenant).await?;
        let now = Utc::now();
        let minutes = checked.tenant.token_lifetime_minutes.map_or(self.sign_in.token_lifetime_minutes, i64::from);
        let lifetime = TimeDelta::minutes(minutes.clamp(1, 8 * 60));
        let input = TokenInput {
            issuer: self.sign_in.domain_issuer(&tenant.to_string(), user_upn.domain().as_str()),
            audience: MICROSOFT_ONLINE_REALM.to_owned(),
            immutable_id: immutable_id.to_string(),
            upn: user_upn.to_string(),
            auth_method: AuthMethod::Password,
            mfa_done,
            auth_instant: auth_instant.min(now),
            now,
            lifetime,
            assertion_id: AssertionId::random(),
        };
        let token = input.clone();
        let wresult = self
            .signer
            .run(move || issue_rstr(&token, &credential))
            .await
            .map_err(|e| AppError::Internal(e.to_string()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let claims = IssuedClaims {
            issuer: input.issuer.clone(),
            audience: input.audience.clone(),
            reply_url: checked.reply.to_string(),
            assertion_id: input.assertion_id.as_str().to_owned(),
            immutable_id: input.immutable_id.clone(),
            upn: Personal::new(input.upn.clone()),
            mfa_claim: mfa_done,
            signing_key_id: key_id,
            not_on_or_after: now + lifetime,
            from_session,
        };
        let details = self.details(checked, Some(user_id), &upn, mfa_done, client).await?;
        self.store
            .append_new::<SignIn>(&attempt_id(tenant), SignInCommand::RecordSuccess { details, claims }, &user_metadata(tenant, user_id))
            .await?;
        Ok(Step::Token { reply: checked.reply.clone(), wresult, wctx: checked.request.context().map(str::to_owned) })
    }

    async fn details(
        &self,
        checked: &Checked,
        user_id: Option<UserId>,
        upn: &str,
        mfa_done: bool,
        client: &ClientMeta,
    ) -> Result<SignInDetails, AppError> {
        let upn: String = upn.chars().take(256).collect();
        Ok(SignInDetails {
            tenant_id: checked.tenant_id,
            user_id,
            account: Some(self.personal_data().upn_pseudonym(self.db(), &checked.tenant_id, &upn).await?),
            upn: Personal::new(upn),
            realm: checked.request.realm().to_owned(),
            client: Personal::new(ClientInfo {
                ip: client.ip.chars().take(64).collect(),
                user_agent: client.user_agent.chars().take(512).collect(),
            }),
            mfa_done,
        })
    }

    async fn record_failure(
        &self,
        checked: &Checked,
        user_id: Option<UserId>,
        upn: &str,
        mfa_done: bool,
        reason: SignInFailure,
        client: &ClientMeta,
    ) -> Result<(), AppError> {
        let details = self.details(checked, user_id, upn, mfa_done, client).await?;
        let metadata = match user_id {
            Some(user_id) => user_metadata(checked.tenant_id, user_id),
            None => Self::system_metadata("sign-in", Some(checked.tenant_id)),
        };
        self.store
            .append_new::<SignIn>(&attempt_id(checked.tenant_id), SignInCommand::RecordFailure { details, reason }, &metadata)
            .await?;
        Ok(())
    }

    /// `wsignout1.0` / `wsignoutcleanup1.0`: ends the session; returns where to send the browser
    /// (an allowed `wreply`), if anywhere.
    pub async fn sign_out(&self, tenant_id: TenantId, cookie: Option<&str>, wreply: Option<&str>) -> Result<Option<ReplyUrl>, AppError> {
        if let Some(cookie) = cookie.filter(|c| !session::is_anonymous(c)) {
            session::remove(self.db(), &tenant_id.to_string(), &session::hash(cookie)).await?;
        }
        let Some(wreply) = wreply else { return Ok(None) };
        let tenant = self.sign_in_tenant(tenant_id).await?;
        let mut policy = ReplyPolicy::microsoft().allowing_loopback_http(self.sign_in.allow_loopback_reply);
        for url in &tenant.reply_urls {
            if let Ok(p) = policy.clone().allow_url(url) {
                policy = p;
            }
        }
        Ok(policy.check(wreply).ok())
    }
}

fn attempt_id(tenant: TenantId) -> String {
    format!("{tenant}/{}", uuid::Uuid::now_v7())
}

fn user_metadata(tenant: TenantId, user_id: UserId) -> EventMetadata {
    EventMetadata {
        tenant_id: Some(tenant),
        actor: format!("user:{user_id}"),
        actor_role: None,
        correlation_id: uuid::Uuid::new_v4().to_string(),
        causation_id: None,
        request_id: None,
        occurred_at: Utc::now(),
    }
}

/// Who gets no token, whatever they typed: the policy of the design.
fn refusal(tenant: &Tenant, user: &User) -> Option<(SignInFailure, &'static str)> {
    if !tenant.is_active() {
        return Some((SignInFailure::TenantSuspended, "Your organization's sign-in is suspended. Contact your administrator."));
    }
    if !user.exists() || user.status != UserStatus::Active {
        return Some((SignInFailure::UserSuspended, "Your account is disabled. Contact your administrator."));
    }
    if !user.assigned {
        return Some((SignInFailure::UserNotAssigned, "Your account is not enabled for Microsoft 365. Contact your administrator."));
    }
    if user.password_hash.is_none() {
        return Some((SignInFailure::NoPasswordSet, "Your account has no password yet. Contact your administrator."));
    }
    None
}

fn enroll_step(seed: &[u8], upn: &str, error: Option<&'static str>) -> Result<Step, AppError> {
    let uri = mfa::otpauth_uri(seed, upn)?;
    Ok(Step::Enroll { upn: upn.to_owned(), qr_svg: mfa::qr_svg(&uri)?, otpauth_uri: uri, secret: mfa::base32(seed), error })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
