//! The blogger's side over HTTP: the dashboard's page at `/admin` and its JSON API under
//! `/admin/api` (sign-in, listings, decisions, the audit log, accounts, exports), used by the
//! dashboard with a session cookie and by the command line with the running server's token.
//! Same-origin only (no CORS); nothing changes on GET; every answer is `no-store`.

pub(crate) mod guard;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, middleware, web};
use serde::Deserialize;
use talkback_api::ErrorCode;
use talkback_api::admin::{
    Done, ListQuery, LockPage, ModEdit, Moderate, MovePages, NewBan, PageMeta, PutAccount,
    SessionInfo, SignIn, SiteSettings,
};

use crate::AppState;
use crate::error::{Error, Result};
use crate::service::{Actor, moderation_role};
use guard::{Caller, cookie_name};

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(page))
        .route("/admin/", web::get().to(page))
        .service(
            web::scope("/admin/api")
                .wrap(
                    middleware::DefaultHeaders::new()
                        .add(("Cache-Control", "no-store"))
                        .add(("X-Content-Type-Options", "nosniff")),
                )
                .app_data(crate::http::json_config())
                .app_data(crate::http::query_config())
                .app_data(crate::http::path_config())
                .route("/session", web::post().to(sign_in))
                .route("/session", web::get().to(session))
                .route("/session", web::delete().to(sign_out))
                .route("/comments", web::get().to(list))
                .route("/moderate", web::post().to(moderate))
                .route("/audit", web::get().to(audit))
                .route("/spam", web::get().to(spam_counts))
                .route("/deliveries", web::get().to(deliveries))
                .route("/webhooks/test", web::post().to(test_webhooks))
                .route("/accounts", web::get().to(accounts))
                .route("/accounts/{name}", web::put().to(put_account))
                .route("/accounts/{name}", web::delete().to(remove_account))
                .route("/export", web::get().to(export))
                .route("/comments/{id}/edit", web::post().to(edit))
                .route("/pages/lock", web::post().to(lock))
                .route("/sites/{site}", web::get().to(settings))
                .route("/sites/{site}", web::put().to(change_settings))
                .route("/bans", web::get().to(bans))
                .route("/bans", web::post().to(add_ban))
                .route("/bans/{id}", web::delete().to(remove_ban))
                .route("/pages/delete", web::post().to(delete_page))
                .route("/pages/meta", web::post().to(page_meta))
                .route("/pages/move", web::post().to(move_pages))
                .route("/import", web::post().to(import))
                .default_service(web::to(|| async {
                    Err::<HttpResponse, _>(Error::client(
                        ErrorCode::NotFound,
                        "No such dashboard endpoint.",
                    ))
                })),
        );
}

/// The dashboard's page: the app shell the build wrote, under a strict content policy.
async fn page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let mut response = state.assets.respond(&req, "admin.html", "no-store");
    let headers = response.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; \
             style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        headers.insert(
            actix_web::http::header::HeaderName::from_static(name),
            actix_web::http::header::HeaderValue::from_static(value),
        );
    }
    // The page is served whatever the asset map says about CORS.
    headers.remove("access-control-allow-origin");
    response
}

fn info(caller: &Caller, actor: &Actor, state: &AppState) -> SessionInfo {
    SessionInfo {
        name: actor.name.clone(),
        role: moderation_role(actor.role),
        sites: if actor.is_owner() {
            state.config.sites.iter().map(|s| s.id.clone()).collect()
        } else {
            actor.sites.clone()
        },
        csrf: caller.csrf.clone().unwrap_or_default(),
    }
}

fn session_cookie(state: &AppState, req: &HttpRequest, value: String) -> Cookie<'static> {
    let https = state.limits.is_https(req);
    Cookie::build(cookie_name(https), value)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(https)
        .finish()
}

