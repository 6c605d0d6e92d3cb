//! A small element tree over quick-xml, and a writer. mobilPay's messages are tiny documents read
//! by field name (the SDKs use PHP's DOM), so a tree with dotted paths gives every parse error
//! its element name for free. Names are matched on their local part: SOAP clients choose their
//! own namespace prefixes, and the card XML has no namespace at all.

use super::error::WireError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// Deeper than any mobilPay message; bounds the work (and the recursive drop) for hostile input.
const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone)]
pub(crate) struct Element {
    pub name: String,
    /// Dotted path from the root, e.g. `order.invoice.contact_info`.
    pub path: String,
    attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    text: String,
}

impl Element {
    fn new(start: &BytesStart<'_>, parent_path: Option<&str>) -> Result<Self, WireError> {
        let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
        let path = match parent_path {
            Some(p) => format!("{p}.{name}"),
            None => name.clone(),
        };
        let mut attrs = Vec::new();
        for attr in start.attributes().with_checks(true) {
            let attr = attr.map_err(|e| WireError::new(&path, format!("bad attribute: {e}")))?;
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            let key = String::from_utf8_lossy(attr.key.local_name().as_ref()).into_owned();
            let value = attr
                .unescape_value()
                .map_err(|e| WireError::new(format!("{path}.{key}"), e.to_string()))?
                .into_owned();
            xml_text(&value).map_err(|why| WireError::new(format!("{path}.{key}"), why))?;
            attrs.push((key, value));
        }
        Ok(Self {
            name,
            path,
            attrs,
            children: Vec::new(),
            text: String::new(),
        })
    }

    pub fn field(&self, name: &str) -> String {
        format!("{}.{name}", self.path)
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn req_attr(&self, name: &str) -> Result<&str, WireError> {
        self.attr(name)
            .ok_or_else(|| WireError::missing(self.field(name)))
    }

    /// The one child called `name`; two of them is an error (PHP's SDK insists on `length == 1`).
    pub fn child(&self, name: &str) -> Result<Option<&Element>, WireError> {
        let mut found = self.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if found.next().is_some() {
            return Err(WireError::new(self.field(name), "appears more than once"));
        }
        Ok(first)
    }

    pub fn req_child(&self, name: &str) -> Result<&Element, WireError> {
        self.child(name)?
            .ok_or_else(|| WireError::missing(self.field(name)))
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The element's own text (CDATA included), exactly as written.
    pub fn raw_text(&self) -> &str {
        &self.text
    }

    /// The text with surrounding whitespace removed: the Python SDK pretty-prints its XML.
    pub fn text(&self) -> &str {
        self.text.trim()
    }

    pub fn child_text(&self, name: &str) -> Result<Option<&str>, WireError> {
        Ok(self.child(name)?.map(Element::text))
    }
}

/// Parses a whole document into its root element.
pub(crate) fn parse(xml: &str) -> Result<Element, WireError> {
    let xml = xml.strip_prefix('\u{feff}').unwrap_or(xml);
    let mut reader = Reader::from_str(xml);
    reader.config_mut().trim_text(false);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let bad = |e: &dyn std::fmt::Display, reader: &Reader<&[u8]>| {
        WireError::new(
            "xml",
            format!("not well-formed at byte {}: {e}", reader.buffer_position()),
        )
    };
    loop {
        let event = reader.read_event().map_err(|e| bad(&e, &reader))?;
        match event {
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(WireError::new("xml", "more than one root element"));
            }
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(WireError::new("xml", "nested too deeply"));
                }
                let parent = stack.last().map(|p| p.path.as_str());
                let element = Element::new(&start, parent)?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let parent = stack.last().map(|p| p.path.as_str());
                let element = Element::new(&start, parent)?;
                attach(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                let Some(element) = stack.pop() else {
                    return Err(WireError::new("xml", "unbalanced end tag"));
                };
                attach(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                let text = text.unescape().map_err(|e| bad(&e, &reader))?;
                xml_text(&text).map_err(|why| bad(&why, &reader))?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err(WireError::new("xml", "text outside the root element")),
                }
            }
            Event::CData(data) => {
                let data = String::from_utf8(data.into_inner().into_owned())
                    .map_err(|_| WireError::new("xml", "CDATA is not UTF-8"))?;
                xml_text(&data).map_err(|why| bad(&why, &reader))?;
                match stack.last_mut() {
                    Some(current) => current.text.push_str(&data),
                    None => return Err(WireError::new("xml", "CDATA outside the root element")),
                }
            }
            // No DTDs: nothing mobilPay sends has one, and entity tricks start there.
            Event::DocType(_) => return Err(WireError::new("xml", "DOCTYPE is not accepted")),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(WireError::new("xml", "document ends inside an element"));
    }
    root.ok_or_else(|| WireError::new("xml", "no root element"))
}

/// Text XML 1.0 can carry (its `Char` production): no C0 control but tab, line feed and carriage
/// return, written raw or as a character reference (`&#27;`), and no U+FFFE or U+FFFF.
fn xml_text(text: &str) -> Result<(), String> {
    let outside = |c: &char| {
        matches!(
            c,
            '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}'
        )
    };
    match text.chars().find(outside) {
        Some(c) => Err(format!(
            "character U+{:04X} is not allowed in XML 1.0",
            u32::from(c)
        )),
        None => Ok(()),
    }
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

/// Builds a document as a string. Text and attribute values go through quick-xml's escaping;
/// characters XML 1.0 cannot carry at all (most C0 controls) become U+FFFD rather than a
/// document the other side cannot parse.
pub(crate) struct XmlWriter {
    out: String,
}

pub(crate) const DECLARATION: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

impl XmlWriter {
    /// Starts with `<?xml version="1.0" encoding="utf-8"?>`, as mobilPay's PHP DOM writes it.
    pub fn document() -> Self {
        Self {
            out: DECLARATION.to_string(),
        }
    }

    pub fn open(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push('>');
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
        self
    }

    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attrs);
        self.out.push_str("/>");
        self
    }

    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.leaf_with(name, &[], text)
    }

    pub fn leaf_with(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.open(name, attrs);
        self.text(text);
        self.close(name)
    }

    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    pub fn text(&mut self, text: &str) -> &mut Self {
        self.out
            .push_str(&quick_xml::escape::escape(xml_chars(text)));
        self
    }

    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    fn start_tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out
                .push_str(&quick_xml::escape::escape(xml_chars(value)));
            self.out.push('"');
        }
    }
}

