//! The signed-in dashboard: filters and search, the list of comments (newest first, keyset
//! pages), decisions on the current or the selected comments, and the keyboard.

#![allow(unreachable_pub, reason = "#[component] generates pub props structs")]

use std::collections::BTreeSet;

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::CommentId;
use talkback_api::admin::{
    BanBy, ListQuery, LockPage, ModAction, ModComment, ModStatus, Moderate, ModerationMode,
    MovePages, NewBan, PageMeta, SessionInfo, SiteSettings,
};
use wasm_bindgen::JsCast;

use crate::api;

const PAGE_SIZE: u32 = 25;
/// Calls one search may make before it shows what it found (each looks at up to 20,000).
const SEARCH_ROUNDS: usize = 10;

fn status_words(status: ModStatus) -> &'static str {
    match status {
        ModStatus::Approved => "Approved",
        ModStatus::Pending => "Pending",
        ModStatus::Spam => "Spam",
        ModStatus::Deleted => "Deleted",
        ModStatus::Pingback => "Pingback",
    }
}

fn done_words(action: ModAction, n: usize) -> String {
    let verb = match action {
        ModAction::Approve => "Approved",
        ModAction::Spam => "Marked as spam:",
        ModAction::Pending => "Sent back to the queue:",
        ModAction::Delete => "Deleted",
        ModAction::Pin => "Pinned",
        ModAction::Unpin => "Unpinned",
    };
    let noun = if n == 1 { "comment" } else { "comments" };
    format!("{verb} {n} {noun}.")
}

fn local_time(ms: i64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    date.to_locale_string("en-GB", &wasm_bindgen::JsValue::UNDEFINED)
        .into()
}

/// True when a key press is typing into a field rather than a command.
fn typing(ev: &web_sys::KeyboardEvent) -> bool {
    ev.target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT"))
}

