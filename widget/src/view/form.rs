//! The "Leave a Reply" form and the inline reply form: Markdown hint, preview, inline errors
//! from the server's codes, a draft that survives reloads and failed requests, and the
//! reader's name, e-mail and website remembered for next time.

use leptos::prelude::*;
use leptos::task::spawn_local;
use talkback_api::i18n::fill;
use talkback_api::{Block, CommentId, CreateComment, Field, FollowUps};

use super::{body, when};
use crate::client::{self, FetchError};
use crate::state::ThreadState;
use crate::storage::{self, Draft, IDENTITY_KEY, Identity, OwnComment};

// The embed script's side of anti-spam, found from the form's text field: the proof of work it
// solved while the reader typed (each is used once), marked when the form's honeypot was
// filled in.
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = talkbackProof)]
    fn talkback_proof(
        field: &web_sys::HtmlTextAreaElement,
    ) -> Result<js_sys::Promise, wasm_bindgen::JsValue>;
}

/// The proof to send; `None` without the embed script (a Leptos app: the server then counts
/// the comment as a script's).
async fn proof(field: Option<web_sys::HtmlTextAreaElement>) -> Option<String> {
    let solving = talkback_proof(&field?).ok()?;
    wasm_bindgen_futures::JsFuture::from(solving)
        .await
        .ok()?
        .as_string()
}

