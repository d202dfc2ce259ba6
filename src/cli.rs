//! The subcommands' bodies (main.rs only parses arguments).

use std::net::TcpListener;

use clap::Subcommand;

use crate::config::Settings;
use crate::projections;
use crate::startup;

#[derive(Subcommand)]
pub enum ProjectionsCommand {
    /// Empties a read model (or all of them) and rebuilds it from the events.
    Rebuild {
        /// tenants, domains, users, groups or api_keys; all when omitted.
        name: Option<String>,
    },
    /// Lists the projections and their checkpoints.
    List,
}

pub async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.listen)?;
    let running = startup::build(settings, listener, None).await?;
    tracing::info!(listen = %settings.listen, database = running.app.db().backend_name(), "tessera is serving");
    if let Some(key) = &running.bootstrap_key {
        // Printed once, on the first start of an empty store; only its hash is kept.
        println!("\nFirst start: this is the operator API key. It is shown once; store it safely.\n\n    {key}\n");
    }
    running.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn projections(settings: &Settings, command: ProjectionsCommand) -> anyhow::Result<()> {
    let db = startup::connect(settings).await?;
    db.migrate().await?;
    let all = projections::all();
    match command {
        ProjectionsCommand::List => {
            for projection in &all {
                println!("{}", projection.name());
            }
        }
        ProjectionsCommand::Rebuild { name } => {
            let selected: Vec<_> = all.into_iter().filter(|p| name.as_deref().is_none_or(|n| n == p.name())).collect();
            if selected.is_empty() {
                anyhow::bail!("unknown projection {:?}; `tessera projections list` names them", name.unwrap_or_default());
            }
            for projection in selected {
                projections::reset(&db, projection.as_ref()).await?;
                let reached = projections::catch_up(&db, projection.as_ref()).await?;
                println!("rebuilt {} up to position {}", projection.name(), reached.position);
            }
        }
    }
    db.close().await;
    Ok(())
}

/// `tessera graph-emulator`: serves the emulator until interrupted.
pub async fn graph_emulator(
    listen: std::net::SocketAddr,
    seed: Option<&std::path::Path>,
    public_base_url: Option<String>,
) -> anyhow::Result<()> {
    crate::telemetry::init(crate::config::LogFormat::Text, "info");
    let seed = match seed {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => crate::emulator::Seed::default(),
    };
    let listener = TcpListener::bind(listen)?;
    let server = crate::emulator::serve(listener, crate::emulator::EmulatorConfig { seed, public_base_url, ..Default::default() })?;
    tracing::info!(%listen, "Microsoft Graph emulator is serving");
    server.await?;
    Ok(())
}
