//! The `distmall` command: `serve` (default), `migrate`, `export-schema`, `admin create`.
use std::io::Write;

use clap::{Parser, Subcommand};

/// Optional: mimalloc is faster on allocation-heavy requests (20–50 % on the staff orders
/// list), but it keeps 30–40 MB more resident and doubles an idle subscription's memory
/// (bench/README.md), so it is off by default.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Optional, to compare: jemalloc (bench/README.md).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use distmall::{
    Config, Server,
    accounts::service,
    app::{SearchIndexMode, prepare},
    config::LogFormat,
    db::Db,
    error::ServiceError,
};

#[derive(Parser)]
#[command(
    name = "distmall",
    version,
    about = "GraphQL back end for a private-domain distribution mall"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Fill the database with a demo shop (safe to run again).
    SeedDemo,
    /// Rebuild the search index from the database (with the server stopped; a running server
    /// rebuilds through the `rebuildSearchIndex` mutation).
    Reindex,
    /// Print the GraphQL schema (SDL), or write it to a file.
    ExportSchema {
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
    /// Administration tasks.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create the owner account (all permissions).
    Create {
        #[arg(long)]
        phone: String,
        /// Or set DISTMALL_ADMIN_PASSWORD to keep it out of the shell history.
        #[arg(long, env = "DISTMALL_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        nickname: Option<String>,
    },
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log_filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.compact().init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::ExportSchema { output }) = &cli.command {
        let sdl = distmall::graphql::sdl();
        match output {
            Some(path) => std::fs::write(path, sdl)?,
            None => std::io::stdout().write_all(sdl.as_bytes())?,
        }
        return Ok(());
    }
    let config = Config::load()?;
    init_logging(&config);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let server = Server::start(config).await?;
            shutdown_signal().await;
            tracing::info!("shutting down");
            server.shutdown();
            server.wait().await?;
        }
        Command::Migrate => {
            let metrics = std::sync::Arc::new(distmall::metrics::Metrics::default());
            Db::connect(&config, metrics).await?.migrate().await?;
            println!("migrations applied");
        }
        Command::SeedDemo => {
            let (app, _) = prepare(config, SearchIndexMode::Ephemeral).await?;
            let started = std::time::Instant::now();
            let report = distmall::seed::seed_demo(&app)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "demo shop ready: {} categories, {} brands, {} products, {} distributors created in {:.1}s",
                report.categories,
                report.brands,
                report.products,
                report.distributors,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Reindex => {
            let (app, _) = prepare(config, SearchIndexMode::OnDisk).await?;
            let started = std::time::Instant::now();
            let n = distmall::catalog::indexing::rebuild(&app)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            println!(
                "search index rebuilt: {n} products in {:.2}s",
                started.elapsed().as_secs_f64()
            );
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    phone,
                    password,
                    nickname,
                },
        } => {
            let metrics = std::sync::Arc::new(distmall::metrics::Metrics::default());
            let db = Db::connect(&config, metrics).await?;
            db.migrate().await?;
            match service::create_owner(&db, &phone, &password, nickname.as_deref()).await {
                Ok(user) => println!("owner account {} created (user id {})", phone, user.id),
                Err(ServiceError::User(errors)) => {
                    for e in errors {
                        eprintln!("{:?}: {}", e.code, e.message);
                    }
                    std::process::exit(2);
                }
                Err(ServiceError::App(e)) => anyhow::bail!("{e:?}"),
            }
        }
        Command::ExportSchema { .. } => unreachable!("handled above"),
    }
    Ok(())
}
