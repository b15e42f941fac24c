//! A guard in front of calamine's `.xls` (BIFF) reader.
//!
//! calamine parses every sheet of an `.xls` workbook while opening it, and sizes its memory by
//! what the file claims. A sheet's `DIMENSIONS` record makes it reserve rows × columns cells: a
//! 5 KB file that claims four billion rows of 65,535 columns makes it ask for 11 PB and the
//! process aborts (an abort, not a panic: nothing can catch it). A sheet's cells are then laid
//! out in their bounding box: cells at `A1` and `IV65536` are 16.7 million cells (half a GB),
//! and a workbook may list the same sheet many times. A few short records (a `BOF`, `FILEPASS`,
//! `CODEPAGE`, `DATEMODE` or `BOUNDSHEET` record cut short, a sheet that starts past the end of
//! the stream) make it panic.
//!
//! [`guard`] reads the workbook stream's records as calamine will and refuses such a file before
//! calamine sees it; the file it lets through is a container rebuilt around the one stream it
//! checked, so calamine reads exactly the bytes that were checked.

use std::io::{Cursor, Read, Write};

/// Most cells calamine may lay out over all the sheets of one workbook (their bounding boxes, of
/// values and of formulas, and the cells reserved by `DIMENSIONS` records): 65,536 rows (all an
/// `.xls` sheet has) of 64 columns. A table has at most 17 columns.
pub const MAX_CELLS: u64 = 1 << 22;

/// Most sheets a workbook may list.
pub const MAX_SHEETS: usize = 256;

/// Why a workbook is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its sheets would need more cells than [`MAX_CELLS`].
    #[error("its sheets claim {cells} cells, more than the limit of {MAX_CELLS}")]
    TooLarge {
        /// Cells claimed, counted up to where the limit was passed.
        cells: u64,
    },
    /// It lists more sheets than [`MAX_SHEETS`].
    #[error("it lists {0} sheets, more than the limit of {MAX_SHEETS}")]
    TooManySheets(usize),
    /// A record the reader would fail on.
    #[error("{0}")]
    Malformed(String),
}

/// The first bytes of a compound file (an `.xls` workbook, an encrypted `.xlsx`).
pub const SIGNATURE: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Whether `bytes` are a compound file holding an encrypted package (a password-protected
/// `.xlsx`).
pub fn encrypted(bytes: &[u8]) -> bool {
    cfb::CompoundFile::open(Cursor::new(bytes)).is_ok_and(|cf| cf.is_stream("/EncryptedPackage"))
}

/// Checks an `.xls` workbook. `Ok(None)`: not a compound file with a `Workbook` (or `Book`)
/// stream at its root, so not to be read as `.xls`. `Ok(Some(container))`: the workbook stream
/// in a container of its own, safe to hand to calamine.
pub fn guard(bytes: &[u8]) -> Result<Option<Vec<u8>>, Refusal> {
    let Ok(mut cf) = cfb::CompoundFile::open(Cursor::new(bytes)) else {
        return Ok(None);
    };
    let Some(name) = ["/Workbook", "/Book"].into_iter().find(|n| cf.is_stream(n)) else {
        return Ok(None);
    };
    let mut stream = Vec::new();
    let read = cf
        .open_stream(name)
        .and_then(|mut s| s.read_to_end(&mut stream));
    if read.is_err() {
        return Ok(None);
    }
    check(&stream)?;
    // Version 3 (512-byte sectors): calamine reads a version-4 file only when its root has a
    // mini stream, which a workbook stream of 4 KiB or more does not need.
    let mut out = cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new()))
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    out.create_stream(name)
        .and_then(|mut s| s.write_all(&stream))
        .and_then(|()| out.flush())
        .map_err(|e| Refusal::Malformed(e.to_string()))?;
    Ok(Some(out.into_inner().into_inner()))
}

/// One BIFF record: its type and data (the `CONTINUE` records after it are skipped, as calamine
/// joins them to it).
struct Record<'a> {
    typ: u16,
    data: &'a [u8],
}

