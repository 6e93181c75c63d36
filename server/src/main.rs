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
