//! Reading the bureau's tables: CSV (UTF-8 with or without BOM, GB18030, UTF-16 with BOM; comma-
//! or tab-separated) and workbooks (`.xlsx`, `.xlsm`, `.xls`: the first sheet), into rows of
//! text cells, and finding the columns by their English names or Chinese aliases.

use super::problem::{Problem, ProblemKind};
use calamine::{Data, Reader};
use std::borrow::Cow;
use std::io::Cursor;

/// The encoding a text file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8 without BOM.
    Utf8,
    /// UTF-8 with a byte-order mark (Excel's "CSV UTF-8").
    Utf8Bom,
    /// GB18030 (which includes GBK and GB2312: Excel's "CSV" on Chinese Windows).
    Gb18030,
    /// UTF-16 with a byte-order mark (Excel's "Unicode text").
    Utf16,
}

/// A table as read: a row number (as a spreadsheet shows it, from 1) and its cells.
#[derive(Debug, Clone, Default)]
pub struct Sheet {
    /// File name.
    pub file: String,
    /// Rows in file order, blank rows left out.
    pub rows: Vec<(usize, Vec<String>)>,
}

/// Largest input file the import reads: 1 GiB. A province's applicant list with its private
/// columns is a few hundred bytes per child, so this leaves room for several million rows; anything
/// larger is refused before it is read (see [`read_file_limited`]).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Longest line of a text table: 64 KiB. A real row is well under 1 KiB; a longer line is a
/// damaged or hostile file, refused with its line number instead of being parsed.
pub const MAX_LINE_BYTES: usize = 1 << 16;

/// Reads a file, refusing one larger than [`MAX_FILE_BYTES`] before reading it (by its metadata,
/// and again while reading, in case it grows meanwhile), and anything but a regular file (a
/// device such as `/dev/zero` never ends; opening a named pipe waits for a writer).
pub fn read_file_limited(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let too_large = || {
        std::io::Error::new(
            std::io::ErrorKind::FileTooLarge,
            format!("larger than {MAX_FILE_BYTES} bytes / 文件超过 {MAX_FILE_BYTES} 字节"),
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file (a device, pipe or socket) / 不是普通文件（设备、管道或套接字）",
        ));
    }
    let file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    if len > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

fn too_large(file: &str, len: usize) -> Problem {
    Problem::file(
        file,
        ProblemKind::FileUnreadable,
        format!("文件有 {len} 字节，超过上限 {MAX_FILE_BYTES} 字节"),
        format!("the file has {len} bytes, more than the limit of {MAX_FILE_BYTES}"),
    )
}

/// Is this a workbook file name (by extension)?
pub fn is_workbook(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Decodes a text file: UTF-8 (BOM stripped), UTF-16 with BOM, else GB18030.
pub fn decode<'a>(file: &str, bytes: &'a [u8]) -> Result<(Cow<'a, str>, TextEncoding), Problem> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return match std::str::from_utf8(rest) {
            Ok(s) => Ok((Cow::Borrowed(s), TextEncoding::Utf8Bom)),
            Err(e) => Err(not_text(file, &rest[..e.valid_up_to()])),
        };
    }
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        let enc = if bytes[0] == 0xFF {
            encoding_rs::UTF_16LE
        } else {
            encoding_rs::UTF_16BE
        };
        return match enc.decode_with_bom_removal(bytes) {
            (s, false) => Ok((Cow::Owned(s.into_owned()), TextEncoding::Utf16)),
            (_, true) => Err(Problem::file(
                file,
                ProblemKind::FileUnreadable,
                "文件以 UTF-16 标记开头，但内容不是有效的 UTF-16",
                "the file starts with a UTF-16 byte-order mark but is not valid UTF-16",
            )),
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok((Cow::Borrowed(s), TextEncoding::Utf8)),
        Err(e) => {
            match encoding_rs::GB18030.decode_without_bom_handling_and_without_replacement(bytes) {
                Some(s) => Ok((Cow::Owned(s.into_owned()), TextEncoding::Gb18030)),
                None => Err(not_text(file, &bytes[..e.valid_up_to()])),
            }
        }
    }
}

fn not_text(file: &str, valid_prefix: &[u8]) -> Problem {
    let line = 1 + valid_prefix.iter().filter(|b| **b == b'\n').count();
    Problem::file(
        file,
        ProblemKind::FileUnreadable,
        format!(
            "第 {line} 行起的内容既不是 UTF-8 也不是 GB18030 编码（文件可能已损坏，或不是文本表格）。请用 Excel 另存为“CSV UTF-8”或 .xlsx"
        ),
        format!(
            "from line {line} on the file is neither UTF-8 nor GB18030 (it may be damaged, or not a text table). Save it from Excel as \"CSV UTF-8\" or .xlsx"
        ),
    )
    .at_row(line)
}

/// Reads a table file: a workbook by extension, else delimited text.
pub fn read_sheet(file: &str, bytes: &[u8]) -> Result<Sheet, Problem> {
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(file, bytes.len()));
    }
    if is_workbook(file) {
        read_workbook(file, bytes)
    } else {
        read_csv(file, bytes)
    }
}

