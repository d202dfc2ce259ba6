/// What a provisioning task does in Microsoft 365.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Create the user (or match an existing one by onPremisesImmutableId, then UPN), then
    /// grant the licenses it holds in Tessera.
    ProvisionUser,
    /// PATCH names and usage location.
    UpdateUser,
    GrantLicense,
    RevokeLicense,
    /// `accountEnabled = false` (suspension, or the BLOCK_SIGN_IN deprovision action).
    DisableUser,
    EnableUser,
    /// The DELETE deprovision action, due after the grace period.
    DeleteUser,
    /// A signing-key rollover: PATCH the domain's federation configuration with the current
    /// `signingCertificate` and `nextSigningCertificate`.
    UpdateFederation,
    /// A security group: create (or find by mailNickname), rename, members, delete.
    ProvisionGroup,
    UpdateGroup,
    AddGroupMember,
    RemoveGroupMember,
    DeleteGroup,
}

impl TaskKind {
    pub const ALL: [Self; 13] = [
        Self::ProvisionUser,
        Self::UpdateUser,
        Self::GrantLicense,
        Self::RevokeLicense,
        Self::DisableUser,
        Self::EnableUser,
        Self::DeleteUser,
        Self::UpdateFederation,
        Self::ProvisionGroup,
        Self::UpdateGroup,
        Self::AddGroupMember,
        Self::RemoveGroupMember,
        Self::DeleteGroup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ProvisionUser => "PROVISION_USER",
            Self::UpdateUser => "UPDATE_USER",
            Self::GrantLicense => "GRANT_LICENSE",
            Self::RevokeLicense => "REVOKE_LICENSE",
            Self::DisableUser => "DISABLE_USER",
            Self::EnableUser => "ENABLE_USER",
            Self::DeleteUser => "DELETE_USER",
            Self::UpdateFederation => "UPDATE_FEDERATION",
            Self::ProvisionGroup => "PROVISION_GROUP",
            Self::UpdateGroup => "UPDATE_GROUP",
            Self::AddGroupMember => "ADD_GROUP_MEMBER",
            Self::RemoveGroupMember => "REMOVE_GROUP_MEMBER",
            Self::DeleteGroup => "DELETE_GROUP",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl TaskKind {
    pub fn is_group_task(self) -> bool {
        matches!(self, Self::ProvisionGroup | Self::UpdateGroup | Self::AddGroupMember | Self::RemoveGroupMember | Self::DeleteGroup)
    }
}