/// calamine's record iterator: `None` at the end of the stream or where it would stop with an
/// error (a record longer than what is left).
fn records(mut stream: &[u8]) -> impl Iterator<Item = Record<'_>> {
    std::iter::from_fn(move || {
        let t = u16_at(stream, 0)?;
        let len = usize::from(u16_at(stream, 2)?);
        let data = stream.get(4..4 + len)?;
        stream = &stream[4 + len..];
        while stream.len() > 4 && u16_at(stream, 0) == Some(0x003C) {
            let len = usize::from(u16_at(stream, 2)?);
            stream = stream.get(4 + len..)?;
        }
        Some(Record { typ: t, data })
    })
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Where `part` (a slice of `stream`) starts in `stream`.
fn offset(stream: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - stream.as_ptr() as usize
}

fn short(what: &str, at: usize) -> Refusal {
    Refusal::Malformed(format!(
        "a {what} record at byte {at} of the workbook stream is cut short"
    ))
}

/// The bounding box of the cells of one kind (values or formulas) of one sheet.
#[derive(Default)]
struct BoundingBox(Option<(u32, u32, u32, u32)>);

impl BoundingBox {
    fn add(&mut self, row: u32, col: u32) {
        self.0 = Some(match self.0 {
            None => (row, row, col, col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(col), c1.max(col)),
        });
    }
    fn cells(&self) -> u64 {
        self.0.map_or(0, |(r0, r1, c0, c1)| {
            (u64::from(r1 - r0) + 1) * (u64::from(c1 - c0) + 1)
        })
    }
}

/// Walks the workbook stream as calamine's `Xls::parse_workbook` does, adding up the cells it
/// would allocate.
fn check(stream: &[u8]) -> Result<(), Refusal> {
    // The workbook globals: the sheets' positions, and the records read with no length check.
    let mut sheets = Vec::new();
    for r in records(stream) {
        let at = offset(stream, r.data);
        match r.typ {
            0x002F if r.data.len() < 2 => return Err(short("FILEPASS", at)),
            0x0042 if r.data.len() < 2 => return Err(short("CODEPAGE", at)),
            0x0022 if r.data.len() < 2 => return Err(short("DATEMODE", at)),
            0x0809 if r.data.len() < 2 => return Err(short("BOF", at)),
            0x0085 => {
                let pos = match (u32_at(r.data, 0), r.data.len()) {
                    (Some(pos), 8..) => pos as usize,
                    _ => return Err(short("BOUNDSHEET", at)),
                };
                if pos > stream.len() {
                    return Err(Refusal::Malformed(format!(
                        "a sheet starts at byte {pos}, past the end of the workbook stream ({} bytes)",
                        stream.len()
                    )));
                }
                sheets.push(pos);
                if sheets.len() > MAX_SHEETS {
                    return Err(Refusal::TooManySheets(sheets.len()));
                }
            }
            0x000A => break,
            _ => {}
        }
    }
    let mut total: u64 = 0;
    for pos in sheets {
        let (cells, fails) = sheet(stream, pos)?;
        total = total.saturating_add(cells);
        if total > MAX_CELLS {
            return Err(Refusal::TooLarge { cells: total });
        }
        if fails {
            // calamine stops reading the workbook here with an error of its own.
            break;
        }
    }
    Ok(())
}

