//! HTML comment bodies (WordPress, Disqus) → the document tree, with html5ever's tokenizer.
//!
//! Only the tree's node kinds survive; any other tag becomes its text, `script`/`style`
//! contents are dropped, links keep http, https and mailto only, images become links to their
//! source. Nesting is capped: deeper quotes and lists are flattened into their parent rather
//! than refused, and the input size is capped before any work. WordPress stores comments
//! without `<p>` (it adds them on display), so blank lines split paragraphs and single
//! newlines become line breaks.

use std::cell::RefCell;
use std::rc::Rc;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use talkback_api::limits::MAX_MARKDOWN_DEPTH;
use talkback_api::{Block, Inline, ListItem};

/// Largest HTML body converted.
pub(crate) const MAX_HTML_BYTES: usize = 64 * 1024;

struct Collect(Rc<RefCell<Vec<Token>>>);

impl TokenSink for Collect {
    type Handle = ();
    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        self.0.borrow_mut().push(token);
        TokenSinkResult::Continue
    }
}

enum Frame {
    Root(Vec<Block>),
    Quote(Vec<Block>),
    Item(Vec<Block>),
    List {
        start: Option<u64>,
        items: Vec<ListItem>,
    },
    Paragraph(Vec<Inline>),
    Heading(Vec<Inline>),
    Pre(String),
    Emph(Vec<Inline>),
    Strong(Vec<Inline>),
    Strike(Vec<Inline>),
    Code(String),
    Link {
        href: Option<String>,
        children: Vec<Inline>,
    },
}

impl Frame {
    /// The tag names that close this frame.
    fn closes(&self, tag: &str) -> bool {
        match self {
            Frame::Root(_) => false,
            Frame::Quote(_) => tag == "blockquote",
            Frame::Item(_) => tag == "li",
            Frame::List { start, .. } => tag == if start.is_some() { "ol" } else { "ul" },
            Frame::Paragraph(_) => matches!(tag, "p" | "div"),
            Frame::Heading(_) => matches!(tag, "h1" | "h2" | "h3" | "h4" | "h5" | "h6"),
            Frame::Pre(_) => tag == "pre",
            Frame::Emph(_) => matches!(tag, "em" | "i"),
            Frame::Strong(_) => matches!(tag, "strong" | "b"),
            Frame::Strike(_) => matches!(tag, "del" | "s" | "strike"),
            Frame::Code(_) => tag == "code",
            Frame::Link { .. } => tag == "a",
        }
    }

    fn is_container(&self) -> bool {
        matches!(self, Frame::Root(_) | Frame::Quote(_) | Frame::Item(_))
    }
}

fn safe_href(href: &str) -> Option<String> {
    let href = href.trim();
    let lower = href.to_ascii_lowercase();
    let ok = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| lower.starts_with(s))
        && !href.chars().any(|c| c.is_control() || c.is_whitespace());
    ok.then(|| href.to_owned())
}

