//! One comment with its actions (reply, and edit/delete for the reader's own comments while
//! the edit window lasts), its inline reply form and its replies.

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::i18n::{Strings, fill};
use talkback_api::limits::{COLLAPSE_REPLIES_OVER, COLLAPSED_REPLIES_SHOWN, VISUAL_DEPTH};
use wasm_bindgen::JsValue;

use super::avatar::avatar;
use super::form::CommentForm;
use super::{alert, body, comment_list, either, when};
use crate::client::{self, FetchError};
use crate::state::{Node, ThreadState};

/// The reader's local rendering of an exact time, for the hover title.
fn exact_time(ms: i64, lang: &str) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms as f64));
    String::from(date.to_locale_string(lang, &JsValue::UNDEFINED))
}

fn error_text(e: &FetchError, network: &str) -> String {
    match e {
        FetchError::Network => network.to_owned(),
        other => other.to_string(),
    }
}

/// The name shown for a comment's author (the one rule of `Strings::author_name`).
pub(crate) fn display_name(node: Node, strings: &Strings) -> String {
    node.data
        .with_untracked(|d| strings.author_name(&d.author, d.deleted).to_owned())
}

/// A comment. Replies below the nesting cap are listed flat: they show "in reply to NAME"
/// and never list replies of their own.
pub(crate) fn comment_view(node: Node) -> AnyView {
    let st = expect_context::<ThreadState>();
    let cfg = st.cfg();
    let strings = cfg.strings();
    let id = node.id;
    let flat_item = node.depth >= VISUAL_DEPTH;
    let in_reply_to = if flat_item {
        node.parent
            .and_then(|p| st.find(p))
            .map(|p| display_name(p, strings))
    } else {
        None
    };
    let card = NodeRef::<leptos::html::Article>::new();
    Effect::new(move |_| {
        if st.highlight.get() == Some(id)
            && let Some(el) = card.get()
        {
            let options = web_sys::ScrollIntoViewOptions::new();
            options.set_block(web_sys::ScrollLogicalPosition::Center);
            options.set_behavior(web_sys::ScrollBehavior::Smooth);
            el.scroll_into_view_with_scroll_into_view_options(&options);
            let _ = el.focus();
        }
    });
    let editing = RwSignal::new(false);
    let confirming = RwSignal::new(false);
    let action_error = RwSignal::new(None::<String>);
    let edit_text = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let can_edit = Memo::new(move |_| st.own_comment(id).is_some_and(|o| o.until > st.now.get()));
    let yes_button = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if confirming.get()
            && let Some(b) = yes_button.get()
        {
            let _ = b.focus();
        }
    });

    let start_edit = move |_| {
        if let Some(own) = st.own_comment(id) {
            edit_text.set(own.source);
            action_error.set(None);
            editing.set(true);
        }
    };
    let save_edit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some(mut own) = st.own_comment(id) else {
            return;
        };
        let text = edit_text.get_untracked();
        busy.set(true);
        spawn_local(async move {
            match client::edit(&st.cfg(), id, &own.key, &text).await {
                Ok(response) => {
                    own.held = response.comment.pending;
                    node.data.update(|d| {
                        d.body = response.comment.body;
                        d.edited = response.comment.edited;
                        d.pending = own.held;
                    });
                    own.source = text;
                    st.remember_own(id, Some(own));
                    editing.set(false);
                    if let Some(el) = card.get_untracked() {
                        let _ = el.focus();
                    }
                }
                Err(e) => action_error.set(Some(error_text(&e, strings.network_error))),
            }
            busy.set(false);
        });
    };
    let do_delete = move |_| {
        let Some(own) = st.own_comment(id) else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            match client::delete(&st.cfg(), id, &own.key).await {
                Ok(response) => {
                    st.remember_own(id, None);
                    // Unless its live event took it away (or made it a tombstone) first, or
                    // it was never counted (awaiting moderation).
                    if st.find(id).is_some() && node.data.with_untracked(ThreadState::counted) {
                        st.total.update(|t| *t = t.saturating_sub(1));
                    }
                    if response.tombstone {
                        node.data.update(|d| {
                            d.deleted = true;
                            d.author.clear();
                            d.website = None;
                            d.body.clear();
                        });
                    } else {
                        st.remove(id);
                    }
                    st.announce.set(strings.deleted_announce.to_owned());
                }
                Err(e) => action_error.set(Some(error_text(&e, strings.network_error))),
            }
            confirming.set(false);
            busy.set(false);
        });
    };

    // The table's own tag, never the page's raw one: toLocaleString throws on tags like "en_US".
    let lang = strings.lang;
    let reply_label = in_reply_to.clone();
    let content = move || {
        let d = node.data.get();
        if d.deleted {
            return view! { <div class="tb-main"><p class="tb-tombstone">{strings.tombstone}</p></div> }.into_any();
        }
        let name = display_name(node, strings);
        let author = match d.website.clone().filter(|w| talkback_api::has_scheme(w, &talkback_api::WEB_SCHEMES)) {
            Some(site) => view! {
                <a class="tb-author" part="author" href=site rel="nofollow ugc noopener" target="_blank">{name.clone()}</a>
            }
            .into_any(),
            None => view! { <span class="tb-author" part="author">{name.clone()}</span> }.into_any(),
        };
        let created = d.created;
        let body = StoredValue::new(d.body.clone());
        let note = |text: String, class: &'static str| {
            view! { " " <span class=class>{text}</span> }.into_any()
        };
        view! {
            {avatar(&d.avatar)}
            <div class="tb-main">
                <header class="tb-meta" part="meta">
                    {author}
                    " "
                    <time class="tb-time" datetime=talkback_api::i18n::rfc3339(created) title=exact_time(created, lang)>
                        {move || strings.relative_time(st.now.get(), created)}
                    </time>
                    {d.pinned.then(|| note(strings.pinned.to_owned(), "tb-pinned"))}
                    {d.edited.map(|_| note(strings.edited_label(d.moderator_edit).to_owned(), "tb-edited"))}
                    {reply_label.clone().map(|p| note(fill(strings.in_reply_to, &[("name", &p)]), "tb-inreply"))}
                    {d.pending.then(|| note(strings.awaiting_moderation.to_owned(), "tb-pending"))}
                </header>
                {either(move || editing.get(), move || view! {
                    <form class="tb-edit" on:submit=save_edit>
                        <label class="tb-sr" for=format!("tb-edit-{id}")>{strings.comment}</label>
                        <textarea id=format!("tb-edit-{id}") part="textarea" rows="4" prop:value=move || edit_text.get()
                            on:input=move |ev| edit_text.set(event_target_value(&ev))></textarea>
                        <p class="tb-row">
                            <button type="submit" class="tb-btn tb-primary" part="button" disabled=move || busy.get()>{strings.save}</button>
                            <button type="button" class="tb-btn" part="button" on:click=move |_| editing.set(false)>{strings.cancel}</button>
                        </p>
                    </form>
                }.into_any(), move || view! {
                    <div class="tb-body" part="body">{body.with_value(|b| body::blocks(b))}</div>
                }.into_any())}
                <footer class="tb-actions">
                    <button type="button" class="tb-btn tb-link tb-reply" aria-expanded=move || (st.replying_to.get() == Some(id)).to_string()
                        on:click=move |_| st.replying_to.set(if st.replying_to.get_untracked() == Some(id) { None } else { Some(id) })>
                        {strings.reply}
                    </button>
                    {when(move || can_edit.get() && !editing.get(), move || view! {
                        <button type="button" class="tb-btn tb-link" on:click=start_edit>{strings.edit}</button>
                        <button type="button" class="tb-btn tb-link" on:click=move |_| confirming.set(true)>{strings.delete}</button>
                        <span class="tb-left">{move || st.own_comment(id).map(|o| strings.time_left(o.until.saturating_sub(st.now.get())))}</span>
                    }.into_any())}
                    {when(move || confirming.get(), move || view! {
                        <span class="tb-confirm" role="group">
                            {strings.confirm_delete} " "
                            <button type="button" class="tb-btn tb-danger" node_ref=yes_button disabled=move || busy.get() on:click=do_delete>{strings.yes_delete}</button>
                            <button type="button" class="tb-btn" on:click=move |_| confirming.set(false)>{strings.cancel}</button>
                        </span>
                    }.into_any())}
                </footer>
                {alert(action_error)}
            </div>
        }
        .into_any()
    };

    view! {
        <li class="tb-comment" id=format!("tb-c{id}")>
            <article
                class=move || if st.highlight.get() == Some(id) { "tb-card tb-highlight" } else { "tb-card" }
                part="comment" tabindex="-1" node_ref=card
            >
                {content}
            </article>
            {when(move || st.replying_to.get() == Some(id), move || view! { <CommentForm parent=Some(id) /> }.into_any())}
            {(!flat_item).then(|| replies_view(node))}
        </li>
    }
    .into_any()
}