fn read_csv(file: &str, bytes: &[u8]) -> Result<Sheet, Problem> {
    let (text, _) = decode(file, bytes)?;
    if let Some((i, l)) = text
        .split('\n')
        .enumerate()
        .find(|(_, l)| l.len() > MAX_LINE_BYTES)
    {
        let line = i + 1;
        return Err(Problem::file(
            file,
            ProblemKind::FileUnreadable,
            format!(
                "第 {line} 行有 {} 字节，超过每行上限 {MAX_LINE_BYTES} 字节（文件可能已损坏，或不是文本表格）",
                l.len()
            ),
            format!(
                "line {line} has {} bytes, more than the limit of {MAX_LINE_BYTES} per line (the file may be damaged, or not a text table)",
                l.len()
            ),
        )
        .at_row(line));
    }
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches('\t').count() > first.matches(',').count() {
        b'\t'
    } else {
        b','
    };
    let rows = csv_rows(file, text.as_ref(), delimiter)?;
    Ok(Sheet {
        file: file.to_string(),
        rows,
    })
}

/// Records per part of a large CSV file whose cells are read in parallel.
const CSV_PART: usize = 16_384;

/// Files smaller than this are read on one thread.
const CSV_PARALLEL_BYTES: usize = 4 << 20;

fn csv_reader(bytes: &[u8], delimiter: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(bytes)
}

/// The rows of a CSV text: (record number from 1, cells without their spreadsheet marks),
/// blank rows left out. A large file is cut where every [`CSV_PART`]-th record starts — found
/// by one pass of the same CSV reader, so a cut never falls inside a quoted cell — and the parts'
/// cells are read in parallel; a reading error (or a part that reads otherwise than the pass
/// found) sends the whole file through [`csv_rows_whole`], whose answer is the reference.
fn csv_rows(file: &str, text: &str, delimiter: u8) -> Result<Rows, Problem> {
    if text.len() < CSV_PARALLEL_BYTES {
        return csv_rows_whole(file, text, delimiter);
    }
    csv_rows_in_parts(file, text, delimiter, CSV_PART)
}

/// The cells of a CSV text as [`read_sheet`] reads a large file: in parts of `part` records
/// (at least 1) read in parallel. Public for the tests and the fuzzer, which compare it with
/// [`csv_rows_whole`] at small part sizes.
#[doc(hidden)]
pub fn csv_rows_in_parts(
    file: &str,
    text: &str,
    delimiter: u8,
    part: usize,
) -> Result<Rows, Problem> {
    use rayon::prelude::*;
    let part = part.max(1);
    let mut rd = csv_reader(text.as_bytes(), delimiter);
    let mut rec = csv::ByteRecord::new();
    let mut starts = vec![0usize];
    let mut n = 0usize;
    loop {
        let at = rd.position().byte() as usize;
        match rd.read_byte_record(&mut rec) {
            Ok(true) => {
                if n > 0 && n.is_multiple_of(part) {
                    starts.push(at);
                }
                n += 1;
            }
            Ok(false) => break,
            Err(_) => return csv_rows_whole(file, text, delimiter),
        }
    }
    starts.push(text.len());
    let parts: Vec<Option<Rows>> = starts
        .par_windows(2)
        .enumerate()
        .map(|(k, w)| {
            let piece = text.get(w[0]..w[1])?;
            let (mut rows, read) = records(file, piece, delimiter).ok()?;
            // The part holds the records the pass found there; they are numbered after the
            // parts before it.
            if read != part.min(n - k * part) {
                return None;
            }
            for r in &mut rows {
                r.0 += k * part;
            }
            Some(rows)
        })
        .collect();
    if parts.iter().any(Option::is_none) {
        return csv_rows_whole(file, text, delimiter);
    }
    Ok(parts.into_iter().flatten().flatten().collect())
}

/// The cells of a CSV text read on one thread: the reference that [`csv_rows_in_parts`] must
/// agree with (public for the tests and the fuzzer).
#[doc(hidden)]
pub fn csv_rows_whole(file: &str, text: &str, delimiter: u8) -> Result<Rows, Problem> {
    Ok(records(file, text, delimiter)?.0)
}

/// Rows of a sheet: (row number, cells).
pub type Rows = Vec<(usize, Vec<String>)>;

/// [`csv_rows_whole`], and the number of records read (blank ones included).
fn records(file: &str, text: &str, delimiter: u8) -> Result<(Rows, usize), Problem> {
    let mut rd = csv_reader(text.as_bytes(), delimiter);
    let mut rows = Vec::new();
    let mut read = 0;
    for (i, rec) in rd.records().enumerate() {
        read = i + 1;
        let rec = rec.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize).unwrap_or(i + 1);
            Problem::file(
                file,
                ProblemKind::FileUnreadable,
                format!("第 {line} 行附近无法按 CSV 读取（{e}），常见原因是引号不成对"),
                format!("cannot be read as CSV near line {line} ({e}); unbalanced quotes are the usual cause"),
            )
            .at_row(line)
        })?;
        let cells: Vec<String> = rec.iter().map(|c| unmark(c).to_string()).collect();
        if cells.iter().all(|c| c.chars().all(is_blank)) {
            continue;
        }
        rows.push((i + 1, cells));
    }
    Ok((rows, read))
}

/// The MIME type an OpenDocument file names in its first bytes (`mimetype` entry).
const OPENDOCUMENT_MIME: &[u8] = b"application/vnd.oasis.opendocument";

