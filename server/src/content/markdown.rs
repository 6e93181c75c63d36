//! Markdown → document tree, done once when a comment is written.
//!
//! pulldown-cmark parses; we keep only the node kinds of [`talkback_api::Block`] and
//! [`talkback_api::Inline`]. Raw HTML becomes literal text, links keep http, https and mailto
//! only, images become links to their source. Size is capped before parsing and nesting depth
//! while building (quotes and lists refused past the cap, inline markup flattened), so no
//! input can make this slow or build a tree too deep to store and read back.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use talkback_api::limits::{MAX_BODY_BYTES, MAX_MARKDOWN_DEPTH};
use talkback_api::{Block, Inline};

use super::tree::{Frame, Kind, TreeBuilder};

/// Why a body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MarkdownError {
    #[error("the comment is empty")]
    Empty,
    #[error("the comment is longer than {MAX_BODY_BYTES} bytes")]
    TooLong,
    #[error("quotes and lists are nested more than {MAX_MARKDOWN_DEPTH} deep")]
    TooDeep,
}

/// Parses a comment body into its document tree.
pub fn parse(source: &str) -> Result<Vec<Block>, MarkdownError> {
    if source.len() > MAX_BODY_BYTES {
        return Err(MarkdownError::TooLong);
    }
    if source.trim().is_empty() {
        return Err(MarkdownError::Empty);
    }
    let mut tree = TreeBuilder::new();
    for event in Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Start(tag) => start(&mut tree, tag)?,
            Event::End(tag) => end(&mut tree, tag),
            Event::Text(t)
            | Event::Html(t)
            | Event::InlineHtml(t)
            | Event::InlineMath(t)
            | Event::DisplayMath(t) => tree.inline(Inline::Text(t.into_string())),
            Event::Code(t) => tree.inline(Inline::Code(t.into_string())),
            Event::FootnoteReference(t) => tree.inline(Inline::Text(format!("[^{t}]"))),
            Event::SoftBreak => tree.inline(Inline::Text("\n".into())),
            Event::HardBreak => tree.inline(Inline::LineBreak),
            Event::TaskListMarker(done) => {
                tree.inline(Inline::Text(if done { "[x] " } else { "[ ] " }.into()))
            }
            Event::Rule => {
                tree.close_paragraph();
                tree.block(Block::Rule);
            }
        }
    }
    let blocks = tree.finish();
    if blocks.is_empty() {
        return Err(MarkdownError::Empty);
    }
    // The builder already caps nesting; checking the result keeps that promise explicit.
    super::tree::check(&blocks).map_err(|_| MarkdownError::TooDeep)?;
    Ok(blocks)
}

fn start(tree: &mut TreeBuilder, tag: Tag<'_>) -> Result<(), MarkdownError> {
    let frame = match tag {
        Tag::Paragraph => Frame::Paragraph(Vec::new()),
        Tag::Heading { .. } => Frame::Heading(Vec::new()),
        Tag::CodeBlock(_) => Frame::CodeBlock(String::new()),
        Tag::BlockQuote(_) | Tag::List(_) if tree.depth >= MAX_MARKDOWN_DEPTH => {
            return Err(MarkdownError::TooDeep);
        }
        Tag::BlockQuote(_) => Frame::Quote(Vec::new()),
        Tag::List(start) => Frame::List {
            start,
            items: Vec::new(),
        },
        Tag::Item => Frame::Item(Vec::new()),
        Tag::Emphasis => Frame::Emph(Vec::new()),
        Tag::Strong => Frame::Strong(Vec::new()),
        Tag::Strikethrough => Frame::Strike(Vec::new()),
        Tag::Link {
            link_type,
            dest_url,
            ..
        }
        | Tag::Image {
            link_type,
            dest_url,
            ..
        } => {
            let href = if link_type == LinkType::Email {
                Some(format!("mailto:{}", dest_url.trim()))
            } else {
                talkback_api::link_href(&dest_url).map(str::to_owned)
            };
            Frame::Link {
                href,
                children: Vec::new(),
            }
        }
        // Everything else (tables, footnotes, HTML blocks, metadata) keeps only its text.
        _ => return Ok(()),
    };
    tree.open(frame);
    Ok(())
}

fn end(tree: &mut TreeBuilder, tag: TagEnd) {
    let kind = match tag {
        TagEnd::Paragraph => Kind::Paragraph,
        TagEnd::Heading(_) => Kind::Heading,
        TagEnd::CodeBlock => Kind::CodeBlock,
        TagEnd::BlockQuote(_) => Kind::Quote,
        TagEnd::List(_) => Kind::List,
        TagEnd::Item => Kind::Item,
        TagEnd::Emphasis => Kind::Emph,
        TagEnd::Strong => Kind::Strong,
        TagEnd::Strikethrough => Kind::Strike,
        TagEnd::Link | TagEnd::Image => Kind::Link,
        _ => return,
    };
    tree.close(kind);
}
