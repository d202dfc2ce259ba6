//! Use cases of auditors: the tenant's audit public key and the export of its chain.

use super::{AppError, RequestContext, Tessera};
use crate::audit::{self, AuditError, Exporter, PublicKeyRow, Range};
use crate::domain::values::TenantId;

impl From<AuditError> for AppError {
    fn from(err: AuditError) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl Tessera {
    /// Public audit keys of a tenant, oldest first. Public by nature: anyone may fetch them.
    pub async fn audit_public_keys(&self, tenant: TenantId) -> Result<Vec<PublicKeyRow>, AppError> {
        self.tenant_exists(tenant).await?;
        Ok(audit::public_keys(self.db(), &self.crypto, &tenant.to_string()).await?)
    }

    async fn tenant_exists(&self, tenant: TenantId) -> Result<(), AppError> {
        let found = self.load::<crate::domain::tenant::Tenant>(&tenant.to_string()).await?;
        if found.id.is_some() { Ok(()) } else { Err(AppError::NotFound("tenant".into())) }
    }

    /// An export of the tenant's chain (any key that may read the tenant). The current head is
    /// signed first, so the export is anchored up to its last event.
    pub async fn audit_export(&self, ctx: &RequestContext, tenant: Option<TenantId>, range: Range) -> Result<Exporter, AppError> {
        let scope = ctx.read_scope(tenant)?;
        let tenant = scope.tenant_id().to_string();
        audit::sign_head_now(self.db(), &self.crypto, &tenant).await?;
        Ok(Exporter::new(self.db().clone(), &tenant, range))
    }
}

impl Tessera {
    /// The tenant's read models as they were at `at`, folded from its events into a scratch
    /// database (`asOf` queries). `None` means the live read models.
    pub async fn past(
        &self,
        scope: &crate::app::TenantScope,
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Option<crate::db::Db>, AppError> {
        let Some(at) = at else { return Ok(None) };
        let db =
            audit::scratch::tenant_at(self.db(), self.personal_data(), &scope.tenant_id().to_string(), audit::scratch::Cutoff::AsOf(at))
                .await?;
        Ok(Some(db))
    }
}

impl Tessera {
    /// A user's timeline as sentences, oldest first: their own events and their group
    /// memberships, with actors named ("admin key 'ops-2'").
    pub async fn user_history(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: crate::domain::values::UserId,
    ) -> Result<Vec<audit::history::HistoryEntry>, AppError> {
        use crate::read::audit::{AuditEventRow, AuditFilter, page};
        let scope = ctx.read_scope(tenant)?;
        let tenant_text = scope.tenant_id().to_string();
        let mut names = audit::history::Names::default();
        for key in
            crate::read::api_keys::list(self.db(), &tenant_text).await?.into_iter().chain(crate::read::api_keys::list(self.db(), "").await?)
        {
            names.keys.insert(key.key_id, format!("{} key '{}'", key.role.to_lowercase(), key.name));
        }
        for group in crate::read::groups::list(self.db(), &scope).await? {
            names.groups.insert(group.group_id, group.name);
        }
        let own = AuditFilter {
            aggregate_type: Some("User".into()),
            aggregate_id: Some(format!("{tenant_text}/{user_id}")),
            ..AuditFilter::default()
        };
        let memberships = AuditFilter {
            aggregate_type: Some("Group".into()),
            event_types: vec!["GroupMemberAdded".into(), "GroupMemberRemoved".into()],
            ..AuditFilter::default()
        };
        let user_text = user_id.to_string();
        let mut rows: Vec<AuditEventRow> = Vec::new();
        for filter in [own, memberships] {
            let mut after = None;
            loop {
                let (page_rows, more) = page(self.db(), &scope, &filter, 500, after).await?;
                after = page_rows.last().map(|r| r.position);
                rows.extend(page_rows.into_iter().filter(|r| r.aggregate_type == "User" || r.payload.to_string().contains(&user_text)));
                if !more {
                    break;
                }
            }
        }
        rows.sort_by_key(|r| r.position);
        self.open_audit_rows(&scope, &mut rows).await?;
        Ok(rows.iter().map(|row| audit::history::entry(row, &names)).collect())
    }

    /// Opens the personal values of events read for an auditor: in clear while their subject's
    /// key exists, `{"forgotten": true}` after. (The export keeps them sealed, as stored.)
    pub async fn open_audit_rows(
        &self,
        scope: &crate::app::TenantScope,
        rows: &mut [crate::read::audit::AuditEventRow],
    ) -> Result<(), AppError> {
        let mut tx = self.db().begin_tenant(&scope.tenant_id()).await?;
        let result =
            self.personal_data().open_payloads(&mut tx, &scope.tenant_id().to_string(), rows.iter_mut().map(|r| &mut r.payload)).await;
        tx.commit().await?;
        Ok(result?)
    }
}
