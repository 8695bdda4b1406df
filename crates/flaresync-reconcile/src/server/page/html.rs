//! HTML escaping and the few formatting helpers the status page shares (pure).

use std::borrow::Cow;

/// `text` safe in HTML text and in double- or single-quoted attribute values.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A commit id as the page shows it: the first 7 characters, the full id in a tooltip.
pub fn commit(id: &str) -> String {
    let short = id.get(..7).unwrap_or(id);
    format!(
        "<code class=\"commit\" title=\"{}\">{}</code>",
        escape(id),
        escape(short)
    )
}

/// A version id as the page shows it: the first 8 characters, the full id in a tooltip.
pub fn version(id: &str) -> String {
    let short = id.get(..8).unwrap_or(id);
    format!(
        "<code class=\"version\" title=\"{}\">{}</code>",
        escape(id),
        escape(short)
    )
}

/// An RFC 3339 time as `2026-01-01 12:00:00 UTC`; anything else escaped as it is.
pub fn time(text: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(at) => format!(
            "<time datetime=\"{}\">{}</time>",
            escape(text),
            at.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
        ),
        Err(_) => escape(text).into_owned(),
    }
}

/// A traffic share: `100%`, `90%`, `12.5%`.
pub fn percent(value: f64) -> String {
    let rounded = (value * 100.0).round() / 100.0;
    format!("{rounded}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_character_that_could_open_markup() {
        assert_eq!(
            escape(r#"<img src=x onerror="alert('x')"> & more"#),
            "&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt; &amp; more"
        );
        assert!(matches!(escape("demo-api"), Cow::Borrowed("demo-api")));
        assert_eq!(escape("café ☕"), "café ☕");
    }

    #[test]
    fn ids_are_shortened_with_the_full_id_in_the_title() {
        assert_eq!(
            commit("0123456789abcdef"),
            r#"<code class="commit" title="0123456789abcdef">0123456</code>"#
        );
        assert_eq!(
            commit("<b>"),
            r#"<code class="commit" title="&lt;b&gt;">&lt;b&gt;</code>"#
        );
        assert!(version("f00dfeed-1234").contains(">f00dfeed<"));
        // A multi-byte id is never cut inside a character.
        assert_eq!(
            commit("ééééé"),
            r#"<code class="commit" title="ééééé">ééééé</code>"#
        );
    }

    #[test]
    fn times_and_percentages() {
        assert_eq!(
            time("2026-01-01T12:00:00.5+01:00"),
            r#"<time datetime="2026-01-01T12:00:00.5+01:00">2026-01-01 11:00:00 UTC</time>"#
        );
        assert_eq!(time("<yesterday>"), "&lt;yesterday&gt;");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(12.5), "12.5%");
        assert_eq!(percent(33.333_333), "33.33%");
    }
}
