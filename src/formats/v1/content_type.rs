//! MIME types as testtools reads them, for v1's `Content-Type:` lines and
//! python's rendering of attachments.

use std::fmt::Write as _;

/// A MIME type as testtools' `_make_content_type` understands it: type and
/// subtype lowercased (`text/plain` when malformed, as Python's email
/// parser has it), parameters by name. None is `application/octet-stream`.
#[derive(Debug, PartialEq, Eq)]
pub struct ContentType {
    /// `text/plain`.
    pub full_type: String,
    /// Parameters, sorted by name, unquoted.
    pub parameters: Vec<(String, String)>,
}

impl ContentType {
    /// Parses a packet's MIME type.
    pub fn parse(mime: Option<&str>) -> ContentType {
        let mime = mime.unwrap_or("application/octet-stream");
        let mut parts = split_unquoted(mime, ';').into_iter();
        let full = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let full_type = match full.split_once('/') {
            Some((t, s)) if is_token(t) && is_token(s) => full,
            _ => "text/plain".to_owned(),
        };
        let mut parameters: Vec<(String, String)> = Vec::new();
        for part in parts {
            let Some((name, value)) = part.split_once('=') else {
                continue;
            };
            let name = name.trim().to_ascii_lowercase();
            let mut value = unquote(value.trim());
            if name == "charset" {
                if let Some(comma) = value.find(',') {
                    value.truncate(comma);
                }
            }
            parameters.retain(|(n, _)| *n != name);
            parameters.push((name, value));
        }
        parameters.sort();
        ContentType {
            full_type,
            parameters,
        }
    }

    /// `text/plain;charset=utf8,language=python`: the form of a v1
    /// multipart `Content-Type:` line.
    pub fn v1_form(&self) -> String {
        let mut out = self.full_type.clone();
        if !self.parameters.is_empty() {
            out.push(';');
            let params: Vec<String> = self
                .parameters
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            out.push_str(&params.join(","));
        }
        out
    }

    /// `text/plain; charset="utf8"`: testtools' `repr` of a content type.
    pub fn python_repr(&self) -> String {
        let mut out = self.full_type.clone();
        for (k, v) in &self.parameters {
            let _ = write!(out, "; {k}=\"{v}\"");
        }
        out
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c == '/')
}

/// Splits at `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_parse_like_testtools() {
        let ct = ContentType::parse(Some("text/plain;charset=\"utf8\""));
        assert_eq!(ct.v1_form(), "text/plain;charset=utf8");
        assert_eq!(ct.python_repr(), "text/plain; charset=\"utf8\"");
        let ct = ContentType::parse(Some("text/x-traceback;charset=utf8,language=python"));
        assert_eq!(ct.v1_form(), "text/x-traceback;charset=utf8");
        assert_eq!(
            ContentType::parse(None).v1_form(),
            "application/octet-stream"
        );
        assert_eq!(ContentType::parse(Some("nonsense")).v1_form(), "text/plain");
        assert_eq!(
            ContentType::parse(Some("Text/Plain; Language=python; charset=utf8")).v1_form(),
            "text/plain;charset=utf8,language=python"
        );
    }
}
