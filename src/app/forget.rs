//! Forgetting a person (the right to erasure) by crypto-shredding: their data keys are
//! destroyed, so every personal value they left in the history reads as forgotten, while the
//! events, and the audit chain over them, stay as they are. See docs/personal-data.md.

use super::users::user_id_key;
use super::{AppError, RequestContext, Tessera};
use crate::args;
use crate::domain::Reason;
use crate::domain::user::{User, UserCommand};
use crate::domain::values::{Pseudonym, TenantId, UserId};
use crate::eventstore::personal::subject;

/// What forgetting a user destroys (or, for a preview, would destroy).
#[derive(Debug, Clone)]
pub struct ForgetReport {
    pub user_id: UserId,
    /// Nothing was changed: these are the counts forgetting would give.
    pub preview: bool,
    /// Data keys destroyed: of the user, and of sign-in attempts under their UPN that named no user.
    pub data_keys: u64,
    /// Sign-in records whose personal data is now forgotten.
    pub sign_ins: u64,
    /// Sign-in sessions ended.
    pub sessions: u64,
    /// Events written before personal data was sealed (schema 1.0) that hold the user's
    /// personal data in clear: forgetting cannot reach them without breaking the audit chain.
    pub plaintext_events: u64,
}

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

async fn count(tx: &mut crate::db::Tx, sql: &str, args: &[crate::db::Arg]) -> Result<u64, AppError> {
    let row: Option<Count> = tx.fetch_optional(sql, args).await?;
    Ok(row.map_or(0, |c| c.n as u64))
}

impl Tessera {
    /// Forgets a deleted user (admin keys). Idempotent: forgetting again destroys nothing more.
    pub async fn forget_user(
        &self,
        ctx: &RequestContext,
        tenant: Option<TenantId>,
        user_id: UserId,
        preview: bool,
    ) -> Result<ForgetReport, AppError> {
        let scope = ctx.admin_scope(tenant)?;
        let tenant_id = scope.tenant_id();
        let key = user_id_key(tenant_id, user_id);
        let user = self.load::<User>(&key).await?;
        if user.user_id.is_none() {
            return Err(AppError::NotFound("user".into()));
        }
        // Checked here as well as in the aggregate: the keys are destroyed before the event.
        if !user.is_deleted() {
            return Err(AppError::precondition(Reason::UserNotDeleted, "only a deleted user can be forgotten: delete the user first"));
        }
        let pseudonym = match (&user.upn_pseudonym, &user.upn) {
            (Some(pseudonym), _) => Some(pseudonym.clone()),
            (None, Some(upn)) => Some(self.personal_data().upn_pseudonym(self.db(), &tenant_id, &upn.to_string()).await?),
            (None, None) => None,
        };
        let mut subjects = vec![subject::user(&user_id)];
        subjects.extend(pseudonym.iter().map(subject::account));
        let mut report = self.forget_counts(tenant_id, user_id, pseudonym.as_ref()).await?;
        report.data_keys = self.personal_data().count_keys(self.db(), &tenant_id, &subjects).await?;
        if preview {
            return Ok(report);
        }
        // Keys first, then the event: a projection that meets `UserForgotten` finds the keys
        // gone, so nothing it reads after the scrub can bring a value back.
        report.data_keys = self.personal_data().destroy(self.db(), &tenant_id, &subjects).await?;
        self.end_sign_in_state(tenant_id, user_id, pseudonym.as_ref(), user.upn.as_ref().map(ToString::to_string)).await?;
        self.release_upn(ctx, tenant_id, user_id, &user).await?;
        self.run::<User>(ctx, Some(tenant_id), &key, UserCommand::ForgetUser { upn_pseudonym: pseudonym }).await?;
        // SQLite: no copy of the deleted rows left in the write-ahead log.
        self.db().truncate_wal().await?;
        report.preview = false;
        Ok(report)
    }

    async fn forget_counts(&self, tenant_id: TenantId, user_id: UserId, pseudonym: Option<&Pseudonym>) -> Result<ForgetReport, AppError> {
        let tenant = tenant_id.to_string();
        let user = user_id.to_string();
        let account = pseudonym.map(ToString::to_string);
        let mut tx = self.db().begin_tenant(&tenant_id).await?;
        let sign_ins = count(
            &mut tx,
            "SELECT count(*) AS n FROM sign_ins WHERE tenant_id = $1 AND (user_id = $2 OR (user_id IS NULL AND account = $3))
                AND NOT forgotten",
            args![tenant.clone(), user.clone(), account],
        )
        .await?;
        let sessions = count(
            &mut tx,
            "SELECT count(*) AS n FROM wsfed_sessions WHERE tenant_id = $1 AND (user_id = $2 OR pending_user_id = $2)",
            args![tenant.clone(), user.clone()],
        )
        .await?;
        // Schema-1.0 events kept personal values in clear: the user's own, and their sign-ins.
        let plaintext_events = count(
            &mut tx,
            r#"SELECT count(*) AS n FROM events
                WHERE tenant_id = $1 AND CAST(payload AS TEXT) LIKE '%"personal":%'
                  AND ((aggregate_type = 'User' AND aggregate_id = $2)
                       OR (aggregate_type = 'SignIn' AND CAST(payload AS TEXT) LIKE $3))"#,
            args![tenant.clone(), format!("{tenant}/{user}"), format!("%\"user_id\":\"{user}\"%")],
        )
        .await?;
        tx.commit().await?;
        Ok(ForgetReport { user_id, preview: true, data_keys: 0, sign_ins, sessions, plaintext_events })
    }

    /// Sessions, throttling counters and used TOTP steps of the user: operational state, not
    /// events, so simply deleted.
    async fn end_sign_in_state(
        &self,
        tenant_id: TenantId,
        user_id: UserId,
        pseudonym: Option<&Pseudonym>,
        legacy_upn: Option<String>,
    ) -> Result<(), AppError> {
        let tenant = tenant_id.to_string();
        let user = user_id.to_string();
        let mut tx = self.db().begin_system().await?;
        tx.execute(
            "DELETE FROM wsfed_sessions WHERE tenant_id = $1 AND (user_id = $2 OR pending_user_id = $2)",
            args![tenant.clone(), user.clone()],
        )
        .await?;
        tx.execute("DELETE FROM totp_used_steps WHERE tenant_id = $1 AND user_id = $2", args![tenant.clone(), user]).await?;
        // Counters under the pseudonym, and any left from before pseudonyms under the UPN.
        for subject in pseudonym.map(|p| format!("account:{p}")).into_iter().chain(legacy_upn.map(|u| format!("account:{u}"))) {
            tx.execute("DELETE FROM sign_in_throttle WHERE tenant_id = $1 AND subject = $2", args![tenant.clone(), subject]).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