async fn sign_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SignIn>,
) -> Result<HttpResponse> {
    guard::same_origin(&req)?;
    let SignIn { name, password } = body.into_inner();
    let failed = || {
        Error::client(
            ErrorCode::SignInFailed,
            "That name and password do not match an account.",
        )
    };
    // No account has such a name or password: refused before anything is counted or hashed
    // (and such a name never reaches the guard's keys or a log line).
    if !crate::service::valid_name(&name)
        || password.is_empty()
        || password.len() > crate::service::MAX_PASSWORD_BYTES
    {
        return Err(failed());
    }
    state.limits.write(&req).await?;
    let client = state.limits.client(&req)?;
    // A hashing slot first (a full house is a 429, not a failure), then the attempt's slot.
    let Ok(_hashing) = state.sign_ins.hashing.try_acquire() else {
        return Err(Error::RateLimited {
            retry_after_secs: 1,
            writes: true,
        });
    };
    let https = state.limits.is_https(&req);
    let device = req
        .cookie(guard::device_cookie_name(https))
        .and_then(|c| state.service.device_of(&name, c.value()));
    state
        .sign_ins
        .attempt(&name, client, device.as_deref(), crate::service::now_ms())?;
    let service = state.service.clone();
    let attempt = name.clone();
    let signed = web::block(move || service.sign_in(&attempt, &password)).await??;
    let Some(signed) = signed else {
        state
            .sign_ins
            .settle(&name, client, device.as_deref(), crate::service::now_ms())?;
        tracing::warn!(account = ?name, client = ?client, "failed sign-in");
        return Err(failed());
    };
    state.sign_ins.forgive(&name, client, device.as_deref())?;
    // This browser is known to the account from now on (a new id at each sign-in).
    let device_cookie = Cookie::build(
        guard::device_cookie_name(https),
        state.service.device_cookie(&name)?,
    )
    .path("/admin/api/session")
    .http_only(true)
    .same_site(SameSite::Strict)
    .secure(https)
    .max_age(actix_web::cookie::time::Duration::days(400))
    .finish();
    let caller = Caller {
        actor: Actor::of(&signed.admin),
        cookie: None,
        csrf: Some(signed.session.csrf.clone()),
    };
    let body = info(&caller, &caller.actor, &state);
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&state, &req, signed.cookie))
        .cookie(device_cookie)
        .json(body))
}

async fn session(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    Ok(HttpResponse::Ok().json(info(&caller, &caller.actor, &state)))
}

async fn sign_out(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    if let Some(cookie) = caller.cookie {
        let service = state.service.clone();
        let name = caller.actor.name.clone();
        web::block(move || service.sign_out(&cookie, &name)).await??;
    }
    let mut gone = session_cookie(&state, &req, String::new());
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

/// The caller, looked up off the async workers (the session is in the store).
async fn blocking_caller(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    changes: bool,
) -> Result<Caller> {
    let credentials = guard::credentials(req, changes, state.limits.is_https(req))?;
    let state = state.clone();
    web::block(move || guard::resolve(&state, credentials)).await?
}

async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    let service = state.service.clone();
    let list = web::block(move || service.list_comments(&caller.actor, &query)).await??;
    Ok(HttpResponse::Ok().json(list))
}

async fn moderate(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Moderate>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    let done = web::block(move || service.moderate(&caller.actor, &body)).await??;
    Ok(HttpResponse::Ok().json(done))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    before: Option<u64>,
}

async fn audit(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    let service = state.service.clone();
    let entries = web::block(move || service.audit_log(&caller.actor, query.before)).await??;
    Ok(HttpResponse::Ok().json(entries))
}

/// What the anti-spam layers decided on the caller's sites since the server started.
async fn spam_counts(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    Ok(HttpResponse::Ok().json(state.service.spam_counts(&caller.actor)))
}

/// The latest mail and webhook deliveries of the caller's sites, newest first.
async fn deliveries(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    let deliveries = state.deliveries.latest(|site| caller.actor.may_see(site));
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(talkback_api::admin::Deliveries { deliveries }))
}

/// Sends a `ping` event to each webhook of a site now, once, and says how each answered.
async fn test_webhooks(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<talkback_api::admin::TestWebhooks>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let site = state
        .config
        .site(&body.site)
        .filter(|s| caller.actor.may_see(&s.id))
        .ok_or_else(|| crate::service::unknown_site(&body.site))?
        .clone();
    let deliveries = web::block(move || crate::notify::ping_webhooks(&site)).await?;
    for d in &deliveries {
        state.deliveries.record(d.clone());
    }
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(talkback_api::admin::Deliveries { deliveries }))
}

fn owner_only(caller: &Caller) -> Result<()> {
    if caller.actor.is_owner() {
        Ok(())
    } else {
        Err(Error::client(
            ErrorCode::NotPermitted,
            "Only an owner may manage accounts.",
        ))
    }
}

async fn accounts(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    owner_only(&caller)?;
    let service = state.service.clone();
    let list = web::block(move || service.accounts()).await??;
    Ok(HttpResponse::Ok().json(list))
}

async fn put_account(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Json<PutAccount>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    owner_only(&caller)?;
    let service = state.service.clone();
    let account = web::block(move || {
        let account = service.put_account(&name, body.role, &body.sites, &body.password)?;
        service.audit_event(&caller.actor.name, &format!("put_account {name}"))?;
        Ok::<_, Error>(account)
    })
    .await??;
    Ok(HttpResponse::Ok().json(account))
}