/// The cells calamine would allocate for the sheet at `pos` of the stream, and whether it would
/// stop there with an error (a record shorter than it requires).
fn sheet(stream: &[u8], pos: usize) -> Result<(u64, bool), Refusal> {
    let (mut values, mut formulas) = (BoundingBox::default(), BoundingBox::default());
    let mut reserved: u64 = 0;
    let (mut seen_bof, mut depth) = (false, 0usize);
    let mut formula_at = (0, 0);
    let mut fails = false;
    let sum = |reserved: u64, values: &BoundingBox, formulas: &BoundingBox| {
        reserved
            .saturating_add(values.cells())
            .saturating_add(formulas.cells())
    };
    for r in records(stream.get(pos..).unwrap_or_default()) {
        let d = r.data;
        if depth > 0 {
            match r.typ {
                0x0809 => depth += 1,
                0x000A => depth -= 1,
                _ => {}
            }
            continue;
        }
        // Row and column, at the start of every cell record.
        let rc = || Some((u32::from(u16_at(d, 0)?), u32::from(u16_at(d, 2)?)));
        let malformed = |what: &str| {
            Refusal::Malformed(format!(
                "a {what} record at byte {} of the workbook stream ends before it starts",
                offset(stream, d)
            ))
        };
        match r.typ {
            0x0809 if seen_bof => depth += 1,
            0x0809 => seen_bof = true,
            0x0200 => match dimensions(d) {
                None => fails = true,
                Some(None) => return Err(malformed("DIMENSIONS")),
                Some(Some(cells)) => reserved = reserved.max(cells),
            },
            // Number, Label, RString, BoolErr, Rk, LabelSst: one cell each, or an error when
            // shorter than calamine requires.
            0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD => {
                let need = match r.typ {
                    0x0203 => 14,
                    0x0204 | 0x00D6 => 6,
                    0x0205 => 8,
                    _ => 10,
                };
                match rc() {
                    Some((row, col)) if d.len() >= need => values.add(row, col),
                    _ => fails = true,
                }
            }
            // String: the value of the formula before it.
            0x0207 => values.add(formula_at.0, formula_at.1),
            // MulRk: cells `first..=last` of one row, or an error when its length does not
            // match them. calamine counts them in 16 bits: a count that wraps is refused.
            0x00BD => match (rc(), d.len().checked_sub(2).and_then(|k| u16_at(d, k))) {
                (Some((row, first)), Some(last)) if d.len() >= 6 => {
                    let last = u32::from(last);
                    if last < first || last - first == 0xFFFF {
                        return Err(malformed("MULRK"));
                    }
                    if d.len() == 6 + 6 * (last - first + 1) as usize {
                        values.add(row, first);
                        values.add(row, last);
                    } else {
                        fails = true;
                    }
                }
                _ => fails = true,
            },
            // Formula: its value and its text.
            0x0006 => match rc() {
                Some((row, col)) if d.len() >= 20 => {
                    formula_at = (row, col);
                    values.add(row, col);
                    formulas.add(row, col);
                }
                _ => fails = true,
            },
            0x000A => break,
            _ => {}
        }
        let cells = sum(reserved, &values, &formulas);
        if cells > MAX_CELLS {
            return Err(Refusal::TooLarge { cells });
        }
        if fails {
            break;
        }
    }
    Ok((sum(reserved, &values, &formulas), fails))
}

