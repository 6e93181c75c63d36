//! Talkback's comment widget: Leptos components rendered client-side from WASM.
//!
//! Two ways in: the embed script (`embed.js`) calls [`mount`] with a shadow root's container,
//! and Leptos apps use the [`Talkback`] component directly. Comment bodies arrive as the
//! document tree from `talkback-api` and become DOM nodes through Leptos views; nothing a
//! reader wrote is ever parsed as HTML here.

mod client;
mod config;
mod json;
mod state;
mod storage;
mod view;

use leptos::prelude::*;
use wasm_bindgen::prelude::*;

pub use config::WidgetConfig;

/// The widget's stylesheet. The embed script puts it in the shadow root; Leptos apps get it
/// from [`Talkback`].
pub const STYLESHEET: &str = include_str!("../style/talkback.css");

thread_local! {
    /// The thread's first page, parsed, from a request the embed script started while the
    /// widget loaded.
    static PREFETCHED: std::cell::Cell<Option<js_sys::Promise>> = const { std::cell::Cell::new(None) };
}

/// Entry point for the embed script: mounts the widget into `container` (inside the host's
/// shadow root), replacing `prerender` (the server-rendered first paint) once data arrives.
/// `first`: the thread's first page, parsed, already on its way.
#[wasm_bindgen]
pub fn mount(
    container: web_sys::HtmlElement,
    prerender: Option<web_sys::HtmlElement>,
    config: JsValue,
    first: Option<js_sys::Promise>,
) -> Result<(), JsValue> {
    let config: WidgetConfig = json::from_js(config).ok_or("talkback: bad config")?;
    // The thread's first read (made as the widget mounts, below) takes it.
    PREFETCHED.set(first);
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("talkback: no document")?;
    let app: web_sys::HtmlElement = document.create_element("div")?.unchecked_into();
    app.set_class_name("tb-app");
    if prerender.is_some() {
        app.set_hidden(true);
    }
    container.append_child(&app)?;
    let shown = app.clone();
    let live = container.clone();
    let on_ready = Callback::new(move |()| {
        if let Some(pre) = &prerender {
            pre.remove();
        }
        shown.set_hidden(false);
    });
    leptos::mount::mount_to(
        app,
        move || view! { <view::Thread config=config on_ready=on_ready live=live /> },
    )
    .forget();
    Ok(())
}

/// The comment thread of one page, for Leptos apps.
///
/// ```ignore
/// use leptos::prelude::*;
/// use talkback_widget::Talkback;
///
/// view! { <Talkback api="https://comments.example.com" site="myblog" page="/2024/hello" title="Hello" /> }
/// ```
///
/// It brings its own stylesheet (classes are prefixed `tb-`); theme it with the
/// `--talkback-*` custom properties documented in the README.
#[component]
pub fn Talkback(
    /// Base URL of the Talkback server, e.g. `https://comments.example.com`.
    #[prop(into)]
    api: String,
    /// The site id configured on the server.
    #[prop(into)]
    site: String,
    /// The page key; normally the post's path.
    #[prop(into)]
    page: String,
    /// Title shown in "16 Responses to “Title”".
    #[prop(optional, into)]
    title: Option<String>,
    /// Language tag (en, de, fr, es); English by default.
    #[prop(optional, into)]
    lang: Option<String>,
    /// "light" or "dark"; light by default.
    #[prop(optional, into)]
    theme: Option<String>,
) -> impl IntoView {
    let config = WidgetConfig {
        api: api.trim_end_matches('/').to_owned(),
        site,
        page,
        title,
        url: None,
        lang: lang.unwrap_or_else(|| "en".into()),
    };
    view! {
        <div class="tb-root" data-tb-theme=theme.unwrap_or_else(|| "light".into())>
            <style>{crate::STYLESHEET}</style>
            <view::Thread config=config />
        </div>
    }
}
