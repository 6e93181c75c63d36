//! The one builder of document trees, driven by both parsers: pulldown-cmark events for
//! Markdown bodies (`markdown`) and html5ever tokens for imported HTML bodies
//! (`content::html`). It keeps a stack of open frames; closing a frame attaches what it built
//! to the frame below, so a closing tag with nothing open, or a misnested one, can never
//! produce anything outside the tree's node kinds. Inline markup nested past
//! [`MAX_INLINE_DEPTH`] opens a flat frame instead: its closing event still matches it, but
//! its content joins the enclosing element, so no input can build a deeper tree.

use talkback_api::limits::{MAX_INLINE_DEPTH, MAX_MARKDOWN_DEPTH};
use talkback_api::{Block, Inline, ListItem, Nesting};

/// An element being built.
pub(crate) enum Frame {
    Root(Vec<Block>),
    Quote(Vec<Block>),
    Item(Vec<Block>),
    List {
        start: Option<u64>,
        items: Vec<ListItem>,
    },
    Paragraph(Vec<Inline>),
    Heading(Vec<Inline>),
    /// A code block: text only.
    CodeBlock(String),
    /// Inline code: text only.
    Code(String),
    Emph(Vec<Inline>),
    Strong(Vec<Inline>),
    Strike(Vec<Inline>),
    /// `href: None` for a link whose target was refused: its text stays, the link goes.
    Link {
        href: Option<String>,
        children: Vec<Inline>,
    },
    /// Inline markup past the nesting cap: closes like `Kind`, keeps only its content.
    Flat(Kind, Vec<Inline>),
}

/// Which kind of frame a closing event closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Quote,
    Item,
    List,
    Paragraph,
    Heading,
    CodeBlock,
    Code,
    Emph,
    Strong,
    Strike,
    Link,
}

impl Frame {
    fn kind(&self) -> Option<Kind> {
        Some(match self {
            Frame::Root(_) => return None,
            Frame::Quote(_) => Kind::Quote,
            Frame::Item(_) => Kind::Item,
            Frame::List { .. } => Kind::List,
            Frame::Paragraph(_) => Kind::Paragraph,
            Frame::Heading(_) => Kind::Heading,
            Frame::CodeBlock(_) => Kind::CodeBlock,
            Frame::Code(_) => Kind::Code,
            Frame::Emph(_) => Kind::Emph,
            Frame::Strong(_) => Kind::Strong,
            Frame::Strike(_) => Kind::Strike,
            Frame::Link { .. } => Kind::Link,
            Frame::Flat(kind, _) => *kind,
        })
    }

    /// Frames that hold blocks.
    fn is_container(&self) -> bool {
        matches!(self, Frame::Root(_) | Frame::Quote(_) | Frame::Item(_))
    }

    fn is_inline(&self) -> bool {
        matches!(
            self,
            Frame::Emph(_)
                | Frame::Strong(_)
                | Frame::Strike(_)
                | Frame::Code(_)
                | Frame::Link { .. }
                | Frame::Flat(..)
        )
    }

    /// Inline frames that become a level of the tree (code is a leaf).
    fn nests_inline(&self) -> bool {
        matches!(
            self,
            Frame::Emph(_) | Frame::Strong(_) | Frame::Strike(_) | Frame::Link { .. }
        )
    }
}

/// The tree under construction.
pub(crate) struct TreeBuilder {
    stack: Vec<Frame>,
    /// Open quotes and lists.
    pub(crate) depth: usize,
    /// Open emphasis, strong, strikethrough and links (flat frames not counted).
    inline_depth: usize,
}

impl TreeBuilder {
    pub(crate) fn new() -> Self {
        Self {
            stack: vec![Frame::Root(Vec::new())],
            depth: 0,
            inline_depth: 0,
        }
    }

    /// Open frames, the root included.
    pub(crate) fn open_frames(&self) -> usize {
        self.stack.len()
    }

    /// True when the innermost frame holds blocks (text there starts a paragraph).
    pub(crate) fn at_block_level(&self) -> bool {
        self.stack.last().is_some_and(Frame::is_container)
    }

