//! The emulated directories, held in memory.
//!
//! Plain data plus lookups; the rules (validation, licensing, federation) live in the
//! per-resource modules so this file stays the one picture of what a tenant contains.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use openssl::pkey::{PKey, Public};
use rand::RngCore;
use serde_json::{Map, Value};
use uuid::Uuid;

use super::EmulatorConfig;
use super::faults::FaultEngine;
use super::log::RequestLog;

/// Everything the HTTP workers share. Each part has its own lock and no code path holds
/// two of them at once, so there is no lock ordering to get wrong.
pub(crate) struct Shared {
    pub state: Mutex<EmulatorState>,
    pub faults: Mutex<FaultEngine>,
    pub log: Mutex<RequestLog>,
    /// Emulator clock offset from the wall clock, in milliseconds (moved by the control API
    /// so token expiry can be tested without sleeping).
    clock_offset_ms: AtomicI64,
    pub base_url: String,
    pub config: EmulatorConfig,
}

/// Locks a mutex, recovering the data if a previous holder panicked: the emulator must keep
/// answering rather than poison every later request.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, base_url: String) -> Self {
        Self {
            state: Mutex::new(EmulatorState::new()),
            faults: Mutex::new(FaultEngine::new(config.fault_seed)),
            log: Mutex::new(RequestLog::new(config.max_log_entries)),
            clock_offset_ms: AtomicI64::new(0),
            base_url,
            config,
        }
    }

    /// The emulator's notion of "now" (wall clock plus the control API's offset).
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let wall = Utc::now();
        TimeDelta::try_milliseconds(self.clock_offset_ms.load(Ordering::Relaxed)).and_then(|d| wall.checked_add_signed(d)).unwrap_or(wall)
    }

    /// Moves the clock; the caller bounds `seconds` (see the control API).
    pub(crate) fn advance_clock(&self, seconds: i64) {
        let delta = seconds.saturating_mul(1000);
        let _ = self.clock_offset_ms.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| Some(o.saturating_add(delta)));
    }

    pub(crate) fn reset_clock(&self) {
        self.clock_offset_ms.store(0, Ordering::Relaxed);
    }

    pub(crate) fn clock_offset_ms(&self) -> i64 {
        self.clock_offset_ms.load(Ordering::Relaxed)
    }
}

/// All tenants plus the key that signs the emulator's access tokens.
pub(crate) struct EmulatorState {
    pub tenants: Vec<Tenant>,
    /// HMAC key for issued access tokens; replaced on reset so old tokens die with the state.
    pub token_key: Vec<u8>,
}

impl EmulatorState {
    pub(crate) fn new() -> Self {
        let mut token_key = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut token_key);
        Self { tenants: Vec::new(), token_key }
    }

    pub(crate) fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn tenant_mut(&mut self, id: &str) -> Option<&mut Tenant> {
        self.tenants.iter_mut().find(|t| t.id.eq_ignore_ascii_case(id))
    }

    /// The tenant named in a token-endpoint path: its id or any of its domain names.
    pub(crate) fn tenant_by_segment(&self, segment: &str) -> Option<&Tenant> {
        self.tenant(segment).or_else(|| self.tenants.iter().find(|t| t.domain_index(segment).is_some()))
    }
}

/// One emulated Entra ID tenant (directory).
pub(crate) struct Tenant {
    pub id: String,
    pub display_name: String,
    pub apps: Vec<App>,
    pub domains: Vec<Domain>,
    pub skus: Vec<Sku>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// Deleted objects, so a delta round can report `@removed`.
    pub removed: Vec<Tombstone>,
    /// Monotonic counter giving objects their creation order and change versions.
    seq: u64,
}

impl Tenant {
    pub(crate) fn new(id: String, display_name: String) -> Self {
        Self {
            id,
            display_name,
            apps: Vec::new(),
            domains: Vec::new(),
            skus: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            removed: Vec::new(),
            seq: 0,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub(crate) fn current_seq(&self) -> u64 {
        self.seq
    }

    /// A user by object id or userPrincipalName, both case-insensitive as in Graph.
    pub(crate) fn user_index(&self, key: &str) -> Option<usize> {
        self.users.iter().position(|u| u.id.eq_ignore_ascii_case(key) || u.upn().eq_ignore_ascii_case(key))
    }

    pub(crate) fn group_index(&self, id: &str) -> Option<usize> {
        self.groups.iter().position(|g| g.id.eq_ignore_ascii_case(id))
    }

    pub(crate) fn domain_index(&self, name: &str) -> Option<usize> {
        self.domains.iter().position(|d| d.name.eq_ignore_ascii_case(name))
    }

    pub(crate) fn default_domain(&self) -> Option<&Domain> {
        self.domains.iter().find(|d| d.is_default)
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id))
    }