thread_local! {
    /// Set while this thread reads a workbook: a panic then is calamine's, caught and reported
    /// as an unreadable file, and the panic hook keeps quiet about it.
    static READING_WORKBOOK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs (once) a panic hook that stays silent for a panic caught while reading a workbook
/// and hands every other panic to the hook there was before.
fn quiet_workbook_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !READING_WORKBOOK.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
}

fn read_workbook(file: &str, bytes: &[u8]) -> Result<Sheet, Problem> {
    // calamine panics on a few malformed files the guards below do not foresee: such a file is
    // refused like any other that cannot be opened (without a panic message on the clerk's
    // screen), and the import goes on.
    quiet_workbook_panics();
    READING_WORKBOOK.with(|r| r.set(true));
    let read = std::panic::catch_unwind(|| read_workbook_guarded(file, bytes));
    READING_WORKBOOK.with(|r| r.set(false));
    read.unwrap_or_else(|_| {
        Err(Problem::file(
            file,
            ProblemKind::FileUnreadable,
            "无法作为 Excel 工作簿打开（读取程序无法解析其结构）。文件可能已损坏，请另存为 .xlsx 或“CSV UTF-8”",
            "cannot be opened as a workbook (the reader could not make sense of its structure); it may be damaged: save it as .xlsx or \"CSV UTF-8\"",
        ))
    })
}

fn read_workbook_guarded(file: &str, bytes: &[u8]) -> Result<Sheet, Problem> {
    let broken = |e: &dyn std::fmt::Display| {
        Problem::file(
            file,
            ProblemKind::FileUnreadable,
            format!("无法作为 Excel 工作簿打开（{e}）。文件可能已损坏或加了密码"),
            format!(
                "cannot be opened as a workbook ({e}); it may be damaged or password-protected"
            ),
        )
    };
    // OpenDocument sheets are refused before any parsing: calamine builds an .ods sheet's whole
    // bounding box while opening it (up to 100 million cells, several GB), and a 1 KB file can
    // ask for that with repeated rows and columns. An .ods file starts with its uncompressed
    // `mimetype` entry; one that does not is refused below, as no format tried reads it.
    if bytes
        .get(..128)
        .unwrap_or(bytes)
        .windows(OPENDOCUMENT_MIME.len())
        .any(|w| w == OPENDOCUMENT_MIME)
    {
        return Err(Problem::file(
            file,
            ProblemKind::FileUnreadable,
            "是 OpenDocument（.ods）表格，不受支持。请另存为 .xlsx 或“CSV UTF-8”",
            "is an OpenDocument (.ods) sheet, which is not accepted; save it as .xlsx or \"CSV UTF-8\"",
        ));
    }
    // The Excel formats only (calamine's automatic detection would also try OpenDocument).
    // An .xls workbook is checked first (`xls::guard`: calamine sizes its memory by what the
    // file claims) and read from the container the guard rebuilt around what it checked.
    // A workbook refused by a guard below; an .xls file can still be saved as .xlsx.
    let too_costly = |kind: &str, e: &dyn std::fmt::Display| {
        let (zh, en) = match kind {
            ".xls" => (
                "请另存为 .xlsx 或“CSV UTF-8”",
                "save it as .xlsx or \"CSV UTF-8\"",
            ),
            _ => (
                "文件可能已损坏，请另存为“CSV UTF-8”",
                "it may be damaged: save it as \"CSV UTF-8\"",
            ),
        };
        Problem::file(
            file,
            ProblemKind::FileUnreadable,
            format!("作为 {kind} 工作簿读取时需要的内存过多（{e}）。{zh}"),
            format!("as an {kind} workbook it would take too much memory to read ({e}); {en}"),
        )
    };
    let xls = super::xls::guard(bytes).map_err(|e| match e {
        super::xls::Refusal::Malformed(m) => broken(&m),
        e => too_costly(".xls", &e),
    })?;
    let xls = xls
        .as_deref()
        .and_then(|c| calamine::open_workbook_from_rs(Cursor::new(c)).ok());
    // A compound file (.xls, or an encrypted .xlsx) is never handed to calamine as it is: its
    // own compound-file reader follows sector chains without a bound (a chain that loops grew
    // a directory past 2 GB, found by fuzzing), so it reads only the container `xls::guard`
    // rebuilt with the `cfb` crate.
    let compound = bytes.starts_with(&super::xls::SIGNATURE);
    let mut wb = if let Some(x) = xls {
        calamine::Sheets::Xls(x)
    } else if compound {
        return Err(broken(&match super::xls::encrypted(bytes) {
            true => "the workbook is password-protected",
            false => "not an Excel workbook: .xlsx, .xls or .xlsb",
        }));
    } else if let Err(e) = super::xlsx::guard(bytes) {
        // A zip package's shared strings and other parts are bounded before calamine reserves
        // room for what they claim.
        return Err(too_costly(".xlsx", &e));
    } else if let Ok(x) = calamine::open_workbook_from_rs(Cursor::new(bytes)) {
        calamine::Sheets::Xlsx(x)
    } else {
        match calamine::open_workbook_from_rs(Cursor::new(bytes)) {
            Ok(x) => calamine::Sheets::Xlsb(x),
            Err(calamine::XlsbError::Password) => {
                return Err(broken(&"the workbook is password-protected"));
            }
            Err(_) => return Err(broken(&"not an Excel workbook: .xlsx, .xls or .xlsb")),
        }
    };
    // .xlsx and .xlsb are read cell by cell; .xls only offers the bounding box, which the guard
    // above bounds (`xls::MAX_CELLS` over all sheets).
    let no_sheet = || {
        Problem::file(
            file,
            ProblemKind::FileUnreadable,
            "工作簿中没有工作表",
            "the workbook has no sheet",
        )
    };
    match &mut wb {
        calamine::Sheets::Xlsx(x) => {
            let name = x.sheet_names().first().cloned().ok_or_else(no_sheet)?;
            let mut rd = x.worksheet_cells_reader(&name).map_err(|e| broken(&e))?;
            return sparse_sheet(file, [MAX_SHEET_CELLS, MAX_TEXT_CELLS], || {
                rd.next_cell()
                    .map(|o| o.map(|c| (c.get_position(), Data::from(c.get_value().clone()))))
                    .map_err(|e| broken(&e))
            });
        }
        calamine::Sheets::Xlsb(x) => {
            let name = x.sheet_names().first().cloned().ok_or_else(no_sheet)?;
            let mut rd = x.worksheet_cells_reader(&name).map_err(|e| broken(&e))?;
            return sparse_sheet(file, [MAX_SHEET_CELLS, MAX_TEXT_CELLS], || {
                rd.next_cell()
                    .map(|o| o.map(|c| (c.get_position(), Data::from(c.get_value().clone()))))
                    .map_err(|e| broken(&e))
            });
        }
        _ => {}
    }
    let range = match wb.worksheet_range_at(0) {
        Some(Ok(r)) => r,
        Some(Err(e)) => return Err(broken(&e)),
        None => {
            return Err(Problem::file(
                file,
                ProblemKind::FileUnreadable,
                "工作簿中没有工作表",
                "the workbook has no sheet",
            ));
        }
    };
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut rows = Vec::new();
    for (i, r) in range.rows().enumerate() {
        // Leading empty columns keep their place so cells line up with the header.
        let mut cells: Vec<String> = vec![String::new(); col0 as usize];
        cells.extend(r.iter().map(cell_text));
        let len: usize = cells.iter().map(String::len).sum();
        if len > MAX_LINE_BYTES {
            let row = row0 as usize + i + 1;
            return Err(Problem::file(
                file,
                ProblemKind::FileUnreadable,
                format!("第 {row} 行有 {len} 字节，超过每行上限 {MAX_LINE_BYTES} 字节（文件可能已损坏）"),
                format!("row {row} has {len} bytes, more than the limit of {MAX_LINE_BYTES} per row (the file may be damaged)"),
            )
            .at_row(row));
        }
        if cells.iter().all(|c| c.chars().all(is_blank)) {
            continue;
        }
        rows.push((row0 as usize + i + 1, cells));
    }
    Ok(Sheet {
        file: file.to_string(),
        rows,
    })
}

