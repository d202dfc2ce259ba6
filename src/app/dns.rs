//! The DNS port: TXT lookups for domain verification, through a real resolver whose name
//! servers are configurable (tests point it at a DNS server on loopback).

use std::net::SocketAddr;

use hickory_resolver::TokioAsyncResolver;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::error::ResolveErrorKind;

use crate::domain::values::DomainName;

#[derive(Debug, thiserror::Error)]
#[error("DNS lookup failed: {0}")]
pub struct DnsError(pub String);

#[async_trait::async_trait]
pub trait TxtLookup: Send + Sync {
    /// Every TXT record at `name` (chunks of one record joined); empty when there are none.
    async fn txt(&self, name: &DomainName) -> Result<Vec<String>, DnsError>;
}

pub struct HickoryTxtLookup {
    resolver: TokioAsyncResolver,
}

impl HickoryTxtLookup {
    /// `nameservers` empty: the system's resolv.conf. Otherwise exactly those servers (UDP+TCP).
    pub fn new(nameservers: &[SocketAddr]) -> Result<Self, DnsError> {
        let mut opts = ResolverOpts::default();
        // Verification must see the record the admin just published, not a cached absence.
        opts.cache_size = 0;
        opts.attempts = 2;
        opts.timeout = std::time::Duration::from_secs(3);
        let resolver = if nameservers.is_empty() {
            let (config, mut system_opts) = hickory_resolver::system_conf::read_system_conf().map_err(|e| DnsError(e.to_string()))?;
            system_opts.cache_size = 0;
            TokioAsyncResolver::tokio(config, system_opts)
        } else {
            let mut group = NameServerConfigGroup::new();
            for addr in nameservers {
                group.merge(NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true));
            }
            TokioAsyncResolver::tokio(ResolverConfig::from_parts(None, vec![], group), opts)
        };
        Ok(Self { resolver })
    }
}

#[async_trait::async_trait]
impl TxtLookup for HickoryTxtLookup {
    async fn txt(&self, name: &DomainName) -> Result<Vec<String>, DnsError> {
        let fqdn = format!("{}.", name.as_str());
        match self.resolver.txt_lookup(fqdn).await {
            Ok(lookup) => {
                Ok(lookup.iter().map(|txt| txt.txt_data().iter().map(|chunk| String::from_utf8_lossy(chunk)).collect::<String>()).collect())
            }
            Err(e) if matches!(e.kind(), ResolveErrorKind::NoRecordsFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(DnsError(e.to_string())),
        }
    }
}
