//! Comment bodies: the document tree turned into Leptos nodes. Text is always set as text;
//! links are re-checked to be http, https or mailto.

use leptos::prelude::*;
use talkback_api::{Block, Inline};

pub(crate) fn blocks(blocks: &[Block]) -> Vec<AnyView> {
    blocks.iter().map(block).collect()
}

fn block(block: &Block) -> AnyView {
    match block {
        Block::Paragraph(i) => view! { <p>{inlines(i)}</p> }.into_any(),
        Block::Heading(i) => view! { <p><strong>{inlines(i)}</strong></p> }.into_any(),
        Block::CodeBlock(text) => view! { <pre><code>{text.clone()}</code></pre> }.into_any(),
        Block::Quote(b) => view! { <blockquote>{blocks(b)}</blockquote> }.into_any(),
        Block::List { start: None, items } => {
            let items: Vec<_> = items
                .iter()
                .map(|i| view! { <li>{blocks(&i.0)}</li> })
                .collect();
            view! { <ul>{items}</ul> }.into_any()
        }
        Block::List {
            start: Some(n),
            items,
        } => {
            let items: Vec<_> = items
                .iter()
                .map(|i| view! { <li>{blocks(&i.0)}</li> })
                .collect();
            view! { <ol start=n.to_string()>{items}</ol> }.into_any()
        }
        Block::Rule => view! { <hr /> }.into_any(),
    }
}

fn safe_href(href: &str) -> bool {
    let lower = href.to_ascii_lowercase();
    ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
}

fn inlines(inlines: &[Inline]) -> Vec<AnyView> {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => t.clone().into_any(),
            Inline::Code(t) => view! { <code>{t.clone()}</code> }.into_any(),
            Inline::Emph(c) => view! { <em>{self::inlines(c)}</em> }.into_any(),
            Inline::Strong(c) => view! { <strong>{self::inlines(c)}</strong> }.into_any(),
            Inline::Strike(c) => view! { <del>{self::inlines(c)}</del> }.into_any(),
            Inline::Link { href, children } if safe_href(href) => view! {
                <a href=href.clone() rel="nofollow ugc noopener noreferrer" target="_blank">{self::inlines(children)}</a>
            }
            .into_any(),
            Inline::Link { children, .. } => self::inlines(children).into_any(),
            Inline::LineBreak => view! { <br /> }.into_any(),
        })
        .collect()
}
