//! The slice of the Graph v1.0 metadata the emulator speaks, as data.
//!
//! Every property the emulator accepts or returns is declared here with its Edm type and
//! nullability exactly as `reference/graph/graph-v1-subset.json` spells them, so one contract
//! test can prove the emulator never invents a property name or type. Input validation is
//! driven by the same tables, so a mistyped property is rejected the way Graph rejects it.

use chrono::DateTime;
use serde_json::{Map, Value};
use uuid::Uuid;

/// Who may write a property through the Graph API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Computed or service-managed: a write answers 400 "read-only".
    ReadOnly,
    /// Settable on create and update.
    ReadWrite,
    /// Accepted on writes, never returned (Graph answers `null`), e.g. `passwordProfile`.
    WriteOnly,
}

/// One structural property of a Graph type.
#[derive(Debug, Clone, Copy)]
pub struct PropSpec {
    /// Case-sensitive name as in the metadata.
    pub name: &'static str,
    /// Edm type as the metadata JSON writes it (`Edm.String`, `Collection(Edm.Guid)`, …).
    pub edm_type: &'static str,
    /// Whether JSON `null` is allowed.
    pub nullable: bool,
    /// Who may write it.
    pub access: Access,
    /// Returned when the request has no `$select` (Graph's default property set).
    pub default: bool,
    /// Usable in `$filter`.
    pub filterable: bool,
}

/// A Graph entity or complex type as far as the emulator implements it.
#[derive(Debug, Clone, Copy)]
pub struct TypeSpec {
    /// Qualified name, e.g. `microsoft.graph.user`.
    pub name: &'static str,
    /// Resource name used in directory error messages (`User`, `Group`, …).
    pub resource: &'static str,
    /// Open types accept directory extension properties (`extension_{appId}_{name}`).
    pub open: bool,
    /// Properties, in the order Graph usually returns them.
    pub props: &'static [PropSpec],
}

