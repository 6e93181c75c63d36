//! `/t/{site}?page=KEY`: the whole thread as a page of its own (paged, every loaded reply
//! shown), for readers without JavaScript and for crawlers, with `<link rel="canonical">` to the
//! blog's post; and its plain HTML form, which posts to `/t/{site}/comment` and is answered
//! with `303` back to the thread, or with the page again and the error above the form. The
//! form carries the signed form token and the honeypot, and takes the no-JS anti-spam path.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::errors::ErrorTexts;
use talkback_api::i18n::pages::PageTexts;
use talkback_api::i18n::{self, Strings};
use talkback_api::limits::{MAX_BODY_BYTES, MAX_PAGE_LIMIT};
use talkback_api::{ChallengeQuery, CommentId, CreateComment, Sort};

use super::query_value;
use crate::AppState;
use crate::content::render::{self, Links, escape};
use crate::content::validate;
use crate::error::{Error, Result};
use crate::http::base_url;
use crate::http::{self};
use crate::service::antispam::Path;
use crate::service::{Provenance, ThreadView};

#[derive(Deserialize)]
pub(super) struct PageQuery {
    page: String,
    cursor: Option<String>,
    /// The comment the form answers.
    reply: Option<u64>,
    lang: Option<String>,
    /// Just posted and held for moderation.
    held: Option<u8>,
}

/// What the reader typed, to fill the form again after an error.
#[derive(Deserialize, Default)]
pub(super) struct FormInput {
    page: String,
    #[serde(default)]
    parent: Option<String>,
    #[serde(default)]
    author: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    website: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    proof: String,
    /// The honeypot.
    #[serde(default)]
    url: String,
    #[serde(default)]
    lang: Option<String>,
    /// "Notify me of replies to my comment" was ticked.
    #[serde(default)]
    notify: Option<String>,
    /// "Notify me of all new comments" was ticked.
    #[serde(default)]
    notify_all: Option<String>,
}

/// The page's own address for a page key (and more query parameters).
fn href(site: &str, page: &str, lang: &str, extra: &str) -> String {
    format!(
        "/t/{site}?page={}&lang={}{extra}",
        query_value(page),
        query_value(lang)
    )
}

pub(super) async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    site_id: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse> {
    let lang = query.lang.as_deref().unwrap_or("en");
    let notice = query
        .held
        .is_some()
        .then_some(PageTexts::for_lang(lang).held_notice);
    let input = FormInput {
        page: query.page.clone(),
        parent: query.reply.map(|id| id.to_string()),
        ..FormInput::default()
    };
    render(
        &state,
        &req,
        &site_id,
        &input,
        query.cursor.as_deref(),
        lang,
        notice,
        None,
    )
    .await
}

