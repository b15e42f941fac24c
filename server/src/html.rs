//! HTML text escaping for the printed pages (the ceremony sheet, the families' notices).

/// `s` with `& < > " '` written as character references.
pub fn escape(s: &str) -> String {
    Escaped(s).to_string()
}

/// Shows its text with `& < > " '` written as character references (what [`escape`] returns),
/// without making a string of it first: `write!(page, "<td>{}</td>", Escaped(name))`.
pub struct Escaped<'a>(pub &'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        let mut from = 0;
        for (i, b) in s.bytes().enumerate() {
            let r = match b {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                b'\'' => "&#39;",
                _ => continue,
            };
            // The five are ASCII, so `i` is a character boundary.
            f.write_str(&s[from..i])?;
            f.write_str(r)?;
            from = i + 1;
        }
        f.write_str(&s[from..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_the_five_and_keeps_the_rest() {
        assert_eq!(escape("<a&\"'>"), "&lt;a&amp;&quot;&#39;&gt;");
        assert_eq!(escape(""), "");
        assert_eq!(
            escape("李一鸣 & 阿依古丽·买买提"),
            "李一鸣 &amp; 阿依古丽·买买提"
        );
        assert_eq!(escape("路246号<出租房>'"), "路246号&lt;出租房&gt;&#39;");
        assert_eq!(format!("[{}]", Escaped("x<y")), "[x&lt;y]");
    }
}
