//! The pages a reader's mail links to: confirming a subscription (`/t/{site}/subscription`)
//! and unsubscribing (`/t/{site}/unsubscribe`). Mail scanners follow links, so a GET only
//! shows a page with a button; the state changes on POST. The unsubscribe URL also takes
//! RFC 8058's one-click POST (`List-Unsubscribe=One-Click`) straight from a mail client. The
//! signed token in the URL is all the authority needed: no sign-in, no cookie, no Origin.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use talkback_api::i18n::errors::ErrorTexts;
use talkback_api::i18n::fill;
use talkback_api::i18n::pages::PageTexts;

use super::thread::STYLE;
use crate::AppState;
use crate::content::render::escape;
use crate::error::Error;
use crate::http::{self};
use crate::service::{Purpose, SubscriptionView};

#[derive(Deserialize)]
pub(super) struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// A page: the heading, then `body` (already escaped HTML).
fn document(lang: &str, heading: &str, body: &str) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str("<!doctype html><html lang=\"");
    escape(lang, &mut out);
    out.push_str("\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta name=\"robots\" content=\"noindex\"><title>");
    escape(heading, &mut out);
    out.push_str("</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body><main class=\"tb-page tb-form\"><h1>");
    escape(heading, &mut out);
    out.push_str("</h1>");
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

