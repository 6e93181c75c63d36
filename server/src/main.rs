//! The `talkback` command: a thin CLI over the server library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use talkback_server::config::Config;
use talkback_server::transfer::{Format, import_file};

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
        /// The export file (for isso: its SQLite database; talkback files may be gzipped backups).
        file: PathBuf,
        #[arg(long)]
        site: String,
        /// Check everything and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete one comment (a tombstone stays when it has replies) or a page's whole thread
    /// (stop the server first: the database is locked while it runs).
    Delete {
        #[arg(long)]
        site: String,
        /// The comment's id.
        #[arg(long, required_unless_present = "page", conflicts_with = "page")]
        id: Option<u64>,
        /// A page key or URL: every comment of that page goes.
        #[arg(long)]
        page: Option<String>,
    },
    /// Correct a page's title (kept from then on) or URL (stop the server first).
    Page {
        #[arg(long)]
        site: String,
        /// The page key or URL.
        #[arg(long)]
        page: String,
        #[arg(long, required_unless_present = "url")]
        title: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Move threads to new page keys (after a URL change), keeping replies and counts.
    Remap {
        #[arg(long)]
        site: String,
        /// Old page key or URL.
        #[arg(long, requires = "to", conflicts_with = "csv")]
        from: Option<String>,
        /// New page key or URL.
        #[arg(long)]
        to: Option<String>,
        /// A CSV file of old,new pairs, one per line.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ImportFormat {
    /// WordPress WXR (Tools → Export).
    Wordpress,
    /// Disqus XML export.
    Disqus,
    /// Isso's SQLite database file.
    Isso,
    /// Remark42 backup or export (JSON lines, gzip or plain).
    Remark42,
    /// Talkback's own export (`talkback export`, or a backup file).
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
        Command::Config => {
            let text = toml::to_string_pretty(&config).context("cannot print configuration")?;
            print(&text)
        }
        Command::Export { site, out } => {
            let service = talkback_server::open_service(&config)?;
            let text = talkback_server::transfer::talkback::export(&service, &site)?;
            match out {
                Some(path) => {
                    talkback_server::transfer::backup::write_private(&path, text.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display()))
                }
                None => print(&text),
            }
        }
        Command::Import {
            format,
            file,
            site,
            dry_run,
        } => import(&config, format, &file, &site, dry_run),
        Command::Remap {
            site,
            from,
            to,
            csv,
        } => remap(&config, &site, from, to, csv),
        Command::Delete { site, id, page } => delete(&config, &site, id, page),
        Command::Page {
            site,
            page,
            title,
            url,
        } => page_meta(&config, &site, &page, title, url),
    }
}

fn delete(
    config: &Config,
    site: &str,
    id: Option<u64>,
    page: Option<String>,
) -> anyhow::Result<()> {
    let service = talkback_server::open_service(config)?;
    let outcome = service.delete_as_owner(site, id, page.as_deref())?;
    print(&format!("{outcome}\n"))
}

fn page_meta(
    config: &Config,
    site: &str,
    page: &str,
    title: Option<String>,
    url: Option<String>,
) -> anyhow::Result<()> {
    let service = talkback_server::open_service(config)?;
    let record = service.set_page_meta(site, page, title, url)?;
    print(&format!(
        "{}: title {:?}, url {:?}\n",
        record.key,
        record.title.unwrap_or_default(),
        record.url.unwrap_or_default()
    ))
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?;
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database.clone();
    actix_web::rt::System::new().block_on(async move {
        let running = talkback_server::start(config)?;
        tracing::info!(database = %database.display(), "listening on http://{}", running.addr);
        running.server.await.context("server failed")?;
        // Graceful shutdown: make sure nothing acknowledged or not is left in memory.
        running.service.flush_all().context("final flush failed")?;
        Ok(())
    })
}

fn import(
    config: &Config,
    format: ImportFormat,
    file: &std::path::Path,
    site: &str,
    dry_run: bool,
) -> anyhow::Result<()> {
    let Some(site) = config.site(site) else {
        anyhow::bail!("site {site:?} is not configured; add a [[sites]] entry first");
    };
    let format = match format {
        ImportFormat::Wordpress => Format::Wordpress,
        ImportFormat::Disqus => Format::Disqus,
        ImportFormat::Isso => Format::Isso,
        ImportFormat::Remark42 => Format::Remark42,
        ImportFormat::Talkback => Format::Talkback,
    };
    let started = std::time::Instant::now();
    let service = talkback_server::open_service(config)?;
    let report = import_file(&service, site, format, file, dry_run)?;
    for problem in &report.problems {
        tracing::warn!("file: {problem}");
    }
    for (id, reason) in &report.skipped {
        tracing::warn!(item = %id, "not imported: {reason}");
    }
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        peak_rss_mib = peak_rss_mib(),
        pages = report.pages,
        "import finished"
    );
    let verb = if dry_run { "would import" } else { "imported" };
    print(&format!(
        "{verb} {} comments, {} already present, {} skipped ({} in the file)\n",
        report.imported,
        report.already_present,
        report.skipped.len(),
        report.items
    ))
}

fn remap(
    config: &Config,
    site: &str,
    from: Option<String>,
    to: Option<String>,
    csv: Option<PathBuf>,
) -> anyhow::Result<()> {
    let pairs: Vec<(String, String)> = match (from, to, csv) {
        (Some(from), Some(to), None) => vec![(from, to)],
        (None, None, Some(csv)) => std::fs::read_to_string(&csv)
            .with_context(|| format!("cannot read {}", csv.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (a, b) = l
                    .split_once(',')
                    .with_context(|| format!("not an old,new pair: {l:?}"))?;
                Ok((
                    a.trim().trim_matches('"').to_owned(),
                    b.trim().trim_matches('"').to_owned(),
                ))
            })
            .collect::<anyhow::Result<_>>()?,
        _ => anyhow::bail!("give --from and --to, or --csv"),
    };
    let service = talkback_server::open_service(config)?;
    let mut out = String::new();
    for line in service.move_pages(site, &pairs)? {
        out.push_str(&line);
        out.push('\n');
    }
    print(&out)
}

/// Peak resident memory of this process (Linux), for the import summary.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
