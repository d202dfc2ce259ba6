//! What each task kind sends to Graph. Every task pushes the user's current state (read from
//! the write side), so a late or repeated attempt never writes stale values, and every step is
//! safe to repeat: a create is preceded by a lookup once an earlier attempt failed (it may have
//! gone through), and a conflict on create is resolved by matching the existing object.

use std::collections::BTreeSet;

use secrecy::ExposeSecret as _;
use serde_json::{Value, json};

use super::claim::Claimed;
use crate::app::graph::{GraphApi, GraphConnection, GraphError, GraphRequest, Method};
use crate::domain::provisioning::TaskKind;
use crate::domain::user::{User, UserStatus};

/// What a successful attempt did.
#[derive(Debug)]
pub struct Done {
    pub graph_object_id: Option<String>,
    pub detail: String,
}

impl Done {
    fn noop(detail: &str) -> Self {
        Self { graph_object_id: None, detail: detail.to_owned() }
    }
}

const USER_SELECT: &str = "id,userPrincipalName,onPremisesImmutableId,accountEnabled,assignedLicenses";

/// Percent-encodes a path segment (RFC 3986 unreserved characters stay).
pub(crate) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An OData string literal: quotes doubled.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// `mailNickname` from the UPN's alias: Graph refuses `@ () \ [] " ; : <> ,` and spaces.
fn mail_nickname(alias: &str) -> String {
    let nick: String = alias.chars().filter(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(*c)).take(64).collect();
    if nick.is_empty() { "user".to_owned() } else { nick }
}

fn text(value: Option<&crate::domain::values::DisplayName>) -> Value {
    value.map_or(Value::Null, |v| Value::String(v.to_string()))
}

/// The properties Tessera owns on a Microsoft 365 user, from its current state.
fn profile_patch(user: &User) -> Value {
    let mut body = json!({"accountEnabled": user.status == UserStatus::Active && user.assigned});
    // A forgotten person's profile is gone (its key destroyed): nothing of it is pushed.
    if let Some(p) = user.profile.as_ref().and_then(|profile| profile.value()) {
        body["displayName"] = Value::String(p.display_name.to_string());
        body["givenName"] = text(p.given_name.as_ref());
        body["surname"] = text(p.surname.as_ref());
    }
    if let Some(location) = &user.usage_location {
        body["usageLocation"] = Value::String(location.as_str().to_owned());
    }
    body
}

/// A user found in Microsoft 365.
struct Found {
    id: String,
    upn: String,
    immutable_id: Option<String>,
    licenses: BTreeSet<String>,
}

impl Found {
    fn from_json(value: &Value) -> Option<Self> {
        Some(Self {
            id: value["id"].as_str()?.to_owned(),
            upn: value["userPrincipalName"].as_str().unwrap_or_default().to_owned(),
            immutable_id: value["onPremisesImmutableId"].as_str().filter(|s| !s.is_empty()).map(str::to_owned),
            licenses: value["assignedLicenses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["skuId"].as_str())
                .map(str::to_ascii_lowercase)
                .collect(),
        })
    }
}

pub struct Executor<'a> {
    pub graph: &'a dyn GraphApi,
    pub connection: &'a GraphConnection,
}

