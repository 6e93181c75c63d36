//! The `talkback` command: a thin CLI over the server library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use talkback_api::admin::{
    Account, AdminRole, Ban, BanBy, Done, ListQuery, ListResponse, LockPage, ModAction, Moderate,
    ModerateResponse, ModerationMode, MovePages, NewBan, PageMeta, PutAccount, SiteSettings,
};
use talkback_server::CliAccess;
use talkback_server::config::{Config, LogFormat};
use talkback_server::pages::query_value;
use talkback_server::service::Actor;
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
    /// Write a commented configuration for a new blog and print the snippet to paste into it.
    Init {
        /// The site's id (the snippet's data-site): letters, digits, '-' and '_'.
        #[arg(long)]
        site: String,
        /// The blog's origin, e.g. `https://blog.example` (repeat for more).
        #[arg(long = "origin", required = true)]
        origins: Vec<String>,
        /// Where readers reach this server, as the snippet names it.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        public_url: String,
        /// The file to write (never overwritten).
        #[arg(long, default_value = "talkback.toml")]
        out: PathBuf,
    },
    /// Move everything from a database (a sled directory) into an empty PostgreSQL one:
    /// secrets, accounts, bans, settings, every configured site's pages and comments with
    /// their ids (checked record for record), subscriptions and the audit log. Stop the
    /// server first.
    MigrateStore {
        /// The database to read: a sled directory (or a PostgreSQL URL).
        #[arg(long)]
        from: String,
        /// The empty PostgreSQL database to fill (postgres://user@host:port/database).
        #[arg(long)]
        to: String,
    },
    /// Write every page and comment of a site as Talkback's versioned JSON export.
    Export {
        #[arg(long)]
        site: String,
        /// File to write (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import comments into a site (through the running server, if one runs).
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
    /// (through the running server, if one runs).
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
    /// Correct a page's title (kept from then on) or URL (through the running server, if one
    /// runs).
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
    /// Accounts that may sign in to the dashboard at /admin.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// What mail and webhooks delivered lately, and a test of a site's webhooks (through the
    /// running server: the log lives in it).
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Moderate comments (through the running server when there is one).
    Moderate {
        #[command(subcommand)]
        command: ModerateCommand,
    },
    /// Print a thread's first page as the HTML fragment the widget paints first, to bake into a
    /// static post at build time (the widget takes over from it).
    Snapshot {
        #[arg(long)]
        site: String,
        /// The page key or URL.
        #[arg(long)]
        page: String,
        /// en, de, fr or es.
        #[arg(long, default_value = "en")]
        lang: String,
    },
    /// Measure the built-in spam filter on the fifth of its corpus it was not seeded with.
    SpamFilter {
        /// Hold comments at least this likely spam, in percent (a site's
        /// `filter_threshold_percent`).
        #[arg(long, default_value_t = 80)]
        threshold: u8,
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

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an account (the password is read from standard input).
    Add {
        name: String,
        #[arg(long, value_enum, default_value = "moderator")]
        role: Role,
        /// A site the moderator may moderate (repeat for more; owners see every site).
        #[arg(long = "site")]
        sites: Vec<String>,
        /// Read the password from standard input (the only way: never on the command line).
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// Set a new password (read from standard input); signs the account out everywhere.
    Passwd {
        name: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Remove an account and end its sessions.
    Remove { name: String },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// The latest deliveries of mail and webhook events, newest first.
    Log {
        #[arg(long)]
        site: Option<String>,
    },
    /// Send a `ping` event to each of a site's webhooks now and show how each answered.
    Test {
        #[arg(long)]
        site: String,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Role {
    Owner,
    Moderator,
}

#[derive(Subcommand)]
enum ModerateCommand {
    /// List comments, newest first: the queue (pending and spam) unless --status says otherwise.
    List {
        #[arg(long)]
        site: Option<String>,
        /// queue, pending, spam, approved or all.
        #[arg(long, default_value = "queue")]
        status: String,
        /// Words to find in the text, names, e-mail, website, address or page.
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Approve comments: they appear on their pages.
    Approve {
        ids: Vec<u64>,
    },
    /// Mark comments as spam: they leave their pages.
    Spam {
        ids: Vec<u64>,
    },
    /// Send comments back to the queue.
    Pending {
        ids: Vec<u64>,
    },
    /// Delete comments (a tombstone stays where there are replies).
    Delete {
        ids: Vec<u64>,
    },
    /// Pin top-level comments to the top of their threads.
    Pin {
        ids: Vec<u64>,
    },
    Unpin {
        ids: Vec<u64>,
    },
    /// Close a thread to new comments (readers see a notice instead of the form).
    Lock {
        #[arg(long)]
        site: String,
        /// The page key or URL.
        #[arg(long)]
        page: String,
    },
    /// Open a locked thread again.
    Unlock {
        #[arg(long)]
        site: String,
        #[arg(long)]
        page: String,
    },
    /// Ban an e-mail address, a name or a client address (IPv6: its /64) on one site, or on
    /// every site: their comments go to spam.
    Ban {
        #[arg(long, group = "target")]
        email: Option<String>,
        #[arg(long, group = "target")]
        name: Option<String>,
        #[arg(long, group = "target")]
        ip: Option<String>,
        /// How long: 30d, 12h, 90m (default: for ever).
        #[arg(long = "for")]
        duration: Option<String>,
        /// The site it holds on (default: every site).
        #[arg(long)]
        site: Option<String>,
    },
    /// End a ban (its id from `moderate bans`).
    Unban {
        id: u64,
    },
    /// List the bans in force.
    Bans,
    /// Change a site's settings (kept in the database, over the config file's).
    Site {
        site: String,
        #[arg(long, value_enum)]
        moderation: Option<Mode>,
        #[arg(long)]
        edit_window_secs: Option<u64>,
        #[arg(long)]
        read_only: Option<bool>,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Mode {
    None,
    FirstTime,
    Links,
    All,
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
    let cli = Cli::parse();
    if let Some(Command::Init {
        site,
        origins,
        public_url,
        out,
    }) = &cli.command
    {
        // Before loading any configuration: there is none yet.
        return init(site, origins, public_url, out);
    }
    let config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::SpamFilter { threshold } => {
            let (caught, missed, held, passed) =
                talkback_server::service::antispam::evaluate(threshold);
            let ratio = |a: u32, b: u32| {
                if a + b == 0 {
                    0.0
                } else {
                    f64::from(a) / f64::from(a + b)
                }
            };
            print(&format!(
                "held-back corpus: {} spam, {} ham comments; at {threshold} %:\n\
                 spam held {caught}, missed {missed} (recall {:.3})\n\
                 ham held {held}, passed {passed} (precision {:.3})\n",
                caught + missed,
                held + passed,
                ratio(caught, missed),
                ratio(caught, held),
            ))
        }
        Command::Init { .. } => Ok(()),
        Command::Snapshot { site, page, lang } => {
            let html = match Remote::find(&config)? {
                Some(remote) => remote.get_text(&format!(
                    "/api/v1/threads/html?site={}&page={}&lang={}",
                    query_value(&site),
                    query_value(&page),
                    query_value(&lang)
                ))?,
                None => {
                    let service = talkback_server::open_service(&config)?;
                    talkback_server::pages::snapshot(&service, &site, &page, &lang)?
                }
            };
            print(&html)
        }
        Command::Config => {
            let mut text =
                toml::to_string_pretty(&config.redacted()).context("cannot print configuration")?;
            text.push_str(&settings_in_force(&config));
            print(&text)
        }
        Command::Export { site, out } => {
            let text = match Remote::find(&config)? {
                Some(remote) => {
                    remote.get_text(&format!("/admin/api/export?site={}", query_value(&site)))?
                }
                None => {
                    let service = talkback_server::open_service(&config)?;
                    talkback_server::transfer::talkback::export(&service, &site)?
                }
            };
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
        Command::MigrateStore { from, to } => {
            let started = std::time::Instant::now();
            let moved = talkback_server::transfer::migrate::migrate_store(&config, &from, &to)?;
            tracing::info!(
                seconds = started.elapsed().as_secs_f64(),
                sites = moved.sites,
                pages = moved.pages,
                comments = moved.comments,
                accounts = moved.accounts,
                bans = moved.bans,
                subscriptions = moved.subscriptions,
                audit_entries = moved.audit_entries,
                export_bytes = moved.export_bytes,
                "moved; every site's export is byte-identical on both sides"
            );
            Ok(())
        }
        Command::Remap {
            site,
            from,
            to,
            csv,
        } => remap(&config, &site, from, to, csv),
        Command::Delete { site, id, page } => delete(&config, &site, id, page),
        Command::Admin { command } => admin(&config, command),
        Command::Moderate { command } => moderate(&config, command),
        Command::Webhooks { command } => webhooks(&config, command),
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
    if let Some(remote) = Remote::find(config)? {
        let Some(id) = id else {
            let page = page.unwrap_or_default();
            let done: Done = remote.json(
                "POST",
                "/admin/api/pages/delete",
                Some(serde_json::json!({"site": site, "page": page})),
            )?;
            return print(&format!("{}\n", done.done.join("\n")));
        };
        return moderate_ids(Some(remote), config, ModAction::Delete, vec![id]);
    }
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
    if let Some(remote) = Remote::find(config)? {
        let request = PageMeta {
            site: site.to_owned(),
            page: page.to_owned(),
            title,
            url,
        };
        let done: Done = remote.json(
            "POST",
            "/admin/api/pages/meta",
            Some(serde_json::to_value(&request)?),
        )?;
        return print(&format!("{}\n", done.done.join("\n")));
    }
    let service = talkback_server::open_service(config)?;
    let record = service.set_page_meta(site, page, title, url)?;
    print(&format!(
        "{}: title {:?}, url {:?}\n",
        record.key,
        record.title.unwrap_or_default(),
        record.url.unwrap_or_default()
    ))
}

/// `talkback init`: the configuration file, then what to do next.
fn init(
    site: &str,
    origins: &[String],
    public_url: &str,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let public_url = public_url.trim_end_matches('/');
    if !talkback_api::is_web_address(public_url) || public_url.contains(['"', '<', '>', ' ']) {
        anyhow::bail!(
            "--public-url must be an http or https address, like https://comments.example.com"
        );
    }
    let text = talkback_server::config::starter(site, origins)
        .context("cannot write that configuration")?;
    talkback_server::transfer::backup::create_private(out, text.as_bytes()).with_context(|| {
        format!(
            "cannot create {} (an existing file is never overwritten)",
            out.display()
        )
    })?;
    print(&format!(
        "Wrote {config}. Start the server with:\n\n    talkback --config {config} serve\n\n\
         Paste this where each post's comments should appear:\n\n    \
         <script src=\"{public_url}/embed.js\" data-site=\"{site}\" defer></script>\n\n\
         Then create your dashboard account (type a password, then Ctrl-D):\n\n    \
         talkback --config {config} admin add me --role owner --password-stdin\n",
        config = out.display(),
    ))
}

fn print(text: &str) -> anyhow::Result<()> {
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?;
    Ok(())
}

fn serve(config: Config) -> anyhow::Result<()> {
    let database = config.database_shown();
    actix_web::rt::System::new().block_on(async move {
        let running = talkback_server::start(config.clone())?;
        tracing::info!(database = %database, "listening on http://{}", running.addr);
        let on_term = running.shutdown.clone();
        let on_int = running.shutdown.clone();
        actix_web::rt::spawn(async move {
            use actix_web::rt::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    if term.recv().await.is_some() {
                        on_term.graceful().await;
                    }
                }
                Err(e) => tracing::error!(error = %e, "cannot listen for SIGTERM"),
            }
        });
        actix_web::rt::spawn(async move {
            if actix_web::rt::signal::ctrl_c().await.is_ok() {
                on_int.graceful().await;
            }
        });
        let served = running.server.await;
        talkback_server::remove_cli_file(&config);
        served.context("server failed")?;
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
    let report = match Remote::find(config)? {
        Some(remote) => remote.upload(
            &format!(
                "/admin/api/import?site={}&format={}&dry_run={dry_run}",
                query_value(&site.id),
                serde_json::to_value(format)?.as_str().unwrap_or_default()
            ),
            file,
        )?,
        None => {
            let service = talkback_server::open_service(config)?;
            import_file(&service, site, format, file, dry_run)?
        }
    };
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
    let lines = match Remote::find(config)? {
        Some(remote) => {
            let request = MovePages {
                site: site.to_owned(),
                moves: pairs,
            };
            let done: Done = remote.json(
                "POST",
                "/admin/api/pages/move",
                Some(serde_json::to_value(&request)?),
            )?;
            done.done
        }
        None => talkback_server::open_service(config)?.move_pages(site, &pairs)?,
    };
    let mut out = String::new();
    for line in lines {
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

/// The running server, reached with the token it left in the database directory.
struct Remote {
    access: CliAccess,
    agent: ureq::Agent,
}

impl Remote {
    /// The running server, if one runs on this database; `None` when the database is free.
    fn find(config: &Config) -> anyhow::Result<Option<Remote>> {
        // On PostgreSQL there is no such file: the command line opens the database itself.
        let Some(dir) = config.database_dir() else {
            return Ok(None);
        };
        let path = dir.join(talkback_server::CLI_FILE);
        let Ok(text) = std::fs::read(&path) else {
            return Ok(None);
        };
        let access: CliAccess = serde_json::from_slice(&text)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let remote = Remote {
            access,
            agent: ureq::AgentBuilder::new()
                .timeout(std::time::Duration::from_secs(300))
                .build(),
        };
        match remote.call("GET", "/admin/api/session", None) {
            Ok(_) => Ok(Some(remote)),
            // Left behind by a server that is gone: the database is ours.
            Err(RemoteError::Unreachable(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<String, RemoteError> {
        let request = self
            .agent
            .request(method, &format!("{}{path}", self.access.url))
            .set("Authorization", &format!("Bearer {}", self.access.token));
        let answer = match body {
            Some(body) => request.send_json(body),
            None => request.call(),
        };
        match answer {
            Ok(response) => response
                .into_string()
                .map_err(|e| RemoteError::Unreachable(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                let message = serde_json::from_str::<talkback_api::ErrorBody>(&text)
                    .map(|b| b.message)
                    .unwrap_or(text);
                Err(RemoteError::Refused(status, message))
            }
            Err(e) => Err(RemoteError::Unreachable(e.to_string())),
        }
    }

    /// Sends a file as the body (an import) and reads the JSON answer.
    fn upload<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        file: &std::path::Path,
    ) -> anyhow::Result<T> {
        let body =
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?;
        let answer = self
            .agent
            .post(&format!("{}{path}", self.access.url))
            .set("Authorization", &format!("Bearer {}", self.access.token))
            .set("Content-Type", "application/octet-stream")
            .send(body);
        let text = match answer {
            Ok(response) => response.into_string()?,
            Err(ureq::Error::Status(status, response)) => {
                let text = response.into_string().unwrap_or_default();
                let message = serde_json::from_str::<talkback_api::ErrorBody>(&text)
                    .map(|b| b.message)
                    .unwrap_or(text);
                return Err(RemoteError::Refused(status, message).into());
            }
            Err(e) => return Err(RemoteError::Unreachable(e.to_string()).into()),
        };
        serde_json::from_str(&text).context("the server's answer is not what this version expects")
    }

    fn get_text(&self, path: &str) -> anyhow::Result<String> {
        Ok(self.call("GET", path, None)?)
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<T> {
        let text = self.call(method, path, body)?;
        serde_json::from_str(&text).context("the server's answer is not what this version expects")
    }
}

#[derive(Debug, thiserror::Error)]
enum RemoteError {
    #[error("the running server cannot be reached: {0}")]
    Unreachable(String),
    #[error("the server refused ({0}): {1}")]
    Refused(u16, String),
}

/// A query-string value, percent-encoded.
fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut text)
        .context("cannot read the password from standard input")?;
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn admin(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let remote = Remote::find(config)?;
    let service = match remote {
        Some(_) => None,
        None => Some(talkback_server::open_service(config)?),
    };
    match command {
        AdminCommand::Add {
            name, role, sites, ..
        } => {
            let role = match role {
                Role::Owner => AdminRole::Owner,
                Role::Moderator => AdminRole::Moderator,
            };
            let password = read_password()?;
            let account = put_account(
                remote.as_ref(),
                service.as_deref(),
                &name,
                role,
                sites,
                password,
            )?;
            print(&format!(
                "{} ({:?}) can now sign in at /admin\n",
                account.name, account.role
            ))
        }
        AdminCommand::Passwd { name, .. } => {
            let accounts = list_accounts(remote.as_ref(), service.as_deref())?;
            let Some(account) = accounts.into_iter().find(|a| a.name == name) else {
                anyhow::bail!("there is no account called {name:?}");
            };
            let password = read_password()?;
            put_account(
                remote.as_ref(),
                service.as_deref(),
                &name,
                account.role,
                account.sites,
                password,
            )?;
            print(&format!(
                "{name}: password changed; every session of it has ended\n"
            ))
        }
        AdminCommand::List => {
            let mut out = String::new();
            for a in list_accounts(remote.as_ref(), service.as_deref())? {
                let sites = match a.role {
                    AdminRole::Owner => "every site".to_owned(),
                    AdminRole::Moderator => a.sites.join(", "),
                };
                out.push_str(&format!("{}\t{:?}\t{sites}\n", a.name, a.role));
            }
            print(&out)
        }
        AdminCommand::Remove { name } => {
            let removed = match (&remote, &service) {
                (Some(remote), _) => match remote.call(
                    "DELETE",
                    &format!("/admin/api/accounts/{}", query_value(&name)),
                    None,
                ) {
                    Ok(_) => true,
                    Err(RemoteError::Refused(404, _)) => false,
                    Err(e) => return Err(e.into()),
                },
                (None, Some(service)) => service.remove_account(&name)?,
                (None, None) => unreachable_service()?,
            };
            if !removed {
                anyhow::bail!("there is no account called {name:?}");
            }
            print(&format!("{name} removed\n"))
        }
    }
}

fn unreachable_service<T>() -> anyhow::Result<T> {
    anyhow::bail!("neither a running server nor the database is available")
}

fn put_account(
    remote: Option<&Remote>,
    service: Option<&talkback_server::service::Service>,
    name: &str,
    role: AdminRole,
    sites: Vec<String>,
    password: String,
) -> anyhow::Result<Account> {
    match (remote, service) {
        (Some(remote), _) => remote.json(
            "PUT",
            &format!("/admin/api/accounts/{}", query_value(name)),
            Some(serde_json::to_value(PutAccount {
                role,
                sites,
                password,
            })?),
        ),
        (None, Some(service)) => Ok(service.put_account(name, role, &sites, &password)?),
        (None, None) => unreachable_service(),
    }
}

fn list_accounts(
    remote: Option<&Remote>,
    service: Option<&talkback_server::service::Service>,
) -> anyhow::Result<Vec<Account>> {
    match (remote, service) {
        (Some(remote), _) => remote.json("GET", "/admin/api/accounts", None),
        (None, Some(service)) => Ok(service.accounts()?),
        (None, None) => unreachable_service(),
    }
}

fn webhooks(config: &Config, command: WebhooksCommand) -> anyhow::Result<()> {
    let remote = Remote::find(config)?.context(
        "no running server on this database: the delivery log lives in the server (start it first)",
    )?;
    let (deliveries, only): (talkback_api::admin::Deliveries, Option<String>) = match command {
        WebhooksCommand::Log { site } => (remote.json("GET", "/admin/api/deliveries", None)?, site),
        WebhooksCommand::Test { site } => (
            remote.json(
                "POST",
                "/admin/api/webhooks/test",
                Some(serde_json::json!({ "site": site })),
            )?,
            None,
        ),
    };
    let mut out = String::new();
    for d in deliveries
        .deliveries
        .iter()
        .filter(|d| only.as_deref().is_none_or(|s| s == d.site))
    {
        out.push_str(&format!(
            "{}  {:<10} {:<8} {:<32} {:<18} {:<22} {}{}\n",
            talkback_api::i18n::iso_datetime(d.at),
            d.site,
            d.channel,
            d.target,
            d.kind,
            d.event,
            d.outcome,
            if d.detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.detail)
            }
        ));
    }
    if out.is_empty() {
        out.push_str("nothing delivered yet\n");
    }
    print(&out)
}

fn moderate(config: &Config, command: ModerateCommand) -> anyhow::Result<()> {
    let remote = Remote::find(config)?;
    let (action, ids) = match command {
        ModerateCommand::List {
            site,
            status,
            search,
            limit,
        } => {
            let query = ListQuery {
                status: Some(status),
                site,
                q: search,
                limit: Some(limit),
                ..ListQuery::default()
            };
            let list: ListResponse = match &remote {
                Some(remote) => {
                    let mut path = format!(
                        "/admin/api/comments?status={}&limit={limit}",
                        query_value(query.status.as_deref().unwrap_or_default())
                    );
                    if let Some(site) = &query.site {
                        path.push_str(&format!("&site={}", query_value(site)));
                    }
                    if let Some(q) = &query.q {
                        path.push_str(&format!("&q={}", query_value(q)));
                    }
                    remote.json("GET", &path, None)?
                }
                None => talkback_server::open_service(config)?
                    .list_comments(&Actor::command_line(), &query)?,
            };
            let mut out = String::new();
            for c in &list.comments {
                let text: String = c.text.split_whitespace().collect::<Vec<_>>().join(" ");
                let text: String = text.chars().take(80).collect();
                let held: Vec<&str> = c.held_for.iter().map(|r| r.code.as_str()).collect();
                out.push_str(&format!(
                    "{}\t{:?}\t{}\t{}\t{} <{}>\t{text:?}\t{}\n",
                    c.id,
                    c.status,
                    c.site,
                    c.page,
                    c.author,
                    c.email.as_deref().unwrap_or(""),
                    held.join(",")
                ));
            }
            if list.comments.is_empty() {
                out.push_str("nothing to moderate\n");
            }
            return print(&out);
        }
        ModerateCommand::Approve { ids } => (ModAction::Approve, ids),
        ModerateCommand::Spam { ids } => (ModAction::Spam, ids),
        ModerateCommand::Pending { ids } => (ModAction::Pending, ids),
        ModerateCommand::Delete { ids } => (ModAction::Delete, ids),
        ModerateCommand::Pin { ids } => (ModAction::Pin, ids),
        ModerateCommand::Unpin { ids } => (ModAction::Unpin, ids),
        ModerateCommand::Lock { site, page } => return lock(remote, config, site, page, true),
        ModerateCommand::Unlock { site, page } => return lock(remote, config, site, page, false),
        ModerateCommand::Ban {
            email,
            name,
            ip,
            duration,
            site,
        } => {
            let (by, value) = match (email, name, ip) {
                (Some(v), _, _) => (BanBy::Email, v),
                (_, Some(v), _) => (BanBy::Name, v),
                (_, _, Some(v)) => (BanBy::Ip, v),
                _ => anyhow::bail!("give --email, --name or --ip"),
            };
            let ban = NewBan {
                by,
                value,
                duration,
                site,
            };
            let made: Ban = match &remote {
                Some(remote) => {
                    remote.json("POST", "/admin/api/bans", Some(serde_json::to_value(&ban)?))?
                }
                None => {
                    talkback_server::open_service(config)?.add_ban(&Actor::command_line(), &ban)?
                }
            };
            return print(&format!(
                "ban {}: {:?} {}{}\n",
                made.id,
                made.by,
                made.value,
                until_words(made.until)
            ));
        }
        ModerateCommand::Unban { id } => {
            let removed = match &remote {
                Some(remote) => match remote.call("DELETE", &format!("/admin/api/bans/{id}"), None)
                {
                    Ok(_) => true,
                    Err(RemoteError::Refused(404, _)) => false,
                    Err(e) => return Err(e.into()),
                },
                None => {
                    talkback_server::open_service(config)?.remove_ban(&Actor::command_line(), id)?
                }
            };
            if !removed {
                anyhow::bail!("there is no ban {id}");
            }
            return print(&format!("ban {id} ended\n"));
        }
        ModerateCommand::Bans => {
            let list: Vec<Ban> = match &remote {
                Some(remote) => remote.json("GET", "/admin/api/bans", None)?,
                None => talkback_server::open_service(config)?.bans(&Actor::command_line())?,
            };
            let mut out = String::new();
            for b in &list {
                out.push_str(&format!(
                    "{}\t{:?}\t{}\ton {}\tby {}{}\n",
                    b.id,
                    b.by,
                    b.value,
                    b.site.as_deref().unwrap_or("every site"),
                    b.actor,
                    until_words(b.until)
                ));
            }
            if list.is_empty() {
                out.push_str("no bans\n");
            }
            return print(&out);
        }
        ModerateCommand::Site {
            site,
            moderation,
            edit_window_secs,
            read_only,
        } => {
            let change = SiteSettings {
                moderation: moderation.map(|m| match m {
                    Mode::None => ModerationMode::None,
                    Mode::FirstTime => ModerationMode::FirstTime,
                    Mode::Links => ModerationMode::Links,
                    Mode::All => ModerationMode::All,
                }),
                edit_window_secs,
                read_only,
            };
            let now: SiteSettings = match &remote {
                Some(remote) => remote.json(
                    "PUT",
                    &format!("/admin/api/sites/{}", query_value(&site)),
                    Some(serde_json::to_value(&change)?),
                )?,
                None => talkback_server::open_service(config)?.change_settings(
                    &Actor::command_line(),
                    &site,
                    &change,
                )?,
            };
            return print(&settings_words(&site, &now));
        }
    };
    moderate_ids(remote, config, action, ids)
}

/// What each site obeys now, changes from the dashboard included, as TOML comments (empty
/// when neither a running server nor the database can be asked).
fn settings_in_force(config: &Config) -> String {
    if config.database_dir().is_some_and(|dir| !dir.exists()) {
        return String::new();
    }
    let remote = Remote::find(config).ok().flatten();
    let service = match remote {
        Some(_) => None,
        None => talkback_server::open_service(config).ok(),
    };
    let mut out = String::from(
        "\n# In force now (the values above, with changes made at /admin or by `talkback moderate site`):\n",
    );
    for site in &config.sites {
        let now = match (&remote, &service) {
            (Some(remote), _) => remote
                .json::<SiteSettings>(
                    "GET",
                    &format!("/admin/api/sites/{}", query_value(&site.id)),
                    None,
                )
                .ok(),
            (None, Some(service)) => service.site_settings(&Actor::command_line(), &site.id).ok(),
            (None, None) => None,
        };
        match now {
            Some(now) => out.push_str(&format!("# {}", settings_words(&site.id, &now))),
            None => return String::new(),
        }
    }
    out
}

fn until_words(until: Option<i64>) -> String {
    match until.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()) {
        Some(t) => format!(" until {}", t.strftime("%Y-%m-%d %H:%M UTC")),
        None => " for ever".into(),
    }
}

fn settings_words(site: &str, s: &SiteSettings) -> String {
    format!(
        "{site}: moderation = {:?}, edit_window_secs = {}, read_only = {}\n",
        s.moderation.unwrap_or_default(),
        s.edit_window_secs.unwrap_or_default(),
        s.read_only.unwrap_or_default()
    )
}

fn lock(
    remote: Option<Remote>,
    config: &Config,
    site: String,
    page: String,
    locked: bool,
) -> anyhow::Result<()> {
    let request = LockPage { site, page, locked };
    match &remote {
        Some(remote) => {
            remote.call(
                "POST",
                "/admin/api/pages/lock",
                Some(serde_json::to_value(&request)?),
            )?;
        }
        None => {
            talkback_server::open_service(config)?.lock_page(&Actor::command_line(), &request)?
        }
    }
    print(&format!(
        "{} {}\n",
        request.page,
        if locked { "locked" } else { "unlocked" }
    ))
}

fn moderate_ids(
    remote: Option<Remote>,
    config: &Config,
    action: ModAction,
    ids: Vec<u64>,
) -> anyhow::Result<()> {
    if ids.is_empty() {
        anyhow::bail!("name at least one comment id");
    }
    let request = Moderate {
        action,
        ids: ids.into_iter().map(talkback_api::CommentId).collect(),
    };
    let done: ModerateResponse = match remote {
        Some(remote) => remote.json(
            "POST",
            "/admin/api/moderate",
            Some(serde_json::to_value(&request)?),
        )?,
        None => {
            talkback_server::open_service(config)?.moderate(&Actor::command_line(), &request)?
        }
    };
    let mut out = String::new();
    let mut failed = 0;
    for r in &done.results {
        match (&r.status, &r.error) {
            (Some(status), _) => out.push_str(&format!("{}: {status:?}\n", r.id)),
            (None, error) => {
                failed += 1;
                out.push_str(&format!(
                    "{}: not changed ({})\n",
                    r.id,
                    error.as_deref().unwrap_or("?")
                ));
            }
        }
    }
    print(&out)?;
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} comments were not changed",
            done.results.len()
        );
    }
    Ok(())
}
