//! Talkback's moderation dashboard: a Leptos app rendered client-side from WASM, served at
//! `/admin` on the server's own origin. It signs in, then shows the queue (pending and spam
//! across the sites the account may see) and search over every comment, with decisions on
//! one or many comments from buttons or the keyboard (j/k move, x selects, a/s/d approve,
//! spam, delete, / searches).
//!
//! Comment text is untrusted: it only ever becomes text nodes here, never HTML.

mod api;
mod queue;

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::admin::SessionInfo;
use wasm_bindgen::prelude::*;

/// Entry point: mounts the dashboard into `<main id="talkback-admin">`.
#[wasm_bindgen(start)]
pub fn start() {
    let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("talkback-admin"))
    else {
        return;
    };
    let root: web_sys::HtmlElement = root.unchecked_into();
    root.set_inner_html("");
    leptos::mount::mount_to(root, App).forget();
}

/// Where the app is: finding out, signed out, or signed in as someone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Loading,
    SignedOut,
    SignedIn(SessionInfo),
}

#[component]
fn App() -> impl IntoView {
    let phase = RwSignal::new(Phase::Loading);
    spawn_local(async move {
        phase.set(match api::session().await {
            Ok(info) => Phase::SignedIn(info),
            Err(_) => Phase::SignedOut,
        });
    });
    let signed_out = Callback::new(move |()| phase.set(Phase::SignedOut));
    let signed_in = Callback::new(move |info: SessionInfo| phase.set(Phase::SignedIn(info)));
    move || match phase.get() {
        Phase::Loading => view! { <p class="tb-loading">"Loading…"</p> }.into_any(),
        Phase::SignedOut => view! { <SignInForm on_signed_in=signed_in /> }.into_any(),
        Phase::SignedIn(info) => {
            view! { <queue::Dashboard session=info on_signed_out=signed_out /> }.into_any()
        }
    }
}

#[component]
fn SignInForm(on_signed_in: Callback<SessionInfo>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (n, p) = (name.get_untracked(), password.get_untracked());
        spawn_local(async move {
            match api::sign_in(n, p).await {
                Ok(info) => on_signed_in.run(info),
                Err(failure) => {
                    error.set(Some(failure.message));
                    password.set(String::new());
                }
            }
            busy.set(false);
        });
    };
    view! {
        <section class="tb-signin" aria-labelledby="tb-signin-title">
            <h1 id="tb-signin-title">"Talkback moderation"</h1>
            <form on:submit=submit>
                <label for="tb-username">"Username"</label>
                <input
                    id="tb-username"
                    name="username"
                    autocomplete="username"
                    required
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <label for="tb-password">"Password"</label>
                <input
                    id="tb-password"
                    name="password"
                    type="password"
                    autocomplete="current-password"
                    required
                    prop:value=move || password.get()
                    on:input=move |ev| password.set(event_target_value(&ev))
                />
                {move || error.get().map(|e| view! { <p class="tb-error" role="alert">{e}</p> })}
                <button type="submit" prop:disabled=move || busy.get()>
                    "Sign in"
                </button>
            </form>
        </section>
    }
}