impl Executor<'_> {
    async fn call(&self, request: GraphRequest) -> Result<Value, GraphError> {
        Ok(self.graph.call(self.connection, request).await?.body)
    }

    /// Where to address the user: by the object id its provisioning created or matched. Without
    /// one the user was never provisioned (its creation failed and was cancelled); addressing it
    /// by UPN could change someone else's account.
    #[allow(clippy::result_large_err)] // like every Graph call's error: Microsoft's whole answer
    fn user_path(task: &Claimed) -> Result<String, GraphError> {
        let id = task.graph_object_id.as_deref().ok_or_else(|| {
            GraphError::local(
                "USER_NOT_PROVISIONED",
                "the user was never provisioned in Microsoft 365; retry or cancel its PROVISION_USER task first",
            )
        })?;
        Ok(format!("/users/{}", segment(id)))
    }

    pub async fn run(&self, task: &Claimed, kind: TaskKind, user: &User) -> Result<Done, GraphError> {
        if !user.exists() && kind != TaskKind::DisableUser && kind != TaskKind::DeleteUser {
            return Ok(Done::noop("the user no longer exists in Tessera; nothing to push"));
        }
        match kind {
            TaskKind::ProvisionUser => self.provision(task, user).await,
            TaskKind::UpdateUser => {
                let mut body = profile_patch(user);
                if let Some(map) = body.as_object_mut() {
                    map.remove("accountEnabled");
                }
                self.call(GraphRequest::new(Method::Patch, Self::user_path(task)?).json(body)).await?;
                Ok(Done::noop("profile updated"))
            }
            TaskKind::GrantLicense => {
                let sku = task.sku_id.clone().unwrap_or_default();
                let body = json!({"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []});
                self.call(GraphRequest::new(Method::Post, format!("{}/assignLicense", Self::user_path(task)?)).json(body)).await?;
                Ok(Done::noop("license granted"))
            }
            TaskKind::RevokeLicense => self.revoke(task).await,
            TaskKind::DisableUser | TaskKind::EnableUser => {
                let enabled = kind == TaskKind::EnableUser;
                self.call(GraphRequest::new(Method::Patch, Self::user_path(task)?).json(json!({"accountEnabled": enabled}))).await?;
                Ok(Done::noop(if enabled { "sign-in enabled" } else { "sign-in blocked" }))
            }
            TaskKind::UpdateFederation
            | TaskKind::ProvisionGroup
            | TaskKind::UpdateGroup
            | TaskKind::AddGroupMember
            | TaskKind::RemoveGroupMember
            | TaskKind::DeleteGroup => Err(GraphError::local("UNKNOWN_TARGET", "not a user task")),
            TaskKind::DeleteUser => {
                if user.exists() && user.assigned {
                    return Ok(Done::noop("re-assigned; not deleted"));
                }
                if task.graph_object_id.is_none() {
                    return Ok(Done::noop("never provisioned; nothing to delete"));
                }
                match self.call(GraphRequest::new(Method::Delete, Self::user_path(task)?)).await {
                    Ok(_) => Ok(Done::noop("deleted")),
                    Err(e) if e.status() == Some(404) => Ok(Done::noop("already deleted")),
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// Looks the user up by onPremisesImmutableId, then by UPN.
    async fn lookup(&self, user: &User) -> Result<Option<(Found, &'static str)>, GraphError> {
        if let Some(anchor) = &user.immutable_id {
            let request = GraphRequest::new(Method::Get, "/users")
                .query("$filter", format!("onPremisesImmutableId eq {}", literal(anchor.as_str())))
                .query("$select", USER_SELECT);
            let body = self.call(request).await?;
            if let Some(found) = body["value"].as_array().and_then(|v| v.first()).and_then(Found::from_json) {
                return Ok(Some((found, "onPremisesImmutableId")));
            }
        }
        if let Some(upn) = &user.upn {
            let request = GraphRequest::new(Method::Get, format!("/users/{}", segment(&upn.to_string()))).query("$select", USER_SELECT);
            match self.call(request).await {
                Ok(body) => return Ok(Found::from_json(&body).map(|f| (f, "userPrincipalName"))),
                Err(e) if e.status() == Some(404) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Makes an existing Microsoft 365 user this Tessera user: same anchor, UPN and profile.
    async fn adopt(&self, user: &User, found: &Found) -> Result<(), GraphError> {
        let anchor = user.immutable_id.as_ref().map(|a| a.as_str().to_owned());
        if let (Some(theirs), Some(ours)) = (&found.immutable_id, &anchor)
            && theirs != ours
        {
            return Err(GraphError::local(
                "IMMUTABLE_ID_CONFLICT",
                format!(
                    "the Microsoft 365 user {} has another onPremisesImmutableId; it belongs to another identity, so Tessera will not take it over",
                    found.upn
                ),
            ));
        }
        let mut body = profile_patch(user);
        if found.immutable_id.is_none() {
            body["onPremisesImmutableId"] = anchor.map_or(Value::Null, Value::String);
        }
        if let Some(upn) = &user.upn
            && !found.upn.eq_ignore_ascii_case(&upn.to_string())
        {
            body["userPrincipalName"] = Value::String(upn.to_string());
        }
        self.call(GraphRequest::new(Method::Patch, format!("/users/{}", segment(&found.id))).json(body)).await?;
        Ok(())
    }

    async fn provision(&self, task: &Claimed, user: &User) -> Result<Done, GraphError> {
        if !user.assigned {
            return Ok(Done::noop("no longer assigned; not provisioned"));
        }
        // An earlier attempt may have created the user without our seeing the answer.
        let earlier = if task.attempts > 0 || task.reclaimed { self.lookup(user).await? } else { None };
        let (id, held, how) = match earlier {
            Some((found, by)) => {
                self.adopt(user, &found).await?;
                (found.id, found.licenses, format!("matched by {by}"))
            }
            None => match self.create(user).await {
                Ok(id) => (id, BTreeSet::new(), "created".to_owned()),
                Err(e) if e.conflict_target.is_some() => {
                    let Some((found, by)) = self.lookup(user).await? else { return Err(e) };
                    self.adopt(user, &found).await?;
                    (found.id, found.licenses, format!("matched by {by}"))
                }
                Err(e) => return Err(e),
            },
        };
        let missing: Vec<String> = user.licenses.iter().map(|s| s.to_string().to_ascii_lowercase()).filter(|s| !held.contains(s)).collect();
        if !missing.is_empty() {
            let add: Vec<Value> = missing.iter().map(|sku| json!({"skuId": sku, "disabledPlans": []})).collect();
            let body = json!({"addLicenses": add, "removeLicenses": []});
            self.call(GraphRequest::new(Method::Post, format!("/users/{}/assignLicense", segment(&id))).json(body)).await?;
        }
        Ok(Done { graph_object_id: Some(id), detail: format!("{how}; {} license(s) granted", missing.len()) })
    }

    async fn create(&self, user: &User) -> Result<String, GraphError> {
        let (Some(upn), Some(anchor)) = (&user.upn, &user.immutable_id) else {
            return Err(GraphError::local("INCOMPLETE_USER", "the user has no UPN or ImmutableID"));
        };
        let password = super::password::generate();
        let mut body = profile_patch(user);
        body["userPrincipalName"] = Value::String(upn.to_string());
        body["mailNickname"] = Value::String(mail_nickname(upn.alias()));
        body["onPremisesImmutableId"] = Value::String(anchor.as_str().to_owned());
        body["passwordProfile"] = json!({"password": password.expose_secret(), "forceChangePasswordNextSignIn": false});
        if let Some(map) = body.as_object_mut() {
            // Graph refuses null for these on create; absent means "not set".
            map.retain(|_, v| !v.is_null());
        }
        let created = self.call(GraphRequest::new(Method::Post, "/users").json(body)).await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| GraphError::local("INVALID_RESPONSE", "Graph created the user but returned no id"))
    }

    async fn revoke(&self, task: &Claimed) -> Result<Done, GraphError> {
        let sku = task.sku_id.clone().unwrap_or_default().to_ascii_lowercase();
        if task.attempts > 0 || task.reclaimed {
            // The earlier attempt may have removed it already; removing twice is an error.
            let body = self.call(GraphRequest::new(Method::Get, Self::user_path(task)?).query("$select", USER_SELECT)).await?;
            if Found::from_json(&body).is_some_and(|f| !f.licenses.contains(&sku)) {
                return Ok(Done::noop("license already removed"));
            }
        }
        let body = json!({"addLicenses": [], "removeLicenses": [sku]});
        self.call(GraphRequest::new(Method::Post, format!("{}/assignLicense", Self::user_path(task)?)).json(body)).await?;
        Ok(Done::noop("license revoked"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_paths_literals_and_nicknames() {
        assert_eq!(segment("o'neil#1@contoso.com"), "o%27neil%231%40contoso.com");
        assert_eq!(literal("o'neil"), "'o''neil'");
        assert_eq!(mail_nickname("ann.lee"), "ann.lee");
        assert_eq!(mail_nickname("@@"), "user");
    }
}
