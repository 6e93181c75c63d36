//! A site's webhooks: each is a consumer of the change log with its own cursor, POSTing the
//! site's events in order, at least once, retried with back-off for a day. `json` events are
//! signed as `Talkback-Signature: t=UNIX-SECONDS,v1=HEX`, HMAC-SHA256 of `t`, a dot and the
//! body, with the hook's secret (receivers refuse a `t` more than five minutes old: replays);
//! `Talkback-Delivery` is the event's id (`evt-` and the change), the same on every retry.
//! Chat formats (Slack, Discord, Telegram) get a message instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::{Deliveries, Failure, GIVE_UP, MAX_BACKOFF};
use crate::config::{HookFormat, Webhook};
use crate::service::{Event, Service};

/// Checks a webhook when the configuration loads.
pub fn check(hook: &Webhook) -> Result<(), String> {
    if !talkback_api::is_web_address(&hook.url) {
        return Err(format!(
            "url {:?} must be an http or https address",
            hook.url
        ));
    }
    match hook.format {
        HookFormat::Json if hook.secret.chars().count() < 16 => {
            Err("a json webhook needs a secret of at least 16 characters".into())
        }
        HookFormat::Telegram if hook.chat_id.is_none() => {
            Err("a telegram webhook needs a chat_id".into())
        }
        _ => Ok(()),
    }
}

/// The hook's cursor in the store: by site and URL, so reordering hooks keeps each its own.
fn consumer(site: &str, hook: &Webhook) -> String {
    let digest = Sha256::digest(hook.url.as_bytes());
    format!("webhook/{site}/{}", hex::encode(&digest[..8]))
}

/// The signature header's value for `body` sent at `t` (Unix seconds).
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// A chat message for the event, with everything a reader wrote (name, title, text) escaped
/// for the chat's own syntax by `escape`: a comment can neither ping a room nor dress a link.
fn message(event: &Event, chat: Chat) -> String {
    let (escape, escape_link) = (chat.text, chat.link);
    let who = if event.comment.author.is_empty() {
        "Anonymous"
    } else {
        &event.comment.author
    };
    let title = event.page.title.as_deref().unwrap_or(&event.page.key);
    let what = match event.kind {
        "comment.created" => "New comment",
        "comment.held" => "Comment awaiting moderation",
        "comment.approved" => "Comment approved",
        "comment.spam" => "Comment marked as spam",
        "comment.edited" => "Comment edited",
        "comment.deleted" => "Comment deleted",
        _ => "Test",
    };
    let link = event
        .page
        .url
        .as_ref()
        .map(|u| format!("\n{}#tb-c{}", escape_link(u), event.comment.id))
        .unwrap_or_default();
    let excerpt: String = event.comment.text.chars().take(500).collect();
    format!(
        "{what} by {} on “{}”:\n{}{link}",
        escape(who),
        escape(title),
        escape(&excerpt)
    )
}

/// How a chat takes text: what a reader wrote, and the link to the comment, which must stay a
/// link (the page's URL is the owner's, or came from a configured origin with an approved
/// comment; only Slack needs it escaped).
#[derive(Clone, Copy)]
struct Chat {
    text: fn(&str) -> String,
    link: fn(&str) -> String,
}

const SLACK: Chat = Chat {
    text: slack_escape,
    link: slack_escape,
};
const DISCORD: Chat = Chat {
    text: discord_escape,
    link: plain,
};
const TELEGRAM: Chat = Chat {
    text: plain,
    link: plain,
};

