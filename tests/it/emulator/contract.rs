//! The emulator against Microsoft's metadata subset: every routed operation and every
//! property name, type and nullability it declares must be in `graph-v1-subset.json`.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use tessera::emulator::{routes, schema};

use super::support::*;

fn metadata() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/reference/graph/graph-v1-subset.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("metadata json")
}

fn all_properties(meta: &Value, type_name: &str) -> Vec<Value> {
    let t = &meta["types"][type_name];
    assert!(t.is_object(), "{type_name} is not in the metadata subset");
    t["allProperties"].as_array().or(t["properties"].as_array()).cloned().unwrap_or_default()
}

#[test]
fn routes_are_exactly_the_documented_operations() {
    let meta = metadata();
    let documented: BTreeSet<(String, String)> = meta["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["method"].as_str().unwrap().to_owned(), o["path"].as_str().unwrap().to_owned()))
        .collect();
    let routed: BTreeSet<(String, String)> = routes().iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    let extra: Vec<_> = routed.difference(&documented).collect();
    assert!(extra.is_empty(), "routed but not in graph-v1-subset.json: {extra:?}");
    let missing: Vec<_> = documented.difference(&routed).collect();
    assert!(missing.is_empty(), "documented but not routed: {missing:?}");
    for r in routes() {
        assert!(r.path == "/$batch" || !r.permissions.is_empty(), "{} {} has no permission", r.method, r.path);
    }
}

#[test]
fn declared_properties_match_the_metadata() {
    let meta = metadata();
    for spec in schema::TYPES {
        let props = all_properties(&meta, spec.name);
        for p in spec.props {
            let m = props.iter().find(|m| m["name"] == p.name).unwrap_or_else(|| panic!("{}.{} is not in the metadata", spec.name, p.name));
            assert_eq!(m["type"], p.edm_type, "{}.{} type", spec.name, p.name);
            assert_eq!(m["nullable"], p.nullable, "{}.{} nullability", spec.name, p.name);
        }
        assert_eq!(meta["types"][spec.name]["openType"].as_bool().unwrap_or(false), spec.open, "{} openness", spec.name);
    }
    for (name, members) in schema::ENUMS {
        let listed: Vec<&str> = meta["types"][*name]["members"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} is not an enum in the metadata"))
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(&listed, members, "{name}");
    }
    for (type_name, nav) in schema::NAVIGATION {
        let navs = meta["types"][*type_name]["navigationProperties"].as_array().unwrap();
        assert!(navs.iter().any(|n| n["name"] == *nav), "{type_name}/{nav}");
    }
    let required: Vec<&str> =
        meta["documentedRules"]["createUserRequired"]["properties"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(required, ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"]);
}

/// Checks every key of a returned object (recursing into complex values) against the type.
fn check_object(meta: &Value, type_name: &str, obj: &Value, seen: &mut BTreeSet<String>) {
    let props = all_properties(meta, type_name);
    for (key, value) in obj.as_object().unwrap() {
        if key.starts_with("@odata.") {
            continue;
        }
        let m = props
            .iter()
            .find(|m| m["name"] == key.as_str())
            .unwrap_or_else(|| panic!("{type_name} returned '{key}', which the metadata does not declare"));
        seen.insert(format!("{type_name}.{key}"));
        let ty = m["type"].as_str().unwrap();
        let inner = ty.strip_prefix("Collection(").and_then(|t| t.strip_suffix(')')).unwrap_or(ty);
        let is_complex = meta["types"][inner]["kind"] == "ComplexType";
        if is_complex {
            let items: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                Value::Null => Vec::new(),
                other => vec![other],
            };
            for item in items {
                check_object(meta, inner, item, seen);
            }
        }
    }
}

#[tokio::test]
async fn returned_property_names_are_in_the_metadata() {
    let meta = metadata();
    let emu = start().await;
    let token = emu.token().await;
    let user = emu.create_user(&token, "meta@contoso.com", json!({"usageLocation": "NL", "onPremisesImmutableId": "bWV0YQ=="})).await;
    let uid = user.body["id"].as_str().unwrap().to_owned();
    emu.graph("POST", &format!("/users/{uid}/assignLicense"), Some(json!({"addLicenses": [{"skuId": E3}], "removeLicenses": []}))).await;
    let group = emu
        .graph("POST", "/groups", Some(json!({"displayName": "M", "mailEnabled": false, "mailNickname": "m", "securityEnabled": true})))
        .await;
    let gid = group.body["id"].as_str().unwrap().to_owned();
    emu.graph("POST", &format!("/groups/{gid}/assignLicense"), Some(json!({"addLicenses": [{"skuId": E3}], "removeLicenses": []}))).await;
    let (_, cert) = certificate();
    let fed = emu
        .graph(
            "POST",
            "/domains/contoso.com/federationConfiguration",
            Some(json!({
                "issuerUri": "https://idp.example/m", "passiveSignInUri": "https://idp.example/p",
                "signingCertificate": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, cert.to_der().unwrap()),
            })),
        )
        .await;
    assert_eq!(fed.status, 201, "{}", fed.body);

    let select = |spec: &schema::TypeSpec| spec.props.iter().map(|p| p.name).collect::<Vec<_>>().join(",");
    let mut seen = BTreeSet::new();
    let samples = [
        ("microsoft.graph.user", format!("/users/{uid}?$select={}", select(&schema::USER))),
        ("microsoft.graph.user", format!("/users/{uid}")),
        ("microsoft.graph.group", format!("/groups/{gid}?$select={}", select(&schema::GROUP))),
        ("microsoft.graph.group", format!("/groups/{gid}")),
        ("microsoft.graph.domain", "/domains/contoso.com".to_owned()),
        ("microsoft.graph.subscribedSku", format!("/subscribedSkus/{TENANT}_{E3}")),
        (
            "microsoft.graph.internalDomainFederation",
            format!("/domains/contoso.com/federationConfiguration/{}", fed.body["id"].as_str().unwrap()),
        ),
    ];
    for (type_name, path) in samples {
        let r = emu.graph("GET", &path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        check_object(&meta, type_name, &r.body, &mut seen);
    }
    // Every declared property of the main types was actually returned by some sample.
    for spec in [&schema::USER, &schema::GROUP, &schema::DOMAIN, &schema::SUBSCRIBED_SKU, &schema::INTERNAL_DOMAIN_FEDERATION] {
        for p in spec.props {
            assert!(seen.contains(&format!("{}.{}", spec.name, p.name)), "{}.{} never returned", spec.name, p.name);
        }
    }
}