async fn remove_account(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    owner_only(&caller)?;
    let service = state.service.clone();
    let removed = web::block(move || {
        let removed = service.remove_account(&name)?;
        if removed {
            service.audit_event(&caller.actor.name, &format!("remove_account {name}"))?;
        }
        Ok::<_, Error>(removed)
    })
    .await??;
    if !removed {
        return Err(Error::client(
            ErrorCode::NotFound,
            "There is no such account.",
        ));
    }
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct ExportQuery {
    site: String,
}

/// Talkback's export of one site, as `talkback export` writes it.
async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    if state.config.site(&query.site).is_none() {
        return Err(crate::service::unknown_site(&query.site));
    }
    if !caller.actor.may_see(&query.site) {
        return Err(Error::client(
            ErrorCode::NotPermitted,
            "Your account may not export that site.",
        ));
    }
    let service = state.service.clone();
    // Client addresses reach owners only.
    let addresses = caller.actor.is_owner();
    let text = web::block(move || {
        crate::transfer::talkback::export_with(&service, &query.site, addresses)
    })
    .await?
    .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(text))
}

async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
    body: web::Json<ModEdit>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    let id = id.into_inner();
    let edited =
        web::block(move || service.edit_as_moderator(&caller.actor, id, &body.body)).await??;
    Ok(HttpResponse::Ok().json(edited))
}

async fn lock(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LockPage>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    web::block(move || service.lock_page(&caller.actor, &body)).await??;
    Ok(HttpResponse::NoContent().finish())
}

async fn settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    let service = state.service.clone();
    let now = web::block(move || service.site_settings(&caller.actor, &site)).await??;
    Ok(HttpResponse::Ok().json(now))
}

async fn change_settings(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    body: web::Json<SiteSettings>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    let now = web::block(move || service.change_settings(&caller.actor, &site, &body)).await??;
    Ok(HttpResponse::Ok().json(now))
}

async fn bans(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, false).await?;
    let service = state.service.clone();
    let list = web::block(move || service.bans(&caller.actor)).await??;
    Ok(HttpResponse::Ok().json(list))
}

async fn add_ban(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<NewBan>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    let ban = web::block(move || service.add_ban(&caller.actor, &body)).await??;
    Ok(HttpResponse::Created().json(ban))
}