fn respond(status: StatusCode, html: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

/// An error as a page in the reader's language, with its stable code on the message.
fn error_page(req: &HttpRequest, error: &Error) -> HttpResponse {
    let lang = http::reader_lang(req);
    let message = error.message_in(ErrorTexts::for_lang(lang));
    let code = error.code();
    let mut body = String::from("<p class=\"tb-error\" role=\"alert\" data-error=\"");
    escape(
        &serde_json::to_value(code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        &mut body,
    );
    body.push_str("\">");
    escape(&message, &mut body);
    body.push_str("</p>");
    let heading = PageTexts::for_lang(lang).unsubscribe_title;
    let mut response = respond(
        actix_web::ResponseError::status_code(error),
        document(lang, heading, &body),
    );
    if let Error::RateLimited {
        retry_after_secs, ..
    } = error
        && let Ok(value) = header::HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// What the subscription is about, in words: the page's title, else its key.
fn title(view: &SubscriptionView) -> &str {
    view.page_title.as_deref().unwrap_or(&view.page_key)
}

/// A form that posts back to this page's URL, with one button.
fn button(out: &mut String, action: &str, field: (&str, &str), label: &str) {
    out.push_str("<form method=\"post\" action=\"");
    escape(action, out);
    out.push_str("\"><input type=\"hidden\" name=\"");
    escape(field.0, out);
    out.push_str("\" value=\"");
    escape(field.1, out);
    out.push_str("\"><p><button type=\"submit\">");
    escape(label, out);
    out.push_str("</button></p></form>");
}

fn back_link(out: &mut String, view: &SubscriptionView, lang: &str) {
    if let Some(url) = &view.page_url {
        out.push_str("<p><a href=\"");
        escape(url, out);
        out.push_str("\">");
        escape(PageTexts::for_lang(lang).back_to_post, out);
        out.push_str("</a></p>");
    }
}

fn paragraph(out: &mut String, text: &str) {
    out.push_str("<p>");
    escape(text, out);
    out.push_str("</p>");
}

/// Which budget a request counts against: showing a page is a read, acting a write.
#[derive(Clone, Copy)]
enum Budget {
    Read,
    Write,
}

/// Counts the request against the client's `budget`, runs `act` on the blocking pool, and
/// answers with the page `page` makes of what it returns (in the subscriber's language:
/// its texts, the heading and the body), or with the error as a page.
async fn answer(
    state: &AppState,
    req: &HttpRequest,
    budget: Budget,
    act: impl FnOnce(&crate::service::Service) -> Result<SubscriptionView, Error> + Send + 'static,
    page: impl FnOnce(&SubscriptionView, &'static PageTexts, &mut String) -> &'static str,
) -> HttpResponse {
    let done = async {
        match budget {
            Budget::Read => state.limits.read(req).await?,
            Budget::Write => state.limits.write(req).await?,
        }
        let service = state.service.clone();
        web::block(move || act(&service)).await?
    };
    match done.await {
        Ok(view) => {
            let texts = PageTexts::for_lang(&view.lang);
            let mut body = String::new();
            let heading = page(&view, texts, &mut body);
            back_link(&mut body, &view, texts.lang);
            respond(StatusCode::OK, document(texts.lang, heading, &body))
        }
        Err(e) => error_page(req, &e),
    }
}

/// A notice that something was done.
fn notice(out: &mut String, text: &str) {
    out.push_str("<p class=\"tb-notice\" role=\"status\">");
    escape(text, out);
    out.push_str("</p>");
}

/// `GET /t/{site}/subscription?token=`: the button that confirms.
pub(super) async fn confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let (site, token) = (site.into_inner(), query.into_inner().token);
    let action = format!(
        "/t/{site}/subscription?token={}",
        super::query_value(&token)
    );
    answer(
        &state,
        &req,
        Budget::Read,
        move |service| service.subscription_view(&site, Purpose::Confirm, &token),
        |view, texts, body| {
            let intro = fill(
                texts.confirm_intro,
                &[("email", &view.email), ("title", title(view))],
            );
            paragraph(body, &intro);
            button(body, &action, ("confirm", "1"), texts.confirm_button);
            texts.confirm_title
        },
    )
    .await
}

/// `POST /t/{site}/subscription?token=`: confirms the address.
pub(super) async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let (site, token) = (site.into_inner(), query.into_inner().token);
    answer(
        &state,
        &req,
        Budget::Write,
        move |service| service.confirm_subscription(&site, &token),
        |view, texts, body| {
            let done = fill(
                texts.confirmed,
                &[("email", &view.email), ("title", title(view))],
            );
            notice(body, &done);
            texts.confirm_title
        },
    )
    .await
}

/// `GET /t/{site}/unsubscribe?token=`: the buttons that unsubscribe.
pub(super) async fn unsubscribe_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let (site, token) = (site.into_inner(), query.into_inner().token);
    let action = format!("/t/{site}/unsubscribe?token={}", super::query_value(&token));
    let site_name = site.clone();
    answer(
        &state,
        &req,
        Budget::Read,
        move |service| service.subscription_view(&site, Purpose::Unsubscribe, &token),
        move |view, texts, body| {
            let intro = fill(
                texts.unsubscribe_intro,
                &[("email", &view.email), ("title", title(view))],
            );
            paragraph(body, &intro);
            let one_click = ("List-Unsubscribe", "One-Click");
            button(body, &action, one_click, texts.unsubscribe_button);
            let all = fill(texts.unsubscribe_all_button, &[("site", &site_name)]);
            button(body, &action, ("all", "1"), &all);
            texts.unsubscribe_title
        },
    )
    .await
}

/// `POST /t/{site}/unsubscribe?token=`: the page's buttons, or a mail client's one-click
/// request (RFC 8058), whose body is `List-Unsubscribe=One-Click`. `all=1` ends every
/// subscription of the address on the site.
pub(super) async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    site: web::Path<String>,
    query: web::Query<TokenQuery>,
    body: web::Bytes,
) -> HttpResponse {
    let everything = form_urlencoded::parse(&body).any(|(k, v)| k == "all" && v == "1");
    let (site, token) = (site.into_inner(), query.into_inner().token);
    let site_name = site.clone();
    answer(
        &state,
        &req,
        Budget::Write,
        move |service| service.unsubscribe(&site, &token, everything),
        move |view, texts, body| {
            let done = if everything {
                fill(
                    texts.unsubscribed_all,
                    &[("email", &view.email), ("site", &site_name)],
                )
            } else {
                fill(
                    texts.unsubscribed,
                    &[("email", &view.email), ("title", title(view))],
                )
            };
            notice(body, &done);
            texts.unsubscribe_title
        },
    )
    .await
}