/// Most cells read from a workbook sheet (`.xlsx`, `.xlsb`), empty ones included: 134 million.
pub const MAX_SHEET_CELLS: u64 = 1 << 27;

/// Most non-empty cells kept from a workbook sheet: 33.5 million (a million applicants of 17
/// columns are 17 million).
pub const MAX_TEXT_CELLS: u64 = 1 << 25;

/// The next cell of a workbook sheet read one cell at a time: (row, column) and value.
type NextCell = Result<Option<((u32, u32), Data)>, Problem>;

/// Widest workbook row read: 1024 columns (a table has at most 17, plus ignored `#` columns).
pub const MAX_COLUMNS: u32 = 1024;

/// Builds a sheet from a workbook's cells, read one by one (`.xlsx`, `.xlsb`). calamine's
/// `worksheet_range` allocates the bounding box of the used cells, so two cells at `A1` and
/// `XFD1048576` in a 1 KiB file would ask for 17 billion cells; here only the cells present are
/// kept, and columns, rows and text are bounded ([`MAX_COLUMNS`], [`MAX_LINE_BYTES`],
/// [`MAX_FILE_BYTES`]).
///
/// `limits`: the most cells read, and the most non-empty ones kept ([`MAX_SHEET_CELLS`],
/// [`MAX_TEXT_CELLS`]; smaller in the tests).
fn sparse_sheet(
    file: &str,
    limits: [u64; 2],
    mut next: impl FnMut() -> NextCell,
) -> Result<Sheet, Problem> {
    let [max_cells, max_text_cells] = limits;
    let mut grid: std::collections::BTreeMap<u32, Vec<(u32, String)>> = Default::default();
    let mut total: u64 = 0;
    let (mut seen, mut kept) = (0u64, 0u64);
    let too_many = |what: &str, zh: &str, limit: u64| {
        Problem::file(
            file,
            ProblemKind::FileUnreadable,
            format!("第一个工作表的{zh}超过 {limit} 个（文件可能已损坏）"),
            format!("the first sheet has more than {limit} {what} (the file may be damaged)"),
        )
    };
    while let Some(((r, c), value)) = next()? {
        // Every cell costs time to read, every kept one memory: a compressed workbook can hold
        // billions of them in a few MB.
        seen += 1;
        if seen > max_cells {
            return Err(too_many("cells", "单元格", max_cells));
        }
        let text = cell_text(&value);
        if text.is_empty() {
            continue;
        }
        kept += 1;
        if kept > max_text_cells {
            return Err(too_many("non-empty cells", "非空单元格", max_text_cells));
        }
        let row = r as usize + 1;
        if c >= MAX_COLUMNS {
            return Err(Problem::file(
                file,
                ProblemKind::FileUnreadable,
                format!("第 {row} 行第 {} 列有内容，超过列数上限 {MAX_COLUMNS}（文件可能已损坏）", c + 1),
                format!("row {row} has a value in column {}, beyond the limit of {MAX_COLUMNS} columns (the file may be damaged)", c + 1),
            )
            .at_row(row));
        }
        total += text.len() as u64;
        if total > MAX_FILE_BYTES {
            return Err(too_large(
                file,
                usize::try_from(total).unwrap_or(usize::MAX),
            ));
        }
        grid.entry(r).or_default().push((c, text));
    }
    let mut rows = Vec::with_capacity(grid.len());
    for (r, mut present) in grid {
        let row = r as usize + 1;
        present.sort_by_key(|(c, _)| *c);
        let width = present.last().map_or(0, |(c, _)| *c as usize + 1);
        let len: usize = present.iter().map(|(_, t)| t.len()).sum();
        if len > MAX_LINE_BYTES {
            return Err(Problem::file(
                file,
                ProblemKind::FileUnreadable,
                format!("第 {row} 行有 {len} 字节，超过每行上限 {MAX_LINE_BYTES} 字节（文件可能已损坏）"),
                format!("row {row} has {len} bytes, more than the limit of {MAX_LINE_BYTES} per row (the file may be damaged)"),
            )
            .at_row(row));
        }
        let mut cells = vec![String::new(); width];
        for (c, t) in present {
            cells[c as usize] = t;
        }
        if cells.iter().all(|c| c.chars().all(is_blank)) {
            continue;
        }
        rows.push((row, cells));
    }
    Ok(Sheet {
        file: file.to_string(),
        rows,
    })
}

