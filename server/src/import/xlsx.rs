//! A guard in front of calamine's `.xlsx` reader.
//!
//! Opening an `.xlsx` workbook, calamine reads its shared-strings part and reserves room for as
//! many strings as the part's `uniqueCount` attribute claims, before reading any. A 7 KB
//! workbook claiming 10^14 strings made it ask for 2.4 PB and the process aborted (an
//! allocation failure: nothing can catch it). [`guard`] reads that attribute first, the way
//! calamine finds it, and refuses a count beyond [`MAX_SHARED_STRINGS`].

use std::io::{BufReader, Cursor};

/// Most shared strings a workbook may claim: 67 million, far beyond a province's applicants
/// (a few strings each), far below an allocation that can fail.
pub const MAX_SHARED_STRINGS: u64 = 1 << 26;

/// Checks an `.xlsx` (or `.xlsm`) workbook; `Err` says why calamine must not open it. A file
/// that is not a zip archive passes (calamine does not read it as `.xlsx` either).
pub fn guard(bytes: &[u8]) -> Result<(), String> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    // calamine reads `<workbook folder>/sharedStrings.xml`, its folder taken from the package's
    // relationships: every part of that name is checked, wherever it is.
    for i in 0..zip.len() {
        let Ok(part) = zip.by_index(i) else { continue };
        if !part
            .name_raw()
            .to_ascii_lowercase()
            .ends_with(b"sharedstrings.xml")
        {
            continue;
        }
        let name = String::from_utf8_lossy(part.name_raw()).into_owned();
        if let Some(n) = claimed_strings(BufReader::new(part))
            && n > MAX_SHARED_STRINGS
        {
            return Err(format!(
                "{name} claims {n} distinct strings, more than the limit of {MAX_SHARED_STRINGS}"
            ));
        }
    }
    Ok(())
}

/// The largest number a `uniqueCount` attribute of the first `sst` element gives (`u64::MAX`
/// for one too long to count), as calamine's reader meets it: the events before that element
/// are skipped, and reading stops at the end of the part or at an XML error (where calamine
/// stops too).
fn claimed_strings(part: impl std::io::BufRead) -> Option<u64> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(part);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "sst" => {
                return largest_count(e.attributes_raw().as_bytes());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Every number written after `uniqueCount` in a tag's attribute text, the largest: whatever
/// the spelling (quotes, spaces, signs), a count calamine could read is never larger.
fn largest_count(attrs: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"uniqueCount";
    let mut best = None;
    let mut at = 0;
    while let Some(k) = attrs[at..].windows(KEY.len()).position(|w| w == KEY) {
        let rest = &attrs[at + k + KEY.len()..];
        let value = rest
            .iter()
            .skip_while(|b| !b.is_ascii_digit() && !b"<>/".contains(b))
            .take_while(|b| b.is_ascii_digit());
        let mut n: u64 = 0;
        let mut digits = false;
        for d in value {
            digits = true;
            n = n.saturating_mul(10).saturating_add(u64::from(d - b'0'));
        }
        if digits {
            best = best.max(Some(n));
        }
        at += k + KEY.len();
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_the_sst_element() {
        let count = |xml: &str| claimed_strings(xml.as_bytes());
        assert_eq!(
            count(r#"<?xml version="1.0"?><sst uniqueCount="63" count="70"><si/></sst>"#),
            Some(63)
        );
        assert_eq!(
            count(r#"<!-- x --><x:sst xmlns:x="m" uniqueCount = '12'/>"#),
            Some(12)
        );
        assert_eq!(count(r#"<sst count="5"></sst>"#), None);
        assert_eq!(
            count(r#"<sst uniqueCount="99999999999999999999999"/>"#),
            Some(u64::MAX)
        );
        assert_eq!(
            count(r#"<sst uniqueCount="+100000000000000">"#),
            Some(100_000_000_000_000)
        );
        assert_eq!(count(r#"<other uniqueCount="7"/>"#), None);
    }
}