impl TypeSpec {
    /// Looks a property up, ignoring case like Graph's `$select` does.
    pub fn prop(&self, name: &str) -> Option<&'static PropSpec> {
        self.props.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

const DEF: u8 = 1;
const FIL: u8 = 2;

const fn p(name: &'static str, edm_type: &'static str, nullable: bool, access: Access, flags: u8) -> PropSpec {
    PropSpec { name, edm_type, nullable, access, default: flags & DEF != 0, filterable: flags & FIL != 0 }
}

use Access::{ReadOnly as RO, ReadWrite as RW, WriteOnly as WO};

const STR: &str = "Edm.String";
const BOOL: &str = "Edm.Boolean";
const INT: &str = "Edm.Int32";
const GUID: &str = "Edm.Guid";
const DATE: &str = "Edm.DateTimeOffset";
const STRS: &str = "Collection(Edm.String)";

/// `microsoft.graph.user`.
pub const USER: TypeSpec = TypeSpec {
    name: "microsoft.graph.user",
    resource: "User",
    open: true,
    props: &[
        p("id", STR, false, RO, DEF | FIL),
        p("businessPhones", STRS, false, RW, DEF),
        p("displayName", STR, true, RW, DEF | FIL),
        p("givenName", STR, true, RW, DEF | FIL),
        p("jobTitle", STR, true, RW, DEF | FIL),
        p("mail", STR, true, RW, DEF | FIL),
        p("mobilePhone", STR, true, RW, DEF),
        p("officeLocation", STR, true, RW, DEF),
        p("preferredLanguage", STR, true, RW, DEF),
        p("surname", STR, true, RW, DEF | FIL),
        p("userPrincipalName", STR, true, RW, DEF | FIL),
        p("accountEnabled", BOOL, true, RW, FIL),
        p("assignedLicenses", "Collection(microsoft.graph.assignedLicense)", false, RO, 0),
        p("city", STR, true, RW, FIL),
        p("companyName", STR, true, RW, FIL),
        p("country", STR, true, RW, FIL),
        p("createdDateTime", DATE, true, RO, FIL),
        p("creationType", STR, true, RO, FIL),
        p("deletedDateTime", DATE, true, RO, 0),
        p("department", STR, true, RW, FIL),
        p("employeeId", STR, true, RW, FIL),
        p("employeeType", STR, true, RW, FIL),
        p("licenseAssignmentStates", "Collection(microsoft.graph.licenseAssignmentState)", true, RO, 0),
        p("mailNickname", STR, true, RW, FIL),
        p("onPremisesImmutableId", STR, true, RW, FIL),
        p("otherMails", STRS, false, RW, 0),
        p("passwordPolicies", STR, true, RW, 0),
        p("passwordProfile", "microsoft.graph.passwordProfile", true, WO, 0),
        p("postalCode", STR, true, RW, 0),
        p("proxyAddresses", STRS, false, RO, 0),
        p("state", STR, true, RW, FIL),
        p("streetAddress", STR, true, RW, 0),
        p("usageLocation", STR, true, RW, FIL),
        p("userType", STR, true, RW, FIL),
    ],
};

/// `microsoft.graph.group`.
pub const GROUP: TypeSpec = TypeSpec {
    name: "microsoft.graph.group",
    resource: "Group",
    open: true,
    props: &[
        p("id", STR, false, RO, DEF | FIL),
        p("deletedDateTime", DATE, true, RO, DEF),
        p("assignedLicenses", "Collection(microsoft.graph.assignedLicense)", true, RO, 0),
        p("classification", STR, true, RW, DEF),
        p("createdDateTime", DATE, true, RO, DEF | FIL),
        p("description", STR, true, RW, DEF | FIL),
        p("displayName", STR, true, RW, DEF | FIL),
        p("expirationDateTime", DATE, true, RO, DEF),
        p("groupTypes", STRS, false, RW, DEF),
        p("hasMembersWithLicenseErrors", BOOL, true, RO, FIL),
        p("isAssignableToRole", BOOL, true, RW, DEF),
        p("licenseProcessingState", "microsoft.graph.licenseProcessingState", true, RO, 0),
        p("mail", STR, true, RO, DEF | FIL),
        p("mailEnabled", BOOL, true, RW, DEF | FIL),
        p("mailNickname", STR, true, RW, DEF | FIL),
        p("membershipRule", STR, true, RW, DEF),
        p("membershipRuleProcessingState", STR, true, RW, DEF),
        p("onPremisesSyncEnabled", BOOL, true, RO, DEF),
        p("preferredDataLocation", STR, true, RW, DEF),
        p("preferredLanguage", STR, true, RW, DEF),
        p("proxyAddresses", STRS, false, RO, DEF),
        p("renewedDateTime", DATE, true, RO, DEF),
        p("securityEnabled", BOOL, true, RW, DEF | FIL),
        p("securityIdentifier", STR, true, RO, DEF),
        p("theme", STR, true, RW, DEF),
        p("visibility", STR, true, RW, DEF),
    ],
};

/// `microsoft.graph.domain`.
pub const DOMAIN: TypeSpec = TypeSpec {
    name: "microsoft.graph.domain",
    resource: "Domain",
    open: false,
    props: &[
        p("authenticationType", STR, false, RO, DEF),
        p("availabilityStatus", STR, true, RO, DEF),
        p("id", STR, false, RO, DEF),
        p("isAdminManaged", BOOL, false, RO, DEF),
        p("isDefault", BOOL, false, RW, DEF),
        p("isInitial", BOOL, false, RO, DEF),
        p("isRoot", BOOL, false, RO, DEF),
        p("isVerified", BOOL, false, RO, DEF),
        p("passwordNotificationWindowInDays", INT, true, RW, DEF),
        p("passwordValidityPeriodInDays", INT, true, RW, DEF),
        p("supportedServices", STRS, false, RW, DEF),
        p("state", "microsoft.graph.domainState", true, RO, DEF),
    ],
};

/// `microsoft.graph.internalDomainFederation`.
pub const INTERNAL_DOMAIN_FEDERATION: TypeSpec = TypeSpec {
    name: "microsoft.graph.internalDomainFederation",
    resource: "InternalDomainFederation",
    open: false,
    props: &[
        p("id", STR, false, RO, DEF),
        p("displayName", STR, true, RW, DEF),
        p("issuerUri", STR, true, RW, DEF),
        p("metadataExchangeUri", STR, true, RW, DEF),
        p("signingCertificate", STR, true, RW, DEF),
        p("passiveSignInUri", STR, true, RW, DEF),
        p("preferredAuthenticationProtocol", "microsoft.graph.authenticationProtocol", true, RW, DEF),
        p("activeSignInUri", STR, true, RW, DEF),
        p("signOutUri", STR, true, RW, DEF),
        p("promptLoginBehavior", "microsoft.graph.promptLoginBehavior", true, RW, DEF),
        p("isSignedAuthenticationRequestRequired", BOOL, true, RW, DEF),
        p("nextSigningCertificate", STR, true, RW, DEF),
        p("federatedIdpMfaBehavior", "microsoft.graph.federatedIdpMfaBehavior", true, RW, DEF),
        p("passwordResetUri", STR, true, RW, DEF),
        p("signingCertificateUpdateStatus", "microsoft.graph.signingCertificateUpdateStatus", true, RO, DEF),
    ],
};

/// `microsoft.graph.subscribedSku`.
pub const SUBSCRIBED_SKU: TypeSpec = TypeSpec {
    name: "microsoft.graph.subscribedSku",
    resource: "SubscribedSku",
    open: false,
    props: &[
        p("accountId", STR, true, RO, DEF),
        p("accountName", STR, true, RO, DEF),
        p("appliesTo", STR, true, RO, DEF),
        p("capabilityStatus", STR, true, RO, DEF),
        p("consumedUnits", INT, true, RO, DEF),
        p("id", STR, false, RO, DEF),
        p("prepaidUnits", "microsoft.graph.licenseUnitsDetail", true, RO, DEF),
        p("servicePlans", "Collection(microsoft.graph.servicePlanInfo)", false, RO, DEF),
        p("skuId", GUID, true, RO, DEF),
        p("skuPartNumber", STR, true, RO, DEF),
        p("subscriptionIds", STRS, true, RO, DEF),
    ],
};

/// `microsoft.graph.passwordProfile`.
pub const PASSWORD_PROFILE: TypeSpec = TypeSpec {
    name: "microsoft.graph.passwordProfile",
    resource: "PasswordProfile",
    open: false,
    props: &[
        p("forceChangePasswordNextSignIn", BOOL, true, RW, DEF),
        p("forceChangePasswordNextSignInWithMfa", BOOL, true, RW, DEF),
        p("password", STR, true, RW, DEF),
    ],
};

/// `microsoft.graph.assignedLicense`.
pub const ASSIGNED_LICENSE: TypeSpec = TypeSpec {
    name: "microsoft.graph.assignedLicense",
    resource: "AssignedLicense",
    open: false,
    props: &[p("disabledPlans", "Collection(Edm.Guid)", false, RW, DEF), p("skuId", GUID, true, RW, DEF)],
};

/// `microsoft.graph.licenseAssignmentState`.
pub const LICENSE_ASSIGNMENT_STATE: TypeSpec = TypeSpec {
    name: "microsoft.graph.licenseAssignmentState",
    resource: "LicenseAssignmentState",
    open: false,
    props: &[
        p("assignedByGroup", STR, true, RO, DEF),
        p("disabledPlans", "Collection(Edm.Guid)", true, RO, DEF),
        p("error", STR, true, RO, DEF),
        p("lastUpdatedDateTime", DATE, true, RO, DEF),
        p("skuId", GUID, true, RO, DEF),
        p("state", STR, true, RO, DEF),
    ],
};

/// `microsoft.graph.licenseProcessingState`.
pub const LICENSE_PROCESSING_STATE: TypeSpec = TypeSpec {
    name: "microsoft.graph.licenseProcessingState",
    resource: "LicenseProcessingState",
    open: false,
    props: &[p("state", STR, true, RO, DEF)],
};

/// `microsoft.graph.licenseUnitsDetail`.
pub const LICENSE_UNITS_DETAIL: TypeSpec = TypeSpec {
    name: "microsoft.graph.licenseUnitsDetail",
    resource: "LicenseUnitsDetail",
    open: false,
    props: &[
        p("enabled", INT, true, RO, DEF),
        p("lockedOut", INT, true, RO, DEF),
        p("suspended", INT, true, RO, DEF),
        p("warning", INT, true, RO, DEF),
    ],
};

/// `microsoft.graph.servicePlanInfo`.
pub const SERVICE_PLAN_INFO: TypeSpec = TypeSpec {
    name: "microsoft.graph.servicePlanInfo",
    resource: "ServicePlanInfo",
    open: false,
    props: &[
        p("appliesTo", STR, true, RO, DEF),
        p("provisioningStatus", STR, true, RO, DEF),
        p("servicePlanId", GUID, true, RO, DEF),
        p("servicePlanName", STR, true, RO, DEF),
    ],
};

/// `microsoft.graph.signingCertificateUpdateStatus`.
pub const SIGNING_CERTIFICATE_UPDATE_STATUS: TypeSpec = TypeSpec {
    name: "microsoft.graph.signingCertificateUpdateStatus",
    resource: "SigningCertificateUpdateStatus",
    open: false,
    props: &[p("certificateUpdateResult", STR, true, RO, DEF), p("lastRunDateTime", DATE, true, RO, DEF)],
};

/// `microsoft.graph.domainState`.
pub const DOMAIN_STATE: TypeSpec = TypeSpec {
    name: "microsoft.graph.domainState",
    resource: "DomainState",
    open: false,
    props: &[p("lastActionDateTime", DATE, true, RO, DEF), p("operation", STR, true, RO, DEF), p("status", STR, true, RO, DEF)],
};

/// Every type the emulator reads or writes; the contract test walks this list.
pub const TYPES: &[&TypeSpec] = &[
    &USER,
    &GROUP,
    &DOMAIN,
    &INTERNAL_DOMAIN_FEDERATION,
    &SUBSCRIBED_SKU,
    &PASSWORD_PROFILE,
    &ASSIGNED_LICENSE,
    &LICENSE_ASSIGNMENT_STATE,
    &LICENSE_PROCESSING_STATE,
    &LICENSE_UNITS_DETAIL,
    &SERVICE_PLAN_INFO,
    &SIGNING_CERTIFICATE_UPDATE_STATUS,
    &DOMAIN_STATE,
];

/// Enum types with their members, as the metadata lists them.
pub const ENUMS: &[(&str, &[&str])] = &[
    ("microsoft.graph.authenticationProtocol", &["wsFed", "saml", "unknownFutureValue"]),
    ("microsoft.graph.promptLoginBehavior", &["translateToFreshPasswordAuthentication", "nativeSupport", "disabled", "unknownFutureValue"]),
    (
        "microsoft.graph.federatedIdpMfaBehavior",
        &["acceptIfMfaDoneByFederatedIdp", "enforceMfaByFederatedIdp", "rejectMfaByFederatedIdp", "unknownFutureValue"],
    ),
];

/// Navigation properties the emulator binds with `…@odata.bind` or addresses by path.
pub const NAVIGATION: &[(&str, &str)] =
    &[("microsoft.graph.group", "members"), ("microsoft.graph.group", "owners"), ("microsoft.graph.domain", "federationConfiguration")];

fn type_spec(name: &str) -> Option<&'static TypeSpec> {
    TYPES.iter().copied().find(|t| t.name == name)
}

