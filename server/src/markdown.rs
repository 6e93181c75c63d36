//! Markdown → document tree, done once when a comment is written.
//!
//! pulldown-cmark parses; we keep only the node kinds of [`talkback_api::Block`] and
//! [`talkback_api::Inline`]. Raw HTML becomes literal text, links keep http, https and mailto
//! only, images become links to their source. Size is capped before parsing and nesting depth
//! while building, so no input can make this slow.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd};
use talkback_api::limits::{MAX_BODY_BYTES, MAX_MARKDOWN_DEPTH};
use talkback_api::{Block, Inline, ListItem};

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

enum Frame {
    Blocks(Vec<Block>),
    Quote(Vec<Block>),
    Item(Vec<Block>),
    List {
        start: Option<u64>,
        items: Vec<ListItem>,
    },
    Paragraph {
        inlines: Vec<Inline>,
        implicit: bool,
    },
    Heading(Vec<Inline>),
    Code(String),
    Emph(Vec<Inline>),
    Strong(Vec<Inline>),
    Strike(Vec<Inline>),
    Link {
        href: Option<String>,
        children: Vec<Inline>,
    },
}

/// Parses a comment body into its document tree.
pub fn parse(source: &str) -> Result<Vec<Block>, MarkdownError> {
    if source.len() > MAX_BODY_BYTES {
        return Err(MarkdownError::TooLong);
    }
    if source.trim().is_empty() {
        return Err(MarkdownError::Empty);
    }
    let mut builder = Builder {
        stack: vec![Frame::Blocks(Vec::new())],
        depth: 0,
    };
    for event in Parser::new_ext(source, Options::ENABLE_STRIKETHROUGH) {
        builder.event(event)?;
    }
    builder.close_implicit();
    let blocks = match builder.stack.pop() {
        Some(Frame::Blocks(blocks)) => blocks,
        _ => Vec::new(),
    };
    if blocks.is_empty() {
        return Err(MarkdownError::Empty);
    }
    Ok(blocks)
}

/// Only these schemes survive as links.
fn safe_href(dest: &str, link_type: LinkType) -> Option<String> {
    let dest = dest.trim();
    if link_type == LinkType::Email {
        return Some(format!("mailto:{dest}"));
    }
    let lower = dest.to_ascii_lowercase();
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s));
    let clean = !dest.chars().any(|c| c.is_control() || c.is_whitespace());
    (allowed && clean && dest.len() > "mailto:".len()).then(|| dest.to_owned())
}

struct Builder {
    stack: Vec<Frame>,
    depth: usize,
}

impl Builder {
    fn event(&mut self, event: Event<'_>) -> Result<(), MarkdownError> {
        match event {
            Event::Start(tag) => self.start(tag)?,
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.inline(Inline::Text(t.into_string())),
            Event::Code(t) => self.inline(Inline::Code(t.into_string())),
            Event::Html(t) | Event::InlineHtml(t) => self.inline(Inline::Text(t.into_string())),
            Event::InlineMath(t) | Event::DisplayMath(t) => {
                self.inline(Inline::Text(t.into_string()))
            }
            Event::FootnoteReference(t) => self.inline(Inline::Text(format!("[^{t}]"))),
            Event::SoftBreak => self.inline(Inline::Text("\n".into())),
            Event::HardBreak => self.inline(Inline::LineBreak),
            Event::TaskListMarker(done) => {
                self.inline(Inline::Text(if done { "[x] " } else { "[ ] " }.into()))
            }
            Event::Rule => {
                self.close_implicit();
                self.block(Block::Rule);
            }
        }
        Ok(())
    }

