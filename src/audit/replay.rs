//! `tessera replay`: every read model rebuilt from the events into a scratch store and compared,
//! row by row, with the live one.

use std::collections::BTreeMap;

use super::AuditError;
use super::scratch;
use crate::db::{Db, Row, Tx};
use crate::eventstore::{Checkpoint, PersonalData};
use crate::projections;
use crate::read::jobs::{ItemRow, JobRow};
use crate::read::microsoft365::{CompatibilityRow, ConnectionRow, SkuRow};
use crate::read::outbox::TaskRow;
use crate::read::sign_ins::SignInRow;
use crate::read::signing_keys::SigningKeyRow;
use crate::read::{api_keys::ApiKeyRow, domains::DomainRow, groups::GroupRow, tenants::TenantRow, users::UserRow};

/// Rows only one side has, per table (at most `SHOWN` of each).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Difference {
    pub table: String,
    pub only_live: Vec<String>,
    pub only_replayed: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayReport {
    pub events: u64,
    /// Rows compared per table.
    pub rows: BTreeMap<String, usize>,
    pub differences: Vec<Difference>,
    /// Tables some projection owns that this build does not know how to compare.
    pub unchecked: Vec<String>,
}

const SHOWN: usize = 20;

#[derive(sqlx::FromRow, Debug)]
#[allow(dead_code)] // read through Debug
struct JobItemLine {
    tenant_id: String,
    job_id: String,
    #[sqlx(flatten)]
    item: ItemRow,
}

#[derive(sqlx::FromRow, Debug)]
#[allow(dead_code)] // read through Debug
struct Triple {
    a: String,
    b: String,
    c: String,
}

async fn lines<T: Row + std::fmt::Debug>(tx: &mut Tx, sql: &str) -> Result<Vec<String>, AuditError> {
    let rows: Vec<T> = tx.fetch_all(sql, &[]).await?;
    Ok(rows.into_iter().map(|r| format!("{r:?}")).collect())
}

