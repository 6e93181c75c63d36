//! The widget's components: the thread, each comment, the forms and comment bodies.
#![allow(unreachable_pub, reason = "#[component] generates pub props structs")]

mod avatar;
mod body;
mod comment;
mod form;

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::Sort;

use crate::client;
use crate::config::WidgetConfig;
use crate::state::{ThreadState, now_ms};

/// The thread: header with the count, the comments, paging and the reply form.
#[component]
pub(crate) fn Thread(
    config: WidgetConfig,
    #[prop(optional)] on_ready: Option<Callback<()>>,
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
        spawn_local(async move {
            let result = client::thread(&st.cfg(), st.sort.get_untracked(), cursor).await;
            match result {
                Ok(thread) => {
                    st.load_error.set(None);
                    st.total.set(thread.total);
                    if st.title.get_untracked().is_none() {
                        st.title.set(thread.title);
                    }
                    st.next_cursor.set(thread.next_cursor);
                    if more {
                        st.append(thread.comments);
                    } else {
                        st.reset(thread.comments);
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
        <section class="tb-thread" aria-label=strings.comments_region>
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
            {move || st.load_error.get().map(|e| view! { <p class="tb-error" role="alert">{e}</p> })}
            <ol class="tb-list">
                <For each=move || st.top.get() key=|n| n.id let:node>
                    {comment::comment_view(node, 0, None)}
                </For>
            </ol>
            <Show when=move || st.next_cursor.get().is_some()>
                <p class="tb-more">
                    <button type="button" class="tb-btn" part="button" disabled=move || st.loading.get() on:click=move |_| load(true)>
                        {move || if st.loading.get() { strings.loading } else { strings.load_more }}
                    </button>
                </p>
            </Show>
            <form::CommentForm parent=None />
        </section>
    }
}