pub(super) async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    site_id: web::Path<String>,
    form: web::Form<FormInput>,
) -> Result<HttpResponse> {
    let input = form.into_inner();
    let lang = input.lang.clone().unwrap_or_else(|| "en".to_owned());
    match create(&state, &req, &site_id, &input).await {
        Ok((id, held)) => {
            let extra = if held { "&held=1#tb-form" } else { "" };
            let mut to = href(&site_id, &input.page, &lang, extra);
            if !held {
                to.push_str(&format!("#tb-c{id}"));
            }
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, to))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish())
        }
        Err(error) => {
            let status = actix_web::ResponseError::status_code(&error);
            let message = error.message_in(ErrorTexts::for_lang(&lang));
            let mut page = render(
                &state,
                &req,
                &site_id,
                &input,
                None,
                &lang,
                None,
                Some(&message),
            )
            .await?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

/// Posts the form's comment as the API would, on the no-JS path; its id, and whether it waits.
async fn create(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    site_id: &str,
    input: &FormInput,
) -> Result<(CommentId, bool)> {
    let site = state.service.site(site_id)?;
    if !http::origin_allowed(req, site) {
        return Err(Error::client(
            talkback_api::ErrorCode::OriginNotAllowed,
            "This page's origin is not allowed to post comments for this site.",
        ));
    }
    // The deliberate cost of the path without a proof of work (README, "Spam").
    state
        .limits
        .write_costing(req, http::limit::PLAIN_FORM_COST)
        .await?;
    let parent = match input.parent.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) => {
            Some(CommentId(id.parse().map_err(|_| {
                Error::reader(talkback_api::ErrorCode::ParentNotFound)
            })?))
        }
    };
    let optional = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    let ticked = |box_: &Option<String>| box_.as_deref().is_some_and(|v| !v.is_empty());
    let comment = CreateComment {
        site: site_id.to_owned(),
        page: input.page.clone(),
        title: None,
        url: None,
        parent,
        author: optional(&input.author),
        email: optional(&input.email),
        website: optional(&input.website),
        body: input.body.clone(),
        proof: optional(&input.proof),
        trap: optional(&input.url),
        notify: if ticked(&input.notify_all) {
            Some(talkback_api::FollowUps::Thread)
        } else {
            ticked(&input.notify).then_some(talkback_api::FollowUps::Replies)
        },
    };
    let from = Provenance {
        from_site: http::request_from_site(req, site),
        host: http::host_name(req),
        client: state.limits.client(req)?,
        path: Path::PlainForm,
        lang: talkback_api::i18n::Strings::for_lang(input.lang.as_deref().unwrap_or("en")).lang,
    };
    let service = state.service.clone();
    let created = web::block(move || service.post(comment, &from)).await??;
    Ok((created.comment.id, created.comment.pending))
}

/// The page: the thread, then the form (filled with `input`), with `error` or `notice` above it.
#[allow(clippy::too_many_arguments)]
async fn render(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    site_id: &str,
    input: &FormInput,
    cursor: Option<&str>,
    lang: &str,
    notice: Option<&str>,
    error: Option<&str>,
) -> Result<HttpResponse> {
    let site = state.service.site(site_id)?;
    let page_key = validate::page_key(&input.page, site)?;
    let after = match cursor {
        None | Some("") => None,
        Some(c) => Some(c.parse::<u64>().map_err(|_| {
            Error::client(
                talkback_api::ErrorCode::InvalidCursor,
                "The cursor is not one this server gave out.",
            )
        })?),
    };
    state.limits.read(req).await?;
    let view = ThreadView {
        site: site_id.to_owned(),
        page: page_key.clone(),
        sort: Sort::Oldest,
        limit: MAX_PAGE_LIMIT as usize,
        after,
    };
    let (service, key, sid) = (state.service.clone(), page_key.clone(), site_id.to_owned());
    let (thread, url, pingbacks) = web::block(move || -> Result<_> {
        let (thread, _) = service.thread(&view)?;
        let pingbacks = service.pingbacks(&view)?;
        Ok((thread, service.page_url(&sid, &key)?, pingbacks))
    })
    .await??;
    let token = if thread.closed {
        None
    } else {
        let query = ChallengeQuery {
            site: site_id.to_owned(),
            page: page_key.clone(),
        };
        Some(
            state
                .service
                .challenge(&query, state.limits.client(req)?)?
                .token,
        )
    };
    let (strings, texts) = (Strings::for_lang(lang), PageTexts::for_lang(lang));
    let base = base_url(state, req);
    let own = format!("{base}{}", href(site_id, &page_key, strings.lang, ""));
    let canonical = url.clone().unwrap_or_else(|| own.clone());
    let reply_href = |id: u64| {
        href(
            site_id,
            &page_key,
            strings.lang,
            &format!("&reply={id}#tb-form"),
        )
    };
    let links = Links {
        reply: &reply_href,
        more: thread.next_cursor.as_ref().map(|c| {
            href(
                site_id,
                &page_key,
                strings.lang,
                &format!("&cursor={}", query_value(c)),
            )
        }),
    };

    let mut out = String::with_capacity(32 * 1024);
    out.push_str("<!doctype html><html lang=\"");
    escape(strings.lang, &mut out);
    out.push_str("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    escape(
        &strings.count_heading(thread.total, thread.title.as_deref()),
        &mut out,
    );
    out.push_str("</title><link rel=\"canonical\" href=\"");
    escape(&canonical, &mut out);
    out.push_str("\"><link rel=\"alternate\" type=\"application/atom+xml\" href=\"");
    escape(
        &format!("/t/{site_id}/atom?page={}", query_value(&page_key)),
        &mut out,
    );
    out.push_str("\"><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><main class=\"tb-page\"><h1>");
    let shown_title = thread.title.clone().unwrap_or_else(|| page_key.clone());
    escape(
        &i18n::fill(texts.feed_of_page, &[("title", &shown_title)]),
        &mut out,
    );
    out.push_str("</h1>");
    if let Some(url) = &url {
        out.push_str("<p><a href=\"");
        escape(url, &mut out);
        out.push_str("\">");
        escape(texts.back_to_post, &mut out);
        out.push_str("</a></p>");
    }
    render::thread_document(
        (&thread, &pingbacks),
        strings,
        crate::service::now_ms(),
        &links,
        &mut out,
    );
    form(
        &mut out,
        site_id,
        &page_key,
        input,
        token.as_deref(),
        &thread,
        strings,
        texts,
        state.service.mail_is_on(),
        notice,
        error,
    );
    out.push_str("<p class=\"tb-feed\"><a href=\"");
    escape(
        &format!("/t/{site_id}/atom?page={}", query_value(&page_key)),
        &mut out,
    );
    out.push_str("\">");
    escape(texts.comments_feed, &mut out);
    out.push_str("</a></p></main></body></html>");
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        // The form token inside is the reader's own: never cached, never framed.
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(out))
}

