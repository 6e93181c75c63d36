//! The widget's components: the thread, each comment, the forms and comment bodies.
//!
//! Size rule: every distinct view type instantiates Leptos' rendering code again, so
//! conditional parts go through [`either`]/[`when`] and lists through [`comment_list`], which
//! erase the types behind `AnyView` once instead of once per use (`<Show>` and per-site
//! closures had made up a fifth of the WASM).
#![allow(unreachable_pub, reason = "#[component] generates pub props structs")]

mod avatar;
mod body;
mod comment;
mod form;

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::Sort;
use talkback_api::i18n::fill;

use crate::client;
use crate::config::WidgetConfig;
use crate::state::{Node, ThreadState, now_ms};

type Cond = Box<dyn Fn() -> bool + Send + Sync>;
type Make = Arc<dyn Fn() -> AnyView + Send + Sync>;

/// `yes` while `cond` holds, else `no`; built again only when `cond` flips.
pub(crate) fn either(
    cond: impl Fn() -> bool + Send + Sync + 'static,
    yes: impl Fn() -> AnyView + Send + Sync + 'static,
    no: impl Fn() -> AnyView + Send + Sync + 'static,
) -> AnyView {
    either_erased(Box::new(cond), Arc::new(yes), Arc::new(no))
}

fn either_erased(cond: Cond, yes: Make, no: Make) -> AnyView {
    let shown = Memo::new(move |_| cond());
    (move || if shown.get() { yes() } else { no() }).into_any()
}

/// `child` while `cond` holds.
pub(crate) fn when(
    cond: impl Fn() -> bool + Send + Sync + 'static,
    child: impl Fn() -> AnyView + Send + Sync + 'static,
) -> AnyView {
    either(cond, child, || ().into_any())
}

/// A message in `message`, announced as an alert while it is set.
pub(crate) fn alert(message: RwSignal<Option<String>>) -> AnyView {
    (move || {
        message.get().map_or_else(
            || ().into_any(),
            |e| view! { <p class="tb-error" role="alert">{e}</p> }.into_any(),
        )
    })
    .into_any()
}

/// Comments, keyed by id so posting or paging never re-renders the ones already shown.
pub(crate) fn comment_list(items: Signal<Vec<Node>>) -> AnyView {
    view! { <For each=move || items.get() key=|n: &Node| n.id children=comment::comment_view /> }
        .into_any()
}

/// The thread: header with the count, the comments, paging and the reply form.
#[component]
pub(crate) fn Thread(
    config: WidgetConfig,
    #[prop(optional)] on_ready: Option<Callback<()>>,
    /// The element the embed script hands live events to (`tbLive`); none in Leptos apps.
    #[prop(optional)]
    live: Option<web_sys::HtmlElement>,
) -> impl IntoView {
    let strings = config.strings();
    let st = ThreadState::new(config);
    provide_context(st);
    set_interval(
        move || st.now.set(now_ms()),
        std::time::Duration::from_secs(5),
    );

    let load = move |more: bool| {
        st.loading.set(true);
        let cursor = if more {
            st.next_cursor.get_untracked()
        } else {
            None
        };
        let prefetched = crate::PREFETCHED.take();
        spawn_local(async move {
            // What the embed script fetched, else (none, or it failed) a read of our own.
            let early = match prefetched {
                Some(parsed) => client::prefetched(parsed).await,
                None => None,
            };
            let result = match early {
                Some(thread) => Ok(thread),
                None => client::thread(&st.cfg(), st.sort.get_untracked(), cursor).await,
            };
            match result {
                Ok(thread) => {
                    st.load_error.set(None);
                    st.total.set(thread.total);
                    if st.title.get_untracked().is_none() {
                        st.title.set(thread.title);
                    }
                    st.next_cursor.set(thread.next_cursor);
                    st.closed.set(thread.closed);
                    st.mail.set(thread.mail);
                    if more {
                        st.append(thread.comments);
                    } else {
                        st.reset(thread.comments);
                        st.show_held();
                    }
                }
                Err(e) => st
                    .load_error
                    .set(Some(format!("{} ({e})", strings.load_error))),
            }
            st.loading.set(false);
            if let Some(ready) = on_ready {
                ready.run(());
            }
        });
    };
    load(false);
    // Comments that arrive live become nodes as the thread's own code: nodes made under the
    // "Show new comments" button would be disposed with it.
    let owner = Owner::current().unwrap_or_default();
    if let Some(root) = live {
        // The embed script follows the thread (Server-Sent Events) and calls this with each
        // event's parsed `data`.
        let owner = owner.clone();
        let on_event = wasm_bindgen::closure::Closure::<dyn Fn(wasm_bindgen::JsValue)>::new(
            move |event: wasm_bindgen::JsValue| {
                let field = |name: &str| js_sys::Reflect::get(&event, &name.into()).ok();
                let kind = field("kind")
                    .and_then(|k| k.as_string())
                    .unwrap_or_default();
                let comment = field("comment").and_then(crate::json::from_js);
                let id = field("id")
                    .and_then(|id| id.as_f64())
                    .map(|id| talkback_api::CommentId(id as u64));
                if owner.with(|| st.apply_live(&kind, comment, id)) {
                    load(false);
                }
            },
        );
        let _ = js_sys::Reflect::set(&root, &"tbLive".into(), on_event.as_ref());
        on_event.forget();
    }

    let heading = move || strings.count_heading(st.total.get(), st.title.get().as_deref());
    let on_sort = move |ev: leptos::ev::Event| {
        let sort = if event_target_value(&ev) == "newest" {
            Sort::Newest
        } else {
            Sort::Oldest
        };
        st.sort.set(sort);
        load(false);
    };

    view! {
        <section class="tb-thread" class:tb-closed=move || st.closed.get() aria-label=strings.comments_region>
            <header class="tb-head" part="header">
                <h2 class="tb-count">{heading}</h2>
                <label class="tb-sort">
                    <span class="tb-sr">{strings.sort_label}</span>
                    <select part="select" on:change=on_sort>
                        <option value="oldest" selected=move || st.sort.get() == Sort::Oldest>{strings.oldest}</option>
                        <option value="newest" selected=move || st.sort.get() == Sort::Newest>{strings.newest}</option>
                    </select>
                </label>
            </header>
            <div class="tb-sr" aria-live="polite" role="status">{move || st.announce.get()}</div>
            {alert(st.load_error)}
            {when(move || !st.incoming.with(Vec::is_empty), move || view! {
                <p>
                    <button type="button" class="tb-btn" on:click={let owner = owner.clone(); move |_| owner.with(|| st.show_incoming())}>
                        {move || fill(strings.show_new, &[("n", &st.incoming.with(Vec::len).to_string())])}
                    </button>
                </p>
            }.into_any())}
            <ol class="tb-list">{comment_list(st.top.into())}</ol>
            {when(move || st.next_cursor.get().is_some(), move || view! {
                <p class="tb-more">
                    <button type="button" class="tb-btn" part="button" disabled=move || st.loading.get() on:click=move |_| load(true)>
                        {move || if st.loading.get() { strings.loading } else { strings.load_more }}
                    </button>
                </p>
            }.into_any())}
            {either(move || st.closed.get(), move || view! {
                <p class="tb-notice" role="status">{strings.comments_closed}</p>
            }.into_any(), move || view! { <form::CommentForm parent=None /> }.into_any())}
        </section>
    }
}