/// A workbook cell as the text a careful clerk would have typed.
fn cell_text(c: &Data) -> String {
    match c {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) => float_text(*f),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Data::DateTime(dt) if dt.is_datetime() => {
            let (y, m, d, hh, mm, ss, ms) = dt.to_ymd_hms_milli();
            if (hh, mm, ss, ms) == (0, 0, 0, 0) {
                format!("{y:04}-{m:02}-{d:02}")
            } else {
                format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
            }
        }
        Data::DateTime(dt) => float_text(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => e.to_string(),
    }
}

/// Whole numbers below 10^15 print as integers; larger or fractional numbers keep their float
/// form, so that an ID number stored as a number shows as the scientific notation it has become.
fn float_text(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else if f.is_finite() && f.abs() >= 1e15 {
        format!("{f:E}")
    } else {
        format!("{f}")
    }
}

/// Removes the marks that exporters put on CSV values to stop Excel from turning them into
/// numbers: a formula wrapper `="350582…"` and a leading apostrophe `'350582…`. (A leading tab,
/// the third trick, is trimmed like any blank.)
pub fn unmark(cell: &str) -> std::borrow::Cow<'_, str> {
    let t = trim(cell);
    if let Some(inner) = t.strip_prefix("=\"").and_then(|r| r.strip_suffix('"')) {
        return std::borrow::Cow::Owned(inner.replace("\"\"", "\""));
    }
    match t.strip_prefix('\'') {
        Some(rest) => std::borrow::Cow::Borrowed(rest),
        None => std::borrow::Cow::Borrowed(cell),
    }
}

/// A spreadsheet column letter: 0 → `A`, 25 → `Z`, 26 → `AA`.
pub fn column_letter(i: usize) -> String {
    let mut n = i + 1;
    let mut out = Vec::new();
    while n > 0 {
        let r = (n - 1) % 26;
        out.push(b'A' + r as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Blank characters trimmed from cells: whitespace, no-break and ideographic spaces, zero-width
/// spaces and stray byte-order marks.
pub fn is_blank(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
        )
}

/// Trims blank characters at both ends.
pub fn trim(s: &str) -> &str {
    s.trim_matches(is_blank)
}

/// Folds full-width ASCII forms (`０`–`９`, `Ａ`, `；`, `：`, …) and the ideographic space to ASCII.
pub fn fold_width(s: &str) -> Cow<'_, str> {
    if s.is_ascii() {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .collect(),
    )
}

/// A spreadsheet error literal (`#N/A`, `#REF!`, …) or calamine's rendering of one.
pub fn is_error_value(s: &str) -> bool {
    const ERRS: [&str; 10] = [
        "#N/A",
        "#REF!",
        "#VALUE!",
        "#DIV/0!",
        "#NAME?",
        "#NUM!",
        "#NULL!",
        "#DATA!",
        "#GETTING_DATA",
        "#SPILL!",
    ];
    ERRS.contains(&s)
}

/// One column a table may have.
#[derive(Debug, Clone, Copy)]
pub struct ColumnSpec {
    /// Canonical English name.
    pub key: &'static str,
    /// Chinese (and other) aliases.
    pub aliases: &'static [&'static str],
    /// Must the column be present?
    pub required: bool,
}