/// Every compared read table as sorted text lines.
async fn dump(db: &Db) -> Result<BTreeMap<String, Vec<String>>, AuditError> {
    let mut tx = db.begin_system().await?;
    let mut out = BTreeMap::new();
    out.insert("tenants".into(), lines::<TenantRow>(&mut tx, "SELECT * FROM tenants").await?);
    out.insert("domains".into(), lines::<DomainRow>(&mut tx, "SELECT * FROM domains").await?);
    out.insert("users".into(), lines::<UserRow>(&mut tx, "SELECT * FROM users").await?);
    out.insert(
        "user_licenses".into(),
        lines::<Triple>(&mut tx, "SELECT tenant_id AS a, user_id AS b, sku_id AS c FROM user_licenses").await?,
    );
    out.insert("groups".into(), lines::<GroupRow>(&mut tx, "SELECT * FROM groups").await?);
    out.insert(
        "group_members".into(),
        lines::<Triple>(&mut tx, "SELECT tenant_id AS a, group_id AS b, user_id AS c FROM group_members").await?,
    );
    out.insert("api_keys".into(), lines::<ApiKeyRow>(&mut tx, "SELECT * FROM api_keys").await?);
    out.insert("signing_keys".into(), lines::<SigningKeyRow>(&mut tx, "SELECT * FROM signing_keys").await?);
    out.insert("sign_ins".into(), lines::<SignInRow>(&mut tx, "SELECT * FROM sign_ins").await?);
    out.insert("microsoft365_connections".into(), lines::<ConnectionRow>(&mut tx, "SELECT * FROM microsoft365_connections").await?);
    out.insert("microsoft365_compatibility".into(), lines::<CompatibilityRow>(&mut tx, "SELECT * FROM microsoft365_compatibility").await?);
    out.insert("microsoft365_skus".into(), lines::<SkuRow>(&mut tx, "SELECT * FROM microsoft365_skus").await?);
    // The claim columns are the workers', not derived from events.
    out.insert(
        "outbox_tasks".into(),
        lines::<TaskRow>(&mut tx, &format!("SELECT {} FROM outbox_tasks", crate::read::outbox::COLUMNS)).await?,
    );
    out.insert(
        "outbox_tenants".into(),
        lines::<Triple>(
            &mut tx,
            "SELECT tenant_id AS a, CASE WHEN connected THEN 'connected' ELSE 'not connected' END AS b,
                    deprovision_action || ' ' || CAST(delete_grace_hours AS TEXT) || 'h' AS c FROM outbox_tenants",
        )
        .await?,
    );
    out.insert(
        "outbox_groups".into(),
        lines::<Triple>(
            &mut tx,
            "SELECT tenant_id AS a, group_id AS b, COALESCE(graph_object_id, '') || CASE WHEN deleted THEN ' deleted' ELSE '' END AS c
               FROM outbox_groups",
        )
        .await?,
    );
    out.insert(
        "outbox_group_members".into(),
        lines::<Triple>(
            &mut tx,
            "SELECT tenant_id AS a, group_id AS b, user_id || CASE WHEN queued THEN ' queued' ELSE '' END AS c FROM outbox_group_members",
        )
        .await?,
    );
    out.insert("outbox_domains".into(), lines::<Triple>(&mut tx, "SELECT tenant_id AS a, domain AS b, '' AS c FROM outbox_domains").await?);
    out.insert(
        "outbox_users".into(),
        lines::<Triple>(
            &mut tx,
            "SELECT tenant_id AS a,
                    user_id || CASE WHEN assigned THEN ' assigned' ELSE '' END || CASE WHEN suspended THEN ' suspended' ELSE '' END
                            || CASE WHEN missed THEN ' missed' ELSE '' END AS b,
                    COALESCE(graph_object_id, '') AS c FROM outbox_users",
        )
        .await?,
    );
    // Lease columns are the job workers', not derived from events.
    out.insert("jobs".into(), lines::<JobRow>(&mut tx, &format!("SELECT {} FROM jobs", crate::read::jobs::COLUMNS)).await?);
    out.insert(
        "job_items".into(),
        lines::<JobItemLine>(
            &mut tx,
            "SELECT tenant_id, job_id, item_key, user_id, graph_object_id, upn, outcome, error_code, error_message, recorded_at FROM job_items",
        )
        .await?,
    );
    tx.commit().await?;
    for rows in out.values_mut() {
        rows.sort();
    }
    Ok(out)
}

/// Brings the live read models up to date, folds every event up to the same point into a
/// scratch store, and compares the two.
pub async fn replay(live: &Db, personal: &PersonalData) -> Result<ReplayReport, AuditError> {
    let mut until = None::<Checkpoint>;
    for projection in projections::all() {
        let reached = projections::catch_up(live, personal, projection.as_ref()).await?;
        until = Some(until.map_or(reached, |u| u.min(reached)));
    }
    let (scratch_db, events) = scratch::everything(live, personal, until.unwrap_or_default()).await?;
    let live_rows = dump(live).await?;
    let replayed_rows = dump(&scratch_db).await?;
    scratch_db.close().await;
    let mut report = ReplayReport { events, rows: BTreeMap::new(), differences: Vec::new(), unchecked: Vec::new() };
    for projection in projections::all() {
        for table in projection.tables() {
            if !live_rows.contains_key(*table) {
                report.unchecked.push((*table).to_owned());
            }
        }
    }
    for (table, live) in &live_rows {
        let replayed = replayed_rows.get(table).cloned().unwrap_or_default();
        report.rows.insert(table.clone(), live.len());
        let only_live: Vec<String> = live.iter().filter(|r| replayed.binary_search(r).is_err()).take(SHOWN).cloned().collect();
        let only_replayed: Vec<String> = replayed.iter().filter(|r| live.binary_search(r).is_err()).take(SHOWN).cloned().collect();
        if !only_live.is_empty() || !only_replayed.is_empty() || live.len() != replayed.len() {
            report.differences.push(Difference { table: table.clone(), only_live, only_replayed });
        }
    }
    Ok(report)
}
