//! The comment document tree: what a Markdown body becomes once parsed on the server.
//!
//! The tree is stored and sent as data. Clients build DOM nodes from it; the server renders it
//! to HTML in exactly one escaping function. No variant can carry raw HTML.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
// Recursive: its schema names itself by reference.
#[cfg_attr(feature = "openapi", schema(no_recursion))]
pub enum Block {
    Paragraph(Vec<Inline>),
    /// Headings in comments are shown as strong paragraphs, never as page headings.
    Heading(Vec<Inline>),
    CodeBlock(String),
    Quote(Vec<Block>),
    List {
        /// `Some(n)` for an ordered list starting at `n`.
        start: Option<u64>,
        items: Vec<ListItem>,
    },
    Rule,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
// Recursive: its schema names itself by reference.
#[cfg_attr(feature = "openapi", schema(no_recursion))]
pub struct ListItem(pub Vec<Block>);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
// Recursive: its schema names itself by reference.
#[cfg_attr(feature = "openapi", schema(no_recursion))]
pub enum Inline {
    Text(String),
    Code(String),
    Emph(Vec<Inline>),
    Strong(Vec<Inline>),
    Strike(Vec<Inline>),
    /// `href` is always http, https or mailto; the parser turns anything else into text.
    Link {
        href: String,
        children: Vec<Inline>,
    },
    LineBreak,
}

/// How deeply a tree nests: block containers (quotes and lists) and inline containers
/// (emphasis, strong, strikethrough, links) counted separately.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nesting {
    pub blocks: usize,
    pub inlines: usize,
}

impl Nesting {
    /// Measures `blocks` without recursion, so any tree can be measured, however deep.
    pub fn of(blocks: &[Block]) -> Nesting {
        enum Node<'a> {
            Block(&'a Block, usize),
            Inline(&'a Inline, usize),
        }
        let mut deepest = Nesting::default();
        let mut stack: Vec<Node<'_>> = blocks.iter().map(|b| Node::Block(b, 0)).collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Block(block, depth) => match block {
                    Block::Paragraph(inl) | Block::Heading(inl) => {
                        stack.extend(inl.iter().map(|i| Node::Inline(i, 0)));
                    }
                    Block::Quote(inner) => {
                        deepest.blocks = deepest.blocks.max(depth + 1);
                        stack.extend(inner.iter().map(|b| Node::Block(b, depth + 1)));
                    }
                    Block::List { items, .. } => {
                        deepest.blocks = deepest.blocks.max(depth + 1);
                        for item in items {
                            stack.extend(item.0.iter().map(|b| Node::Block(b, depth + 1)));
                        }
                    }
                    Block::CodeBlock(_) | Block::Rule => {}
                },
                Node::Inline(inline, depth) => match inline {
                    Inline::Emph(c)
                    | Inline::Strong(c)
                    | Inline::Strike(c)
                    | Inline::Link { children: c, .. } => {
                        deepest.inlines = deepest.inlines.max(depth + 1);
                        stack.extend(c.iter().map(|i| Node::Inline(i, depth + 1)));
                    }
                    Inline::Text(_) | Inline::Code(_) | Inline::LineBreak => {}
                },
            }
        }
        deepest
    }
}

impl Block {
    /// How many links the blocks hold (moderation rules hold comments with links).
    pub fn link_count(blocks: &[Block]) -> usize {
        fn inlines(list: &[Inline]) -> usize {
            list.iter()
                .map(|i| match i {
                    Inline::Link { children, .. } => 1 + inlines(children),
                    Inline::Emph(c) | Inline::Strong(c) | Inline::Strike(c) => inlines(c),
                    Inline::Text(_) | Inline::Code(_) | Inline::LineBreak => 0,
                })
                .sum()
        }
        blocks
            .iter()
            .map(|b| match b {
                Block::Paragraph(inl) | Block::Heading(inl) => inlines(inl),
                Block::Quote(inner) => Block::link_count(inner),
                Block::List { items, .. } => items.iter().map(|i| Block::link_count(&i.0)).sum(),
                Block::CodeBlock(_) | Block::Rule => 0,
            })
            .sum()
    }

    /// The plain text of a block, for summaries and accessibility labels.
    pub fn plain_text(blocks: &[Block]) -> String {
        let mut out = String::new();
        for block in blocks {
            block.push_text(&mut out);
        }
        out.trim().to_owned()
    }

    fn push_text(&self, out: &mut String) {
        match self {
            Block::Paragraph(inl) | Block::Heading(inl) => {
                Inline::push_all(inl, out);
                out.push('\n');
            }
            Block::CodeBlock(text) => {
                out.push_str(text);
                out.push('\n');
            }
            Block::Quote(blocks) => blocks.iter().for_each(|b| b.push_text(out)),
            Block::List { items, .. } => {
                for item in items {
                    item.0.iter().for_each(|b| b.push_text(out));
                }
            }
            Block::Rule => out.push('\n'),
        }
    }
}

impl Inline {
    fn push_all(inlines: &[Inline], out: &mut String) {
        for inline in inlines {
            match inline {
                Inline::Text(t) | Inline::Code(t) => out.push_str(t),
                Inline::Emph(c) | Inline::Strong(c) | Inline::Strike(c) => Inline::push_all(c, out),
                Inline::Link { children, .. } => Inline::push_all(children, out),
                Inline::LineBreak => out.push('\n'),
            }
        }
    }
}
