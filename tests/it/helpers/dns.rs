//! A real DNS server on loopback (hickory-server, UDP and TCP) whose TXT records a test sets,
//! so domain verification runs through a real resolver instead of a faked lookup.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use hickory_server::ServerFuture;
use hickory_server::authority::{Catalog, ZoneType};
use hickory_server::proto::rr::rdata::{SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryAuthority;

pub struct TestDns {
    pub addr: std::net::SocketAddr,
    authority: Arc<InMemoryAuthority>,
    serial: std::sync::atomic::AtomicU32,
}

impl TestDns {
    pub async fn start() -> Self {
        let root = Name::root();
        let authority = Arc::new(InMemoryAuthority::empty(root.clone(), ZoneType::Primary, false));
        let soa = SOA::new(Name::from_str("ns.test.").unwrap(), Name::from_str("admin.test.").unwrap(), 1, 60, 60, 60, 0);
        authority.upsert(Record::from_rdata(root.clone(), 0, RData::SOA(soa)), 1).await;
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(root), Box::new(authority.clone()));
        // The UDP port the system picks may already be taken for TCP: try again until both bind.
        let mut attempt = 0;
        let (udp, tcp, addr) = loop {
            attempt += 1;
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            match tokio::net::TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, tcp, addr),
                Err(e) if attempt >= 50 => panic!("no port free for both UDP and TCP: {e}"),
                Err(_) => continue,
            }
        };
        let mut server = ServerFuture::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5));
        tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self { addr, authority, serial: std::sync::atomic::AtomicU32::new(2) }
    }

    /// Publishes a TXT record at `domain`.
    pub async fn add_txt(&self, domain: &str, value: &str) {
        let name = Name::from_str(&format!("{domain}.")).unwrap();
        let record = Record::from_rdata(name, 0, RData::TXT(TXT::new(vec![value.to_owned()])));
        let serial = self.serial.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.authority.upsert(record, serial).await;
    }
}