/// A table whose header has been matched to column specs.
#[derive(Debug, Clone)]
pub struct Table {
    /// File name.
    pub file: String,
    /// Row number of the header.
    pub header_row: usize,
    /// For each spec (same order): the column index and its header text as written.
    pub columns: Vec<Option<(usize, String)>>,
    /// Data rows: row number and cells.
    pub rows: Vec<(usize, Vec<String>)>,
    /// Number of header cells.
    pub width: usize,
    /// Numbered choice columns (`第一志愿`, `志愿2`, `choice_3`, …) when the choices are given
    /// one per column: (number, column index, header as written), by number.
    pub choice_columns: Vec<(u32, usize, String)>,
}

fn header_key(s: &str) -> String {
    fold_width(trim(s))
        .chars()
        .filter(|c| !is_blank(*c))
        .collect::<String>()
        .to_lowercase()
}

/// A Chinese numeral 1–99 (`一`, `十`, `十二`, `二十三`) or ASCII digits.
fn small_number(s: &str) -> Option<u32> {
    if !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().filter(|n| *n > 0);
    }
    let digit = |c: char| {
        "一二三四五六七八九"
            .chars()
            .position(|d| d == c)
            .map(|i| i as u32 + 1)
    };
    let cs: Vec<char> = s.chars().collect();
    match cs.as_slice() {
        ['十'] => Some(10),
        [a] => digit(*a),
        ['十', b] => digit(*b).map(|b| 10 + b),
        [a, '十'] => digit(*a).map(|a| a * 10),
        [a, '十', b] => Some(digit(*a)? * 10 + digit(*b)?),
        _ => None,
    }
}

/// The number of a numbered choice column: `第一志愿`, `第1志愿`, `第一志愿学校`, `志愿1`,
/// `志愿学校1`, `choice1`, `choice_1`, `Choice 1` → 1.
pub fn numbered_choice(header: &str) -> Option<u32> {
    let k = header_key(header);
    if let Some(rest) = k.strip_prefix('第') {
        let n = rest
            .strip_suffix("志愿学校")
            .or_else(|| rest.strip_suffix("志愿"))?;
        return small_number(n);
    }
    let n = k
        .strip_prefix("志愿学校")
        .or_else(|| k.strip_prefix("志愿"))
        .or_else(|| k.strip_prefix("choice_"))
        .or_else(|| k.strip_prefix("choice"))?;
    small_number(n)
}

fn match_spec(specs: &[ColumnSpec], header: &str) -> Option<usize> {
    let k = header_key(header);
    if k.is_empty() {
        return None;
    }
    specs.iter().position(|s| {
        // `k` has no blanks: "School ID" and "school_id" both name `school_id`.
        s.key == k || s.key.replace('_', "") == k || s.aliases.iter().any(|a| header_key(a) == k)
    })
}

