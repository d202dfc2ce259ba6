use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::domain::values::{Pseudonym, TenantId, UserId};
use crate::domain::{DomainError, Personal};

/// Where the browser came from. Personal data: always inside `Personal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
}

/// What every attempt records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInDetails {
    pub tenant_id: TenantId,
    /// The user, when the UPN named one.
    pub user_id: Option<UserId>,
    /// The UPN as typed (lower-cased, cut to 256 characters). Personal data since 1.1.
    pub upn: Personal<String>,
    /// The pseudonym of the UPN as typed: whose personal data an attempt by an unknown user
    /// is (absent before 1.1).
    #[serde(default)]
    pub account: Option<Pseudonym>,
    /// The `wtrealm` of the request.
    pub realm: String,
    pub client: Personal<ClientInfo>,
    /// Whether a second factor was verified in this attempt (or the session it rode on).
    pub mfa_done: bool,
}

/// Exactly what the token told the relying party.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedClaims {
    pub issuer: String,
    pub audience: String,
    pub reply_url: String,
    pub assertion_id: String,
    /// NameIdentifier and the `ImmutableID` claim.
    pub immutable_id: String,
    /// Personal data since 1.1.
    pub upn: Personal<String>,
    /// Whether the `multipleauthn` authentication method claim was included.
    pub mfa_claim: bool,
    pub signing_key_id: String,
    pub not_on_or_after: chrono::DateTime<chrono::Utc>,
    /// Whether the token was issued from an existing session without a prompt.
    pub from_session: bool,
}

/// Why an attempt got no token. The browser sees far less than this (no user enumeration);
/// admins see it through `signIns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignInFailure {
    UnknownUser,
    WrongPassword,
    NoPasswordSet,
    UserSuspended,
    UserNotAssigned,
    TenantSuspended,
    AccountLocked,
    AddressLocked,
    WrongSecondFactor,
}

impl SignInFailure {
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownUser => "UNKNOWN_USER",
            Self::WrongPassword => "WRONG_PASSWORD",
            Self::NoPasswordSet => "NO_PASSWORD_SET",
            Self::UserSuspended => "USER_SUSPENDED",
            Self::UserNotAssigned => "USER_NOT_ASSIGNED",
            Self::TenantSuspended => "TENANT_SUSPENDED",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::AddressLocked => "ADDRESS_LOCKED",
            Self::WrongSecondFactor => "WRONG_SECOND_FACTOR",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SignInCommand {
    RecordSuccess { details: SignInDetails, claims: IssuedClaims },
    RecordFailure { details: SignInDetails, reason: SignInFailure },
}

/// The schema version of both sign-in events since the UPNs in them became personal data (1.0
/// carried them in clear; an upcaster reads 1.0 as 1.1).
pub const SIGN_IN_EVENT_VERSION: &str = "1.1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SignInEvent {
    SignInSucceeded { details: SignInDetails, claims: IssuedClaims },
    SignInFailed { details: SignInDetails, reason: SignInFailure },
}

impl DomainEvent for SignInEvent {
    fn event_type(&self) -> String {
        match self {
            Self::SignInSucceeded { .. } => "SignInSucceeded",
            Self::SignInFailed { .. } => "SignInFailed",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        SIGN_IN_EVENT_VERSION.to_owned()
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct SignIn {
    pub recorded: bool,
}

impl Aggregate for SignIn {
    const TYPE: &'static str = "SignIn";
    type Command = SignInCommand;
    type Event = SignInEvent;
    type Error = DomainError;
    type Services = ();

    async fn handle(&mut self, command: SignInCommand, _: &(), sink: &EventSink<Self>) -> Result<(), DomainError> {
        if self.recorded {
            return Err(DomainError::Conflict("this sign-in attempt is already recorded".into()));
        }
        let event = match command {
            SignInCommand::RecordSuccess { details, claims } => SignInEvent::SignInSucceeded { details, claims },
            SignInCommand::RecordFailure { details, reason } => SignInEvent::SignInFailed { details, reason },
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, _event: SignInEvent) {
        self.recorded = true;
    }
}