#[component]
pub(crate) fn CommentForm(parent: Option<CommentId>) -> impl IntoView {
    let st = expect_context::<ThreadState>();
    let cfg = st.cfg();
    let strings = cfg.strings();
    let draft_key = StoredValue::new(format!(
        "{}:draft:{}",
        cfg.storage_scope(),
        parent.map_or(0, |p| p.0)
    ));
    let remembered: Identity = storage::load(IDENTITY_KEY).unwrap_or_default();
    let draft: Draft = draft_key.with_value(|k| storage::load(k)).unwrap_or(Draft {
        identity: remembered,
        body: String::new(),
    });

    let name = RwSignal::new(draft.identity.name);
    let email = RwSignal::new(draft.identity.email);
    let website = RwSignal::new(draft.identity.website);
    let text = RwSignal::new(draft.body);
    // "Notify me of follow-up comments": unticked until the reader ticks it.
    let notify = RwSignal::new(false);
    let whole_thread = RwSignal::new(false);
    let name_err = RwSignal::new(None::<String>);
    let email_err = RwSignal::new(None::<String>);
    let website_err = RwSignal::new(None::<String>);
    let body_err = RwSignal::new(None::<String>);
    let form_err = RwSignal::new(None::<String>);
    let can_retry = RwSignal::new(false);
    let busy = RwSignal::new(false);
    let previewing = RwSignal::new(false);
    let preview = RwSignal::new(None::<Vec<Block>>);

    let identity = move || Identity {
        name: name.get_untracked(),
        email: email.get_untracked(),
        website: website.get_untracked(),
    };
    let save_draft = move || {
        draft_key.with_value(|k| {
            storage::save(
                k,
                &Draft {
                    identity: identity(),
                    body: text.get_untracked(),
                },
            )
        })
    };

    let show_error = move |e: FetchError| match e {
        FetchError::Network => {
            form_err.set(Some(strings.network_error.to_owned()));
            can_retry.set(true);
        }
        FetchError::Api(body) => {
            let target = match body.error.field() {
                Some(Field::Name) => name_err,
                Some(Field::Email) => email_err,
                Some(Field::Website) => website_err,
                Some(Field::Body) => body_err,
                None => form_err,
            };
            target.set(Some(body.message));
        }
        other => form_err.set(Some(other.to_string())),
    };

    let textarea = NodeRef::<leptos::html::Textarea>::new();
    let submit = move || {
        if busy.get_untracked() {
            return;
        }
        for e in [name_err, email_err, website_err, body_err, form_err] {
            e.set(None);
        }
        can_retry.set(false);
        busy.set(true);
        let cfg = st.cfg();
        let source = text.get_untracked();
        let id = identity();
        let some = |s: String| (!s.trim().is_empty()).then_some(s);
        let field = textarea.get_untracked();
        let mut request = CreateComment {
            site: cfg.site.clone(),
            page: cfg.page.clone(),
            title: st.title.get_untracked().or_else(|| cfg.title.clone()),
            url: cfg.url.clone(),
            parent,
            author: some(id.name.clone()),
            email: some(id.email.clone()),
            website: some(id.website.clone()),
            body: source.clone(),
            proof: None,
            trap: None,
            notify: if whole_thread.get_untracked() {
                Some(FollowUps::Thread)
            } else {
                notify.get_untracked().then_some(FollowUps::Replies)
            }
            .filter(|_| id.email.trim() != ""),
        };
        spawn_local(async move {
            request.proof = proof(field).await;
            match client::create(&cfg, &request).await {
                Ok(created) => {
                    let new_id = created.comment.id;
                    let pending = created.comment.pending;
                    storage::save(IDENTITY_KEY, &id);
                    draft_key.with_value(|k| storage::remove(k));
                    text.set(String::new());
                    previewing.set(false);
                    st.remember_own(
                        new_id,
                        Some(OwnComment {
                            id: new_id.0,
                            key: created.edit_key,
                            until: created.editable_until,
                            source,
                            held: pending,
                        }),
                    );
                    st.insert_new(created.comment);
                    if parent.is_some() {
                        st.replying_to.set(None);
                    }
                    st.highlight.set(Some(new_id));
                    st.announce.set(
                        if pending {
                            strings.awaiting_moderation
                        } else {
                            strings.posted
                        }
                        .to_owned(),
                    );
                    set_timeout(
                        move || {
                            if st.highlight.get_untracked() == Some(new_id) {
                                st.highlight.set(None);
                            }
                        },
                        std::time::Duration::from_millis(2500),
                    );
                }
                Err(e) => show_error(e),
            }
            busy.set(false);
        });
    };

    let show_preview = move |_| {
        previewing.set(true);
        body_err.set(None);
        let source = text.get_untracked();
        if source.trim().is_empty() {
            preview.set(Some(Vec::new()));
            return;
        }
        preview.set(None);
        spawn_local(async move {
            match client::preview(&st.cfg(), &source).await {
                Ok(p) => preview.set(Some(p.body)),
                Err(e) => {
                    previewing.set(false);
                    show_error(e);
                }
            }
        });
    };

    if parent.is_some() {
        // An inline reply form takes the focus when it opens.
        Effect::new(move |_| {
            if let Some(t) = textarea.get() {
                let _ = t.focus();
            }
        });
    }

    let uid = parent.map_or_else(|| "top".to_owned(), |p| p.to_string());
    let uid = StoredValue::new(uid);
    let field_id = move |f: &str| uid.with_value(|u| format!("tb-{f}-{u}"));
    let heading = match parent.and_then(|p| st.find(p)) {
        Some(node) => fill(
            strings.reply_to,
            &[("name", &super::comment::display_name(node, strings))],
        ),
        None => strings.leave_reply.to_owned(),
    };
    let error_line = move |err: RwSignal<Option<String>>, id: String| {
        move || {
            err.get()
                .map(|e| view! { <p class="tb-field-error" id=id.clone()>{e}</p> })
        }
    };
    let input = move |label: &'static str,
                      note: Option<&'static str>,
                      kind: &'static str,
                      sig: RwSignal<String>,
                      err: RwSignal<Option<String>>,
                      key: &str,
                      autocomplete: &'static str| {
        let id = field_id(key);
        let err_id = format!("{id}-error");
        view! {
            <p class="tb-field">
                <label for=id.clone()>{label} {note.map(|n| view! { " " <span class="tb-note">{n}</span> })}</label>
                <input id=id type=kind part="input" autocomplete=autocomplete prop:value=move || sig.get()
                    aria-invalid=move || err.get().is_some().to_string() aria-describedby=err_id.clone()
                    on:input=move |ev| { sig.set(event_target_value(&ev)); save_draft(); } />
                {error_line(err, err_id.clone())}
            </p>
        }
    };

    // One view type for both boxes: each distinct view costs the WASM its rendering code.
    let check = move |label: &'static str, ticked: RwSignal<bool>| {
        view! {
            <label><input type="checkbox" prop:checked=move || ticked.get()
                on:change=move |ev| ticked.set(event_target_checked(&ev)) />" "{label}</label>
        }
    };

    view! {
        <form class=if parent.is_some() { "tb-form tb-form-inline" } else { "tb-form" } part="form" novalidate
            on:submit=move |ev| { ev.prevent_default(); submit(); }>
            <div class="tb-form-head">
                <h3 class="tb-form-title">{heading}</h3>
                {parent.map(|_| view! {
                    <button type="button" class="tb-btn tb-link" on:click=move |_| st.replying_to.set(None)>{strings.cancel_reply}</button>
                })}
            </div>
            <div class="tb-field tb-field-body">
                <div class="tb-body-head">
                    <label for=field_id("body")>{strings.comment}</label>
                    <span class="tb-tabs">
                        <button type="button" class="tb-btn tb-link" aria-pressed=move || (!previewing.get()).to_string() on:click=move |_| previewing.set(false)>{strings.write}</button>
                        <button type="button" class="tb-btn tb-link" aria-pressed=move || previewing.get().to_string() on:click=show_preview>{strings.preview}</button>
                    </span>
                </div>
                <textarea id=field_id("body") part="textarea" rows="6" node_ref=textarea hidden=move || previewing.get()
                    prop:value=move || text.get()
                    aria-invalid=move || body_err.get().is_some().to_string()
                    aria-describedby=format!("{} {}", field_id("hint"), field_id("body-error"))
                    on:input=move |ev| { text.set(event_target_value(&ev)); save_draft(); }></textarea>
                {when(move || previewing.get(), move || view! {
                    <div class="tb-preview tb-body" part="body" aria-live="polite">
                        {move || match preview.get() {
                            None => view! { <p class="tb-hint">{strings.loading}</p> }.into_any(),
                            Some(b) if b.is_empty() => view! { <p class="tb-hint">{strings.nothing_to_preview}</p> }.into_any(),
                            Some(b) => body::blocks(&b).into_any(),
                        }}
                    </div>
                }.into_any())}
                <p class="tb-hint" id=field_id("hint")>{strings.markdown_hint}</p>
                {error_line(body_err, field_id("body-error"))}
            </div>
            <div class="tb-fields">
                {input(strings.name, None, "text", name, name_err, "name", "name")}
                {input(strings.email, Some(strings.email_note), "email", email, email_err, "email", "email")}
                {input(strings.website, None, "url", website, website_err, "website", "url")}
            </div>
            {when(move || st.mail.get() && !email.get().trim().is_empty(), move || view! {
                <p class="tb-field tb-notify">{check(strings.notify_replies, notify)}{check(strings.notify_thread, whole_thread)}</p>
            }.into_any())}
            {move || form_err.get().map_or_else(|| ().into_any(), |e| view! {
                <p class="tb-error" role="alert">
                    {e}
                    {when(move || can_retry.get(), move || view! {
                        " " <button type="button" class="tb-btn" on:click=move |_| submit()>{strings.retry}</button>
                    }.into_any())}
                </p>
            }.into_any())}
            <p class="tb-submit">
                <button type="submit" class="tb-btn tb-primary" part="button" disabled=move || busy.get()>
                    {move || if busy.get() { strings.posting } else { strings.post }}
                </button>
            </p>
        </form>
    }
}
