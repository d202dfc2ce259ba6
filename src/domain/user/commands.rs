use crate::domain::values::{ImmutableId, Pseudonym, SkuId, TenantId, Upn, UsageLocation, UserId};
use crate::domain::{Personal, SealedSecret};

use super::events::UserProfile;

#[derive(Debug, Clone, PartialEq)]
pub enum UserCommand {
    /// The use case has already proven the UPN's domain verified and claimed the UPN; the
    /// ImmutableID was drawn by the caller.
    CreateUser {
        tenant_id: TenantId,
        user_id: UserId,
        upn: Upn,
        upn_pseudonym: Pseudonym,
        immutable_id: ImmutableId,
        profile: Personal<UserProfile>,
        usage_location: Option<UsageLocation>,
    },
    UpdateUserProfile {
        profile: Personal<UserProfile>,
    },
    /// An argon2id hash, sealed by the crypto layer before it reaches the domain.
    SetPassword {
        password_hash: SealedSecret,
    },
    /// A confirmed TOTP seed (sealed) and the hashes of fresh one-time recovery codes.
    EnrollTotp {
        seed: SealedSecret,
        recovery_code_hashes: Vec<String>,
    },
    /// Spends one recovery code, named by its hash.
    UseRecoveryCode {
        code_hash: String,
    },
    RemoveTotp,
    SuspendUser,
    ReactivateUser,
    DeleteUser,
    AssignUser,
    UnassignUser,
    SetUsageLocation {
        usage_location: UsageLocation,
    },
    GrantLicense {
        sku_id: SkuId,
    },
    RevokeLicense {
        sku_id: SkuId,
    },
    /// Forgets a deleted user (their data keys are destroyed by the caller first). The pseudonym
    /// is the one of the UPN the user had.
    ForgetUser {
        upn_pseudonym: Option<Pseudonym>,
    },
}
