//! The `azcops` binary: parses the command line and environment, sets up logging, hands over
//! to the library. Run without a subcommand by nobody: `host.json` starts `azcops handler`.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};

use azcops::config::{Config, Exposure, LogConfig};
use azcops::{db, server, telemetry, tools};

/// jemalloc rather than glibc's malloc: the handler's bursts (a subscription's inventory, its
/// rule context, Monitor's answers) are given back to the operating system by a background
/// thread shortly after they are freed (the decay is set in `.cargo/config.toml`), where glibc
/// keeps them in per-thread arenas and the resident size only grows.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// AzCops: multi-tenant Azure FinOps, served as an Azure Functions custom handler.
#[derive(Debug, Parser)]
#[command(name = "azcops", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve as the Functions custom handler on 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT.
    Handler {
        /// Set by the Functions host.
        #[arg(
            long,
            env = "FUNCTIONS_CUSTOMHANDLER_PORT",
            value_name = "FUNCTIONS_CUSTOMHANDLER_PORT"
        )]
        port: u16,
        /// Where the Functions host in front of this handler serves HTTP (`azcops host` sets
        /// it): beyond loopback, development settings are refused as for `serve`.
        #[arg(long, env = "AZCOPS_HOST_LISTEN", value_name = "AZCOPS_HOST_LISTEN")]
        host_listen: Option<SocketAddr>,
        #[command(flatten)]
        config: Config,
    },
    /// Serve the same API outside the Functions host, on a chosen address (without the
    /// function routes, which are the host's alone).
    Serve {
        /// Address to listen on (port 0 picks a free one and logs it).
        #[arg(
            long,
            env = "AZCOPS_LISTEN",
            value_name = "AZCOPS_LISTEN",
            default_value = "127.0.0.1:8080"
        )]
        listen: SocketAddr,
        #[command(flatten)]
        config: Config,
    },
    /// Apply pending database migrations, measure and keep the realised savings no kept
    /// measurement covers (after an upgrade, a restore or a bulk load), and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Run one collector for one subscription and print the normalised result as JSON.
    Collect {
        #[command(flatten)]
        args: tools::CollectArgs,
        #[command(flatten)]
        log: LogConfig,
    },
    /// Put an ingestion message for one subscription on the queue (ad-hoc re-ingestion).
    Enqueue {
        #[command(flatten)]
        args: tools::EnqueueArgs,
        #[command(flatten)]
        log: LogConfig,
    },
    /// Play the Azure Functions host locally: run host.json's handler, serve HTTP, fire timers, poll queues.
    Host {
        #[command(flatten)]
        config: azcops::host::HostConfig,
        #[command(flatten)]
        log: LogConfig,
    },
}

impl Command {
    fn log(&self) -> &LogConfig {
        match self {
            Command::Handler { config, .. }
            | Command::Serve { config, .. }
            | Command::Migrate { config } => &config.log,
            Command::Collect { log, .. }
            | Command::Enqueue { log, .. }
            | Command::Host { log, .. } => log,
        }
    }
}

/// How long, once a command is done, the runtime waits for work still on its blocking pool (a
/// rule evaluation a stopping handler abandoned) before the process exits anyway.
const ABANDON_BLOCKING_AFTER: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("azcops: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(start());
    // Dropping the runtime would wait for blocking work however long it runs.
    runtime.shutdown_timeout(ABANDON_BLOCKING_AFTER);
    code
}

async fn start() -> ExitCode {
    let cli = Cli::parse();
    // Commands whose stdout is their result log to stderr.
    let output = match cli.command {
        Command::Collect { .. } | Command::Enqueue { .. } => telemetry::Output::Stderr,
        _ => telemetry::Output::Stdout,
    };
    if let Err(e) = telemetry::init(cli.command.log(), output) {
        eprintln!("azcops: {e:#}");
        return ExitCode::from(2);
    }
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "azcops failed");
            eprintln!("azcops: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Handler {
            port,
            host_listen,
            config,
        } => {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let reached_at = host_listen.map_or(addr.ip(), |host| host.ip());
            config.refuse_development_settings(Exposure::detect(reached_at))?;
            // Bind before anything slow: the host probes `GET /` from the moment it starts us.
            let listener = server::bind(addr).await?;
            let state = server::state(&config)?;
            server::serve(listener, state, config.migrate_on_start, true).await
        }
        Command::Serve { listen, config } => {
            config.refuse_development_settings(Exposure::detect(listen.ip()))?;
            let listener = server::bind(listen).await?;
            let state = server::state(&config)?;
            server::serve(listener, state, config.migrate_on_start, false).await
        }
        Command::Migrate { config } => {
            let database = server::database(&config)?;
            let pool = database.pool().await?;
            server::migrate(pool).await?;
            tracing::info!("migrations applied");
            let measured = db::recommendations::realised::store_unmeasured(pool, Utc::now())
                .await
                .context("keeping realised savings not yet measured")?;
            tracing::info!(measured, "realised savings kept");
            Ok(())
        }
        Command::Collect { args, .. } => print(&tools::collect(&args).await?),
        Command::Enqueue { args, .. } => {
            let text = tools::enqueue(&args).await?;
            tracing::info!(queue = %args.queue.queue_name, message = %text, "enqueued");
            print(&text)
        }
        Command::Host { config, .. } => azcops::host::run(config).await,
    }
}

/// Writes a command's result to stdout; a closed pipe (`| head`) is not an error.
fn print(output: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{output}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