/// Slack's three control characters (`<!channel>`, `<https://evil|Approve>`).
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Discord's Markdown, masked links (`[Approve](https://evil)`) included: each of its marks
/// taken literally. A bare link still shows as a link, as it does in any chat.
fn discord_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\*_~`|>[]()#-<:@".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Telegram is sent without a `parse_mode`: plain text already.
fn plain(text: &str) -> String {
    text.to_owned()
}

/// Whether `hook` wants `event`: its kinds (all when none are listed), and for a chat room a
/// spam comment only when `comment.spam` is listed by name (its text is the spammer's message,
/// and rooms are read by people).
fn wanted(hook: &Webhook, event: &Event) -> bool {
    let listed = |kind: &str| hook.events.iter().any(|k| k == kind);
    (hook.events.is_empty() || listed(event.kind))
        && (hook.format == HookFormat::Json
            || event.comment.status != "spam"
            || listed("comment.spam"))
}

/// The request for an event: its body and headers.
fn request(
    hook: &Webhook,
    event: &Event,
    now_secs: i64,
) -> Result<(String, Vec<(String, String)>), String> {
    let json = |v: serde_json::Value| v.to_string();
    Ok(match hook.format {
        HookFormat::Json => {
            let body = serde_json::to_string(event).map_err(|e| e.to_string())?;
            let headers = vec![
                ("Talkback-Event".into(), event.kind.into()),
                ("Talkback-Delivery".into(), event.id.clone()),
                (
                    "Talkback-Signature".into(),
                    signature(&hook.secret, now_secs, &body),
                ),
            ];
            (body, headers)
        }
        HookFormat::Slack => (
            json(serde_json::json!({ "text": message(event, SLACK) })),
            Vec::new(),
        ),
        HookFormat::Discord => (
            json(serde_json::json!({
                "content": message(event, DISCORD), "allowed_mentions": { "parse": [] }
            })),
            Vec::new(),
        ),
        HookFormat::Telegram => (
            json(serde_json::json!({
                "chat_id": hook.chat_id, "text": message(event, TELEGRAM),
                "disable_web_page_preview": true
            })),
            Vec::new(),
        ),
    })
}

/// One POST of `event` to `hook`, signed now; a 2xx answer is success.
fn post(agent: &ureq::Agent, hook: &Webhook, event: &Event) -> Result<(), Failure> {
    // A request that cannot be made now never can: given up at once.
    let (body, headers) =
        request(hook, event, crate::service::now_ms() / 1000).map_err(|why| Failure {
            permanent: true,
            why,
        })?;
    let mut req = agent
        .post(&hook.url)
        .set("Content-Type", "application/json");
    for (name, value) in &headers {
        req = req.set(name, value);
    }
    // ureq's own words for a transport error name the URL, which is a chat hook's credential:
    // say what went wrong and where, never the path.
    // A 4xx answer is the receiver's final word (but 408 and 429, which ask to come back).
    req.send_string(&body).map(|_| ()).map_err(|e| match e {
        ureq::Error::Status(code, _) => Failure {
            permanent: (400..500).contains(&code) && code != 408 && code != 429,
            why: format!("answered {code}"),
        },
        ureq::Error::Transport(t) => Failure {
            permanent: false,
            why: format!("{} ({})", t.kind(), shown_target(&hook.url)),
        },
    })
}

/// Starts one consumer per webhook of every site.
pub(crate) fn spawn(
    service: &Arc<Service>,
    sites: &[crate::config::SiteConfig],
    metrics: &Deliveries,
) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build();
    for site in sites {
        for hook in &site.webhooks {
            let name = consumer(&site.id, hook);
            // Placed before the server takes requests: nothing after now is missed.
            if let Err(e) = crate::off_runtime(|| service.consumer_cursor(&name)) {
                tracing::error!(error = %e, hook = %shown_target(&hook.url), "webhook off: its cursor cannot be read");
                continue;
            }
            let (service, hook, site, agent) = (
                Arc::clone(service),
                hook.clone(),
                site.id.clone(),
                agent.clone(),
            );
            let metrics = metrics.clone();
            actix_web::rt::spawn(async move {
                let what = format!("the webhook to {}", shown_target(&hook.url));
                let turns = service.turns(&name);
                turns
                    .run((), &what, async |()| {
                        catch_up(&service, &site, &hook, &name, &agent, &metrics).await?;
                        Ok(None)
                    })
                    .await;
            });
        }
    }
}

async fn catch_up(
    service: &Arc<Service>,
    site: &str,
    hook: &Webhook,
    name: &str,
    agent: &ureq::Agent,
    metrics: &Deliveries,
) -> Result<(), String> {
    loop {
        let (s, site_id, n) = (Arc::clone(service), site.to_owned(), name.to_owned());
        let (events, upto, cursor) = web::block(move || {
            let cursor = s.consumer_cursor(&n)?;
            s.events_after(&site_id, cursor, 100)
                .map(|(e, upto)| (e, upto, cursor))
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if upto == cursor {
            return Ok(());
        }
        for event in events.iter().filter(|e| wanted(hook, e)) {
            deliver(hook, event, agent, metrics).await;
        }
        let (s, n) = (Arc::clone(service), name.to_owned());
        web::block(move || s.set_consumer_cursor(&n, upto))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
    }
}

/// POSTs one event until the receiver answers 2xx or `GIVE_UP` passes (signed anew each time,
/// so a retry's timestamp is fresh).
async fn deliver(hook: &Webhook, event: &Event, agent: &ureq::Agent, metrics: &Deliveries) {
    let started = Instant::now();
    let mut wait = Duration::from_secs(1);
    loop {
        let (agent, h, e) = (agent.clone(), hook.clone(), event.clone());
        let outcome = web::block(move || post(&agent, &h, &e))
            .await
            .unwrap_or_else(|e| {
                Err(Failure {
                    permanent: false,
                    why: e.to_string(),
                })
            });
        match outcome {
            Ok(()) => {
                metrics.hooks_delivered.inc();
                metrics.record(hook_delivery(hook, event, "delivered", String::new()));
                tracing::info!(hook = %shown_target(&hook.url), event = %event.id, kind = event.kind, "webhook delivered");
                return;
            }
            Err(e) if !e.permanent && started.elapsed() < GIVE_UP => {
                metrics.hooks_failed_attempts.inc();
                metrics.record(hook_delivery(hook, event, "retrying", e.why.clone()));
                tracing::warn!(hook = %shown_target(&hook.url), event = %event.id, error = %e.why, retry_in = ?wait, "webhook not delivered yet");
            }
            Err(e) => {
                metrics.hooks_given_up.inc();
                metrics.record(hook_delivery(hook, event, "given_up", e.why.clone()));
                tracing::error!(hook = %shown_target(&hook.url), event = %event.id, error = %e.why, permanent = e.permanent, "webhook given up");
                return;
            }
        }
        actix_web::rt::time::sleep(wait).await;
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

/// Where a hook points, for the log: its scheme and host (a chat webhook's path is its token).
fn shown_target(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{host}")
}

fn hook_delivery(
    hook: &Webhook,
    event: &Event,
    outcome: &str,
    detail: String,
) -> talkback_api::admin::Delivery {
    talkback_api::admin::Delivery {
        at: crate::service::now_ms(),
        site: event.site.clone(),
        channel: "webhook".into(),
        target: shown_target(&hook.url),
        event: event.id.clone(),
        kind: event.kind.into(),
        outcome: outcome.into(),
        detail,
    }
}

/// Sends a `ping` event (comment 0 on page `/`) to each of the site's webhooks, once, now.
pub fn ping(site: &crate::config::SiteConfig) -> Vec<talkback_api::admin::Delivery> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .redirects(0)
        .build();
    let now = crate::service::now_ms();
    let event = Event {
        id: format!("ping-{now}"),
        kind: "ping",
        created: now,
        site: site.id.clone(),
        page: crate::service::EventPage {
            key: "/".into(),
            title: Some("Talkback webhook test".into()),
            url: None,
        },
        comment: crate::service::EventComment {
            id: 0,
            parent: None,
            author: "Talkback".into(),
            website: None,
            text: "This is a test of your webhook.".into(),
            status: "approved",
        },
    };
    site.webhooks
        .iter()
        .map(|hook| match post(&agent, hook, &event) {
            Ok(()) => hook_delivery(hook, &event, "delivered", String::new()),
            Err(e) => hook_delivery(hook, &event, "given_up", e.why),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{EventComment, EventPage};

    fn event(status: &'static str, author: &str, text: &str) -> Event {
        Event {
            id: "evt-7".into(),
            kind: "comment.created",
            created: 0,
            site: "blog".into(),
            page: EventPage {
                key: "/p".into(),
                title: Some("Roses [1]".into()),
                url: Some("https://blog.example/p".into()),
            },
            comment: EventComment {
                id: 7,
                parent: None,
                author: author.into(),
                website: None,
                text: text.into(),
                status,
            },
        }
    }

    fn hook(format: HookFormat, events: &[&str]) -> Webhook {
        Webhook {
            url: "https://hooks.example/services/T0/B0/SECRET".into(),
            format,
            secret: String::new(),
            chat_id: Some("1".into()),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
        }
    }

    /// Hardening round two, item 8: an anonymous comment pinged a Slack channel and dressed a
    /// link as a button; Discord rendered its masked links.
    #[test]
    fn chat_messages_take_what_readers_wrote_literally() {
        let attack = event(
            "approved",
            "<!channel>",
            "<https://evil.example|Approve> [Approve](https://evil.example) @everyone",
        );
        let cases = [
            (
                SLACK,
                expect_test::expect![[r#"
                    New comment by &lt;!channel&gt; on “Roses [1]”:
                    &lt;https://evil.example|Approve&gt; [Approve](https://evil.example) @everyone
                    https://blog.example/p#tb-c7"#]],
            ),
            (
                DISCORD,
                expect_test::expect![[r#"
                    New comment by \<!channel\> on “Roses \[1\]”:
                    \<https\://evil.example\|Approve\> \[Approve\]\(https\://evil.example\) \@everyone
                    https://blog.example/p#tb-c7"#]],
            ),
        ];
        for (chat, expected) in cases {
            expected.assert_eq(&message(&attack, chat));
        }
    }

    #[test]
    fn chat_rooms_hear_of_spam_only_when_they_ask_for_it() {
        let spam = event("spam", "Bot", "buy now");
        let cases = [
            (hook(HookFormat::Json, &[]), true),
            (hook(HookFormat::Slack, &[]), false),
            (hook(HookFormat::Discord, &["comment.created"]), false),
            (
                hook(HookFormat::Telegram, &["comment.created", "comment.spam"]),
                true,
            ),
        ];
        for (hook, expected) in cases {
            assert_eq!(wanted(&hook, &spam), expected, "{:?}", hook.format);
            assert!(wanted(&hook, &event("approved", "Ann", "hi")) || !hook.events.is_empty());
        }
    }

    #[test]
    fn a_failed_delivery_never_names_the_hooks_path() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut hook = hook(HookFormat::Slack, &[]);
        hook.url = format!("http://127.0.0.1:{port}/services/T0/B0/SECRET");
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(2))
            .build();
        let error = post(&agent, &hook, &event("approved", "Ann", "hi")).unwrap_err();
        assert!(!error.permanent, "a refused connection may work later");
        let why = error.why;
        assert!(
            !why.contains("SECRET") && !why.contains("services"),
            "{why}"
        );
        assert!(why.contains(&format!("127.0.0.1:{port}")), "{why}");
    }
}
