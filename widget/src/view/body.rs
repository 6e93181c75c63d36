//! Comment bodies: the document tree turned into Leptos nodes. Text is always set as text;
//! links are re-checked to be http, https or mailto.
//!
//! Every element is built with one generic element type (`custom(tag)` with `AnyView`
//! children) rather than a `view!` per tag: one instantiation of Leptos' rendering code
//! instead of a dozen.

use leptos::html::custom;
use leptos::prelude::*;
use talkback_api::{Block, Inline};

pub(crate) fn blocks(blocks: &[Block]) -> Vec<AnyView> {
    blocks.iter().map(block).collect()
}

fn el(tag: &'static str, children: Vec<AnyView>) -> AnyView {
    custom(tag).child(children).into_any()
}

fn text(text: &str) -> AnyView {
    text.to_owned().into_any()
}

fn list_items(items: &[talkback_api::ListItem]) -> Vec<AnyView> {
    items.iter().map(|i| el("li", blocks(&i.0))).collect()
}

fn block(block: &Block) -> AnyView {
    match block {
        Block::Paragraph(i) => el("p", inlines(i)),
        Block::Heading(i) => el("p", vec![el("strong", inlines(i))]),
        Block::CodeBlock(t) => el("pre", vec![el("code", vec![text(t)])]),
        Block::Quote(b) => el("blockquote", blocks(b)),
        Block::List { start: None, items } => el("ul", list_items(items)),
        // Like the server's renderer, so first paint and widget build the same DOM.
        Block::List {
            start: Some(1),
            items,
        } => el("ol", list_items(items)),
        Block::List {
            start: Some(n),
            items,
        } => custom("ol")
            .attr("start", n.to_string())
            .child(list_items(items))
            .into_any(),
        Block::Rule => el("hr", Vec::new()),
    }
}

fn inlines(inlines: &[Inline]) -> Vec<AnyView> {
    inlines
        .iter()
        .map(|inline| match inline {
            Inline::Text(t) => text(t),
            Inline::Code(t) => el("code", vec![text(t)]),
            Inline::Emph(c) => el("em", self::inlines(c)),
            Inline::Strong(c) => el("strong", self::inlines(c)),
            Inline::Strike(c) => el("del", self::inlines(c)),
            Inline::Link { href, children }
                if talkback_api::has_scheme(href, &talkback_api::LINK_SCHEMES) =>
            {
                custom("a")
                    .attr("href", href.clone())
                    .attr("rel", "nofollow ugc noopener noreferrer")
                    .attr("target", "_blank")
                    .child(self::inlines(children))
                    .into_any()
            }
            Inline::Link { children, .. } => self::inlines(children).into_any(),
            Inline::LineBreak => el("br", Vec::new()),
        })
        .collect()
}