async fn remove_ban(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<u64>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    let service = state.service.clone();
    let id = id.into_inner();
    let removed = web::block(move || service.remove_ban(&caller.actor, id)).await??;
    if !removed {
        return Err(Error::client(ErrorCode::NotFound, "There is no such ban."));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// The largest import file the running server takes from the command line on this machine
/// (which sends the file), and from a dashboard session.
const MAX_IMPORT_BYTES: usize = 512 * 1024 * 1024;
const MAX_DASHBOARD_IMPORT_BYTES: usize = 64 * 1024 * 1024;
/// Upload bytes gathered in memory before each write to the private file.
const IMPORT_WRITE_BYTES: usize = 4 * 1024 * 1024;

#[derive(Deserialize)]
struct ImportQuery {
    site: String,
    format: crate::transfer::Format,
    #[serde(default)]
    dry_run: bool,
}

/// `talkback import` while the server runs: the file comes as the body. Who asks is checked
/// before a byte of it is read; then it streams into a private file in the database directory
/// (at most `MAX_IMPORT_BYTES` from the command line, `MAX_DASHBOARD_IMPORT_BYTES` from a
/// session), is read from there, and is removed afterwards.
async fn import(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    owner_only(&caller)?;
    let Some(site) = state.config.site(&query.site).cloned() else {
        return Err(crate::service::unknown_site(&query.site));
    };
    let limit = if caller.cookie.is_none() {
        MAX_IMPORT_BYTES
    } else {
        MAX_DASHBOARD_IMPORT_BYTES
    };
    // Beside a sled database (private to the server's user), else the system's temporary
    // directory (the file is private to this user either way).
    let dir = state
        .config
        .database_dir()
        .map_or_else(std::env::temp_dir, std::path::Path::to_path_buf);
    let upload = Upload::create(&dir).await?;
    upload.receive(payload, limit).await?;
    let service = state.service.clone();
    let report = web::block(move || {
        let report = crate::transfer::import_file(
            &service,
            &site,
            query.format,
            &upload.path,
            query.dry_run,
        );
        drop(upload);
        service.audit_event(
            &caller.actor.name,
            &format!("import {:?} into {}", query.format, site.id),
        )?;
        report.map_err(|e| Error::client(ErrorCode::InvalidJson, e.to_string()))
    })
    .await??;
    Ok(HttpResponse::Ok().json(report))
}

/// An import file on its way in: private to this user, removed when dropped.
struct Upload {
    path: std::path::PathBuf,
    file: std::fs::File,
}

impl Upload {
    async fn create(dir: &std::path::Path) -> Result<Self> {
        let dir = dir.to_owned();
        web::block(move || {
            use std::os::unix::fs::OpenOptionsExt;
            let mut name = [0u8; 12];
            getrandom::fill(&mut name)
                .map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
            let path = dir.join(format!("import-{}.upload", hex::encode(name)));
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| Error::Internal(format!("cannot keep the upload: {e}")))?;
            Ok(Self { path, file })
        })
        .await?
    }

    /// Streams the body into the file, refusing it (413) past `limit` bytes.
    async fn receive(&self, mut payload: web::Payload, limit: usize) -> Result<()> {
        use futures_util::StreamExt;
        let mut received = 0usize;
        let mut pending = Vec::new();
        loop {
            let chunk = payload.next().await.transpose().map_err(|e| {
                Error::client(ErrorCode::InvalidJson, format!("the upload broke off: {e}"))
            })?;
            if let Some(chunk) = &chunk {
                received += chunk.len();
                if received > limit {
                    return Err(Error::client(
                        ErrorCode::PayloadTooLarge,
                        format!("An import file is at most {} MiB here.", limit >> 20),
                    ));
                }
                pending.extend_from_slice(chunk);
            }
            if pending.len() >= IMPORT_WRITE_BYTES || (chunk.is_none() && !pending.is_empty()) {
                let (mut file, bytes) = (
                    self.file
                        .try_clone()
                        .map_err(|e| Error::Internal(format!("cannot keep the upload: {e}")))?,
                    std::mem::take(&mut pending),
                );
                web::block(move || std::io::Write::write_all(&mut file, &bytes))
                    .await?
                    .map_err(|e| Error::Internal(format!("cannot keep the upload: {e}")))?;
            }
            if chunk.is_none() {
                return Ok(());
            }
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[derive(Deserialize)]
struct DeletePage {
    site: String,
    page: String,
}

/// `talkback delete --page` while the server runs.
async fn delete_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<DeletePage>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    may_moderate(&caller, &body.site)?;
    let service = state.service.clone();
    let said = web::block(move || {
        let said = service
            .delete_as_owner(&body.site, None, Some(&body.page))
            .map_err(owner_error)?;
        service.audit_event(
            &caller.actor.name,
            &format!("delete page {} of {}", body.page, body.site),
        )?;
        Ok::<_, Error>(said)
    })
    .await??;
    Ok(HttpResponse::Ok().json(Done { done: vec![said] }))
}

/// The owner's operations' errors as API errors.
fn owner_error(e: crate::service::OwnerError) -> Error {
    use crate::service::OwnerError as O;
    match e {
        O::NoPage(..) | O::NoComment(..) => Error::client(ErrorCode::NotFound, e.to_string()),
        O::UnknownSite(site) => crate::service::unknown_site(&site),
        O::Invalid(message) => Error::client(ErrorCode::InvalidPage, message),
        O::Store(e) => e.into(),
    }
}

fn may_moderate(caller: &Caller, site: &str) -> Result<()> {
    if caller.actor.may_see(site) {
        Ok(())
    } else {
        Err(crate::service::not_permitted())
    }
}

/// `talkback page` and the dashboard's page corrections.
async fn page_meta(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PageMeta>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    may_moderate(&caller, &body.site)?;
    let service = state.service.clone();
    let done = web::block(move || {
        let PageMeta {
            site,
            page,
            title,
            url,
        } = body.into_inner();
        let record = service
            .set_page_meta(&site, &page, title, url)
            .map_err(owner_error)?;
        service.audit_event(
            &caller.actor.name,
            &format!("page {} of {site}", record.key),
        )?;
        Ok::<_, Error>(format!(
            "{}: title {:?}, url {:?}",
            record.key,
            record.title.unwrap_or_default(),
            record.url.unwrap_or_default()
        ))
    })
    .await??;
    Ok(HttpResponse::Ok().json(Done { done: vec![done] }))
}

/// `talkback remap` and the dashboard's thread moves.
async fn move_pages(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<MovePages>,
) -> Result<HttpResponse> {
    let caller = blocking_caller(&state, &req, true).await?;
    may_moderate(&caller, &body.site)?;
    if body.moves.is_empty() || body.moves.len() > 10_000 {
        return Err(Error::client(
            ErrorCode::InvalidJson,
            "Name between 1 and 10,000 moves.",
        ));
    }
    let service = state.service.clone();
    let done = web::block(move || {
        let done = service
            .move_pages(&body.site, &body.moves)
            .map_err(owner_error)?;
        service.audit_event(
            &caller.actor.name,
            &format!("move {} threads of {}", body.moves.len(), body.site),
        )?;
        Ok::<_, Error>(done)
    })
    .await??;
    Ok(HttpResponse::Ok().json(Done { done }))
}