/// Every descendant of `node`, in tree order.
fn descendants(node: Node, out: &mut Vec<Node>) {
    for reply in node.replies.get() {
        out.push(reply);
        descendants(reply, out);
    }
}

/// Replies: nested up to the visual depth, then flat; long lists collapse.
fn replies_view(node: Node) -> AnyView {
    let st = expect_context::<ThreadState>();
    let strings = st.config.with_value(|c| c.strings());
    let expanded = RwSignal::new(false);
    let flat = node.depth + 1 >= VISUAL_DEPTH;
    let items = Signal::derive(move || {
        if flat {
            let mut all = Vec::new();
            descendants(node, &mut all);
            all.sort_by_key(|n| n.id);
            all
        } else {
            node.replies.get()
        }
    });
    // A reply the reader just posted is never hidden behind "show more".
    Effect::new(move |_| {
        if let Some(h) = st.highlight.get()
            && items.with(|v| v.iter().any(|n| n.id == h))
        {
            expanded.set(true);
        }
    });
    // Replies the server has not sent yet (only ever on a top-level comment).
    let unsent = move || node.data.with(|d| d.more_replies as usize);
    let hidden = move || {
        let n = items.with(Vec::len);
        if !expanded.get() && n + unsent() > COLLAPSE_REPLIES_OVER {
            n - n.min(COLLAPSED_REPLIES_SHOWN)
        } else {
            0
        }
    };
    let shown = Signal::derive(move || {
        let mut all = items.get();
        all.truncate(all.len() - hidden());
        all
    });
    let show_more = move |_| {
        expanded.set(true);
        let Some(cursor) = node.data.with_untracked(|d| d.replies_cursor.clone()) else {
            return;
        };
        spawn_local(async move {
            if let Ok(more) = client::replies(&st.cfg(), node.id, cursor).await {
                for reply in more.replies {
                    st.attach(reply);
                }
                node.data.update(|d| {
                    d.more_replies = more.more_replies;
                    d.replies_cursor = more.next_cursor;
                });
            }
        });
    };
    when(
        move || items.with(|v| !v.is_empty()),
        move || {
            view! {
                <ol class="tb-replies">{comment_list(shown)}</ol>
                {when(move || hidden() + unsent() > 0, move || view! {
                    <p class="tb-more-replies">
                        <button type="button" class="tb-btn tb-link" on:click=show_more>
                            {move || strings.more_replies(hidden() + unsent())}
                        </button>
                    </p>
                }.into_any())}
            }
            .into_any()
        },
    )
}