/// The "Leave a Reply" form, or the closed notice.
#[allow(clippy::too_many_arguments)]
fn form(
    out: &mut String,
    site_id: &str,
    page_key: &str,
    input: &FormInput,
    token: Option<&str>,
    thread: &talkback_api::ThreadResponse,
    strings: &Strings,
    texts: &PageTexts,
    mail: bool,
    notice: Option<&str>,
    error: Option<&str>,
) {
    out.push_str("<section class=\"tb-form\" id=\"tb-form\">");
    if let Some(notice) = notice {
        out.push_str("<p class=\"tb-notice\" role=\"status\">");
        escape(notice, out);
        out.push_str("</p>");
    }
    let Some(token) = token else {
        out.push_str("<p class=\"tb-closed\">");
        escape(strings.comments_closed, out);
        out.push_str("</p></section>");
        return;
    };
    let parent = input
        .parent
        .as_deref()
        .and_then(|p| p.trim().parse::<u64>().ok())
        .and_then(|id| find(&thread.comments, id));
    out.push_str("<h2>");
    match parent {
        Some(c) => escape(
            &i18n::fill(
                strings.reply_to,
                &[("name", strings.author_name(&c.author, c.deleted))],
            ),
            out,
        ),
        None => escape(strings.leave_reply, out),
    }
    out.push_str("</h2>");
    if let Some(error) = error {
        out.push_str("<p class=\"tb-error\" role=\"alert\">");
        escape(error, out);
        out.push_str("</p>");
    }
    out.push_str("<form method=\"post\" action=\"/t/");
    escape(site_id, out);
    out.push_str("/comment\"><input type=\"hidden\" name=\"page\" value=\"");
    escape(page_key, out);
    out.push_str("\"><input type=\"hidden\" name=\"lang\" value=\"");
    escape(strings.lang, out);
    out.push_str("\"><input type=\"hidden\" name=\"proof\" value=\"");
    // The signed form token; ".0" where the widget puts its proof of work.
    escape(token, out);
    out.push_str(".0\">");
    if let Some(c) = parent {
        out.push_str("<input type=\"hidden\" name=\"parent\" value=\"");
        escape(&c.id.to_string(), out);
        out.push_str("\">");
    }
    let field =
        |out: &mut String, label: &str, note: Option<&str>, kind: &str, name: &str, value: &str| {
            out.push_str("<p><label for=\"tb-");
            escape(name, out);
            out.push_str("\">");
            escape(label, out);
            if let Some(note) = note {
                out.push_str(" <small>");
                escape(note, out);
                out.push_str("</small>");
            }
            out.push_str("</label><input id=\"tb-");
            escape(name, out);
            out.push_str("\" type=\"");
            escape(kind, out);
            out.push_str("\" name=\"");
            escape(name, out);
            out.push_str("\" value=\"");
            escape(value, out);
            out.push_str("\"></p>");
        };
    let _ = std::fmt::Write::write_fmt(
        out,
        format_args!(
            "<p><label for=\"tb-body\">{}</label><textarea id=\"tb-body\" name=\"body\" rows=\"8\" required maxlength=\"{MAX_BODY_BYTES}\">",
            escape_owned(strings.comment)
        ),
    );
    escape(&input.body, out);
    out.push_str("</textarea><small>");
    escape(strings.markdown_hint, out);
    out.push_str("</small></p>");
    field(out, strings.name, None, "text", "author", &input.author);
    field(
        out,
        strings.email,
        Some(strings.email_note),
        "email",
        "email",
        &input.email,
    );
    field(out, strings.website, None, "url", "website", &input.website);
    if mail {
        // Unticked unless the reader ticked them before an error.
        out.push_str("<p class=\"tb-notify\">");
        for (name, label, ticked) in [
            ("notify", strings.notify_replies, &input.notify),
            ("notify_all", strings.notify_thread, &input.notify_all),
        ] {
            out.push_str("<label><input type=\"checkbox\" name=\"");
            out.push_str(name);
            out.push_str("\" value=\"1\"");
            if ticked.as_deref().is_some_and(|n| !n.is_empty()) {
                out.push_str(" checked");
            }
            out.push_str("> ");
            escape(label, out);
            out.push_str("</label> ");
        }
        out.push_str("</p>");
    }
    out.push_str("<p class=\"tb-trap\" aria-hidden=\"true\"><label>");
    escape(texts.leave_empty, out);
    out.push_str("<input name=\"url\" tabindex=\"-1\" autocomplete=\"off\"></label></p><p><button type=\"submit\">");
    escape(strings.post, out);
    out.push_str("</button></p></form></section>");
}

