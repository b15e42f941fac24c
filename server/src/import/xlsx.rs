//! A guard in front of calamine's `.xlsx` reader.
//!
//! Opening an `.xlsx` workbook, calamine reads its shared-strings part and reserves room for as
//! many strings as the part's `uniqueCount` attribute claims, before reading any. A 7 KB
//! workbook claiming 10^14 strings made it ask for 2.4 PB and the process aborted (an
//! allocation failure: nothing can catch it). And a compressed part can hold far more strings
//! than its size suggests. [`guard`] reads the part first, the way calamine finds it, and
//! refuses a claimed or actual count beyond [`MAX_SHARED_STRINGS`]; every other part calamine
//! reads whole while opening the workbook is bounded by [`MAX_PART_BYTES`] once uncompressed.

use std::io::{BufReader, Cursor, Read};

/// Most bytes of shared-strings XML read from one workbook: 512 MiB (a million applicants'
/// names and addresses are about 150 MB). calamine holds their text in memory.
pub const MAX_SHARED_STRING_BYTES: u64 = 512 << 20;

/// Most bytes any other part of a workbook (but its sheets) may hold once uncompressed: 64 MiB
/// (a workbook's styles and sheet list are a few KB).
pub const MAX_PART_BYTES: u64 = 64 << 20;

/// Most shared strings a workbook may claim or hold: 33.5 million, far beyond a city's
/// applicants (a few strings each), far below an allocation that can fail. calamine keeps them
/// all in memory (about 40 bytes each beside their text).
pub const MAX_SHARED_STRINGS: u64 = 1 << 25;

/// Checks an `.xlsx` (or `.xlsm`) workbook; `Err` says why calamine must not open it. A file
/// that is not a zip archive passes (calamine does not read it as `.xlsx` either).
pub fn guard(bytes: &[u8]) -> Result<(), String> {
    guard_with(bytes, MAX_SHARED_STRINGS, MAX_PART_BYTES)
}

/// [`guard`] with a limit of `max` strings and `max_part` bytes for the other parts (smaller in
/// the tests).
fn guard_with(bytes: &[u8], max: u64, max_part: u64) -> Result<(), String> {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
        return Ok(());
    };
    // calamine reads `<workbook folder>/sharedStrings.xml`, its folder taken from the package's
    // relationships: every part of that name is checked, wherever it is.
    for i in 0..zip.len() {
        let Ok(mut part) = zip.by_index(i) else {
            continue;
        };
        let lower = part.name_raw().to_ascii_lowercase();
        let name = String::from_utf8_lossy(part.name_raw()).into_owned();
        if !lower.ends_with(b"sharedstrings.xml") {
            // A sheet is read cell by cell, bounded by `read::MAX_SHEET_CELLS`; every other part
            // calamine reads whole while opening the workbook (relationships, styles, the
            // workbook's sheet list), and a few KB of zip can inflate to gigabytes.
            if lower.windows(11).any(|w| w == b"worksheets/") {
                continue;
            }
            let cap = match lower.ends_with(b"sharedstrings.bin") {
                true => MAX_SHARED_STRING_BYTES,
                false => max_part,
            };
            let read = std::io::copy(&mut (&mut part).take(cap + 1), &mut std::io::sink());
            if read.is_ok_and(|n| n > cap) {
                return Err(format!(
                    "{name} is longer than {cap} bytes once uncompressed"
                ));
            }
            continue;
        }
        let (claimed, strings, bytes) = shared_strings(BufReader::new(part), max);
        if let Some(n) = claimed
            && n > max
        {
            return Err(format!(
                "{name} claims {n} distinct strings, more than the limit of {max}"
            ));
        }
        if strings > max {
            return Err(format!("{name} holds more than {max} distinct strings"));
        }
        if bytes > MAX_SHARED_STRING_BYTES {
            return Err(format!(
                "{name} is longer than {MAX_SHARED_STRING_BYTES} bytes once uncompressed"
            ));
        }
    }
    Ok(())
}

/// What a shared-strings part holds, as calamine's reader meets it: the largest number the
/// `uniqueCount` attribute of its first `sst` element gives (`u64::MAX` for one too long to
/// count), the strings (`si` elements) after it, counted up to `max + 1`, and the bytes read.
/// Reading stops at the end of the part or at an XML error, where calamine stops too, or past
/// [`MAX_SHARED_STRING_BYTES`].
fn shared_strings(part: impl std::io::BufRead, max: u64) -> (Option<u64>, u64, u64) {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(part);
    let config = xml.config_mut();
    config.check_end_names = false;
    config.trim_text(false);
    config.check_comments = false;
    config.expand_empty_elements = true;
    let mut buf = Vec::new();
    let mut claimed = None;
    let mut strings = 0u64;
    loop {
        buf.clear();
        match xml.read_event_into(&mut buf) {
            Ok(Event::Start(e)) if claimed.is_none() && e.local_name().as_ref() == "sst" => {
                claimed = Some(largest_count(e.attributes_raw().as_bytes()));
            }
            Ok(Event::Start(e)) if claimed.is_some() && e.local_name().as_ref() == "si" => {
                strings += 1;
                if strings > max {
                    break;
                }
            }
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
        if xml.buffer_position() > MAX_SHARED_STRING_BYTES {
            break;
        }
    }
    (claimed.flatten(), strings, xml.buffer_position())
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
        let count = |xml: &str| shared_strings(xml.as_bytes(), 10).0;
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
        let strings = |xml: &str| shared_strings(xml.as_bytes(), 10).1;
        assert_eq!(
            strings(r#"<sst><si><t>a</t></si><x:si/><si></si></sst>"#),
            3
        );
        assert_eq!(
            strings(r#"<si/><sst><si/>"#),
            1,
            "only after the sst element"
        );
        assert_eq!(
            strings(&format!("<sst>{}", "<si/>".repeat(100))),
            11,
            "counted up to 11"
        );
    }

    #[test]
    fn a_workbook_holding_too_many_strings_is_refused() {
        let mut wb = rust_xlsxwriter::Workbook::new();
        let ws = wb.add_worksheet();
        for r in 0..5u32 {
            ws.write_string(r, 0, format!("s{r}")).expect("cell");
        }
        let bytes = wb.save_to_buffer().expect("xlsx");
        assert_eq!(guard_with(&bytes, 5, MAX_PART_BYTES), Ok(()));
        let e = guard_with(&bytes, 4, MAX_PART_BYTES).expect_err("refused");
        assert!(e.contains("claims 5 distinct strings"), "{e}");
        // Its styles part is larger than 100 bytes; its sheet is not counted.
        let e = guard_with(&bytes, 5, 100).expect_err("refused");
        assert!(
            e.contains("longer than 100 bytes") && !e.contains("worksheets/"),
            "{e}"
        );
        assert_eq!(guard(b"not a zip"), Ok(()));
    }
}