    pub(crate) fn sku(&self, sku_id: Uuid) -> Option<&Sku> {
        self.skus.iter().find(|s| s.sku_id == sku_id)
    }

    /// Whether an object id names a user or a group of this tenant.
    pub(crate) fn object_kind(&self, id: &str) -> Option<ObjectKind> {
        if self.users.iter().any(|u| u.id.eq_ignore_ascii_case(id)) {
            Some(ObjectKind::User)
        } else if self.group_index(id).is_some() {
            Some(ObjectKind::Group)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectKind {
    User,
    Group,
}

/// A deleted user or group, remembered for delta queries.
pub(crate) struct Tombstone {
    pub kind: ObjectKind,
    pub id: String,
    pub version: u64,
}

/// A license held directly by a user or granted to a group.
#[derive(Debug, Clone)]
pub(crate) struct AssignedLicense {
    pub sku_id: Uuid,
    pub disabled_plans: Vec<Uuid>,
    pub assigned_at: DateTime<Utc>,
}

pub(crate) struct User {
    pub id: String,
    /// Creation order (paging key).
    pub seq: u64,
    /// Last change (delta key).
    pub version: u64,
    pub created: DateTime<Utc>,
    /// Stored writable properties, by their metadata names.
    pub props: Map<String, Value>,
    /// Directly assigned licenses (group-based ones are derived, see `licenses`).
    pub licenses: Vec<AssignedLicense>,
}

impl User {
    pub(crate) fn upn(&self) -> &str {
        str_prop(&self.props, "userPrincipalName")
    }
}

pub(crate) struct Group {
    pub id: String,
    pub seq: u64,
    pub version: u64,
    pub created: DateTime<Utc>,
    pub props: Map<String, Value>,
    /// Member object ids (users or groups), in the order they were added.
    pub members: Vec<String>,
    pub owners: Vec<String>,
    pub licenses: Vec<AssignedLicense>,
}

pub(crate) fn str_prop<'a>(props: &'a Map<String, Value>, name: &str) -> &'a str {
    props.get(name).and_then(Value::as_str).unwrap_or("")
}

pub(crate) struct Domain {
    /// The fully qualified domain name, which is also its Graph id.
    pub name: String,
    pub is_verified: bool,
    pub is_default: bool,
    pub is_initial: bool,
    /// `Managed` or `Federated`.
    pub authentication_type: String,
    pub supported_services: Vec<String>,
    pub password_validity_days: Option<i64>,
    pub password_notification_days: Option<i64>,
    pub federation: Option<Federation>,
}

/// An `internalDomainFederation`: its id plus stored properties.
pub(crate) struct Federation {
    pub id: String,
    pub props: Map<String, Value>,
}

pub(crate) struct Sku {
    pub sku_id: Uuid,
    pub part_number: String,
    pub enabled: i64,
    pub suspended: i64,
    pub warning: i64,
    pub locked_out: i64,
    /// Units consumed by users the emulator does not model (seeded `consumedUnits`).
    pub baseline_consumed: i64,
    pub service_plans: Vec<ServicePlan>,
    pub applies_to: String,
    pub capability_status: String,
    pub subscription_id: String,
}

pub(crate) struct ServicePlan {
    pub id: Uuid,
    pub name: String,
    pub applies_to: String,
    pub provisioning_status: String,
}

/// An app registration (and its service principal) that can get app-only tokens.
pub(crate) struct App {
    pub client_id: String,
    /// Object id of the service principal: the token's `oid`/`sub`.
    pub principal_id: String,
    pub display_name: String,
    pub secret: Option<String>,
    pub certs: Vec<AppCert>,
    /// Application permissions (app roles) granted, e.g. `User.ReadWrite.All`.
    pub roles: Vec<String>,
}

/// A certificate credential: thumbprints to find it by, the key to verify with.
pub(crate) struct AppCert {
    pub sha1: Vec<u8>,
    pub sha256: Vec<u8>,
    pub key: PKey<Public>,
    pub not_before: i64,
    pub not_after: i64,
}