    /// True inside a code block or inline code, where text is kept verbatim.
    pub(crate) fn in_code(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Frame::CodeBlock(_) | Frame::Code(_))
        )
    }

    /// True right inside a list, where only items belong.
    pub(crate) fn in_list(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::List { .. }))
    }

    pub(crate) fn in_paragraph(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Paragraph(_)))
    }

    /// Opens a frame. Blocks first close an open paragraph; an item closes the previous item
    /// of its list (outside any list it becomes a paragraph); inline frames at block level
    /// start a paragraph.
    pub(crate) fn open(&mut self, mut frame: Frame) {
        if frame.nests_inline() {
            if self.inline_depth >= MAX_INLINE_DEPTH {
                let kind = frame.kind().unwrap_or(Kind::Emph);
                frame = Frame::Flat(kind, Vec::new());
            } else {
                self.inline_depth += 1;
            }
        }
        match &frame {
            Frame::Item(_) => match self
                .stack
                .iter()
                .rposition(|f| matches!(f, Frame::List { .. }))
            {
                Some(list) => self.close_to(list + 1),
                None => return self.stack.push(Frame::Paragraph(Vec::new())),
            },
            f if f.is_inline() => self.ensure_inline_target(),
            _ => self.close_paragraph(),
        }
        if matches!(frame, Frame::Quote(_) | Frame::List { .. }) {
            self.depth += 1;
        }
        self.stack.push(frame);
    }

    /// Closes the innermost open frame of `kind` (and everything opened inside it); a close
    /// with no such frame open is ignored.
    pub(crate) fn close(&mut self, kind: Kind) {
        if let Some(pos) = self.stack.iter().rposition(|f| f.kind() == Some(kind)) {
            self.close_to(pos);
        }
    }

    /// Closes frames until the innermost block container is on top.
    pub(crate) fn close_paragraph(&mut self) {
        if let Some(pos) = self.stack.iter().rposition(Frame::is_container) {
            self.close_to(pos + 1);
        }
    }

    /// Adds a finished block where it belongs.
    pub(crate) fn block(&mut self, block: Block) {
        match self.stack.last_mut() {
            Some(Frame::Root(b) | Frame::Quote(b) | Frame::Item(b)) => b.push(block),
            Some(Frame::List { items, .. }) => items.push(ListItem(vec![block])),
            // A block inside inline content keeps its text rather than being lost.
            _ => self.inline(Inline::Text(Block::plain_text(&[block]))),
        }
    }

    /// Adds inline content, starting a paragraph at block level; adjacent text merges. A
    /// finished element (an image's link, say) that would nest past the cap gives its content
    /// instead.
    pub(crate) fn inline(&mut self, inline: Inline) {
        if self.inline_depth >= MAX_INLINE_DEPTH {
            match inline {
                Inline::Emph(c)
                | Inline::Strong(c)
                | Inline::Strike(c)
                | Inline::Link { children: c, .. } => {
                    return c.into_iter().for_each(|i| self.inline(i));
                }
                _ => {}
            }
        }
        self.ensure_inline_target();
        let target = match self.stack.last_mut() {
            Some(
                Frame::Paragraph(v)
                | Frame::Heading(v)
                | Frame::Emph(v)
                | Frame::Strong(v)
                | Frame::Strike(v)
                | Frame::Link { children: v, .. }
                | Frame::Flat(_, v),
            ) => v,
            Some(Frame::CodeBlock(t) | Frame::Code(t)) => {
                if let Inline::Text(s) = &inline {
                    t.push_str(s);
                }
                return;
            }
            _ => return,
        };
        if let (Inline::Text(new), Some(Inline::Text(last))) = (&inline, target.last_mut()) {
            last.push_str(new);
            return;
        }
        target.push(inline);
    }

    /// Closes everything and returns the root's blocks.
    pub(crate) fn finish(mut self) -> Vec<Block> {
        self.close_to(1);
        match self.stack.pop() {
            Some(Frame::Root(blocks)) => blocks,
            _ => Vec::new(),
        }
    }

    fn ensure_inline_target(&mut self) {
        if self.in_list() {
            self.stack.push(Frame::Item(Vec::new()));
        }
        if self.at_block_level() {
            self.stack.push(Frame::Paragraph(Vec::new()));
        }
    }

    /// Pops and attaches frames until `len` remain (never the root).
    fn close_to(&mut self, len: usize) {
        while self.stack.len() > len.max(1) {
            let Some(frame) = self.stack.pop() else {
                return;
            };
            self.attach(frame);
        }
    }

    fn attach(&mut self, frame: Frame) {
        if frame.nests_inline() {
            self.inline_depth = self.inline_depth.saturating_sub(1);
        }
        match frame {
            Frame::Paragraph(inl) => {
                let inl = trim_inlines(inl);
                if !inl.is_empty() {
                    self.block(Block::Paragraph(inl));
                }
            }
            Frame::Heading(inl) => self.block(Block::Heading(trim_inlines(inl))),
            Frame::CodeBlock(text) => self.block(Block::CodeBlock(text)),
            Frame::Quote(blocks) => {
                self.depth = self.depth.saturating_sub(1);
                self.block(Block::Quote(blocks));
            }
            Frame::List { start, items } => {
                self.depth = self.depth.saturating_sub(1);
                self.block(Block::List { start, items });
            }
            Frame::Item(blocks) => match self.stack.last_mut() {
                Some(Frame::List { items, .. }) => items.push(ListItem(blocks)),
                _ => blocks.into_iter().for_each(|b| self.block(b)),
            },
            Frame::Emph(c) => self.inline(Inline::Emph(c)),
            Frame::Strong(c) => self.inline(Inline::Strong(c)),
            Frame::Strike(c) => self.inline(Inline::Strike(c)),
            Frame::Code(t) => self.inline(Inline::Code(t)),
            Frame::Link {
                href: Some(href),
                children,
            } => self.inline(Inline::Link { href, children }),
            Frame::Link {
                href: None,
                children,
            }
            | Frame::Flat(_, children) => children.into_iter().for_each(|c| self.inline(c)),
            Frame::Root(blocks) => self.stack.push(Frame::Root(blocks)),
        }
    }
}