/// The cells a `DIMENSIONS` record makes calamine reserve: `None` when calamine refuses the
/// record (its length), `Some(None)` when its last row or column comes before its first (which
/// calamine does not check: it would reserve an absurd number of cells).
fn dimensions(d: &[u8]) -> Option<Option<u64>> {
    let (rf, rl, cf, cl) = match d.len() {
        10 => (
            u32::from(u16_at(d, 0)?),
            u32::from(u16_at(d, 2)?),
            u32::from(u16_at(d, 4)?),
            u32::from(u16_at(d, 6)?),
        ),
        14 | 16 => (
            u32_at(d, 0)?,
            u32_at(d, 4)?,
            u32::from(u16_at(d, 8)?),
            u32::from(u16_at(d, 10)?),
        ),
        _ => return None,
    };
    let cf = if cf > 0xFF || cl < cf { 0 } else { cf };
    if rl == 0 || cl == 0 {
        return Some(Some(1));
    }
    // rows = (rl - 1) - rf + 1, cols = (cl - 1) - cf + 1, in calamine's unchecked u32.
    let rows = (rl - 1).checked_sub(rf).map(|r| u64::from(r) + 1);
    let cols = (cl - 1).checked_sub(cf).map(|c| u64::from(c) + 1);
    Some(rows.zip(cols).map(|(r, c)| r * c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    /// A workbook stream: globals naming one sheet, then the sheet's records.
    fn workbook(sheet: &[Vec<u8>]) -> Vec<u8> {
        let bof = record(0x0809, &[0, 6, 5, 0, 0, 0, 0, 0]);
        let eof = record(0x000A, &[]);
        // BOF, BOUNDSHEET (4 + 9 bytes), EOF; the sheet starts after them.
        let at = (bof.len() + 13 + eof.len()) as u32;
        let mut bound = at.to_le_bytes().to_vec();
        bound.extend([0, 0, 1, 0, b'a']);
        let mut s = bof.clone();
        s.extend(record(0x0085, &bound));
        s.extend(&eof);
        assert_eq!(s.len(), at as usize);
        s.extend(&bof);
        for r in sheet {
            s.extend(r);
        }
        s.extend(eof);
        s
    }

    fn cell(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend([0; 10]);
        record(0x0203, &d)
    }

    fn dims(rf: u32, rl: u32, cf: u16, cl: u16) -> Vec<u8> {
        let mut d = rf.to_le_bytes().to_vec();
        d.extend(rl.to_le_bytes());
        d.extend(cf.to_le_bytes());
        d.extend(cl.to_le_bytes());
        d.extend([0, 0]);
        record(0x0200, &d)
    }

    #[test]
    fn dimensions_count_as_calamine_reserves() {
        let d = |rf: u32, rl: u32, cf: u16, cl: u16| {
            let r = dims(rf, rl, cf, cl);
            dimensions(&r[4..])
        };
        assert_eq!(d(0, 2, 0, 1), Some(Some(2)));
        assert_eq!(d(0, 65536, 0, 256), Some(Some(65536 * 256)));
        assert_eq!(d(3, 3, 0, 1), Some(None), "last row before the first");
        assert_eq!(
            d(0, u32::MAX, 0, u16::MAX),
            Some(Some(u64::from(u32::MAX) * 65535))
        );
        assert_eq!(d(0, 0, 0, 0), Some(Some(1)));
        assert_eq!(dimensions(&[0; 12]), None);
    }

    #[test]
    fn a_small_sheet_passes() {
        let s = workbook(&[dims(0, 2, 0, 2), cell(0, 0), cell(1, 1)]);
        assert_eq!(check(&s), Ok(()));
    }

    #[test]
    fn a_sheet_claiming_billions_of_cells_is_refused() {
        let s = workbook(&[dims(0, u32::MAX, 0, u16::MAX), cell(0, 0)]);
        assert!(matches!(check(&s), Err(Refusal::TooLarge { .. })));
        let s = workbook(&[dims(5, 1, 0, 1)]);
        assert!(matches!(check(&s), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn far_apart_cells_are_refused() {
        let s = workbook(&[cell(0, 0), cell(65535, 255)]);
        assert_eq!(check(&s), Err(Refusal::TooLarge { cells: 65536 * 256 }));
        // Within the limit: a full-height table of 17 columns.
        let s = workbook(&[cell(0, 0), cell(65535, 16)]);
        assert_eq!(check(&s), Ok(()));
    }

    #[test]
    fn short_records_and_stray_sheets_are_refused() {
        let mut s = record(0x0809, &[0]);
        s.extend(record(0x000A, &[]));
        assert!(matches!(check(&s), Err(Refusal::Malformed(m)) if m.contains("BOF")));
        let mut s = record(0x0085, &[1, 0, 0]);
        s.extend(record(0x000A, &[]));
        assert!(matches!(check(&s), Err(Refusal::Malformed(m)) if m.contains("BOUNDSHEET")));
        let mut s = record(0x0085, &[0xff, 0xff, 0, 0, 0, 0, 1, 0]);
        s.extend(record(0x000A, &[]));
        assert!(matches!(check(&s), Err(Refusal::Malformed(m)) if m.contains("past the end")));
    }

    #[test]
    fn the_same_sheet_listed_many_times_adds_up() {
        let mut s = record(0x0809, &[0, 6]);
        let sheet_at = 4 + 2 + (MAX_SHEETS * 12) + 4;
        for _ in 0..MAX_SHEETS {
            let mut b = (sheet_at as u32).to_le_bytes().to_vec();
            b.extend([0, 0, 1, 0]);
            s.extend(record(0x0085, &b));
        }
        s.extend(record(0x000A, &[]));
        assert_eq!(s.len(), sheet_at);
        s.extend(cell(0, 0));
        s.extend(cell(65535, 0));
        s.extend(record(0x000A, &[]));
        assert!(matches!(check(&s), Err(Refusal::TooLarge { .. })));
    }
}
