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
        /// A name from `tessera projections list`; all when omitted.
        name: Option<String>,
        /// Keep the old rows readable until the new ones commit (slower: PostgreSQL maintains
        /// the indexes row by row). Without it, readers of the tables wait for the rebuild.
        #[arg(long)]
        online: bool,
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
        ProjectionsCommand::Rebuild { name, online } => {
            let selected: Vec<_> = all.into_iter().filter(|p| name.as_deref().is_none_or(|n| n == p.name())).collect();
            if selected.is_empty() {
                anyhow::bail!("unknown projection {:?}; `tessera projections list` names them", name.unwrap_or_default());
            }
            // Projections of personal data open it: the master key is needed.
            let personal = personal_data(settings)?;
            let started = std::time::Instant::now();
            // One pass over the events feeds every selected read model, in one transaction.
            let mode = if online { projections::RebuildMode::Online } else { projections::RebuildMode::Offline };
            let (reached, events) = projections::rebuild(&db, &personal, &selected, mode).await?;
            let seconds = started.elapsed().as_secs_f64();
            for projection in &selected {
                println!("rebuilt {} up to position {}", projection.name(), reached.position);
            }
            println!("{events} events in {seconds:.1} s ({:.0} events/s)", events as f64 / seconds.max(1e-9));
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
    max_log_entries: usize,
) -> anyhow::Result<()> {
    crate::telemetry::init(crate::config::LogFormat::Text, "warn");
    let seed = match seed {
        Some(path) => serde_json::from_str(&std::fs::read_to_string(path)?)?,
        None => crate::emulator::Seed::default(),
    };
    let listener = TcpListener::bind(listen)?;
    let server =
        crate::emulator::serve(listener, crate::emulator::EmulatorConfig { seed, public_base_url, max_log_entries, ..Default::default() })?;
    tracing::info!(%listen, "Microsoft Graph emulator is serving");
    server.await?;
    Ok(())
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Verifies a tenant's hash chain and signed checkpoints: in the database (`--tenant`), or
    /// in an exported FILE with only the tenant's public key (`--public-key`). Names the first
    /// bad position and exits non-zero on any failure.
    Verify {
        /// An export made by `tessera audit export`; verified without any database.
        file: Option<std::path::PathBuf>,
        /// The tenant whose chain to verify in the database (`platform` for events of no tenant).
        #[arg(long)]
        tenant: Option<String>,
        /// The tenant's audit public key (PEM file), as fetched from /audit/{tenant}/public-key.pem.
        #[arg(long)]
        public_key: Option<std::path::PathBuf>,
    },
    /// Exports a tenant's events, chain links and signed checkpoints as NDJSON.
    Export {
        #[arg(long)]
        tenant: String,
        /// Only events that occurred at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events that occurred before this time (RFC 3339).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        /// Write here instead of standard output.
        #[arg(long, short)]
        output: Option<std::path::PathBuf>,
    },
    /// Deletes recorded client IPs and user agents older than the retention (personal data;
    /// the events and their chain are untouched).
    PurgeOrigins {
        #[arg(long)]
        older_than_days: u32,
    },
}

fn chain_arg(tenant: &str) -> anyhow::Result<String> {
    if tenant == "platform" {
        return Ok(String::new());
    }
    Ok(crate::domain::values::TenantId::parse(tenant)?.to_string())
}

fn print_report(report: &crate::audit::Report) -> anyhow::Result<()> {
    let name = if report.tenant_id.is_empty() { "platform" } else { &report.tenant_id };
    match &report.failure {
        None => {
            println!(
                "OK: tenant {name}: {} events verified, {} signed checkpoints valid; signed up to link {} of {}",
                report.events, report.checkpoints, report.last_signed_seq, report.last_seq
            );
            Ok(())
        }
        Some(failure) => {
            println!("FAILED: tenant {name}: first bad position {}: {}", failure.position, failure.reason);
            anyhow::bail!("audit verification failed at position {}", failure.position)
        }
    }
}

