//! Crypto-shredding of personal data (docs/personal-data.md). The domain writes personal values
//! in clear inside `Personal`; here, at the storage edge, each one is sealed under a data key of
//! its subject (the person) before the event is stored, and opened again as events are read.
//! Forgetting a person destroys their keys: the events, and so the audit hash chain over their
//! stored bytes, stay exactly as they were, while the values read as forgotten from then on.
//!
//! Also here: pseudonyms, keyed hashes of identifiers (UPNs, IP addresses) under a secret per
//! tenant, for the places that must match an identifier without keeping it (uniqueness claims,
//! sign-in records of unknown users, throttling).

pub mod envelope;
mod keys;
pub mod subject;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cqrs_es::persist::SerializedEvent;
use rand::RngCore;
use serde_json::Value;

use self::envelope::{Sealed, SealedRef};
use super::{StoredEvent, tenant_in};
use crate::crypto::{Crypto, CryptoError, DataKey, keyed_hash};
use crate::db::{Db, DbError, Tx};
use crate::domain::values::{Pseudonym, TenantId};

#[derive(Debug, thiserror::Error)]
pub enum PersonalError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("personal data key: {0}")]
    Crypto(#[from] CryptoError),
    #[error("a {0} event holds personal data but names no subject to seal it for")]
    NoSubject(String),
    #[error("an event holding personal data has no tenant")]
    NoTenant,
    #[error("a sealed personal value does not decode: {0}")]
    Json(#[from] serde_json::Error),
}

/// How long a data key stays in memory after it was read. A key destroyed meanwhile by another
/// instance can still seal or open for at most this long there (see docs/personal-data.md).
const CACHE_TTL: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 10_000;

struct TtlCache<K, V> {
    entries: HashMap<K, (Instant, V)>,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    fn new() -> Self {
        Self { entries: HashMap::new() }
    }

    fn get(&mut self, key: &K) -> Option<V> {
        match self.entries.get(key) {
            Some((at, value)) if at.elapsed() < CACHE_TTL => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&mut self, key: K, value: V) {
        if self.entries.len() >= CACHE_MAX {
            self.entries.clear();
        }
        self.entries.insert(key, (Instant::now(), value));
    }
}

struct Inner {
    crypto: Crypto,
    /// (tenant, subject) → the key new values of the subject are sealed with.
    by_subject: Mutex<TtlCache<(String, String), (String, DataKey)>>,
    /// (tenant, key id) → key, for aggregate loads.
    by_id: Mutex<TtlCache<(String, String), DataKey>>,
    /// tenant → pseudonym secret (never changes, so never expires).
    secrets: Mutex<HashMap<String, [u8; 32]>>,
}

/// A data key made for a person's first event, to be stored in the same statement as that event
/// (`PersonalData::seal_event_keyed`).
#[derive(Clone)]
pub struct NewKey {
    pub tenant: String,
    pub key_id: String,
    pub subject: String,
    /// The key wrapped by the master key, as `personal_data_keys` holds it.
    pub wrapped: String,
    key: DataKey,
}

/// Seals and opens personal values, destroys subjects' keys, makes pseudonyms.
#[derive(Clone)]
pub struct PersonalData {
    inner: Arc<Inner>,
}

fn key_context(tenant: &str, key_id: &str) -> String {
    format!("personal-data-key:{tenant}:{key_id}")
}

impl PersonalData {
    pub fn new(crypto: Crypto) -> Self {
        Self {
            inner: Arc::new(Inner {
                crypto,
                by_subject: Mutex::new(TtlCache::new()),
                by_id: Mutex::new(TtlCache::new()),
                secrets: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Seals every personal value of an event about to be stored under its subject's key
    /// (made on first use).
    pub async fn seal_event(&self, db: &Db, event: &mut SerializedEvent) -> Result<(), PersonalError> {
        self.seal(db, event, false).await.map(|_| ())
    }

    /// `seal_event`, except that the first event of a person's own record (a user's creation)
    /// is sealed under a new key that the caller stores together with the event, in one
    /// statement (`NewKey`), instead of the key being written first on its own. Nothing can
    /// hold a key for a subject that has no record yet but a crashed writer's orphan, and a
    /// subject may have several keys (racing writers make them too): forgetting destroys all.
    pub async fn seal_event_keyed(&self, db: &Db, event: &mut SerializedEvent) -> Result<Option<NewKey>, PersonalError> {
        self.seal(db, event, true).await
    }

    async fn seal(&self, db: &Db, event: &mut SerializedEvent, key_with_event: bool) -> Result<Option<NewKey>, PersonalError> {
        if !envelope::has_plaintext(&event.payload) {
            return Ok(None);
        }
        let tenant = tenant_in(None, &event.metadata).ok_or(PersonalError::NoTenant)?.to_owned();
        let subject = subject::of(&event.aggregate_type, &event.aggregate_id, &event.payload)
            .ok_or_else(|| PersonalError::NoSubject(event.aggregate_type.clone()))?;
        let first_words = key_with_event && event.sequence == 1 && subject::is_own_record(&event.aggregate_type);
        let (key_id, key, new) = match self.cached_key(&tenant, &subject) {
            Some((key_id, key)) => (key_id, key, None),
            None if first_words => {
                let new = self.new_key(tenant, subject);
                (new.key_id.clone(), new.key.clone(), Some(new))
            }
            None => {
                let (key_id, key) = self.stored_key(db, &tenant, &subject).await?;
                (key_id, key, None)
            }
        };
        envelope::seal_all(&mut event.payload, &mut |text: &[u8]| -> Result<Sealed, PersonalError> {
            Ok(Sealed { key: key_id.clone(), ct: key.seal(key_id.as_bytes(), text) })
        })?;
        Ok(new)
    }

    /// Keeps a `NewKey` in memory once the statement that stored it with its event committed
    /// (never before: a key the store lacks must not seal anything more).
    pub fn stored(&self, new: NewKey) {
        self.remember(new.tenant, new.subject, (new.key_id, new.key));
    }

    /// The key new values of the subject are sealed with, if this process holds it.
    fn cached_key(&self, tenant: &str, subject: &str) -> Option<(String, DataKey)> {
        self.inner.by_subject.lock().ok().and_then(|mut c| c.get(&(tenant.to_owned(), subject.to_owned())))
    }

    /// A fresh key for the subject, not stored anywhere yet.
    fn new_key(&self, tenant: String, subject: String) -> NewKey {
        let key_id = uuid::Uuid::now_v7().to_string();
        let key = DataKey::generate();
        let wrapped = key.wrap(&self.inner.crypto, &key_context(&tenant, &key_id));
        NewKey { tenant, key_id, subject, wrapped, key }
    }

    /// The subject's stored key, or a new one stored now if it has none (a new subject's first
    /// event other than a user's creation).
    async fn stored_key(&self, db: &Db, tenant: &str, subject: &str) -> Result<(String, DataKey), PersonalError> {
        let new = self.new_key(tenant.to_owned(), subject.to_owned());
        let row = keys::of_subject_or_insert(db, tenant, &new.key_id, subject, &new.wrapped).await?;
        let found = if row.key_id == new.key_id {
            (new.key_id, new.key)
        } else {
            (row.key_id.clone(), DataKey::unwrap(&self.inner.crypto, &key_context(tenant, &row.key_id), &row.wrapped_key)?)
        };
        self.remember(new.tenant, new.subject, found.clone());
        Ok(found)
    }

    /// Caches a stored key for sealing the subject's values and, since the subject's next load
    /// opens what it sealed, for opening them too (no read of it then).
    fn remember(&self, tenant: String, subject: String, (key_id, key): (String, DataKey)) {
        if let Ok(mut cache) = self.inner.by_subject.lock() {
            cache.put((tenant.clone(), subject), (key_id.clone(), key.clone()));
        }
        if let Ok(mut cache) = self.inner.by_id.lock() {
            cache.put((tenant, key_id), key);
        }
    }

    /// Opens the events of an aggregate load (keys cached briefly: loads are frequent).
    pub async fn open_serialized(&self, db: &Db, events: &mut [SerializedEvent]) -> Result<(), PersonalError> {
        if !events.iter().any(|e| !envelope::sealed_values(&e.payload).is_empty()) {
            return Ok(());
        }
        let items: Vec<(String, &mut Value)> =
            events.iter_mut().filter_map(|e| Some((tenant_in(None, &e.metadata)?.to_owned(), &mut e.payload))).collect();
        let mut missing = wanted_keys(&items);
        let mut found = self.cached_keys(&mut missing);
        // Hot aggregates (a user signing in) have every key cached: no transaction then.
        if !missing.is_empty() {
            let mut tx = db.begin_read().await?;
            self.read_keys_into(&mut tx, missing, true, &mut found).await?;
            tx.commit().await?;
        }
        open_all_payloads(&found, items)
    }

    /// Takes the cached keys out of `wanted` (tenants left with nothing to read drop out).
    fn cached_keys(&self, wanted: &mut BTreeMap<String, BTreeSet<String>>) -> KeyMap {
        let mut found = KeyMap::new();
        let Ok(mut cache) = self.inner.by_id.lock() else { return found };
        wanted.retain(|tenant, ids| {
            ids.retain(|id| match cache.get(&(tenant.clone(), id.clone())) {
                Some(key) => {
                    found.entry(tenant.clone()).or_default().insert(id.clone(), key);
                    false
                }
                None => true,
            });
            !ids.is_empty()
        });
        found
    }

    /// Reads and unwraps the keys of `wanted` in `tx` into `found`; into the cache too when
    /// `cache` (aggregate loads only: projections must see a destroyed key at once).
    async fn read_keys_into(
        &self,
        tx: &mut Tx,
        wanted: BTreeMap<String, BTreeSet<String>>,
        cache: bool,
        found: &mut KeyMap,
    ) -> Result<(), PersonalError> {
        for (tenant, ids) in wanted {
            let ids: Vec<String> = ids.into_iter().collect();
            for row in keys::by_ids(tx, &tenant, &ids).await? {
                let key = self.unwrap_key(&tenant, &row)?;
                if cache && let Ok(mut cached) = self.inner.by_id.lock() {
                    cached.put((tenant.clone(), row.key_id.clone()), key.clone());
                }
                found.entry(tenant.clone()).or_default().insert(row.key_id, key);
            }
        }
        Ok(())
    }

    /// Opens events read from the global stream, with keys read in `tx` and not cached beyond
    /// this call: a projection must see a destroyed key as destroyed at once.
    pub async fn open_stored(&self, tx: &mut Tx, events: &mut [StoredEvent]) -> Result<(), PersonalError> {
        let items =
            events.iter_mut().filter_map(|e| Some((tenant_in(e.known.as_ref(), &e.metadata)?.to_owned(), &mut e.payload))).collect();
        self.open(tx, items).await
    }

    /// Opens payloads of one tenant (the auditor's API, histories).
    pub async fn open_payloads<'a>(
        &self,
        tx: &mut Tx,
        tenant: &str,
        payloads: impl IntoIterator<Item = &'a mut Value>,
    ) -> Result<(), PersonalError> {
        let items = payloads.into_iter().map(|p| (tenant.to_owned(), p)).collect();
        self.open(tx, items).await
    }

    /// Opens `items` with keys read in `tx`, never cached (see `open_stored`).
    async fn open(&self, tx: &mut Tx, items: Vec<(String, &mut Value)>) -> Result<(), PersonalError> {
        let wanted = wanted_keys(&items);
        let mut found = KeyMap::new();
        self.read_keys_into(tx, wanted, false, &mut found).await?;
        open_all_payloads(&found, items)
    }

    /// A key that exists but does not unwrap is an error (wrong master key?), never
    /// "forgotten": only a destroyed key means that.
    fn unwrap_key(&self, tenant: &str, row: &keys::KeyRow) -> Result<DataKey, PersonalError> {
        Ok(DataKey::unwrap(&self.inner.crypto, &key_context(tenant, &row.key_id), &row.wrapped_key)?)
    }

    /// Reads the wrapped keys that the sealed values of `events` name (in `tx`, never cached,
    /// as `open_stored`), leaving the CPU work to `open_events`.
    pub async fn read_keys(&self, tx: &mut Tx, events: &[StoredEvent]) -> Result<WrappedKeys, PersonalError> {
        let mut wanted: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for event in events {
            if let Some(tenant) = event.tenant_id() {
                envelope::visit_sealed_keys(&event.payload, &mut |key| {
                    wanted.entry(tenant).or_default().insert(key);
                });
            }
        }
        let mut rows = Vec::new();
        for (tenant, ids) in wanted {
            let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
            rows.extend(keys::by_ids(tx, tenant, &ids).await?.into_iter().map(|row| (tenant.to_owned(), row)));
        }
        Ok(WrappedKeys(rows))
    }

    /// Reads the wrapped data keys of `subjects` (by tenant; in `tx`, never cached, as
    /// `open_stored`), for `openers`: a reader that knows whose events it holds (a user's)
    /// need not parse them first to learn which keys they name.
    pub async fn read_subject_keys(
        &self,
        tx: &mut Tx,
        subjects: &BTreeMap<String, BTreeSet<String>>,
    ) -> Result<WrappedKeys, PersonalError> {
        let mut rows = Vec::new();
        for (tenant, subjects) in subjects {
            let subjects: Vec<String> = subjects.iter().cloned().collect();
            rows.extend(keys::by_subjects(tx, tenant, &subjects).await?.into_iter().map(|row| (tenant.clone(), row)));
        }
        Ok(WrappedKeys(rows))
    }

    /// Unwraps keys from `read_keys` or `read_subject_keys` (CPU only) into openers for
    /// `domain::personal::opening`, one per tenant.
    pub fn openers(&self, keys: WrappedKeys) -> Result<Openers, PersonalError> {
        Ok(Openers(Arc::new(self.unwrap_all(keys)?)))
    }

    fn unwrap_all(&self, keys: WrappedKeys) -> Result<KeyMap, PersonalError> {
        let mut found = KeyMap::new();
        for (tenant, row) in keys.0 {
            let key = self.unwrap_key(&tenant, &row)?;
            found.entry(tenant).or_default().insert(row.key_id, key);
        }
        Ok(found)
    }

    /// Opens the events' sealed values with keys from `read_keys`: CPU only, no I/O, so a
    /// rebuild runs it on the blocking pool, several pages at once.
    pub fn open_events(&self, keys: WrappedKeys, events: &mut [StoredEvent]) -> Result<(), PersonalError> {
        let found = self.unwrap_all(keys)?;
        for event in events {
            let StoredEvent { payload, metadata, known, .. } = event;
            if let Some(tenant) = tenant_in(known.as_ref(), metadata) {
                open_payload(&found, tenant, payload)?;
            }
        }
        Ok(())
    }

    /// Destroys every data key of the subjects; returns how many. From now on their values read
    /// as forgotten, in this instance at once.
    pub async fn destroy(&self, db: &Db, tenant: &TenantId, subjects: &[String]) -> Result<u64, PersonalError> {
        if subjects.is_empty() {
            return Ok(0);
        }
        let tenant = tenant.to_string();
        let mut tx = db.begin_system().await?;
        let ids = keys::ids_of_subjects(&mut tx, &tenant, subjects).await?;
        let destroyed = keys::delete_subjects(&mut tx, &tenant, subjects).await?;
        tx.commit().await?;
        if let Ok(mut cache) = self.inner.by_subject.lock() {
            for subject in subjects {
                cache.entries.remove(&(tenant.clone(), subject.clone()));
            }
        }
        if let Ok(mut cache) = self.inner.by_id.lock() {
            for id in ids {
                cache.entries.remove(&(tenant.clone(), id));
            }
        }
        Ok(destroyed)
    }

    /// How many data keys the subjects have.
    pub async fn count_keys(&self, db: &Db, tenant: &TenantId, subjects: &[String]) -> Result<u64, PersonalError> {
        if subjects.is_empty() {
            return Ok(0);
        }
        let mut tx = db.begin_read().await?;
        let ids = keys::ids_of_subjects(&mut tx, &tenant.to_string(), subjects).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// The pseudonym of a (lower-case) UPN in the tenant.
    pub async fn upn_pseudonym(&self, db: &Db, tenant: &TenantId, upn: &str) -> Result<Pseudonym, PersonalError> {
        self.pseudonym(db, tenant, "upn", upn).await
    }

    /// The pseudonym of a client IP address in the tenant.
    pub async fn ip_pseudonym(&self, db: &Db, tenant: &TenantId, ip: &str) -> Result<Pseudonym, PersonalError> {
        self.pseudonym(db, tenant, "ip", ip).await
    }

    async fn pseudonym(&self, db: &Db, tenant: &TenantId, kind: &str, value: &str) -> Result<Pseudonym, PersonalError> {
        let secret = self.secret(db, &tenant.to_string()).await?;
        let digest = keyed_hash(&secret, format!("{kind}:{value}").as_bytes())?;
        Pseudonym::parse(&hex::encode(digest)).map_err(|_| PersonalError::Crypto(CryptoError::Malformed))
    }

    async fn secret(&self, db: &Db, tenant: &str) -> Result<[u8; 32], PersonalError> {
        if let Some(secret) = self.inner.secrets.lock().ok().and_then(|s| s.get(tenant).copied()) {
            return Ok(secret);
        }
        let context = format!("pseudonym-secret:{tenant}");
        let mut tx = db.begin_system().await?;
        if keys::secret(&mut tx, tenant).await?.is_none() {
            let mut fresh = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut fresh);
            keys::insert_secret(&mut tx, tenant, &self.inner.crypto.seal(&context, &fresh)).await?;
        }
        let wrapped = keys::secret(&mut tx, tenant).await?.ok_or(PersonalError::Crypto(CryptoError::Malformed))?;
        tx.commit().await?;
        let secret: [u8; 32] = self.inner.crypto.open(&context, &wrapped)?.try_into().map_err(|_| CryptoError::Malformed)?;
        if let Ok(mut secrets) = self.inner.secrets.lock() {
            secrets.insert(tenant.to_owned(), secret);
        }
        Ok(secret)
    }
}

/// Data keys by tenant, then key id (looked up by borrowed ids).
type KeyMap = HashMap<String, HashMap<String, DataKey>>;

/// Wrapped data keys read for a batch of events, not yet unwrapped.
pub struct WrappedKeys(Vec<(String, keys::KeyRow)>);

/// Unwrapped data keys of a batch of events, shared by the openers made from them.
#[derive(Clone)]
pub struct Openers(Arc<KeyMap>);

impl Openers {
    /// Opens the sealed values of `tenant` with these keys; a key not among them reads as
    /// destroyed (forgotten), as in `open_stored`.
    pub fn of(&self, tenant: &str) -> crate::domain::personal::Opener {
        let (keys, tenant) = (Arc::clone(&self.0), tenant.to_owned());
        Box::new(move |envelope: &Value| {
            let (Some(key_id), Some(ct)) = (envelope.get("key").and_then(Value::as_str), envelope.get("ct").and_then(Value::as_str)) else {
                return Err("a sealed value without key or ciphertext".to_owned());
            };
            match keys.get(&tenant).and_then(|k| k.get(key_id)) {
                Some(key) => key.open(key_id.as_bytes(), ct).map(Some).map_err(|e| e.to_string()),
                None => Ok(None),
            }
        })
    }
}

/// The data keys the sealed values of `items` name, by tenant.
fn wanted_keys(items: &[(String, &mut Value)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (tenant, payload) in items {
        envelope::visit_sealed_keys(payload, &mut |key| {
            wanted.entry(tenant.clone()).or_default().insert(key.to_owned());
        });
    }
    wanted
}

fn open_all_payloads(found: &KeyMap, items: Vec<(String, &mut Value)>) -> Result<(), PersonalError> {
    for (tenant, payload) in items {
        open_payload(found, &tenant, payload)?;
    }
    Ok(())
}

/// Replaces the payload's sealed values by their content, or by the forgotten marker where
/// the key is gone.
fn open_payload(found: &KeyMap, tenant: &str, payload: &mut Value) -> Result<(), PersonalError> {
    let keys = found.get(tenant);
    envelope::open_all(payload, &mut |sealed: SealedRef<'_>| -> Result<Option<Vec<u8>>, PersonalError> {
        match keys.and_then(|k| k.get(sealed.key)) {
            Some(key) => Ok(Some(key.open(sealed.key.as_bytes(), sealed.ct)?)),
            None => Ok(None),
        }
    })
}

/// Which of the sealed values' keys still exist (for marking forgotten values in an export,
/// where the stored bytes must stay as they are).
pub async fn existing_keys(tx: &mut Tx, tenant: &str, ids: &[String]) -> Result<HashSet<String>, DbError> {
    Ok(keys::by_ids(tx, tenant, ids).await?.into_iter().map(|r| r.key_id).collect())
}