fn escape_owned(text: &str) -> String {
    let mut out = String::new();
    escape(text, &mut out);
    out
}

/// A comment of the thread by id, at any depth.
fn find(comments: &[talkback_api::Comment], id: u64) -> Option<&talkback_api::Comment> {
    comments.iter().find_map(|c| {
        if c.id.0 == id {
            Some(c)
        } else {
            find(&c.replies, id)
        }
    })
}

/// Enough style to read comfortably; the blog's own look is the widget's business.
pub(super) const STYLE: &str = "body{margin:0;font:16px/1.6 system-ui,sans-serif;color:#1f2328;background:#fff}\
.tb-page{max-width:46rem;margin:0 auto;padding:1rem}\
.tb-list,.tb-replies{list-style:none;margin:0;padding:0}.tb-replies{margin-left:1.5rem}\
.tb-card{display:flex;gap:.75rem;border:1px solid #d0d7de;border-radius:6px;padding:.75rem;margin:.75rem 0;background:#f6f8fa}\
.tb-avatar{width:2.5rem;height:2.5rem;flex:none;border-radius:50%}.tb-main{min-width:0;flex:1}\
.tb-meta{font-size:.875rem;color:#57606a}.tb-author{font-weight:600;color:#1f2328}\
.tb-body{overflow-wrap:anywhere}.tb-body pre{overflow:auto}.tb-tombstone{font-style:italic;color:#57606a}\
.tb-actions a,.tb-more a{color:#0969da}\
.tb-form label{display:block;font-weight:600}.tb-form input,.tb-form textarea{width:100%;box-sizing:border-box;font:inherit;padding:.4rem}\
.tb-form button{font:inherit;padding:.5rem 1rem;background:#1f6feb;color:#fff;border:0;border-radius:6px}\
.tb-error{color:#a40e26;font-weight:600}.tb-notice{color:#1a7f37;font-weight:600}\
.tb-form .tb-notify label{display:inline-block;font-weight:400;margin-right:1.5rem}.tb-form .tb-notify input{width:auto}\
.tb-trap{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}";