fn enum_members(name: &str) -> Option<&'static [&'static str]> {
    ENUMS.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
}

/// Whether `v` is a valid JSON value for a property of type `edm` (Graph's wire rules).
pub(crate) fn value_ok(edm: &str, nullable: bool, v: &Value) -> bool {
    if v.is_null() {
        return nullable;
    }
    if let Some(inner) = edm.strip_prefix("Collection(").and_then(|s| s.strip_suffix(')')) {
        return v.as_array().is_some_and(|items| items.iter().all(|x| value_ok(inner, false, x)));
    }
    match edm {
        "Edm.String" => v.is_string(),
        "Edm.Boolean" => v.is_boolean(),
        "Edm.Int32" => v.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        "Edm.Guid" => v.as_str().is_some_and(|s| Uuid::parse_str(s).is_ok()),
        "Edm.DateTimeOffset" => v.as_str().is_some_and(|s| DateTime::parse_from_rfc3339(s).is_ok()),
        other => {
            if let Some(members) = enum_members(other) {
                v.as_str().is_some_and(|s| members.contains(&s))
            } else if let Some(spec) = type_spec(other) {
                v.as_object().is_some_and(|o| complex_ok(spec, o))
            } else {
                false
            }
        }
    }
}

fn complex_ok(spec: &TypeSpec, o: &Map<String, Value>) -> bool {
    o.iter().all(|(k, x)| {
        k.starts_with("@odata.") || spec.props.iter().find(|p| p.name == k).is_some_and(|p| value_ok(p.edm_type, p.nullable, x))
    })
}

/// Whether `name` is a directory extension property, which open types accept.
pub(crate) fn is_extension_property(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("extension_") else {
        return false;
    };
    let Some((app, prop)) = rest.split_once('_') else {
        return false;
    };
    app.len() == 32
        && app.bytes().all(|b| b.is_ascii_hexdigit())
        && !prop.is_empty()
        && prop.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}