fn xml_chars(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_paths_text_and_attributes() {
        let doc = parse(
            "\u{feff}<?xml version=\"1.0\"?><s:a xmlns:s=\"urn:x\" k=\"v &amp; w\"><b>\n 1 &lt;2 </b><c/><b2><![CDATA[x<y]]></b2></s:a>",
        )
        .unwrap();
        assert_eq!(doc.name, "a");
        assert_eq!(doc.attr("k"), Some("v & w"));
        assert_eq!(doc.attr("s"), None);
        assert_eq!(doc.req_child("b").unwrap().text(), "1 <2");
        assert_eq!(doc.req_child("b2").unwrap().raw_text(), "x<y");
        assert_eq!(doc.req_child("c").unwrap().path, "a.c");
        assert_eq!(doc.req_child("d").unwrap_err().field, "a.d");
        assert_eq!(doc.req_attr("z").unwrap_err().field, "a.z");
    }

    #[test]
    fn rejects_malformed_documents() {
        for bad in [
            "",
            "<a>",
            "<a></b>",
            "<a/><b/>",
            "x<a/>",
            "<a>&bogus;</a>",
            "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>",
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.field, "xml", "{bad}: {err}");
        }
        assert_eq!(
            parse("<a><b k=\"1\" k=\"2\"/></a>").unwrap_err().field,
            "a.b"
        );
        for bad in [
            "<a>x\u{0}y</a>",
            "<a>&#27;[2J</a>",
            "<a k=\"&#1;\"/>",
            "<a><![CDATA[\u{7}]]></a>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            parse("<a>tab\tand&#10;line</a>").unwrap().raw_text(),
            "tab\tand\nline"
        );
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(parse(&deep).is_err());
        let dup = parse("<a><b/><b/></a>").unwrap();
        assert_eq!(dup.child("b").unwrap_err().reason, "appears more than once");
    }

    #[test]
    fn writer_escapes_and_round_trips() {
        let tricky = "<&>\"' ]]> \u{1} Ș";
        let xml = XmlWriter::document()
            .open("a", &[("k", tricky)])
            .leaf("b", tricky)
            .close("a")
            .finish();
        let doc = parse(&xml).unwrap();
        let expected = "<&>\"' ]]> \u{fffd} Ș";
        assert_eq!(doc.attr("k"), Some(expected));
        assert_eq!(doc.req_child("b").unwrap().raw_text(), expected);
    }
}
