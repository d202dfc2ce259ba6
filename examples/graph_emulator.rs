//! Runs the Graph emulator by hand, until Ctrl-C.
//!
//! `cargo run --example graph_emulator -- [--listen 127.0.0.1:8089] [--seed seed.json] [--base-url URL]`
//! (the `tessera graph-emulator` subcommand is the supported way; this is for poking at it).

use std::net::TcpListener;

use tessera::emulator::{EmulatorConfig, Seed, serve};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:8089".to_owned();
    let mut seed = Seed::default();
    let mut public_base_url = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--seed" => seed = serde_json::from_str(&std::fs::read_to_string(value()?)?)?,
            "--base-url" => public_base_url = Some(value()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let listener = TcpListener::bind(&listen)?;
    println!("Graph emulator listening on {}", listener.local_addr()?);
    let config = EmulatorConfig { public_base_url, seed, ..EmulatorConfig::default() };
    let server = serve(listener, config)?;
    let handle = server.handle();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        handle.stop(true).await;
    });
    server.await?;
    Ok(())
}