pub async fn audit(settings: &Settings, command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { file: Some(file), public_key, .. } => {
            let Some(key_file) = public_key else { anyhow::bail!("verifying a file needs --public-key KEY.pem") };
            let pem = std::fs::read_to_string(&key_file)?;
            let input = std::io::BufReader::new(std::fs::File::open(&file)?);
            print_report(&crate::audit::verify_file(input, &pem)?)
        }
        AuditCommand::Verify { file: None, tenant, .. } => {
            let Some(tenant) = tenant else { anyhow::bail!("name the tenant (--tenant ID) or an export FILE") };
            let db = startup::connect(settings).await?;
            db.migrate().await?;
            let report = crate::audit::verify_db(&db, &chain_arg(&tenant)?).await;
            db.close().await;
            print_report(&report?)
        }
        AuditCommand::PurgeOrigins { older_than_days } => {
            let db = startup::connect(settings).await?;
            db.migrate().await?;
            let before = chrono::Utc::now() - chrono::Duration::days(i64::from(older_than_days));
            let deleted = crate::audit::purge_origins(&db, before).await;
            db.close().await;
            println!("deleted {} request origins recorded before {before}", deleted?);
            Ok(())
        }
        AuditCommand::Export { tenant, since, until, output } => {
            let db = startup::connect(settings).await?;
            db.migrate().await?;
            let tenant = chain_arg(&tenant)?;
            let crypto = crate::crypto::Crypto::new(startup::master_keys(settings)?);
            crate::audit::sign_head_now(&db, &crypto, &tenant).await?;
            let mut exporter = crate::audit::Exporter::new(db.clone(), &tenant, crate::audit::Range { since, until });
            let bar = progress_bar(exporter.total().await?);
            let mut out: Box<dyn std::io::Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            while let Some(chunk) = exporter.next_chunk().await? {
                out.write_all(&chunk)?;
                bar.set_position(exporter.scanned);
            }
            out.flush()?;
            bar.finish_and_clear();
            db.close().await;
            Ok(())
        }
    }
}

/// A progress bar on standard error when it is a terminal; nothing otherwise.
fn progress_bar(total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}") {
        bar.set_style(style);
    }
    bar
}

/// Opens personal values in events (needs the master key, as the server does).
fn personal_data(settings: &Settings) -> anyhow::Result<crate::eventstore::PersonalData> {
    Ok(crate::eventstore::PersonalData::new(crate::crypto::Crypto::new(startup::master_keys(settings)?)))
}

/// `tessera replay`: rebuilds every read model from the events into a scratch store and
/// compares it with the live one; exits non-zero on any difference.
pub async fn replay(settings: &Settings) -> anyhow::Result<()> {
    let personal = personal_data(settings)?;
    let db = startup::connect(settings).await?;
    db.migrate().await?;
    let started = std::time::Instant::now();
    let report = crate::audit::replay::replay(&db, &personal).await;
    db.close().await;
    let report = report?;
    let seconds = started.elapsed().as_secs_f64();
    println!("replayed {} events in {seconds:.2}s ({:.0} events/s)", report.events, report.events as f64 / seconds.max(1e-9));
    for (table, rows) in &report.rows {
        println!("  {table}: {rows} rows");
    }
    for table in &report.unchecked {
        println!("  {table}: NOT COMPARED (no comparison for this table in this build)");
    }
    if report.differences.is_empty() {
        println!("OK: the replayed read models equal the live ones");
        return Ok(());
    }
    for difference in &report.differences {
        println!("DIFFERENCE in {}:", difference.table);
        for row in &difference.only_live {
            println!("  only live:     {row}");
        }
        for row in &difference.only_replayed {
            println!("  only replayed: {row}");
        }
    }
    anyhow::bail!("the replayed read models differ from the live ones in {} tables", report.differences.len())
}