/// Drops leading and trailing spaces and breaks of a paragraph; an all-blank one is empty.
fn trim_inlines(mut inl: Vec<Inline>) -> Vec<Inline> {
    while matches!(inl.last(), Some(Inline::LineBreak)) {
        inl.pop();
    }
    if let Some(Inline::Text(t)) = inl.first_mut() {
        *t = t.trim_start().to_owned();
    }
    if let Some(Inline::Text(t)) = inl.last_mut() {
        *t = t.trim_end().to_owned();
    }
    inl.retain(|i| !matches!(i, Inline::Text(t) if t.is_empty()));
    if inl.iter().all(|i| matches!(i, Inline::LineBreak)) {
        inl.clear();
    }
    inl
}

/// Why a document tree cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TreeProblem {
    #[error("quotes and lists are nested more than {MAX_MARKDOWN_DEPTH} deep")]
    BlocksTooDeep,
    #[error("formatting is nested more than {MAX_INLINE_DEPTH} deep")]
    InlinesTooDeep,
    #[error("a link is not http, https or mailto")]
    UnsafeLink,
}

/// The rules every stored tree obeys, whoever built it (the parsers guarantee them; a tree
/// read from an export file is checked against them before it is stored).
pub(crate) fn check(blocks: &[Block]) -> Result<(), TreeProblem> {
    let nesting = Nesting::of(blocks);
    if nesting.blocks > MAX_MARKDOWN_DEPTH {
        return Err(TreeProblem::BlocksTooDeep);
    }
    if nesting.inlines > MAX_INLINE_DEPTH {
        return Err(TreeProblem::InlinesTooDeep);
    }
    // Depth is bounded now, so recursion is safe.
    fn links_ok(inl: &[Inline]) -> bool {
        inl.iter().all(|i| match i {
            Inline::Emph(c) | Inline::Strong(c) | Inline::Strike(c) => links_ok(c),
            Inline::Link { href, children } => {
                talkback_api::link_href(href) == Some(href.as_str()) && links_ok(children)
            }
            Inline::Text(_) | Inline::Code(_) | Inline::LineBreak => true,
        })
    }
    fn blocks_ok(blocks: &[Block]) -> bool {
        blocks.iter().all(|b| match b {
            Block::Paragraph(i) | Block::Heading(i) => links_ok(i),
            Block::Quote(inner) => blocks_ok(inner),
            Block::List { items, .. } => items.iter().all(|i| blocks_ok(&i.0)),
            Block::CodeBlock(_) | Block::Rule => true,
        })
    }
    if !blocks_ok(blocks) {
        return Err(TreeProblem::UnsafeLink);
    }
    Ok(())
}
