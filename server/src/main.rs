//! The `talkback` command: a thin CLI over the server library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use talkback_server::config::Config;

#[derive(Parser)]
#[command(name = "talkback", version, about = "Self-hosted comments for blogs")]
struct Cli {
    /// TOML configuration file (settings not in it keep their defaults; TALKBACK_* variables override both).
    #[arg(long, short, global = true, env = "TALKBACK_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, the widget and the example pages (the default).
    Serve,
    /// Print the effective configuration as TOML.
    Config,
    /// Write every page and comment of a site as Talkback's versioned JSON export.
    Export {
        #[arg(long)]
        site: String,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import comments into a site (stop the server first: the database is locked while it runs).
    Import {
        #[arg(long, value_enum)]
        format: ImportFormat,
        file: PathBuf,
        #[arg(long)]
        site: String,
        /// Check everything and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportFormat {
    /// Talkback's own export (`talkback export`).
    Talkback,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Export { site, out } => {
            let store = talkback_server::open_store(&config)?;
            let text = talkback_server::migrate::export(store.as_ref(), &site)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?,
            }
            Ok(())
        }
        Command::Import {
            format: ImportFormat::Talkback,
            file,
            site,
            dry_run,
        } => {
            if config.site(&site).is_none() {
                anyhow::bail!("site {site:?} is not configured; add a [[sites]] entry first");
            }
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let store = talkback_server::open_store(&config)?;
            let report =
                talkback_server::migrate::import_talkback(store.as_ref(), &site, &text, dry_run)?;
            for (id, reason) in &report.skipped {
                tracing::warn!(comment = %id, "skipped: {reason}");
            }
            let verb = if dry_run { "would import" } else { "imported" };
            let summary = format!(
                "{verb} {} comments, {} already present, {} skipped\n",
                report.imported,
                report.already_present,
                report.skipped.len()
            );
            std::io::Write::write_all(&mut std::io::stdout(), summary.as_bytes())?;
            Ok(())
        }
        Command::Config => {
            let text = toml::to_string_pretty(&config).context("cannot print configuration")?;
            std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?;
            Ok(())
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database.clone();
    actix_web::rt::System::new().block_on(async move {
        let running = talkback_server::start(config)?;
        tracing::info!(database = %database.display(), "listening on http://{}", running.addr);
        running.server.await.context("server failed")?;
        // Graceful shutdown: make sure nothing acknowledged or not is left in memory.
        running
            .store
            .flush_through(talkback_store::WriteSeq(u64::MAX))
            .context("final flush failed")?;
        Ok(())
    })
}
