//! A small, tolerant element tree over quick-xml, for export files (WXR, Disqus).
//! A truncated or malformed file yields every element that was complete before the damage
//! plus a description of where reading stopped.

use quick_xml::Reader;
use quick_xml::events::Event;

/// An element: qualified name, attributes, text content (CDATA and entities resolved) and children.
#[derive(Debug, Default)]
pub(crate) struct El {
    pub(crate) name: String,
    pub(crate) attrs: Vec<(String, String)>,
    pub(crate) text: String,
    pub(crate) children: Vec<El>,
    /// False when the file ended (or broke) inside this element.
    pub(crate) complete: bool,
}

impl El {
    pub(crate) fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Trimmed text of a child, `None` when missing or empty.
    pub(crate) fn text_of(&self, name: &str) -> Option<String> {
        self.child(name)
            .map(|c| c.text.trim().to_owned())
            .filter(|t| !t.is_empty())
    }

    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn attributes(e: &quick_xml::events::BytesStart<'_>) -> Vec<(String, String)> {
    e.attributes()
        .flatten()
        .map(|a| {
            let value = a
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map(|v| v.into_owned())
                .unwrap_or_default();
            (a.key.as_ref().to_owned(), value)
        })
        .collect()
}

/// Deepest element nesting read: exports nest a handful of levels, and a tree this deep could
/// not be dropped without deep recursion.
const MAX_XML_DEPTH: usize = 256;

/// Parses a document; the error says where and why reading stopped early.
pub(crate) fn parse(text: &str) -> (El, Option<String>) {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(false);
    let mut stack = vec![El {
        name: "#document".into(),
        complete: true,
        ..El::default()
    }];
    let mut problem = None;
    loop {
        let position = reader.buffer_position();
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                if stack.len() > MAX_XML_DEPTH {
                    problem = Some(format!(
                        "elements nest deeper than {MAX_XML_DEPTH} at byte {position}"
                    ));
                    break;
                }
                let name = e.name().as_ref().to_owned();
                let attrs = attributes(&e);
                stack.push(El {
                    name,
                    attrs,
                    ..El::default()
                });
            }
            Ok(Event::Empty(e)) => {
                let name = e.name().as_ref().to_owned();
                let attrs = attributes(&e);
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(El {
                        name,
                        attrs,
                        complete: true,
                        ..El::default()
                    });
                }
            }
            Ok(Event::End(_)) => {
                if stack.len() > 1
                    && let Some(mut el) = stack.pop()
                {
                    el.complete = true;
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(el);
                    }
                }
            }
            Ok(Event::Text(t)) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let resolved = match r.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    _ => {
                        let name = r.xml10_content().into_owned();
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("&{name};"))
                    }
                };
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&resolved);
                }
            }
            Ok(Event::Eof) => {
                if stack.len() > 1 {
                    problem = Some(format!(
                        "the file ends inside <{}> (truncated?)",
                        stack.last().map_or("", |e| e.name.as_str())
                    ));
                }
                break;
            }
            Ok(_) => {}
            Err(e) => {
                problem = Some(format!("unreadable XML at byte {position}: {e}"));
                break;
            }
        }
    }
    // Close whatever is still open, marked incomplete.
    while stack.len() > 1 {
        if let Some(el) = stack.pop()
            && let Some(parent) = stack.last_mut()
        {
            parent.children.push(el);
        }
    }
    (stack.pop().unwrap_or_default(), problem)
}
