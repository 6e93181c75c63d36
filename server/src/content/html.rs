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
use talkback_api::{Block, Inline};

use super::tree::{Frame, Kind, TreeBuilder};

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
        tree: TreeBuilder::new(),
        skip: 0,
    };
    for token in tokens.take() {
        b.token(token);
    }
    Some(b.tree.finish())
}

/// Deepest stack of open elements we follow; anything deeper is flattened into its parent.
const MAX_OPEN: usize = 64;

struct Builder {
    tree: TreeBuilder,
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
        let tree = &mut self.tree;
        let too_deep = tree.open_frames() > MAX_OPEN;
        let frame = match name {
            "script" | "style" => {
                self.skip += 1;
                return;
            }
            "br" => return tree.inline(Inline::LineBreak),
            "hr" => {
                tree.close_paragraph();
                return tree.block(Block::Rule);
            }
            "img" => {
                if let Some(href) = attr("src")
                    .as_deref()
                    .and_then(|h| talkback_api::link_href(h).map(str::to_owned))
                {
                    let alt = attr("alt")
                        .filter(|a| !a.trim().is_empty())
                        .unwrap_or_else(|| href.clone());
                    tree.inline(Inline::Link {
                        href,
                        children: vec![Inline::Text(alt)],
                    });
                }
                return;
            }
            _ if too_deep => return,
            "p" | "div" => Frame::Paragraph(Vec::new()),
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Frame::Heading(Vec::new()),
            "pre" => Frame::CodeBlock(String::new()),
            "blockquote" | "ul" | "ol" if tree.depth >= MAX_MARKDOWN_DEPTH => return,
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
            "em" | "i" => Frame::Emph(Vec::new()),
            "strong" | "b" => Frame::Strong(Vec::new()),
            "del" | "s" | "strike" => Frame::Strike(Vec::new()),
            "code" => Frame::Code(String::new()),
            "a" => Frame::Link {
                href: attr("href")
                    .as_deref()
                    .and_then(|h| talkback_api::link_href(h).map(str::to_owned)),
                children: Vec::new(),
            },
            _ => return,
        };
        tree.open(frame);
    }

    fn end(&mut self, name: &str) {
        let kind = match name {
            "script" | "style" => {
                self.skip = self.skip.saturating_sub(1);
                return;
            }
            "p" | "div" => Kind::Paragraph,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Kind::Heading,
            "pre" => Kind::CodeBlock,
            "blockquote" => Kind::Quote,
            "ul" | "ol" => Kind::List,
            "li" => Kind::Item,
            "em" | "i" => Kind::Emph,
            "strong" | "b" => Kind::Strong,
            "del" | "s" | "strike" => Kind::Strike,
            "code" => Kind::Code,
            "a" => Kind::Link,
            _ => return,
        };
        self.tree.close(kind);
    }

    fn text(&mut self, text: &str) {
        let tree = &mut self.tree;
        if tree.in_code() {
            return tree.inline(Inline::Text(text.to_owned()));
        }
        if tree.in_list() && text.trim().is_empty() {
            return;
        }
        if !(tree.at_block_level() || tree.in_paragraph()) {
            return tree.inline(Inline::Text(collapse(text)));
        }
        // Bare text in a container: WordPress-style paragraphs (blank line) and breaks (newline).
        for (i, para) in text.split("\n\n").enumerate() {
            if i > 0 {
                tree.close_paragraph();
            }
            for (j, line) in para.split('\n').enumerate() {
                if j > 0 && !line.trim().is_empty() {
                    tree.inline(Inline::LineBreak);
                }
                let line = collapse(line);
                let bare_space = line == " " && tree.at_block_level();
                if !line.is_empty() && !bare_space {
                    tree.inline(Inline::Text(line));
                }
            }
        }
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