#[component]
pub(crate) fn Dashboard(session: SessionInfo, on_signed_out: Callback<()>) -> impl IntoView {
    let csrf = StoredValue::new(session.csrf.clone());
    let status = RwSignal::new("queue".to_owned());
    let site = RwSignal::new(String::new());
    let search = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let items = RwSignal::new(Vec::<ModComment>::new());
    let next = RwSignal::new(None::<String>);
    // The `before` of every page shown so far, to go back to newer ones.
    let trail = RwSignal::new(Vec::<Option<String>>::new());
    let current = RwSignal::new(0usize);
    let selected = RwSignal::new(BTreeSet::<u64>::new());
    let message = RwSignal::new(String::new());
    let loading = RwSignal::new(false);
    let search_box = NodeRef::<leptos::html::Input>::new();

    let failed = move |failure: api::Failure| {
        if failure.signed_out {
            on_signed_out.run(());
        } else {
            message.set(failure.message);
        }
    };

    let load = move |before: Option<String>| {
        loading.set(true);
        let query = ListQuery {
            status: Some(status.get_untracked()),
            site: Some(site.get_untracked()),
            q: Some(search.get_untracked()),
            from: Some(from.get_untracked()),
            to: Some(to.get_untracked()),
            before,
            limit: Some(PAGE_SIZE),
        };
        spawn_local(async move {
            // The server looks at a bounded number of comments per call; a search that found
            // little goes on by itself for a while, so one search covers a large site.
            let searching = query.q.as_deref().is_some_and(|q| !q.trim().is_empty());
            let mut query = query;
            let mut found = Vec::new();
            let mut more = None;
            for _ in 0..SEARCH_ROUNDS {
                match api::list(&query).await {
                    Ok(list) => {
                        found.extend(list.comments);
                        more = list.next;
                    }
                    Err(failure) => {
                        failed(failure);
                        loading.set(false);
                        return;
                    }
                }
                if !searching || found.len() >= PAGE_SIZE as usize || more.is_none() {
                    break;
                }
                query.before = more.clone();
            }
            let n = found.len();
            items.set(found);
            next.set(more);
            selected.set(BTreeSet::new());
            current.update(|c| *c = (*c).min(n.saturating_sub(1)));
            loading.set(false);
        });
    };
    let reload = move || {
        let before = trail.with_untracked(|t| t.last().cloned().flatten());
        load(before);
    };
    let first_page = move || {
        trail.set(vec![None]);
        current.set(0);
        load(None);
    };
    first_page();

    let act = move |action: ModAction| {
        let chosen: Vec<u64> = selected.with_untracked(|s| s.iter().copied().collect());
        let ids = if chosen.is_empty() {
            items.with_untracked(|list| {
                list.get(current.get_untracked())
                    .map(|c| vec![c.id.0])
                    .unwrap_or_default()
            })
        } else {
            chosen
        };
        if ids.is_empty() {
            return;
        }
        let request = Moderate {
            action,
            ids: ids.into_iter().map(CommentId).collect(),
        };
        let token = csrf.get_value();
        spawn_local(async move {
            match api::moderate(&token, &request).await {
                Ok(done) => {
                    let changed = done.results.iter().filter(|r| r.error.is_none()).count();
                    let refused = done.results.len() - changed;
                    let mut words = done_words(action, changed);
                    if refused > 0 {
                        words.push_str(&format!(" {refused} could not be changed."));
                    }
                    message.set(words);
                    reload();
                }
                Err(failure) => failed(failure),
            }
        });
    };

    let toggle = move |id: u64| {
        selected.update(|s| {
            if !s.remove(&id) {
                s.insert(id);
            }
        });
    };

    let scroll_to_current = move || {
        let id = items.with_untracked(|list| list.get(current.get_untracked()).map(|c| c.id.0));
        if let Some(el) =
            id.and_then(|id| document().get_element_by_id(&format!("tb-comment-{id}")))
        {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Nearest);
            el.scroll_into_view_with_scroll_into_view_options(&options);
        }
    };

    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || typing(&ev) {
            return;
        }
        let len = items.with_untracked(Vec::len);
        match ev.key().as_str() {
            "j" => {
                current.update(|c| *c = (*c + 1).min(len.saturating_sub(1)));
                scroll_to_current();
            }
            "k" => {
                current.update(|c| *c = c.saturating_sub(1));
                scroll_to_current();
            }
            "x" => {
                if let Some(id) =
                    items.with_untracked(|l| l.get(current.get_untracked()).map(|c| c.id.0))
                {
                    toggle(id);
                }
            }
            "a" => act(ModAction::Approve),
            "s" => act(ModAction::Spam),
            "d" => act(ModAction::Delete),
            "/" => {
                ev.prevent_default();
                if let Some(input) = search_box.get_untracked() {
                    let _ = input.focus();
                }
            }
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    let sign_out = move |_| {
        let token = csrf.get_value();
        spawn_local(async move {
            let _ = api::sign_out(&token).await;
            on_signed_out.run(());
        });
    };

    let all_selected = move || {
        items.with(|list| {
            !list.is_empty() && selected.with(|s| list.iter().all(|c| s.contains(&c.id.0)))
        })
    };
    let select_all = move |_| {
        if all_selected() {
            selected.set(BTreeSet::new());
        } else {
            selected.set(items.with_untracked(|l| l.iter().map(|c| c.id.0).collect()));
        }
    };

    let sites = session.sites.clone();
    let owner = session.role == talkback_api::admin::AdminRole::Owner;
    let role = match session.role {
        talkback_api::admin::AdminRole::Owner => "owner",
        talkback_api::admin::AdminRole::Moderator => "moderator",
    };

    view! {
        <header class="tb-top">
            <h1>"Talkback moderation"</h1>
            <p class="tb-who">
                "Signed in as " <strong>{session.name.clone()}</strong> " (" {role} ")"
                <button type="button" class="tb-quiet" on:click=sign_out>"Sign out"</button>
            </p>
        </header>
        <main>
            <form
                class="tb-filters"
                role="search"
                on:submit=move |ev: leptos::ev::SubmitEvent| {
                    ev.prevent_default();
                    first_page();
                }
            >
                <label>
                    "Show"
                    <select
                        prop:value=move || status.get()
                        on:change=move |ev| {
                            status.set(event_target_value(&ev));
                            first_page();
                        }
                    >
                        <option value="queue">"Queue (pending and spam)"</option>
                        <option value="pending">"Pending"</option>
                        <option value="spam">"Spam"</option>
                        <option value="approved">"Approved"</option>
                        <option value="all">"All comments"</option>
                    </select>
                </label>
                <label>
                    "Site"
                    <select
                        prop:value=move || site.get()
                        on:change=move |ev| {
                            site.set(event_target_value(&ev));
                            first_page();
                        }
                    >
                        <option value="">"All sites"</option>
                        {sites
                            .into_iter()
                            .map(|s| view! { <option value=s.clone()>{s.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label>
                    "Search"
                    <input
                        type="search"
                        id="tb-search"
                        node_ref=search_box
                        placeholder="Text, name, e-mail, address, page"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "From"
                    <input
                        type="date"
                        prop:value=move || from.get()
                        on:change=move |ev| from.set(event_target_value(&ev))
                    />
                </label>
                <label>
                    "To"
                    <input
                        type="date"
                        prop:value=move || to.get()
                        on:change=move |ev| to.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit">"Search"</button>
            </form>
            <div class="tb-bulk" role="toolbar" aria-label="Decisions">
                <label class="tb-select-all">
                    <input
                        type="checkbox"
                        prop:checked=all_selected
                        on:change=select_all
                    />
                    "Select all on page"
                </label>
                <button type="button" on:click=move |_| act(ModAction::Approve)>"Approve"</button>
                <button type="button" on:click=move |_| act(ModAction::Spam)>"Spam"</button>
                <button type="button" class="tb-danger" on:click=move |_| act(ModAction::Delete)>
                    "Delete"
                </button>
                <span class="tb-count">
                    {move || {
                        let n = selected.with(BTreeSet::len);
                        if n == 0 { String::new() } else { format!("{n} selected") }
                    }}
                </span>
            </div>
            <SettingsPanel sites=session.sites.clone() csrf=csrf message=message failed=Callback::new(failed) />
            <PagesPanel sites=session.sites.clone() csrf=csrf message=message failed=Callback::new(failed) />
            <SpamPanel failed=Callback::new(failed) />
            <AuditPanel failed=Callback::new(failed) />
            <DeliveriesPanel sites=session.sites.clone() csrf=csrf message=message failed=Callback::new(failed) />
            <p class="tb-message" role="status" aria-live="polite">{move || message.get()}</p>
            <p class="tb-keys">
                "Keys: " <kbd>"j"</kbd> "/" <kbd>"k"</kbd> " move, " <kbd>"x"</kbd> " select, "
                <kbd>"a"</kbd> " approve, " <kbd>"s"</kbd> " spam, " <kbd>"d"</kbd> " delete, "
                <kbd>"/"</kbd> " search"
            </p>
            <section class="tb-list" aria-label="Comments" aria-busy=move || loading.get().to_string()>
                {move || {
                    let list = items.get();
                    if list.is_empty() && !loading.get() {
                        return view! { <p class="tb-empty">"Nothing here. All caught up."</p> }
                            .into_any();
                    }
                    let toggle = Callback::new(toggle);
                    let act = Callback::new(act);
                    let tools = Tools {
                        csrf,
                        message,
                        failed: Callback::new(failed),
                        reload: Callback::new(move |()| reload()),
                        owner,
                    };
                    list.into_iter()
                        .enumerate()
                        .map(|(i, c)| view! { <Item comment=c index=i current=current selected=selected toggle=toggle act=act tools=tools /> })
                        .collect_view()
                        .into_any()
                }}
            </section>
            <nav class="tb-pages" aria-label="Pages">
                <button
                    type="button"
                    prop:disabled=move || trail.with(|t| t.len() <= 1)
                    on:click=move |_| {
                        trail.update(|t| {
                            t.pop();
                        });
                        current.set(0);
                        reload();
                    }
                >
                    "Newer"
                </button>
                <button
                    type="button"
                    prop:disabled=move || next.with(Option::is_none)
                    on:click=move |_| {
                        let before = next.get_untracked();
                        trail.update(|t| t.push(before.clone()));
                        current.set(0);
                        load(before);
                    }
                >
                    "Older"
                </button>
            </nav>
        </main>
    }
}

/// What an item's own tools (edit, lock, ban) need from the dashboard.
#[derive(Clone, Copy)]
struct Tools {
    csrf: StoredValue<String>,
    message: RwSignal<String>,
    failed: Callback<api::Failure>,
    reload: Callback<()>,
    /// The account is an owner (it may ban on every site).
    owner: bool,
}

#[component]
fn SettingsPanel(
    sites: Vec<String>,
    csrf: StoredValue<String>,
    message: RwSignal<String>,
    failed: Callback<api::Failure>,
) -> impl IntoView {
    let site = RwSignal::new(sites.first().cloned().unwrap_or_default());
    let mode = RwSignal::new("none".to_owned());
    let window = RwSignal::new(String::new());
    let read_only = RwSignal::new(false);
    let load = move || {
        let id = site.get_untracked();
        spawn_local(async move {
            match api::settings(&id).await {
                Ok(now) => {
                    mode.set(mode_name(now.moderation.unwrap_or_default()).to_owned());
                    window.set(now.edit_window_secs.unwrap_or_default().to_string());
                    read_only.set(now.read_only.unwrap_or_default());
                }
                Err(f) => failed.run(f),
            }
        });
    };
    load();
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = site.get_untracked();
        let change = SiteSettings {
            moderation: Some(match mode.get_untracked().as_str() {
                "first_time" => ModerationMode::FirstTime,
                "links" => ModerationMode::Links,
                "all" => ModerationMode::All,
                _ => ModerationMode::None,
            }),
            edit_window_secs: window.get_untracked().trim().parse().ok(),
            read_only: Some(read_only.get_untracked()),
        };
        let token = csrf.get_value();
        spawn_local(async move {
            match api::change_settings(&token, &id, &change).await {
                Ok(_) => message.set(format!("Settings of {id} saved.")),
                Err(f) => failed.run(f),
            }
        });
    };
    view! {
        <details class="tb-settings">
            <summary>"Site settings"</summary>
            <form on:submit=save>
                <label>
                    "Site"
                    <select prop:value=move || site.get() on:change=move |ev| { site.set(event_target_value(&ev)); load(); }>
                        {sites.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "New comments"
                    <select prop:value=move || mode.get() on:change=move |ev| mode.set(event_target_value(&ev))>
                        <option value="none">"Appear at once"</option>
                        <option value="first_time">"A commenter's first comment waits for approval"</option>
                        <option value="links">"Wait for approval when they have links"</option>
                        <option value="all">"All wait for approval"</option>
                    </select>
                </label>
                <label>
                    "Edit window (seconds)"
                    <input type="number" min="0" prop:value=move || window.get() on:input=move |ev| window.set(event_target_value(&ev)) />
                </label>
                <label class="tb-check">
                    <input type="checkbox" prop:checked=move || read_only.get() on:change=move |ev| read_only.set(event_target_checked(&ev)) />
                    "Read-only: no new comments on any page"
                </label>
                <button type="submit">"Save settings"</button>
            </form>
        </details>
    }
}

/// Correcting a page's title or URL, and moving a thread to a new page key (merged there).
#[component]
fn PagesPanel(
    sites: Vec<String>,
    csrf: StoredValue<String>,
    message: RwSignal<String>,
    failed: Callback<api::Failure>,
) -> impl IntoView {
    let site = RwSignal::new(sites.first().cloned().unwrap_or_default());
    let page = RwSignal::new(String::new());
    let title = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let some = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let correct = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let request = PageMeta {
            site: site.get_untracked(),
            page: page.get_untracked(),
            title: some(title.get_untracked()),
            url: some(url.get_untracked()),
        };
        let token = csrf.get_value();
        spawn_local(async move {
            match api::page_meta(&token, &request).await {
                Ok(done) => message.set(format!("Saved. {}", done.done.join(" "))),
                Err(f) => failed.run(f),
            }
        });
    };
    let move_thread = move |_| {
        let request = MovePages {
            site: site.get_untracked(),
            moves: vec![(page.get_untracked(), to.get_untracked())],
        };
        let token = csrf.get_value();
        spawn_local(async move {
            match api::move_pages(&token, &request).await {
                Ok(done) => message.set(done.done.join(" ")),
                Err(f) => failed.run(f),
            }
        });
    };
    view! {
        <details class="tb-settings">
            <summary>"Pages"</summary>
            <form on:submit=correct>
                <label>
                    "Site"
                    <select prop:value=move || site.get() on:change=move |ev| site.set(event_target_value(&ev))>
                        {sites.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <label>
                    "Page (key or URL)"
                    <input required prop:value=move || page.get() on:input=move |ev| page.set(event_target_value(&ev)) />
                </label>
                <label>
                    "New title"
                    <input prop:value=move || title.get() on:input=move |ev| title.set(event_target_value(&ev)) />
                </label>
                <label>
                    "New URL"
                    <input type="url" prop:value=move || url.get() on:input=move |ev| url.set(event_target_value(&ev)) />
                </label>
                <button type="submit">"Correct the page"</button>
                <label>
                    "Move its thread to (key or URL)"
                    <input prop:value=move || to.get() on:input=move |ev| to.set(event_target_value(&ev)) />
                </label>
                <button type="button" on:click=move_thread>"Move the thread"</button>
            </form>
        </details>
    }
}

/// What the anti-spam layers decided on the account's sites since the server started: each
/// outcome, then each outcome's reasons (codes as the queue shows them).
#[component]
fn SpamPanel(failed: Callback<api::Failure>) -> impl IntoView {
    let counts = RwSignal::new(Vec::<(String, u64)>::new());
    let load = move |_| {
        spawn_local(async move {
            match api::spam_counts().await {
                Ok(c) => counts.set(c.counts.into_iter().collect()),
                Err(f) => failed.run(f),
            }
        });
    };
    let what = |key: &str| match key.split_once('.') {
        Some((outcome, reason)) => format!("{outcome}: {reason}"),
        None => format!("{key} (all)"),
    };
    view! {
        <details class="tb-settings" on:toggle=load>
            <summary>"Spam defences"</summary>
            <table class="tb-audit tb-spam-counts">
                <thead><tr><th>"Outcome and reason"</th><th>"Comments"</th></tr></thead>
                <tbody>
                    {move || counts.get().into_iter().map(|(key, n)| view! {
                        <tr><td>{what(&key)}</td><td>{n}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

/// The newest entries of the audit log: who did what, when, status before and after.
#[component]
fn AuditPanel(failed: Callback<api::Failure>) -> impl IntoView {
    let entries = RwSignal::new(Vec::<talkback_api::admin::AuditEntry>::new());
    let load = move |_| {
        spawn_local(async move {
            match api::audit().await {
                Ok(list) => entries.set(list),
                Err(f) => failed.run(f),
            }
        });
    };
    let words = |s: Option<ModStatus>| s.map(status_words).unwrap_or("");
    view! {
        <details class="tb-settings" on:toggle=load>
            <summary>"Audit log"</summary>
            <table class="tb-audit">
                <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Comment"</th><th>"Before"</th><th>"After"</th></tr></thead>
                <tbody>
                    {move || entries.get().into_iter().map(|e| view! {
                        <tr>
                            <td>{local_time(e.at)}</td>
                            <td>{e.actor}</td>
                            <td>{e.action}</td>
                            <td>{e.comment.map(|c| c.to_string()).unwrap_or_default()}</td>
                            <td>{words(e.before)}</td>
                            <td>{words(e.after)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

/// The latest mail and webhook deliveries of the account's sites, newest first, with what
/// went wrong; and a test ping to a site's webhooks.
#[component]
fn DeliveriesPanel(
    sites: Vec<String>,
    csrf: StoredValue<String>,
    message: RwSignal<String>,
    failed: Callback<api::Failure>,
) -> impl IntoView {
    let entries = RwSignal::new(Vec::<talkback_api::admin::Delivery>::new());
    let site = RwSignal::new(sites.first().cloned().unwrap_or_default());
    let load = move || {
        spawn_local(async move {
            match api::deliveries().await {
                Ok(list) => entries.set(list.deliveries),
                Err(f) => failed.run(f),
            }
        });
    };
    let ping = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (token, id) = (csrf.get_value(), site.get_untracked());
        spawn_local(async move {
            match api::test_webhooks(&token, &id).await {
                Ok(sent) if sent.deliveries.is_empty() => {
                    message.set(format!("{id} has no webhooks."));
                }
                Ok(sent) => {
                    let ok = sent
                        .deliveries
                        .iter()
                        .filter(|d| d.outcome == "delivered")
                        .count();
                    message.set(format!(
                        "Pinged {id}'s webhooks: {ok} of {} answered.",
                        sent.deliveries.len()
                    ));
                    load();
                }
                Err(f) => failed.run(f),
            }
        });
    };
    view! {
        <details class="tb-settings" on:toggle=move |_| load()>
            <summary>"Mail and webhooks"</summary>
            <form on:submit=ping>
                <label>
                    "Site"
                    <select prop:value=move || site.get() on:change=move |ev| site.set(event_target_value(&ev))>
                        {sites.into_iter().map(|s| view! { <option value=s.clone()>{s.clone()}</option> }).collect_view()}
                    </select>
                </label>
                <button type="submit">"Send a test event to its webhooks"</button>
                <button type="button" on:click=move |_| load()>"Refresh"</button>
            </form>
            <table class="tb-audit tb-deliveries">
                <thead><tr><th>"When"</th><th>"Site"</th><th>"What"</th><th>"To"</th><th>"Outcome"</th><th>"Why"</th></tr></thead>
                <tbody>
                    {move || entries.get().into_iter().map(|d| {
                        let class = format!("tb-outcome-{}", d.outcome);
                        view! {
                        <tr class=class>
                            <td>{local_time(d.at)}</td>
                            <td>{d.site}</td>
                            <td>{d.kind}</td>
                            <td>{d.target}</td>
                            <td>{d.outcome}</td>
                            <td>{d.detail}</td>
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </details>
    }
}

fn mode_name(mode: ModerationMode) -> &'static str {
    match mode {
        ModerationMode::None => "none",
        ModerationMode::FirstTime => "first_time",
        ModerationMode::Links => "links",
        ModerationMode::All => "all",
    }
}

#[component]
fn Item(
    comment: ModComment,
    index: usize,
    current: RwSignal<usize>,
    selected: RwSignal<BTreeSet<u64>>,
    toggle: Callback<u64>,
    act: Callback<ModAction>,
    tools: Tools,
) -> impl IntoView {
    let id = comment.id.0;
    let editing = RwSignal::new(false);
    let draft = RwSignal::new(comment.text.clone());
    let banning = RwSignal::new(false);
    let ban_by = RwSignal::new("email".to_owned());
    let ban_for = RwSignal::new("30d".to_owned());
    let ban_where = RwSignal::new("site".to_owned());
    let top_level = comment.parent.is_none();
    let pinned = comment.pinned;
    let locked = comment.locked;
    let (site, page) = (comment.site.clone(), comment.page.clone());
    let ban_site = site.clone();
    let banned_site = site.clone();
    let (email, name, ip) = (
        comment.email.clone(),
        comment.author.clone(),
        comment.ip.clone(),
    );
    let save_edit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let token = tools.csrf.get_value();
        let body = draft.get_untracked();
        spawn_local(async move {
            match api::edit(&token, id, body).await {
                Ok(_) => {
                    editing.set(false);
                    tools
                        .message
                        .set("Saved: readers see it was edited by a moderator.".into());
                    tools.reload.run(());
                }
                Err(f) => tools.failed.run(f),
            }
        });
    };
    let toggle_lock = move |_| {
        let token = tools.csrf.get_value();
        let request = LockPage {
            site: site.clone(),
            page: page.clone(),
            locked: !locked,
        };
        spawn_local(async move {
            match api::lock(&token, &request).await {
                Ok(()) => {
                    tools.message.set(
                        if request.locked {
                            "Thread locked."
                        } else {
                            "Thread unlocked."
                        }
                        .into(),
                    );
                    tools.reload.run(());
                }
                Err(f) => tools.failed.run(f),
            }
        });
    };
    let ban = Callback::new(move |()| {
        let (by, value) = match ban_by.get_untracked().as_str() {
            "name" => (BanBy::Name, Some(name.clone())),
            "ip" => (BanBy::Ip, ip.clone()),
            _ => (BanBy::Email, email.clone()),
        };
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            tools
                .message
                .set("This comment has nothing of that kind to ban.".into());
            return;
        };
        let duration = Some(ban_for.get_untracked()).filter(|d| d != "ever");
        let on = (ban_where.get_untracked() != "all").then(|| banned_site.clone());
        let token = tools.csrf.get_value();
        spawn_local(async move {
            match api::ban(
                &token,
                &NewBan {
                    by,
                    value,
                    duration,
                    site: on,
                },
            )
            .await
            {
                Ok(b) => {
                    banning.set(false);
                    tools.message.set(match b.site {
                        Some(site) => format!(
                            "Banned {} on {site}: their new comments there go to spam.",
                            b.value
                        ),
                        None => format!(
                            "Banned {} on every site: their new comments go to spam.",
                            b.value
                        ),
                    });
                }
                Err(f) => tools.failed.run(f),
            }
        });
    });
    let author = comment.author.clone();
    let is_current = move || current.get() == index;
    let page_name = comment
        .page_title
        .clone()
        .unwrap_or_else(|| comment.page.clone());
    // Acting on this comment's own buttons makes it the current one first.
    let act_here = move |action: ModAction| {
        current.set(index);
        selected.set(BTreeSet::new());
        act.run(action);
    };
    let status = comment.status;
    view! {
        <article
            id=format!("tb-comment-{id}")
            class="tb-item"
            class:tb-current=is_current
            aria-current=move || if is_current() { "true" } else { "false" }
            on:click=move |_| current.set(index)
        >
            <div class="tb-item-head">
                <input
                    type="checkbox"
                    aria-label=format!("Select the comment by {author}")
                    prop:checked=move || selected.with(|s| s.contains(&id))
                    on:change=move |_| toggle.run(id)
                />
                <strong class="tb-author">{comment.author.clone()}</strong>
                {comment.email.clone().map(|e| view! { <span class="tb-email">{e}</span> })}
                {comment.website.clone().map(|w| view! { <span class="tb-website">{w}</span> })}
                {comment.ip.clone().map(|ip| view! { <span class="tb-ip">{ip}</span> })}
                <time>{local_time(comment.created)}</time>
                {pinned.then(|| view! { <span class="tb-flag">"Pinned"</span> })}
                {locked.then(|| view! { <span class="tb-flag">"Thread locked"</span> })}
                <span class=format!("tb-status tb-status-{}", status_words(status).to_lowercase())>
                    {status_words(status)}
                </span>
            </div>
            <p class="tb-page">
                "On "
                {match comment.page_url.clone() {
                    Some(url) => view! {
                        <a href=url target="_blank" rel="noopener noreferrer">{page_name}</a>
                    }
                    .into_any(),
                    None => view! { <span>{page_name}</span> }.into_any(),
                }}
                " · " {comment.site.clone()}
            </p>
            {comment.parent.clone().map(|p| view! {
                <p class="tb-parent">"In reply to " <strong>{p.author}</strong> ": " {p.excerpt}</p>
            })}
            {move || if editing.get() {
                view! {
                    <form class="tb-edit" on:submit=save_edit>
                        <label for=format!("tb-edit-{id}")>"New text"</label>
                        <textarea id=format!("tb-edit-{id}") rows="4" prop:value=move || draft.get() on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                        <button type="submit">"Save"</button>
                        <button type="button" class="tb-quiet" on:click=move |_| editing.set(false)>"Cancel"</button>
                    </form>
                }.into_any()
            } else {
                view! { <p class="tb-text">{draft.get()}</p> }.into_any()
            }}
            {(!comment.held_for.is_empty()).then(|| view! {
                <ul class="tb-reasons" aria-label="Why it was held">
                    {comment.held_for.iter().map(|r| view! { <li>{r.text.clone()}</li> }).collect_view()}
                </ul>
            })}
            <div class="tb-actions">
                <button type="button" on:click=move |_| act_here(ModAction::Approve)>"Approve"</button>
                <button type="button" on:click=move |_| act_here(ModAction::Spam)>"Spam"</button>
                <button type="button" class="tb-danger" on:click=move |_| act_here(ModAction::Delete)>
                    "Delete"
                </button>
                {top_level.then(|| view! {
                    <button type="button" class="tb-quiet" on:click=move |_| act_here(if pinned { ModAction::Unpin } else { ModAction::Pin })>
                        {if pinned { "Unpin" } else { "Pin to top" }}
                    </button>
                })}
                <button type="button" class="tb-quiet" on:click=move |_| editing.set(true)>"Edit"</button>
                <button type="button" class="tb-quiet" on:click=toggle_lock>
                    {if locked { "Unlock thread" } else { "Lock thread" }}
                </button>
                <button type="button" class="tb-quiet" aria-expanded=move || banning.get().to_string() on:click=move |_| banning.update(|b| *b = !*b)>"Ban…"</button>
            </div>
            {move || banning.get().then(|| view! {
                <form class="tb-ban" on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); ban.run(()); }>
                    <label>
                        "Ban by"
                        <select prop:value=move || ban_by.get() on:change=move |ev| ban_by.set(event_target_value(&ev))>
                            <option value="email">"E-mail"</option>
                            <option value="name">"Name"</option>
                            <option value="ip">"Address (IPv6: its /64)"</option>
                        </select>
                    </label>
                    <label>
                        "For"
                        <select prop:value=move || ban_for.get() on:change=move |ev| ban_for.set(event_target_value(&ev))>
                            <option value="1d">"A day"</option>
                            <option value="7d">"A week"</option>
                            <option value="30d">"30 days"</option>
                            <option value="ever">"Ever"</option>
                        </select>
                    </label>
                    {tools.owner.then(|| view! {
                        <label>
                            "On"
                            <select prop:value=move || ban_where.get() on:change=move |ev| ban_where.set(event_target_value(&ev))>
                                <option value="site">{format!("{ban_site} only")}</option>
                                <option value="all">"Every site"</option>
                            </select>
                        </label>
                    })}
                    <button type="submit" class="tb-danger">"Ban"</button>
                </form>
            })}
        </article>
    }
}