    fn start(&mut self, tag: Tag<'_>) -> Result<(), MarkdownError> {
        let frame = match tag {
            Tag::Paragraph => Frame::Paragraph {
                inlines: Vec::new(),
                implicit: false,
            },
            Tag::Heading { .. } => Frame::Heading(Vec::new()),
            Tag::CodeBlock(_) => Frame::Code(String::new()),
            Tag::BlockQuote(_) => self.deeper(Frame::Quote(Vec::new()))?,
            Tag::List(start) => self.deeper(Frame::List {
                start,
                items: Vec::new(),
            })?,
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
            } => Frame::Link {
                href: safe_href(&dest_url, link_type),
                children: Vec::new(),
            },
            // Everything else (tables, footnotes, HTML blocks, metadata) keeps only its text.
            _ => return Ok(()),
        };
        if !matches!(
            frame,
            Frame::Emph(_) | Frame::Strong(_) | Frame::Strike(_) | Frame::Link { .. }
        ) {
            self.close_implicit();
        } else if matches!(
            self.stack.last(),
            Some(Frame::Blocks(_) | Frame::Quote(_) | Frame::Item(_))
        ) {
            self.stack.push(Frame::Paragraph {
                inlines: Vec::new(),
                implicit: true,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn deeper(&mut self, frame: Frame) -> Result<Frame, MarkdownError> {
        self.depth += 1;
        if self.depth > MAX_MARKDOWN_DEPTH {
            return Err(MarkdownError::TooDeep);
        }
        Ok(frame)
    }

    fn end(&mut self, tag: TagEnd) {
        let closes_frame = matches!(
            tag,
            TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::CodeBlock
                | TagEnd::BlockQuote(_)
                | TagEnd::List(_)
                | TagEnd::Item
                | TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image
        );
        if !closes_frame {
            return;
        }
        if matches!(tag, TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Item) {
            self.close_implicit();
        }
        if matches!(tag, TagEnd::BlockQuote(_) | TagEnd::List(_)) {
            self.depth -= 1;
        }
        let Some(frame) = self.stack.pop() else {
            return;
        };
        match frame {
            Frame::Paragraph { inlines, .. } => self.block(Block::Paragraph(inlines)),
            Frame::Heading(inlines) => self.block(Block::Heading(inlines)),
            Frame::Code(text) => self.block(Block::CodeBlock(text)),
            Frame::Quote(blocks) => self.block(Block::Quote(blocks)),
            Frame::List { start, items } => self.block(Block::List { start, items }),
            Frame::Item(blocks) => {
                if let Some(Frame::List { items, .. }) = self.stack.last_mut() {
                    items.push(ListItem(blocks));
                }
            }
            Frame::Emph(c) => self.inline(Inline::Emph(c)),
            Frame::Strong(c) => self.inline(Inline::Strong(c)),
            Frame::Strike(c) => self.inline(Inline::Strike(c)),
            Frame::Link {
                href: Some(href),
                children,
            } => self.inline(Inline::Link { href, children }),
            Frame::Link {
                href: None,
                children,
            } => children.into_iter().for_each(|c| self.inline(c)),
            Frame::Blocks(blocks) => self.stack.push(Frame::Blocks(blocks)),
        }
    }

    fn close_implicit(&mut self) {
        if let Some(Frame::Paragraph { implicit: true, .. }) = self.stack.last()
            && let Some(Frame::Paragraph { inlines, .. }) = self.stack.pop()
        {
            self.block(Block::Paragraph(inlines));
        }
    }

    fn block(&mut self, block: Block) {
        match self.stack.last_mut() {
            Some(Frame::Blocks(b) | Frame::Quote(b) | Frame::Item(b)) => b.push(block),
            // A block cannot sit in an inline frame; keep its text rather than lose it.
            _ => self.inline(Inline::Text(Block::plain_text(&[block]))),
        }
    }

    fn inline(&mut self, inline: Inline) {
        if let Some(Frame::Code(text)) = self.stack.last_mut() {
            if let Inline::Text(t) = &inline {
                text.push_str(t);
            }
            return;
        }
        if matches!(
            self.stack.last(),
            Some(Frame::Blocks(_) | Frame::Quote(_) | Frame::Item(_))
        ) {
            self.stack.push(Frame::Paragraph {
                inlines: Vec::new(),
                implicit: true,
            });
        }
        let target = match self.stack.last_mut() {
            Some(
                Frame::Paragraph { inlines: v, .. }
                | Frame::Heading(v)
                | Frame::Emph(v)
                | Frame::Strong(v)
                | Frame::Strike(v)
                | Frame::Link { children: v, .. },
            ) => v,
            _ => return,
        };
        // Merge adjacent text so the tree stays small.
        if let (Inline::Text(new), Some(Inline::Text(last))) = (&inline, target.last_mut()) {
            last.push_str(new);
            return;
        }
        target.push(inline);
    }
}