/// Finds the header row (the first of the first ten rows in which at least two cells name known
/// columns; title rows above it are skipped) and binds the columns, reporting missing, unknown
/// and repeated columns. Columns whose header starts with `#` are ignored on purpose.
pub fn bind(sheet: Sheet, specs: &[ColumnSpec], problems: &mut Vec<Problem>) -> Option<Table> {
    let file = sheet.file.clone();
    let header_at = sheet.rows.iter().take(10).position(|(_, cells)| {
        cells
            .iter()
            .filter(|c| match_spec(specs, c).is_some())
            .count()
            >= 2.min(specs.len())
    });
    let Some(h) = header_at else {
        let names: Vec<&str> = specs.iter().map(|s| s.key).collect();
        if sheet.rows.is_empty() {
            problems.push(Problem::file(
                &file,
                ProblemKind::NoRows,
                "文件是空的",
                "the file is empty",
            ));
        } else {
            problems.push(Problem::file(
                &file,
                ProblemKind::MissingColumn,
                format!("前 10 行中找不到表头（应包含这些列：{}）", names.join("、")),
                format!(
                    "no header row among the first 10 rows (expected columns: {})",
                    names.join(", ")
                ),
            ));
        }
        return None;
    };
    let mut rows = sheet.rows;
    let mut data = rows.split_off(h + 1);
    let (header_row, mut header) = rows.pop()?;
    // A two-row header: 「志愿」 merged above 「第一志愿」「第二志愿」…, the other header cells merged
    // down over both rows. The second row names the choice columns.
    if specs.iter().any(|s| s.key == "choices")
        && let Some((_, sub)) = data.first()
    {
        let named: Vec<(usize, &String)> = sub
            .iter()
            .enumerate()
            .filter(|(_, c)| !trim(c).is_empty())
            .collect();
        let is_sub_header = named.iter().any(|(_, c)| numbered_choice(c).is_some())
            && named
                .iter()
                .all(|(_, c)| numbered_choice(c).is_some() || match_spec(specs, c).is_some());
        if is_sub_header {
            for (i, c) in named {
                if header.len() <= i {
                    header.resize(i + 1, String::new());
                }
                header[i] = c.clone();
            }
            data.remove(0);
        }
    }
    let mut columns: Vec<Option<(usize, String)>> = vec![None; specs.len()];
    let mut choice_columns: Vec<(u32, usize, String)> = Vec::new();
    let mut ok = true;
    for (i, cell) in header.iter().enumerate() {
        let text = trim(cell);
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let numbered = match match_spec(specs, text) {
            None if specs.iter().any(|s| s.key == "choices") => numbered_choice(text),
            _ => None,
        };
        if let Some(n) = numbered {
            if let Some((_, _, first)) = choice_columns.iter().find(|(m, _, _)| *m == n) {
                ok = false;
                problems.push(
                    Problem::file(
                        &file,
                        ProblemKind::DuplicateColumn,
                        format!("列“{text}”重复出现（与“{first}”是同一志愿）"),
                        format!("column {text:?} appears twice (same choice as {first:?})"),
                    )
                    .at_row(header_row)
                    .in_column(text),
                );
            } else {
                choice_columns.push((n, i, text.to_string()));
            }
            continue;
        }
        match match_spec(specs, text) {
            Some(j) => {
                if let Some((_, first)) = &columns[j] {
                    ok = false;
                    problems.push(
                        Problem::file(
                            &file,
                            ProblemKind::DuplicateColumn,
                            format!("列“{}”重复出现（与“{first}”是同一列）", text),
                            format!("column {text:?} appears twice (same as {first:?})"),
                        )
                        .at_row(header_row)
                        .in_column(text),
                    );
                } else {
                    columns[j] = Some((i, text.to_string()));
                }
            }
            None => {
                ok = false;
                let names: Vec<String> = specs
                    .iter()
                    .map(|s| match s.aliases.first() {
                        Some(a) => format!("{}/{a}", s.key),
                        None => s.key.to_string(),
                    })
                    .collect();
                problems.push(
                    Problem::file(
                        &file,
                        ProblemKind::UnknownColumn,
                        format!(
                            "不认识的列。可用的列：{}。不需要的列请删除，或在表头前加 # 表示忽略",
                            names.join("、")
                        ),
                        format!(
                            "unknown column. Known columns: {}. Delete columns you do not need, or start their header with # to ignore them",
                            names.join(", ")
                        ),
                    )
                    .at_row(header_row)
                    .in_column(text),
                );
            }
        }
    }
    choice_columns.sort();
    for (j, spec) in specs.iter().enumerate() {
        if spec.key == "choices" && !choice_columns.is_empty() {
            if let Some((_, list)) = &columns[j] {
                ok = false;
                problems.push(
                    Problem::file(
                        &file,
                        ProblemKind::DuplicateColumn,
                        format!(
                            "志愿既有一列“{list}”又有分列的“{}”等：请只用一种写法",
                            choice_columns[0].2
                        ),
                        format!(
                            "choices are given both in one column {list:?} and in numbered columns such as {:?}: use one form only",
                            choice_columns[0].2
                        ),
                    )
                    .at_row(header_row)
                    .in_column(list),
                );
            }
            continue;
        }
        if spec.required && columns[j].is_none() {
            ok = false;
            let alias = spec.aliases.first().copied().unwrap_or(spec.key);
            problems.push(
                Problem::file(
                    &file,
                    ProblemKind::MissingColumn,
                    format!("缺少必需的列“{}”（或“{alias}”）", spec.key),
                    format!("required column {:?} (or {alias:?}) is missing", spec.key),
                )
                .at_row(header_row),
            );
        }
    }
    // Values under a blank header cell would be dropped without a word: a merged header cell
    // (one title over several columns) or a header deleted by mistake. One problem per column.
    for (i, cell) in header.iter().enumerate() {
        if !trim(cell).is_empty() {
            continue;
        }
        let mut filled = data
            .iter()
            .filter(|(_, cells)| cells.get(i).is_some_and(|c| !trim(c).is_empty()));
        if let Some((first, cells)) = filled.next() {
            ok = false;
            let count = 1 + filled.count();
            let letter = column_letter(i);
            let left = match i.checked_sub(1).and_then(|j| header.get(j)) {
                Some(h) if !trim(h).is_empty() => format!("“{}”", trim(h)),
                _ => "—".into(),
            };
            problems.push(
                Problem::file(
                    &file,
                    ProblemKind::UnnamedColumn,
                    format!(
                        "第 {letter} 列没有表头，却有 {count} 行填了值（第一处在第 {first} 行）。常见原因是合并了表头单元格（左边一列是 {left}）。请给这一列写上表头，或把要合并的内容放进同一列（多个志愿用 ; 分隔）"
                    ),
                    format!(
                        "column {letter} has no header but {count} rows have values in it (first on row {first}); usually a merged header cell (the column to its left is {left}). Give the column a header, or put the values in one column (several choices separated by ;)"
                    ),
                )
                .at_row(*first)
                .in_column(&letter)
                .with_value(trim(cells.get(i).map(String::as_str).unwrap_or(""))),
            );
        }
    }
    if !ok {
        return None;
    }
    Some(Table {
        file,
        header_row,
        columns,
        width: header.len(),
        rows: data,
        choice_columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sheet of `n` cells in one column, every `every`-th one holding text.
    fn cells(n: u32, every: u32) -> impl FnMut() -> NextCell {
        let mut k = 0;
        move || {
            k += 1;
            Ok((k <= n).then(|| {
                let v = match k % every {
                    0 => Data::String("x".into()),
                    _ => Data::Empty,
                };
                ((k, 0), v)
            }))
        }
    }

    #[test]
    fn a_sheet_of_too_many_cells_is_refused() {
        assert_eq!(
            sparse_sheet("a.xlsx", [100, 10], cells(100, 10)).map(|s| s.rows.len()),
            Ok(10)
        );
        let p = sparse_sheet("a.xlsx", [100, 10], cells(101, 1000)).expect_err("cells");
        assert!(p.en().contains("more than 100 cells"), "{}", p.en());
        let p = sparse_sheet("a.xlsx", [100, 10], cells(100, 9)).expect_err("text cells");
        assert!(
            p.en().contains("more than 10 non-empty cells"),
            "{}",
            p.en()
        );
    }

    #[test]
    fn decodes_utf8_bom_and_gb18030() {
        let text = "学校代码,学校名称\nJJ01,晋江市第一实验小学\n";
        let (s, e) = decode("a.csv", text.as_bytes()).expect("utf8");
        assert_eq!((s.as_ref(), e), (text, TextEncoding::Utf8));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (s, e) = decode("a.csv", &bom).expect("bom");
        assert_eq!((s.as_ref(), e), (text, TextEncoding::Utf8Bom));
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        let (s, e) = decode("a.csv", &gb).expect("gb");
        assert_eq!((s.as_ref(), e), (text, TextEncoding::Gb18030));
        let bad = [b'a', b'\n', 0xFF, 0xFF, 0xFF];
        let p = decode("a.csv", &bad).expect_err("garbage");
        assert_eq!(p.row, Some(2));
    }

    #[test]
    fn folds_and_trims() {
        assert_eq!(fold_width("３５０５８２；ＪＪ０１：１"), "350582;JJ01:1");
        assert_eq!(trim("\u{FEFF} \u{3000}JJ01\u{A0}\t"), "JJ01");
        assert!(is_error_value("#N/A") && is_error_value("#REF!") && !is_error_value("#备注"));
        assert_eq!(
            [0, 25, 26, 27, 51, 52, 701, 702].map(column_letter),
            ["A", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"].map(String::from)
        );
    }

    #[test]
    fn csv_read_in_parts_reads_as_in_one() {
        // Parts of a few records: cuts between records, never inside a
        // quoted cell that spans lines, blank lines and rows, CRLF, tabs, no final line break.
        let texts = [
            "a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11,12\n",
            "a,b\n\"x\ny\",2\n\n\n3,\"4,\n\n5\"\n,,\n6,7\n\"8\"\"\",9\n10,11\n12,13",
            "a\tb\r\n1\t2\r\n \t \r\n3\t4\r\n5\t\"6\r\n7\"\r\n8\t9\r\n",
            "id,name\nA,'0595\nB,=\"0123\"\nC,\"un\"balanced\nD,x\nE,y\n",
            "\"never closed,1\n2,3\n4,5\n6,7\n",
            "",
            "only\n",
        ];
        for t in texts {
            let d = if t.starts_with("a\t") { b'\t' } else { b',' };
            let whole = csv_rows_whole("x.csv", t, d).map_err(|e| e.to_string());
            for part in [0, 1, 2, 3, 7] {
                let parts = csv_rows_in_parts("x.csv", t, d, part).map_err(|e| e.to_string());
                assert_eq!(parts, whole, "{t:?} in parts of {part}");
            }
        }
    }

    #[test]
    fn unmarks_text_tricks() {
        assert_eq!(unmark("=\"350582201309160237\""), "350582201309160237");
        assert_eq!(unmark("'0595-85681234"), "0595-85681234");
        assert_eq!(unmark(" =\"a\"\"b\" "), "a\"b");
        assert_eq!(unmark("晋江市"), "晋江市");
        assert_eq!(unmark("=SUM(A1)"), "=SUM(A1)");
    }

    #[test]
    fn numbered_choice_columns() {
        for (h, n) in [
            ("第一志愿", Some(1)),
            ("第1志愿", Some(1)),
            ("第十志愿学校", Some(10)),
            ("第十二志愿", Some(12)),
            ("第二十三志愿", Some(23)),
            ("志愿2", Some(2)),
            ("志愿学校３", Some(3)),
            ("choice_4", Some(4)),
            ("Choice 5", Some(5)),
            ("志愿", None),
            ("第零志愿", None),
            ("志愿0", None),
            ("第一志愿备注", None),
        ] {
            assert_eq!(numbered_choice(h), n, "{h}");
        }
    }

    #[test]
    fn floats_render_like_damaged_cells() {
        assert_eq!(float_text(120.0), "120");
        assert_eq!(float_text(4.501212019030512e17), "4.501212019030512E17");
        assert_eq!(float_text(36.5), "36.5");
    }

    #[test]
    fn binds_header_below_a_title_row() {
        let sheet = read_csv(
            "s.csv",
            "晋江市2026年学校招生计划,,\n学校代码,学校名称,#备注\nJJ01,一小,x\n".as_bytes(),
        )
        .expect("csv");
        let specs = [
            ColumnSpec {
                key: "school_id",
                aliases: &["学校代码"],
                required: true,
            },
            ColumnSpec {
                key: "name",
                aliases: &["学校名称"],
                required: true,
            },
        ];
        let mut p = Vec::new();
        let t = bind(sheet, &specs, &mut p).expect("bound");
        assert!(p.is_empty());
        assert_eq!(t.header_row, 2);
        assert_eq!(
            t.rows,
            vec![(3, vec!["JJ01".into(), "一小".into(), "x".into()])]
        );
        assert_eq!(t.columns[1], Some((1, "学校名称".into())));
    }
}
