//! What the user's browser does with a Netopia `redirect_url` (for `/_sandbox/complete`): it
//! GETs the merchant's page, which holds a form whose action is mobilPay's card page and whose
//! hidden fields are the sealed order (`env_key`, `data`, `cipher`, `iv`). A tolerant reader of
//! that one form: attributes in any order and quoting, entities decoded.

use std::collections::HashMap;

/// The first form of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub action: String,
    /// Every named input of the form (hidden ones included).
    pub fields: HashMap<String, String>,
}

/// GETs `url` like a browser and reads its form.
pub async fn fetch_form(http: &reqwest::Client, url: &url::Url) -> Result<Form, String> {
    let r = http
        .get(url.as_str())
        .send()
        .await
        .map_err(|e| format!("the merchant's page cannot be opened: {e}"))?;
    let status = r.status();
    let html = r
        .text()
        .await
        .map_err(|e| format!("the merchant's page cannot be read: {e}"))?;
    if !status.is_success() {
        return Err(format!("the merchant's page answered HTTP {status}"));
    }
    parse_form(&html).ok_or_else(|| "the merchant's page holds no form".to_string())
}

/// The tags named `name` (`<name ...>`), each as its attribute text; `lower` is `html` in
/// ASCII lower case (same offsets).
fn tags<'a>(html: &'a str, lower: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let open = format!("<{name}");
    let mut at = 0;
    std::iter::from_fn(move || loop {
        let start = at + lower.get(at..)?.find(&open)?;
        let after = start + open.len();
        at = after;
        // `<inputs` is not `<input`.
        if !lower[after..].starts_with(|c: char| c.is_ascii_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let end = after + lower[after..].find('>')?;
        at = end + 1;
        return Some(&html[after..end]);
    })
}

/// Attributes of a tag's text: `name="v"`, `name='v'`, `name=v` or a bare `name`.
fn attributes(tag: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = tag.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c.is_ascii_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let close = body.find(q).unwrap_or(body.len());
                    (&body[..close], body.get(close + 1..).unwrap_or(""))
                }
                _ => {
                    let close = after
                        .find(|c: char| c.is_ascii_whitespace())
                        .unwrap_or(after.len());
                    (&after[..close], &after[close..])
                }
            };
            value = html_escape::decode_html_entities(v).into_owned();
            rest = tail;
        } else if name.is_empty() {
            // A stray `/` or `=`: skip it.
            rest = rest.get(1..).unwrap_or("");
        }
        if !name.is_empty() {
            out.entry(name).or_insert(value);
        }
        rest = rest.trim_start();
    }
    out
}

/// The first form of `html`: its action and named inputs.
pub fn parse_form(html: &str) -> Option<Form> {
    let lower = html.to_ascii_lowercase();
    let form_tag = tags(html, &lower, "form").next()?;
    let action = attributes(form_tag).remove("action").unwrap_or_default();
    let form_start = lower.find("<form")?;
    let form_end = lower[form_start..]
        .find("</form")
        .map(|i| form_start + i)
        .unwrap_or(html.len());
    let (inner, inner_lower) = (&html[form_start..form_end], &lower[form_start..form_end]);
    let fields = tags(inner, inner_lower, "input")
        .map(attributes)
        .filter_map(|mut a| {
            let name = a.remove("name").filter(|n| !n.is_empty())?;
            Some((name, a.remove("value").unwrap_or_default()))
        })
        .collect();
    Some(Form { action, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_adapters_page() {
        let html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Card payment</title></head>\n\
            <body onload=\"document.getElementById('pay').submit()\">\n\
            <form id=\"pay\" method=\"post\" action=\"http://127.0.0.1:9090/netopia/card?a=1&amp;b=2\">\n\
            <input type=\"hidden\" name=\"env_key\" value=\"AB+/cd==\">\n\
            <input type=\"hidden\" name=\"data\" value=\"x&quot;y\">\n\
            <input type=hidden name='cipher' value=aes-256-cbc>\n\
            <INPUT TYPE=\"hidden\" NAME=\"iv\" VALUE=\"iv==\"/>\n\
            <button type=\"submit\">Pay by card</button>\n</form>\n</body></html>\n";
        let form = parse_form(html).unwrap();
        assert_eq!(form.action, "http://127.0.0.1:9090/netopia/card?a=1&b=2");
        assert_eq!(form.fields["env_key"], "AB+/cd==");
        assert_eq!(form.fields["data"], "x\"y");
        assert_eq!(form.fields["cipher"], "aes-256-cbc");
        assert_eq!(form.fields["iv"], "iv==");
        assert_eq!(form.fields.len(), 4);
    }

    #[test]
    fn a_page_without_a_form_has_none() {
        assert_eq!(parse_form("<p>no such payment</p>"), None);
        assert_eq!(parse_form("<formx action=x>"), None);
    }
}