/// Converts an HTML body. `None` when it is larger than [`MAX_HTML_BYTES`].
pub(crate) fn to_tree(html: &str) -> Option<Vec<Block>> {
    if html.len() > MAX_HTML_BYTES {
        return None;
    }
    let tokens = Rc::new(RefCell::new(Vec::new()));
    let tokenizer = Tokenizer::new(Collect(Rc::clone(&tokens)), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let mut b = Builder {
        stack: vec![Frame::Root(Vec::new())],
        depth: 0,
        skip: 0,
    };
    for token in tokens.take() {
        b.token(token);
    }
    b.close_to(0);
    match b.stack.pop() {
        Some(Frame::Root(blocks)) => Some(blocks),
        _ => Some(Vec::new()),
    }
}

struct Builder {
    stack: Vec<Frame>,
    /// Quote and list nesting.
    depth: usize,
    /// Inside `script` or `style`: text is dropped.
    skip: usize,
}

impl Builder {
    fn token(&mut self, token: Token) {
        match token {
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                match tag.kind {
                    TagKind::StartTag => {
                        let attr = |n: &str| {
                            tag.attrs
                                .iter()
                                .find(|a| &*a.name.local == n)
                                .map(|a| a.value.to_string())
                        };
                        self.start(name, &attr);
                        if tag.self_closing && !matches!(name, "br" | "hr" | "img") {
                            self.end(name);
                        }
                    }
                    TagKind::EndTag => self.end(name),
                }
            }
            Token::CharacterTokens(text) if self.skip == 0 => self.text(&text),
            _ => {}
        }
    }

    fn start(&mut self, name: &str, attr: &dyn Fn(&str) -> Option<String>) {
        let frame = match name {
            "script" | "style" => {
                self.skip += 1;
                return;
            }
            "br" => return self.inline(Inline::LineBreak),
            "hr" => {
                self.close_paragraph();
                return self.block(Block::Rule);
            }
            "img" => {
                if let Some(href) = attr("src").as_deref().and_then(safe_href) {
                    let alt = attr("alt")
                        .filter(|a| !a.trim().is_empty())
                        .unwrap_or_else(|| href.clone());
                    self.inline(Inline::Link {
                        href,
                        children: vec![Inline::Text(alt)],
                    });
                }
                return;
            }
            "p" | "div" => Frame::Paragraph(Vec::new()),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Frame::Heading(Vec::new()),
            "pre" => Frame::Pre(String::new()),
            "blockquote" | "ul" | "ol"
                if self.depth >= MAX_MARKDOWN_DEPTH || self.stack.len() > 64 =>
            {
                return;
            }
            "blockquote" => Frame::Quote(Vec::new()),
            "ul" => Frame::List {
                start: None,
                items: Vec::new(),
            },
            "ol" => Frame::List {
                start: Some(
                    attr("start")
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(1),
                ),
                items: Vec::new(),
            },
            "li" => Frame::Item(Vec::new()),
            _ if self.stack.len() > 64 => return,
            "em" | "i" => Frame::Emph(Vec::new()),
            "strong" | "b" => Frame::Strong(Vec::new()),
            "del" | "s" | "strike" => Frame::Strike(Vec::new()),
            "code" => Frame::Code(String::new()),
            "a" => Frame::Link {
                href: attr("href").as_deref().and_then(safe_href),
                children: Vec::new(),
            },
            _ => return,
        };
        match &frame {
            Frame::Paragraph(_)
            | Frame::Heading(_)
            | Frame::Pre(_)
            | Frame::Quote(_)
            | Frame::List { .. } => {
                self.close_paragraph();
                if let Frame::Quote(_) | Frame::List { .. } = frame {
                    self.depth += 1;
                }
            }
            Frame::Item(_) => {
                // A new <li> closes an open one; an <li> outside a list is just a paragraph.
                if let Some(pos) = self
                    .stack
                    .iter()
                    .rposition(|f| matches!(f, Frame::List { .. }))
                {
                    self.close_to(pos + 1);
                } else {
                    self.stack.push(Frame::Paragraph(Vec::new()));
                    return;
                }
            }
            _ => {}
        }
        self.stack.push(frame);
    }

    fn end(&mut self, name: &str) {
        if matches!(name, "script" | "style") {
            self.skip = self.skip.saturating_sub(1);
            return;
        }
        if let Some(pos) = self.stack.iter().rposition(|f| f.closes(name)) {
            self.close_to(pos);
        }
    }

    /// Pops and attaches frames until the stack has `len` frames.
    fn close_to(&mut self, len: usize) {
        while self.stack.len() > len.max(1) {
            let Some(frame) = self.stack.pop() else {
                return;
            };
            self.attach(frame);
        }
    }

    fn close_paragraph(&mut self) {
        if let Some(pos) = self.stack.iter().rposition(Frame::is_container) {
            self.close_to(pos + 1);
        }
    }

    fn attach(&mut self, frame: Frame) {
        match frame {
            Frame::Paragraph(inl) => {
                if inl.iter().any(|i| {
                    !matches!(i, Inline::Text(t) if t.trim().is_empty())
                        && !matches!(i, Inline::LineBreak)
                }) {
                    self.block(Block::Paragraph(trim_inlines(inl)));
                }
            }
            Frame::Heading(inl) => self.block(Block::Heading(trim_inlines(inl))),
            Frame::Pre(text) => self.block(Block::CodeBlock(text)),
            Frame::Quote(blocks) => {
                self.depth -= 1;
                self.block(Block::Quote(blocks));
            }
            Frame::List { start, items } => {
                self.depth -= 1;
                self.block(Block::List { start, items });
            }
            Frame::Item(blocks) => {
                if let Some(Frame::List { items, .. }) = self.stack.last_mut() {
                    items.push(ListItem(blocks));
                } else {
                    blocks.into_iter().for_each(|b| self.block(b));
                }
            }
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
            } => children.into_iter().for_each(|c| self.inline(c)),
            Frame::Root(blocks) => self.stack.push(Frame::Root(blocks)),
        }
    }

    fn block(&mut self, block: Block) {
        match self.stack.last_mut() {
            Some(Frame::Root(b) | Frame::Quote(b) | Frame::Item(b)) => b.push(block),
            Some(Frame::List { items, .. }) => items.push(ListItem(vec![block])),
            _ => self.inline(Inline::Text(Block::plain_text(&[block]))),
        }
    }

    fn text(&mut self, text: &str) {
        match self.stack.last_mut() {
            Some(Frame::Pre(t) | Frame::Code(t)) => return t.push_str(text),
            Some(Frame::List { .. }) if text.trim().is_empty() => return,
            _ => {}
        }
        // Bare text in a container: WordPress-style paragraphs (blank line) and breaks (newline).
        let in_container = self.stack.last().is_some_and(Frame::is_container)
            || matches!(self.stack.last(), Some(Frame::Paragraph(_)));
        if !in_container {
            return self.inline(Inline::Text(collapse(text)));
        }
        for (i, para) in text.split("\n\n").enumerate() {
            if i > 0 {
                self.close_paragraph();
            }
            for (j, line) in para.split('\n').enumerate() {
                if j > 0 && !line.trim().is_empty() {
                    self.inline(Inline::LineBreak);
                }
                let line = collapse(line);
                let bare_space = line == " " && self.stack.last().is_some_and(Frame::is_container);
                if !line.is_empty() && !bare_space {
                    self.inline(Inline::Text(line));
                }
            }
        }
    }

    fn inline(&mut self, inline: Inline) {
        if self.stack.last().is_some_and(Frame::is_container)
            || matches!(self.stack.last(), Some(Frame::List { .. }))
        {
            if matches!(self.stack.last(), Some(Frame::List { .. })) {
                self.stack.push(Frame::Item(Vec::new()));
            }
            self.stack.push(Frame::Paragraph(Vec::new()));
        }
        let target = match self.stack.last_mut() {
            Some(
                Frame::Paragraph(v)
                | Frame::Heading(v)
                | Frame::Emph(v)
                | Frame::Strong(v)
                | Frame::Strike(v)
                | Frame::Link { children: v, .. },
            ) => v,
            Some(Frame::Pre(t) | Frame::Code(t)) => {
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
}

/// HTML whitespace: runs collapse to one space.
fn collapse(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out
}

/// Drops leading and trailing spaces and breaks of a paragraph.
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
    inl
}
