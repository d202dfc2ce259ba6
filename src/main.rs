use std::path::PathBuf;

use clap::{Parser, Subcommand};

use tessera::config::Settings;
use tessera::{cli, startup, telemetry};

// The read-model folds (rebuild, replay) and the JSON of every request allocate many small,
// short-lived values; glibc's malloc showed as ~40 % of a rebuild's profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Tessera: a multi-tenant, event-sourced identity provider for Microsoft 365.
#[derive(Parser)]
#[command(name = "tessera", version)]
struct Cli {
    /// A TOML settings file (also TESSERA_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the server (migrating the database first).
    Serve,
    /// Applies database migrations and exits.
    Migrate,
    /// Read-model maintenance.
    Projections {
        #[command(subcommand)]
        command: cli::ProjectionsCommand,
    },
    /// The audit trail: verify a tenant's hash chain, export it.
    Audit {
        #[command(subcommand)]
        command: cli::AuditCommand,
    },
    /// Rebuilds every read model from the events into a scratch store and compares it with the
    /// live one, reporting every difference (exit code 1 if any).
    Replay,
    /// Prints the GraphQL schema (SDL), as checked in at graphql/schema.graphql.
    Schema,
    /// Runs the Microsoft Graph + Entra token endpoint emulator (for tests, demos, load tests).
    GraphEmulator {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
        /// A JSON seed (tenants, apps, domains, SKUs, users); see docs/graph-emulator.md.
        #[arg(long)]
        seed: Option<PathBuf>,
        /// The URL clients reach it by (nextLinks, token audience); default http://LISTEN.
        #[arg(long)]
        base_url: Option<String>,
        /// The request log keeps this many latest entries (load tests count round trips in it).
        #[arg(long, default_value_t = 10_000)]
        max_log_entries: usize,
    },
    /// Prints a new random master key (`id:base64`) for TESSERA_MASTER_KEY.
    GenerateMasterKey {
        #[arg(long, default_value = "k1")]
        id: String,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        // The HTTP servers run on actix's runtime.
        Command::Serve | Command::GraphEmulator { .. } => actix_web::rt::System::new().block_on(run(cli)),
        // The other commands on every core: a rebuild or replay decodes pages on some while
        // one task folds them in order.
        _ => tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(cli)),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Schema = cli.command {
        print!("{}", tessera::api::graphql::sdl());
        return Ok(());
    }
    if let Command::GenerateMasterKey { id } = &cli.command {
        println!("{}", tessera::crypto::MasterKey::generate(id.clone())?.to_text());
        return Ok(());
    }
    if let Command::GraphEmulator { listen, seed, base_url, max_log_entries } = &cli.command {
        return cli::graph_emulator(*listen, seed.as_deref(), base_url.clone(), *max_log_entries).await;
    }
    let settings = Settings::load(cli.config.as_deref())?;
    telemetry::init(settings.log_format, &settings.log);
    match cli.command {
        Command::Serve => cli::serve(&settings).await,
        Command::Migrate => {
            startup::connect(&settings).await?.migrate().await?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::Projections { command } => cli::projections(&settings, command).await,
        Command::Audit { command } => cli::audit(&settings, command).await,
        Command::Replay => cli::replay(&settings).await,
        Command::Schema | Command::GenerateMasterKey { .. } | Command::GraphEmulator { .. } => Ok(()),
    }
}
