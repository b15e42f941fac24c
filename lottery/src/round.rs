//! The frozen round: public school, teacher and applicant records, their canonical file form and
//! their leaves in the input tree (PROTOCOL.md §3, §7).
//!
//! Bundle CSV files are a restricted CSV: UTF-8, `\n` line ends (the last line ends with one too),
//! a fixed header, comma-separated fields that never contain `,`, `"`, `\r` or `\n` — so there is no
//! quoting, and a file's bytes are exactly its fields joined. Parsers here refuse anything else.

use crate::digest::Digest;
use crate::encoding::{Domain, Hasher, LeafEncoder};
use crate::merkle;
use crate::policy::{Policy, PolicyError, is_id};
use compact_str::CompactString;

pub use crate::applicants::{ApplicantRef, Applicants};
use crate::applicants::{BLOCK, Block, Scalars};

/// Header of `schools.csv`.
pub const SCHOOLS_HEADER: &str =
    "school_id,name,kind,capacity,reserved,points_seats,classes,x,y,graduates";
/// Header of `teachers.csv`.
pub const TEACHERS_HEADER: &str = "teacher_id,school_id";
/// Header of the public `applicants.csv`.
pub const APPLICANTS_HEADER: &str = "application_id,track,gender,groups,choices,categories,indicators,family,priority,manual,x,y,private_hash";

/// A school.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct School {
    /// Id, e.g. `S01`.
    pub id: String,
    /// Name (no `,` `"` or line breaks).
    pub name: String,
    /// Private (民办) or public.
    pub private: bool,
    /// Seats in total.
    pub capacity: u32,
    /// Seats reserved for priority groups, sorted by group name: (group, seats).
    pub reserved: Vec<(String, u32)>,
    /// Seats set aside for the points track (part of capacity).
    pub points_seats: u32,
    /// Fixed number of classes (0 = as few as the cap allows).
    pub classes: u32,
    /// Grid coordinates in metres, when known.
    pub xy: Option<(i64, i64)>,
    /// Graduating cohort (for quota allocation; 0 = none).
    pub graduates: u64,
}

/// A homeroom teacher (pseudonymous id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teacher {
    /// Id.
    pub id: String,
    /// School.
    pub school: String,
}

/// Gender, as recorded for class balancing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Gender {
    /// Female.
    F,
    /// Male.
    M,
}

/// The public part of an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applicant {
    /// Application id.
    pub id: CompactString,
    /// Track (policy `tracks`).
    pub track: CompactString,
    /// Gender.
    pub gender: Gender,
    /// Policy groups, sorted.
    pub groups: Box<[CompactString]>,
    /// Ranked choices, best first: indices into the round's schools (which are sorted by id), so
    /// the draw needs no id lookups. `applicants.csv` holds the schools' ids.
    pub choices: Box<[u32]>,
    /// (school index, category number, 1 = best) per school, sorted by school index (= by school
    /// id, since the round's schools are sorted by id).
    pub categories: Box<[(u32, u32)]>,
    /// Points indicator values, sorted by name.
    pub indicators: Box<[(CompactString, i64)]>,
    /// Family id linking twins and siblings.
    pub family: Option<CompactString>,
    /// Reserve-group memberships at schools, sorted: (school, group).
    pub priority: Box<[(CompactString, CompactString)]>,
    /// Manual placement (一人一案): (school, reason code), boxed (rare: the field stays one
    /// pointer wide for everyone else).
    pub manual: Option<Box<(CompactString, CompactString)>>,
    /// Grid coordinates in metres (rounded by the bureau), when known.
    pub xy: Option<(i64, i64)>,
    /// Salted hash of the private record (PROTOCOL.md §3.3).
    pub private_hash: Digest,
}

/// Why [`FrozenRound::read`] could not read a round.
#[derive(Debug, thiserror::Error)]
pub enum ReadRoundError {
    /// A file does not parse or breaks a rule.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// `applicants.csv` could not be read.
    #[error("applicants.csv: {0}")]
    Read(#[source] std::io::Error),
}

/// A bundle file that does not parse or break a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Problem in one field of one line.
    #[error("{file}, line {line}, column {column}: {reason}")]
    Field {
        /// File name.
        file: &'static str,
        /// 1-based line.
        line: usize,
        /// Column name.
        column: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Problem with a whole line or the file.
    #[error("{file}, line {line}: {reason}")]
    Line {
        /// File name.
        file: &'static str,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The policy.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl RecordError {
    /// What is wrong, without the file, line and column (for a caller that names them itself).
    pub fn reason(&self) -> String {
        match self {
            RecordError::Field { reason, .. } | RecordError::Line { reason, .. } => reason.clone(),
            RecordError::Policy(e) => e.to_string(),
        }
    }

    /// The message without its file name: `line N, column C: reason` (for a file parsed in the
    /// format of another, such as a supplement's late applicants).
    pub fn located(&self) -> String {
        match self {
            RecordError::Field {
                line,
                column,
                reason,
                ..
            } => format!("line {line}, column {column}: {reason}"),
            RecordError::Line { line, reason, .. } => format!("line {line}: {reason}"),
            RecordError::Policy(e) => e.to_string(),
        }
    }

    /// The message naming `file` instead of its own file.
    pub fn in_file(&self, file: &str) -> String {
        match self {
            RecordError::Policy(e) => e.to_string(),
            _ => format!("{file}, {}", self.located()),
        }
    }
}

/// Splits a restricted-CSV file into rows of fields, checking the header and the shape.
pub fn split_csv<'a>(
    file: &'static str,
    bytes: &'a [u8],
    header: &str,
) -> Result<Vec<(usize, Vec<&'a str>)>, RecordError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        RecordError::Line {
            file,
            line,
            reason: "not valid UTF-8".into(),
        }
    })?;
    if !text.ends_with('\n') {
        return Err(RecordError::Line {
            file,
            line: text.lines().count().max(1),
            reason: "the file must end with a line break".into(),
        });
    }
    let mut lines = text[..text.len() - 1].split('\n');
    let first = lines.next().unwrap_or("");
    if first != header {
        return Err(RecordError::Line {
            file,
            line: 1,
            reason: format!("header must be exactly {header:?}"),
        });
    }
    let ncol = header.split(',').count();
    let mut rows = Vec::new();
    for (i, l) in lines.enumerate() {
        let line = i + 2;
        if l.contains('\r') || l.contains('"') {
            return Err(RecordError::Line {
                file,
                line,
                reason: "carriage returns and quotes are not allowed".into(),
            });
        }
        let fields: Vec<&str> = l.split(',').collect();
        if fields.len() != ncol {
            return Err(RecordError::Line {
                file,
                line,
                reason: format!("expected {ncol} fields, found {}", fields.len()),
            });
        }
        rows.push((line, fields));
    }
    Ok(rows)
}

fn field_err(
    file: &'static str,
    line: usize,
    column: &'static str,
    reason: impl Into<String>,
) -> RecordError {
    RecordError::Field {
        file,
        line,
        column,
        reason: reason.into(),
    }
}

/// Canonical unsigned decimal: no sign, no leading zeros (except "0").
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty()
        || s.len() > 18
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

/// Canonical signed decimal.
fn parse_int(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(rest) if rest != "0" => parse_uint(rest).map(|v| -(v as i64)),
        Some(_) => None,
        None => parse_uint(s).map(|v| v as i64),
    }
}

fn parse_xy(
    file: &'static str,
    line: usize,
    x: &str,
    y: &str,
) -> Result<Option<(i64, i64)>, RecordError> {
    match (x.is_empty(), y.is_empty()) {
        (true, true) => Ok(None),
        (false, false) => {
            let px = parse_int(x)
                .ok_or_else(|| field_err(file, line, "x", "expected an integer (metres)"))?;
            let py = parse_int(y)
                .ok_or_else(|| field_err(file, line, "y", "expected an integer (metres)"))?;
            let limit = crate::mechanism::COORD_LIMIT;
            if px.abs() > limit || py.abs() > limit {
                return Err(field_err(
                    file,
                    line,
                    "x",
                    "coordinate out of range (at most ±1073741823 metres)",
                ));
            }
            Ok(Some((px, py)))
        }
        _ => Err(field_err(file, line, "x", "give both x and y, or neither")),
    }
}

fn fmt_xy(xy: Option<(i64, i64)>) -> (String, String) {
    match xy {
        Some((x, y)) => (x.to_string(), y.to_string()),
        None => (String::new(), String::new()),
    }
}

/// The items of a `;`-separated list field (none when the field is empty): `s.split(';')`,
/// written out because the parser runs it on ten million short fields at a million applicants.
fn items(s: &str) -> Items<'_> {
    Items {
        rest: (!s.is_empty()).then_some(s),
    }
}

/// Iterator of [`items`].
struct Items<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Items<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let r = self.rest?;
        match split_at_byte(r, b';') {
            Some((item, rest)) => {
                self.rest = Some(rest);
                Some(item)
            }
            None => {
                self.rest = None;
                Some(r)
            }
        }
    }
}

fn list(s: &str) -> Vec<&str> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(';').collect()
    }
}

/// Is a free-text field (a name) safe for restricted CSV?
pub fn is_text(s: &str) -> bool {
    !s.is_empty() && s.len() <= 200 && !s.contains([',', '"', '\r', '\n', ';'])
}

/// Parses `schools.csv`.
pub fn parse_schools(bytes: &[u8]) -> Result<Vec<School>, RecordError> {
    const F: &str = "schools.csv";
    let mut out: Vec<School> = Vec::new();
    for (line, f) in split_csv(F, bytes, SCHOOLS_HEADER)? {
        let id = f[0];
        if !is_id(id) {
            return Err(field_err(
                F,
                line,
                "school_id",
                "use 1-64 characters of A-Z a-z 0-9 . _ -",
            ));
        }
        if let Some(prev) = out.last()
            && prev.id.as_bytes() >= id.as_bytes()
        {
            return Err(field_err(
                F,
                line,
                "school_id",
                format!("{id:?} is out of order or repeated (rows are sorted by school_id)"),
            ));
        }
        if !is_text(f[1]) {
            return Err(field_err(
                F,
                line,
                "name",
                "1-200 characters without , \" ; or line breaks",
            ));
        }
        let private = match f[2] {
            "public" => false,
            "private" => true,
            _ => return Err(field_err(F, line, "kind", "expected public or private")),
        };
        let capacity = parse_uint(f[3])
            .filter(|c| (1..=1_000_000).contains(c))
            .ok_or_else(|| {
                field_err(
                    F,
                    line,
                    "capacity",
                    "expected a positive whole number of seats",
                )
            })? as u32;
        let mut reserved: Vec<(String, u32)> = Vec::new();
        for item in list(f[4]) {
            let (g, n) = item
                .split_once('=')
                .ok_or_else(|| field_err(F, line, "reserved", "expected group=seats;…"))?;
            let n = parse_uint(n)
                .filter(|n| (1..=u64::from(capacity)).contains(n))
                .ok_or_else(|| {
                    field_err(
                        F,
                        line,
                        "reserved",
                        "seats must be a positive whole number, at most the capacity",
                    )
                })?;
            if !is_id(g) || reserved.last().is_some_and(|(p, _)| p.as_str() >= g) {
                return Err(field_err(
                    F,
                    line,
                    "reserved",
                    "groups must be valid names, sorted, not repeated",
                ));
            }
            reserved.push((g.to_string(), n as u32));
        }
        // Bounded before the cast: 4294967297 must not be read as 1.
        let points_seats = parse_uint(f[5])
            .filter(|n| *n <= u64::from(capacity))
            .ok_or_else(|| {
                field_err(
                    F,
                    line,
                    "points_seats",
                    "expected a whole number, at most the capacity",
                )
            })? as u32;
        let reserved_total: u64 = reserved.iter().map(|(_, n)| u64::from(*n)).sum();
        if u64::from(points_seats) + reserved_total > u64::from(capacity) {
            return Err(field_err(
                F,
                line,
                "capacity",
                "reserved and points seats exceed the capacity",
            ));
        }
        let classes = parse_uint(f[6]).filter(|c| *c <= 1000).ok_or_else(|| {
            field_err(
                F,
                line,
                "classes",
                "expected a whole number (0 = by class cap)",
            )
        })? as u32;
        let xy = parse_xy(F, line, f[7], f[8])?;
        let graduates = parse_uint(f[9])
            .ok_or_else(|| field_err(F, line, "graduates", "expected a whole number"))?;
        out.push(School {
            id: id.to_string(),
            name: f[1].to_string(),
            private,
            capacity,
            reserved,
            points_seats,
            classes,
            xy,
            graduates,
        });
    }
    Ok(out)
}

/// Writes `schools.csv`.
pub fn write_schools(schools: &[School]) -> String {
    let mut s = format!("{SCHOOLS_HEADER}\n");
    for sc in schools {
        let (x, y) = fmt_xy(sc.xy);
        let reserved: Vec<String> = sc
            .reserved
            .iter()
            .map(|(g, n)| format!("{g}={n}"))
            .collect();
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{}\n",
            sc.id,
            sc.name,
            if sc.private { "private" } else { "public" },
            sc.capacity,
            reserved.join(";"),
            sc.points_seats,
            sc.classes,
            x,
            y,
            sc.graduates
        ));
    }
    s
}

/// Parses `teachers.csv` (sorted by teacher id; schools must exist).
pub fn parse_teachers(bytes: &[u8], schools: &[School]) -> Result<Vec<Teacher>, RecordError> {
    const F: &str = "teachers.csv";
    let mut out: Vec<Teacher> = Vec::new();
    for (line, f) in split_csv(F, bytes, TEACHERS_HEADER)? {
        if !is_id(f[0])
            || out
                .last()
                .is_some_and(|t| t.id.as_bytes() >= f[0].as_bytes())
        {
            return Err(field_err(
                F,
                line,
                "teacher_id",
                "invalid, repeated or out of order (rows are sorted by teacher_id)",
            ));
        }
        if school_index(schools, f[1]).is_none() {
            return Err(field_err(
                F,
                line,
                "school_id",
                format!("unknown school {:?}", f[1]),
            ));
        }
        out.push(Teacher {
            id: f[0].to_string(),
            school: f[1].to_string(),
        });
    }
    Ok(out)
}

/// Writes `teachers.csv`.
pub fn write_teachers(teachers: &[Teacher]) -> String {
    let mut s = format!("{TEACHERS_HEADER}\n");
    for t in teachers {
        s.push_str(&format!("{},{}\n", t.id, t.school));
    }
    s
}

/// Index of a school id in the (sorted) school list.
pub fn school_index(schools: &[School], id: &str) -> Option<usize> {
    schools
        .binary_search_by(|s| s.id.as_bytes().cmp(id.as_bytes()))
        .ok()
}

/// Parses the public `applicants.csv` against the policy and schools.
pub fn parse_applicants(
    bytes: &[u8],
    policy: &Policy,
    schools: &[School],
) -> Result<Applicants, RecordError> {
    let mut p = ApplicantsParser::new(policy, schools);
    p.feed(bytes);
    p.finish().map(|(a, _)| a)
}

/// `applicants.csv` parsed as it is read, in pieces (the verifier does not hold the file: at a
/// million applicants it is 200 MB, more than the parsed round). Each piece's
/// rows are parsed in parallel, a block of [`BLOCK`] rows per task, into the round's columns
/// ([`Applicants`]); the block a piece leaves unfinished is continued by the next piece.
///
/// The result, and the error, never depend on how the file is cut into pieces: they are those of
/// one serial pass, with its order of checks — the whole file valid UTF-8 (the first invalid
/// byte's line), ending with a line break, the exact header, then the first row of a bad shape
/// (quotes, carriage returns, field count) in file order, then the first field error in file
/// order.
///
/// With [`with_input_root`](Self::with_input_root) it also hashes the input tree as it goes:
/// each row's leaf over its 13 fields as they stand in the file, which is the leaf of the parsed
/// record because the parser accepts only canonical rows (`write_applicants(parse(b)) == b`;
/// the fuzz target `bundle_csv` asserts it).
pub struct ApplicantsParser<'a> {
    policy: &'a Policy,
    schools: &'a [School],
    ids: SchoolIds<'a>,
    /// The input tree: its three whole-file leaves, then a leaf per row so far (but those of
    /// `leaves`).
    tree: Option<(LeafEncoder, merkle::Streamed)>,
    /// The leaves of the last piece's rows: pushed into the tree while the next piece is parsed.
    leaves: Vec<Digest>,
    /// Line breaks so far.
    breaks: usize,
    /// What follows the last line break so far.
    tail: Vec<u8>,
    /// The line of the first byte that is not UTF-8.
    not_utf8: Option<usize>,
    /// Whether the first line is the header (`None` before it is read).
    header: Option<bool>,
    /// Rows so far, and the last one's first field (the id the next must follow).
    rows: usize,
    prev: String,
    /// Choices per row a block makes room for before any is full.
    per_row: usize,
    /// The list entries of the full blocks so far, and their rows (the rate new blocks are
    /// sized by).
    items: [usize; 5],
    counted: usize,
    blocks: Vec<Block>,
    /// The block of the latest rows while it is not full.
    open: Option<Block>,
    /// The first shape error and the first field error so far.
    first: [Option<RecordError>; 2],
}

/// One block's share of a piece: the rows parsed into it, the first line that is not UTF-8, the
/// first shape and field errors, and its rows' leaf hashes.
struct BlockPart {
    block: Block,
    not_utf8: Option<usize>,
    first: [Option<RecordError>; 2],
    leaves: Vec<Digest>,
}

/// Why a row of `applicants.csv` was not read.
enum RowError {
    /// Its line (this number) is not UTF-8.
    NotUtf8(usize),
    /// It does not have the file's shape (fields, characters).
    Shape(RecordError),
    /// A field is wrong.
    Field(RecordError),
}

impl<'a> ApplicantsParser<'a> {
    /// A parser of `applicants.csv` for this policy and (parsed) school list.
    pub fn new(policy: &'a Policy, schools: &'a [School]) -> Self {
        ApplicantsParser {
            policy,
            schools,
            ids: SchoolIds::new(schools),
            tree: None,
            leaves: Vec::new(),
            breaks: 0,
            tail: Vec::new(),
            not_utf8: None,
            header: None,
            rows: 0,
            prev: String::new(),
            per_row: policy.round.max_choices.min(32) as usize,
            items: [0; 5],
            counted: 0,
            blocks: Vec::new(),
            open: None,
            first: [None, None],
        }
    }

    /// Also computes the input root (PROTOCOL.md §3.2) of these three input files' bytes and
    /// the rows read, returned by [`finish`](Self::finish) when the file parses.
    pub fn with_input_root(
        mut self,
        domain: Domain,
        policy: &[u8],
        schools: &[u8],
        teachers: &[u8],
    ) -> Self {
        let mut tree = merkle::Streamed::default();
        tree.push(&file_leaves(domain, policy, schools, teachers));
        self.tree = Some((LeafEncoder::new(&domain.tag("leaf/applicant"), &[]), tree));
        self
    }

    /// Reads the next piece of the file. A piece may end anywhere: what follows its last line
    /// break is kept and read with the next piece (the pieces of [`crate::lines::read_lines`]
    /// end at line breaks, and are read without a copy).
    pub fn feed(&mut self, piece: &[u8]) {
        // Only the new bytes are searched (the kept part holds no line break): a line of any
        // length fed in any pieces is read in linear time.
        let Some(p) = memchr::memrchr(b'\n', piece) else {
            self.tail.extend_from_slice(piece);
            return;
        };
        let (head, rest) = piece.split_at(p + 1);
        if self.tail.is_empty() {
            self.lines(head);
        } else {
            let mut joined = std::mem::take(&mut self.tail);
            joined.extend_from_slice(head);
            self.lines(&joined);
        }
        self.tail.clear();
        self.tail.extend_from_slice(rest);
    }

    /// Reads whole lines, the last ending with a line break.
    fn lines(&mut self, piece: &[u8]) {
        if self.not_utf8.is_some() {
            return;
        }
        // A line's text never ends inside a character: UTF-8 is checked line by line (the rows'
        // lines by the parallel parse), and the first line that is not UTF-8 is the error.
        let mut body = piece;
        if self.header.is_none() {
            let (h, rest) = match memchr::memchr(b'\n', piece) {
                Some(p) => (&piece[..p], &piece[p + 1..]),
                None => (piece, &[][..]),
            };
            if self.utf8_or_note(h) {
                return;
            }
            self.header = Some(h == APPLICANTS_HEADER.as_bytes());
            self.breaks += 1;
            body = rest;
        }
        if body.is_empty() {
            return;
        }
        if self.header != Some(true) {
            // The rows are not read: a wrong header is reported before any row (but after a
            // line that is not UTF-8).
            if !self.utf8_or_note(body) {
                self.breaks += memchr::memchr_iter(b'\n', body).count();
            }
            return;
        }
        self.rows_of(body);
    }

    /// Whether `lines` (starting on the line after the last break) hold a byte that is not
    /// UTF-8; if so, its line is noted as the file's error.
    fn utf8_or_note(&mut self, lines: &[u8]) -> bool {
        match std::str::from_utf8(lines) {
            Ok(_) => false,
            Err(e) => {
                let before = memchr::memchr_iter(b'\n', &lines[..e.valid_up_to()]).count();
                self.not_utf8 = Some(self.breaks + 1 + before);
                true
            }
        }
    }

    /// Parses the rows of `body` (whole lines, each ending with `\n`).
    fn rows_of(&mut self, body: &[u8]) {
        use rayon::prelude::*;
        const NCOL: usize = 13;
        let starts = line_starts_of(body);
        let n = starts.len() - 1;
        // A line's bytes without the line break.
        let line_bytes = |i: usize| &body[starts[i]..starts[i + 1] - 1];
        // A line's first field, the id (a line that is not UTF-8 is the file's error anyway).
        let id_of = |i: usize| {
            let l = line_bytes(i);
            let id = memchr::memchr(b',', l).map_or(l, |p| &l[..p]);
            std::str::from_utf8(id).unwrap_or("\u{fffd}")
        };
        let (r0, line0) = (self.rows, self.breaks + 1);
        let prev0 = (r0 > 0).then_some(self.prev.as_str());
        let (policy, schools, ids) = (self.policy, self.schools, &self.ids);
        let (enc, tree) = match &mut self.tree {
            Some((enc, tree)) => (Some(&*enc), Some(tree)),
            None => (None, None),
        };
        // One row, appended to `block` (and its leaf to `leaves`); or its error, the block as
        // before.
        let row = |i: usize,
                   cached: &mut CachedIds<'_>,
                   block: &mut Block,
                   leaves: &mut Vec<Digest>,
                   buf: &mut Vec<u8>|
         -> Result<(), RowError> {
            let line = line0 + i;
            let Ok(l) = std::str::from_utf8(line_bytes(i)) else {
                return Err(RowError::NotUtf8(line));
            };
            // One pass over the bytes: the fields, and whether a carriage return or a quote occurs.
            let mut f = [""; NCOL];
            let mut k = 0;
            let mut start = 0;
            let mut bad = false;
            for at in memchr::memchr3_iter(b',', b'\r', b'"', l.as_bytes()) {
                if l.as_bytes()[at] == b',' {
                    if k < NCOL {
                        f[k] = &l[start..at];
                    }
                    k += 1;
                    start = at + 1;
                } else {
                    bad = true;
                }
            }
            if k < NCOL {
                f[k] = &l[start..];
            }
            k += 1;
            let shape = |reason: String| {
                RowError::Shape(RecordError::Line {
                    file: APPLICANTS,
                    line,
                    reason,
                })
            };
            if bad {
                return Err(shape("carriage returns and quotes are not allowed".into()));
            }
            if k != NCOL {
                return Err(shape(format!("expected {NCOL} fields, found {k}")));
            }
            if let Some(enc) = enc {
                leaves.push(enc.hash(buf, f.iter().map(|s| s.as_bytes())));
            }
            // The previous row's id (only its first field is read: a row with a bad shape is
            // reported before any field error anyway).
            let prev = match i {
                0 => prev0,
                _ => Some(id_of(i - 1)),
            };
            block
                .try_row(|b, m| parse_applicant_row(line, &f, prev, policy, schools, cached, b, m))
                .map_err(RowError::Field)
        };
        // The piece's rows by block of the whole file: the first continues the open block.
        let mut parts: Vec<(Result<Block, usize>, std::ops::Range<usize>)> = Vec::new();
        let mut at = 0;
        while at < n {
            let g = r0 + at;
            let room = BLOCK - g % BLOCK;
            // A new block has room for all its rows, also those of the next pieces.
            let block = match g % BLOCK {
                0 => Err(room),
                _ => self.open.take().ok_or(room),
            };
            parts.push((block, at..n.min(at + room)));
            at += room;
        }
        // A new block has room for its rows' list entries at the rate of the full blocks so far
        // (a vector that grows is copied, and its old memory is not the new one's), plus a
        // sixteenth; with no full block yet, for `per_row` choices and a category a row.
        let room = |(items, rows): ([usize; 5], usize), n: usize| -> [usize; 5] {
            match rows {
                0 => [0, n * self.per_row, n, 0, 0],
                _ => items.map(|k| k * n / rows + k * n / rows / 16 + 4),
            }
        };
        let wants_leaves = enc.is_some();
        // One block's rows; a row with an error is left out of its block (the round is refused
        // anyway) and its error competes for the first line that is not UTF-8, the first shape
        // and the first field error (the lowest line of each, whatever the order the blocks were
        // parsed in).
        let part = |(block, range): (Result<Block, usize>, std::ops::Range<usize>),
                    rate: ([usize; 5], usize),
                    cached: &mut CachedIds<'_>,
                    buf: &mut Vec<u8>|
         -> BlockPart {
            let block = block.unwrap_or_else(|rows| Block::with_room(rows, room(rate, rows)));
            let leaves = Vec::with_capacity(if wants_leaves { range.len() } else { 0 });
            let mut p = BlockPart {
                block,
                not_utf8: None,
                first: [None, None],
                leaves,
            };
            for i in range {
                let (slot, e) = match row(i, cached, &mut p.block, &mut p.leaves, buf) {
                    Ok(()) => continue,
                    Err(RowError::NotUtf8(line)) => {
                        p.not_utf8.get_or_insert(line);
                        continue;
                    }
                    Err(RowError::Shape(e)) => (&mut p.first[0], e),
                    Err(RowError::Field(e)) => (&mut p.first[1], e),
                };
                slot.get_or_insert(e);
            }
            p
        };
        let mut rate = (self.items, self.counted);
        let mut parts = parts.into_iter();
        let mut done: Vec<BlockPart> = Vec::with_capacity(parts.len());
        if rate.1 == 0 && parts.len() > 1 {
            // Nothing to size blocks by yet: the first (whole) block is parsed alone first.
            if let Some(p) = parts.next() {
                let first = part(p, rate, &mut CachedIds::new(ids), &mut Vec::new());
                if first.block.len() == BLOCK {
                    rate = (first.block.items(), BLOCK);
                }
                done.push(first);
            }
        }
        // The other blocks in parallel, and beside them the last piece's leaves go into the
        // tree. The id cache is made once per task that rayon splits off, not once per block:
        // it stays filled across the blocks a thread takes.
        let mut leaves = std::mem::take(&mut self.leaves);
        rayon::join(
            || {
                if let Some(tree) = tree {
                    tree.push(&leaves);
                }
            },
            || {
                done.par_extend(parts.collect::<Vec<_>>().into_par_iter().map_init(
                    || (CachedIds::new(ids), Vec::with_capacity(512)),
                    |(cached, buf), p| part(p, rate, cached, buf),
                ))
            },
        );
        self.prev = id_of(n - 1).to_string();
        self.rows += n;
        self.breaks += n;
        let full = self.rows.is_multiple_of(BLOCK);
        let count = done.len();
        leaves.clear();
        for (k, p) in done.into_iter().enumerate() {
            if let Some(line) = p.not_utf8 {
                self.not_utf8 = Some(self.not_utf8.map_or(line, |l| l.min(line)));
            }
            for (slot, e) in self.first.iter_mut().zip(p.first) {
                if let Some(e) = e
                    && slot.as_ref().is_none_or(|p| line_of(&e) < line_of(p))
                {
                    *slot = Some(e);
                }
            }
            if k + 1 < count || full {
                for (sum, k) in self.items.iter_mut().zip(p.block.items()) {
                    *sum += k;
                }
                self.counted += p.block.len();
                self.blocks.push(p.block);
            } else {
                self.open = Some(p.block);
            }
            leaves.extend(p.leaves);
        }
        self.leaves = leaves;
    }

    /// The applicants, and the input root and tree size when asked for; or the file's first
    /// error.
    pub fn finish(mut self) -> Result<(Applicants, Option<(Digest, u64)>), RecordError> {
        let line = |line: usize, reason: String| RecordError::Line {
            file: APPLICANTS,
            line,
            reason,
        };
        // A last line without a line break: its text is checked as UTF-8 (it holds no break).
        let last_line = !self.tail.is_empty();
        if last_line && self.not_utf8.is_none() && std::str::from_utf8(&self.tail).is_err() {
            self.not_utf8 = Some(self.breaks + 1);
        }
        if let Some(l) = self.not_utf8 {
            return Err(line(l, "not valid UTF-8".into()));
        }
        if last_line || self.breaks == 0 {
            // As `split_csv` counts them: the lines of a text that does not end with a break.
            return Err(line(
                self.breaks + 1,
                "the file must end with a line break".into(),
            ));
        }
        if self.header != Some(true) {
            return Err(line(
                1,
                format!("header must be exactly {APPLICANTS_HEADER:?}"),
            ));
        }
        let [shape, field] = std::mem::take(&mut self.first);
        if let Some(e) = shape.or(field) {
            return Err(e);
        }
        self.blocks.extend(self.open.take());
        let root = self.tree.take().map(|(_, mut tree)| {
            tree.push(&self.leaves);
            tree.finish()
        });
        Ok((Applicants::from_blocks(self.blocks), root))
    }
}

const APPLICANTS: &str = "applicants.csv";

/// The line of a row's error (a policy error sorts last).
fn line_of(e: &RecordError) -> usize {
    match e {
        RecordError::Line { line, .. } | RecordError::Field { line, .. } => *line,
        RecordError::Policy(_) => usize::MAX,
    }
}

/// Start offsets of the lines of `body` (whole lines, each ending with `\n`), then its length;
/// found in parallel chunks.
fn line_starts_of(body: &[u8]) -> Vec<usize> {
    use rayon::prelude::*;
    let chunks = line_chunks(body, 1 << 20);
    let mut offset = 0;
    let bases: Vec<usize> = chunks
        .iter()
        .map(|c| {
            let o = offset;
            offset += c.len();
            o
        })
        .collect();
    let per_chunk: Vec<Vec<usize>> = chunks
        .par_iter()
        .zip(bases)
        .map(|(c, base)| {
            let mut v = vec![base];
            v.extend(memchr::memchr_iter(b'\n', c).map(|i| base + i + 1));
            v.pop();
            v
        })
        .collect();
    let mut starts: Vec<usize> =
        Vec::with_capacity(per_chunk.iter().map(Vec::len).sum::<usize>() + 1);
    for v in per_chunk {
        starts.extend(v);
    }
    starts.push(body.len());
    starts
}

/// A CSV file: its header line, then the chunks of lines in order.
pub(crate) fn file_of_chunks(header: &str, chunks: &[String]) -> String {
    let mut s =
        String::with_capacity(header.len() + 1 + chunks.iter().map(String::len).sum::<usize>());
    s.push_str(header);
    s.push('\n');
    for c in chunks {
        s.push_str(c);
    }
    s
}

/// The lines of `body` (the text between line breaks; a final line without `\n` counts, an
/// empty text after the last `\n` does not): their number, and the byte offsets of lines
/// `first`, `first + every`, `first + 2·every`, … that exist (`first ≥ 1`, `every ≥ 1`; line 0
/// starts at 0). Line breaks are counted in parallel chunks of about `chunk_bytes`, then each
/// wanted line is found in its chunk.
pub(crate) fn line_starts(
    body: &[u8],
    first: usize,
    every: usize,
    chunk_bytes: usize,
) -> (usize, Vec<usize>) {
    use rayon::prelude::*;
    let chunks = line_chunks(body, chunk_bytes);
    let counts: Vec<usize> = chunks
        .par_iter()
        .map(|c| memchr::memchr_iter(b'\n', c).count())
        .collect();
    let breaks: usize = counts.iter().sum();
    let lines = breaks + usize::from(!body.is_empty() && !body.ends_with(b"\n"));
    let mut starts = Vec::new();
    // Line t (t ≥ 1) starts just after the t-th line break; `seen` breaks come before the
    // current chunk, which starts at `base`.
    let (mut seen, mut base, mut t) = (0usize, 0usize, first.max(1));
    for (chunk, count) in chunks.iter().zip(counts) {
        while t < lines && t <= seen + count {
            match memchr::memchr_iter(b'\n', chunk).nth(t - seen - 1) {
                Some(p) => starts.push(base + p + 1),
                None => break,
            }
            t += every.max(1);
        }
        seen += count;
        base += chunk.len();
    }
    (lines, starts)
}

/// Splits `body` into chunks of whole lines (each ending at a `\n`, except perhaps the last) of
/// about `size` bytes.
pub(crate) fn line_chunks(body: &[u8], size: usize) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let cut = if rest.len() <= size {
            rest.len()
        } else {
            match memchr::memchr(b'\n', &rest[size..]) {
                Some(p) => size + p + 1,
                None => rest.len(),
            }
        };
        out.push(&rest[..cut]);
        rest = &rest[cut..];
    }
    out
}

/// `s` split at the first `b` (an ASCII byte): the bytes before and after it.
fn split_at_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    let k = s.bytes().position(|x| x == b)?;
    Some((s.get(..k)?, s.get(k + 1..)?))
}

/// Parses one row of `applicants.csv` into `block`: its list items as they are read (`mark`:
/// where the row's own begin), then the row's end. Run through [`Block::try_row`], which takes
/// a failed row's items back.
#[allow(clippy::too_many_arguments)]
fn parse_applicant_row(
    line: usize,
    f: &[&str; 13],
    prev: Option<&str>,
    policy: &Policy,
    schools: &[School],
    ids: &mut CachedIds<'_>,
    block: &mut Block,
    mark: crate::applicants::Mark,
) -> Result<(), RecordError> {
    const F: &str = "applicants.csv";
    let id = f[0];
    if !is_id(id) {
        return Err(field_err(
            F,
            line,
            "application_id",
            "use 1-64 characters of A-Z a-z 0-9 . _ -",
        ));
    }
    if let Some(prev) = prev
        && prev.as_bytes() >= id.as_bytes()
    {
        return Err(field_err(
            F,
            line,
            "application_id",
            format!("{id:?} is out of order or repeated (rows are sorted by application_id)"),
        ));
    }
    if !policy.tracks.iter().any(|t| t == f[1]) {
        return Err(field_err(
            F,
            line,
            "track",
            format!("unknown track {:?}", f[1]),
        ));
    }
    let gender = match f[2] {
        "F" => Gender::F,
        "M" => Gender::M,
        _ => return Err(field_err(F, line, "gender", "expected F or M")),
    };
    // The number of items in a `;`-separated list field.
    let count = |field: &str| {
        if field.is_empty() {
            0
        } else {
            1 + field.bytes().filter(|b| *b == b';').count()
        }
    };
    for g in items(f[3]) {
        if !policy.groups.iter().any(|p| p == g) {
            return Err(field_err(F, line, "groups", format!("unknown group {g:?}")));
        }
        if block
            .open_groups(mark)
            .last()
            .is_some_and(|p| p.as_str() >= g)
        {
            return Err(field_err(
                F,
                line,
                "groups",
                "groups must be sorted and not repeated",
            ));
        }
        block.push_group(g);
    }
    // Counted before the duplicate check, which is quadratic in the list's length.
    let listed = count(f[4]);
    if listed > policy.round.max_choices as usize {
        return Err(field_err(
            F,
            line,
            "choices",
            format!(
                "{} choices, the policy allows {}",
                listed, policy.round.max_choices
            ),
        ));
    }
    // The school index of each choice so far: equal ids have equal indices and distinct ids
    // distinct ones, so the duplicate check compares integers, not strings (on the stack for
    // usual list lengths).
    let mut seen_inline = [0u32; 16];
    let mut seen_heap = Vec::new();
    let seen: &mut [u32] = if listed <= seen_inline.len() {
        &mut seen_inline[..listed]
    } else {
        seen_heap.resize(listed, 0);
        &mut seen_heap
    };
    for (k, c) in items(f[4]).enumerate() {
        let Some(si) = ids.get(c) else {
            return Err(field_err(
                F,
                line,
                "choices",
                format!("unknown school {c:?}"),
            ));
        };
        if seen[..k].contains(&si) {
            return Err(field_err(
                F,
                line,
                "choices",
                format!("school {c:?} is listed twice"),
            ));
        }
        seen[k] = si;
        block.push_choice(si);
    }
    for item in items(f[5]) {
        let (s, c) = split_at_byte(item, b':')
            .ok_or_else(|| field_err(F, line, "categories", "expected SCHOOL:NUMBER;…"))?;
        let Some(si) = ids.get(s) else {
            return Err(field_err(
                F,
                line,
                "categories",
                format!("unknown school {s:?}"),
            ));
        };
        let n = parse_uint(c)
            .filter(|n| *n >= 1 && *n <= policy.categories.len() as u64)
            .ok_or_else(|| {
                field_err(
                    F,
                    line,
                    "categories",
                    format!("category {c:?} is not defined by the policy"),
                )
            })?;
        // Indices order as ids do: the schools are sorted by id.
        if block
            .open_categories(mark)
            .last()
            .is_some_and(|(p, _)| *p >= si)
        {
            return Err(field_err(
                F,
                line,
                "categories",
                "entries must be sorted by school and not repeated",
            ));
        }
        block.push_category(si, n as u32);
    }
    for item in items(f[6]) {
        let (n, v) = split_at_byte(item, b'=')
            .ok_or_else(|| field_err(F, line, "indicators", "expected name=value;…"))?;
        if !policy.points.iter().any(|p| p.name == n) {
            return Err(field_err(
                F,
                line,
                "indicators",
                format!("indicator {n:?} is not defined by the policy"),
            ));
        }
        let v = parse_uint(v).filter(|v| *v <= 1_000_000).ok_or_else(|| {
            field_err(
                F,
                line,
                "indicators",
                format!("{n}: expected a whole number 0..=1000000"),
            )
        })?;
        if block
            .open_indicators(mark)
            .last()
            .is_some_and(|(p, _)| p.as_str() >= n)
        {
            return Err(field_err(
                F,
                line,
                "indicators",
                "entries must be sorted by name and not repeated",
            ));
        }
        block.push_indicator(n, v as i64);
    }
    let family = match f[7] {
        "" => None,
        fam if is_id(fam) => Some(fam),
        _ => return Err(field_err(F, line, "family", "invalid family id")),
    };
    for item in items(f[8]) {
        let (s, g) = split_at_byte(item, b':')
            .ok_or_else(|| field_err(F, line, "priority", "expected SCHOOL:GROUP;…"))?;
        let Some(si) = ids.get(s).map(|s| s as usize) else {
            return Err(field_err(
                F,
                line,
                "priority",
                format!("unknown school {s:?}"),
            ));
        };
        if !schools[si].reserved.iter().any(|(rg, _)| rg == g) {
            return Err(field_err(
                F,
                line,
                "priority",
                format!("school {s} reserves no seats for {g:?}"),
            ));
        }
        if block
            .open_priority(mark)
            .last()
            .is_some_and(|(ps, pg)| (ps.as_str(), pg.as_str()) >= (s, g))
        {
            return Err(field_err(
                F,
                line,
                "priority",
                "entries must be sorted and not repeated",
            ));
        }
        block.push_priority(s, g);
    }
    let manual = match f[9] {
        "" => None,
        m => {
            let (s, r) = split_at_byte(m, b':')
                .ok_or_else(|| field_err(F, line, "manual", "expected SCHOOL:REASON"))?;
            if ids.get(s).is_none() {
                return Err(field_err(
                    F,
                    line,
                    "manual",
                    format!("unknown school {s:?}"),
                ));
            }
            if !policy.manual_reasons.iter().any(|p| p == r) {
                return Err(field_err(
                    F,
                    line,
                    "manual",
                    format!("reason {r:?} is not defined by the policy"),
                ));
            }
            Some((CompactString::new(s), CompactString::new(r)))
        }
    };
    let xy = parse_xy(F, line, f[10], f[11])?;
    let private_hash =
        Digest::from_hex(f[12]).map_err(|e| field_err(F, line, "private_hash", e.to_string()))?;
    block
        .end_row(Scalars {
            id,
            track: f[1],
            gender,
            family,
            manual,
            xy,
            private_hash,
        })
        .map_err(|e| RecordError::Line {
            file: F,
            line,
            reason: e.to_string(),
        })
}

impl ApplicantRef<'_> {
    /// The columns of the public file, in header order. `schools` are the round's schools (which
    /// the choice and category indices point into).
    pub fn fields(&self, schools: &[School]) -> [String; 13] {
        let (x, y) = fmt_xy(self.xy);
        [
            self.id.to_string(),
            self.track.to_string(),
            match self.gender {
                Gender::F => "F".into(),
                Gender::M => "M".into(),
            },
            self.groups.join(";"),
            self.choices
                .iter()
                .map(|s| school_id_at(schools, *s))
                .collect::<Vec<_>>()
                .join(";"),
            self.categories
                .iter()
                .map(|(s, c)| format!("{}:{c}", school_id_at(schools, *s)))
                .collect::<Vec<_>>()
                .join(";"),
            self.indicators
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
            self.family.unwrap_or_default().to_string(),
            self.priority
                .iter()
                .map(|(s, g)| format!("{s}:{g}"))
                .collect::<Vec<_>>()
                .join(";"),
            self.manual
                .map(|(s, r)| format!("{s}:{r}"))
                .unwrap_or_default(),
            x,
            y,
            self.private_hash.to_hex(),
        ]
    }
}

/// The id of the school at `index` in `schools` (empty when out of range, which a round built
/// by [`parse_applicants`] or the engine never holds).
fn school_id_at(schools: &[School], index: u32) -> &str {
    schools
        .get(index as usize)
        .map(|s| s.id.as_str())
        .unwrap_or_default()
}

/// Appends one `applicants.csv` row (its 13 columns joined by `,`, without the line break):
/// exactly `a.fields(schools).join(",")`, written without intermediate strings. `schools` are the
/// round's schools (which the choice and category indices point into).
pub fn push_applicant_row(out: &mut String, a: ApplicantRef<'_>, schools: &[School]) {
    use std::fmt::Write as _;
    fn join<T>(out: &mut String, items: &[T], mut f: impl FnMut(&mut String, &T)) {
        for (k, x) in items.iter().enumerate() {
            if k > 0 {
                out.push(';');
            }
            f(out, x);
        }
    }
    out.push_str(a.id);
    out.push(',');
    out.push_str(a.track);
    out.push(',');
    out.push_str(match a.gender {
        Gender::F => "F",
        Gender::M => "M",
    });
    out.push(',');
    join(out, a.groups, |o, g| o.push_str(g));
    out.push(',');
    join(out, a.choices, |o, c| o.push_str(school_id_at(schools, *c)));
    out.push(',');
    join(out, a.categories, |o, (s, c)| {
        o.push_str(school_id_at(schools, *s));
        o.push(':');
        let _ = write!(o, "{c}");
    });
    out.push(',');
    join(out, a.indicators, |o, (n, v)| {
        o.push_str(n);
        o.push('=');
        let _ = write!(o, "{v}");
    });
    out.push(',');
    if let Some(f) = a.family {
        out.push_str(f);
    }
    out.push(',');
    join(out, a.priority, |o, (s, g)| {
        o.push_str(s);
        o.push(':');
        o.push_str(g);
    });
    out.push(',');
    if let Some((s, r)) = a.manual {
        out.push_str(s);
        out.push(':');
        out.push_str(r);
    }
    out.push(',');
    if let Some((x, y)) = a.xy {
        let _ = write!(out, "{x},{y}");
    } else {
        out.push(',');
    }
    out.push(',');
    let mut hex = [0u8; 64];
    // Infallible: the buffer is exactly twice the digest's length.
    let _ = hex::encode_to_slice(a.private_hash.0, &mut hex);
    out.push_str(std::str::from_utf8(&hex).unwrap_or_default());
}

/// Writes the public `applicants.csv` (rows in the given order, which must be id order). Rows are
/// rendered in parallel chunks joined in order: the bytes do not depend on the thread count.
/// `schools` are the round's schools (which the choice and category indices point into).
pub fn write_applicants(applicants: &Applicants, schools: &[School]) -> String {
    use rayon::prelude::*;
    let chunks: Vec<String> = (0..applicants.len().div_ceil(ROWS_PER_CHUNK))
        .into_par_iter()
        .map(|c| applicants_chunk(applicants, schools, c))
        .collect();
    file_of_chunks(APPLICANTS_HEADER, &chunks)
}

/// [`write_applicants`] in pieces: the header line, then chunks of rows, each passed to `emit`
/// in order as it is rendered (a window of chunks at a time, [`crate::lines::write_chunks`]), so
/// that the file is never held whole. Stops at `emit`'s first error.
pub fn write_applicants_in_pieces<E: Send>(
    applicants: &Applicants,
    schools: &[School],
    mut emit: impl FnMut(&str) -> Result<(), E> + Send,
) -> Result<(), E> {
    emit(&format!("{APPLICANTS_HEADER}\n"))?;
    crate::lines::write_chunks(
        applicants.len().div_ceil(ROWS_PER_CHUNK),
        |c| applicants_chunk(applicants, schools, c),
        emit,
    )
}

/// Rows of `applicants.csv` rendered per parallel chunk.
const ROWS_PER_CHUNK: usize = 1 << 15;

/// Chunk `c` of `applicants.csv`'s rows (rows `c·ROWS_PER_CHUNK` on), each with its line break.
fn applicants_chunk(applicants: &Applicants, schools: &[School], c: usize) -> String {
    let rows = c * ROWS_PER_CHUNK..applicants.len().min((c + 1) * ROWS_PER_CHUNK);
    let mut s = String::with_capacity(rows.len() * 170);
    for i in rows {
        push_applicant_row(&mut s, applicants.get(i), schools);
        s.push('\n');
    }
    s
}

/// Leaf data of an applicant: `enc(tag "leaf/applicant", field_1, …, field_13)` with the 13 public
/// columns as written in `applicants.csv` (PROTOCOL.md §3.2). `schools` are the round's schools.
pub fn applicant_leaf(domain: Domain, a: ApplicantRef<'_>, schools: &[School]) -> Vec<u8> {
    let f = a.fields(schools);
    let refs: Vec<&[u8]> = f.iter().map(|s| s.as_bytes()).collect();
    crate::encoding::encode_fields(&domain.tag("leaf/applicant"), &refs)
}

/// `merkle::leaf_hash(&applicant_leaf(domain, a, schools))`: the row rendered into `row`, its
/// fields hashed by `enc` (tag `leaf/applicant`) through the scratch `buf`.
fn applicant_leaf_hash(
    enc: &LeafEncoder,
    a: ApplicantRef<'_>,
    schools: &[School],
    (row, buf): &mut (String, Vec<u8>),
) -> Digest {
    row.clear();
    push_applicant_row(row, a, schools);
    // Restricted CSV: no field contains a comma, so the row splits back into its 13 fields.
    enc.hash(buf, row.split(',').map(str::as_bytes))
}

/// Leaf data of a whole input file: `enc(tag "leaf/file", name, bytes)`.
pub fn file_leaf(domain: Domain, name: &str, bytes: &[u8]) -> Vec<u8> {
    crate::encoding::encode_fields(&domain.tag("leaf/file"), &[name.as_bytes(), bytes])
}

/// The private-record hash binding a family's data to its public leaf (PROTOCOL.md §3.3):
/// `H(tag "private", salt, application id, name, id-card number, birth date, guardian phone,
/// address)`. The family holds the 16-byte salt (its lookup secret).
pub struct PrivateRecord<'a> {
    /// Application id.
    pub application_id: &'a str,
    /// Child's name.
    pub name: &'a str,
    /// ID-card number (身份证号).
    pub id_card: &'a str,
    /// Birth date YYYY-MM-DD.
    pub birth_date: &'a str,
    /// Guardian phone.
    pub phone: &'a str,
    /// Address.
    pub address: &'a str,
}

/// See [`PrivateRecord`].
pub fn private_hash(domain: Domain, salt: &[u8; 16], r: &PrivateRecord<'_>) -> Digest {
    let mut h = Hasher::new(&domain.tag("private"));
    h.field(salt)
        .field(r.application_id.as_bytes())
        .field(r.name.as_bytes())
        .field(r.id_card.as_bytes())
        .field(r.birth_date.as_bytes())
        .field(r.phone.as_bytes())
        .field(r.address.as_bytes());
    h.finish()
}

/// A parsed, checked, frozen round: everything the draw needs.
#[derive(Debug, Clone)]
pub struct FrozenRound {
    /// The policy's exact bytes.
    pub policy_bytes: Vec<u8>,
    /// The parsed policy.
    pub policy: Policy,
    /// Schools, sorted by id.
    pub schools: Vec<School>,
    /// Teachers, sorted by id.
    pub teachers: Vec<Teacher>,
    /// Applicants, sorted by id.
    pub applicants: Applicants,
}

/// Input-file names, in leaf order (PROTOCOL.md §3.2).
pub const INPUT_FILES: [&str; 3] = ["policy.toml", "schools.csv", "teachers.csv"];

impl FrozenRound {
    /// Parses the four public input files.
    pub fn parse(
        policy: &[u8],
        schools: &[u8],
        teachers: &[u8],
        applicants: &[u8],
    ) -> Result<FrozenRound, RecordError> {
        let pol = Policy::parse(policy)?;
        let sch = parse_schools(schools)?;
        let tea = parse_teachers(teachers, &sch)?;
        let app = parse_applicants(applicants, &pol, &sch)?;
        Ok(FrozenRound {
            policy_bytes: policy.to_vec(),
            policy: pol,
            schools: sch,
            teachers: tea,
            applicants: app,
        })
    }

    /// Reads the round from its three small input files and `applicants.csv` (the caller
    /// opens it; it is read in pieces of whole lines, [`crate::lines::read_lines`], and parsed
    /// as it comes, never held whole), with its input root and tree size: what [`parse`]
    /// then [`input_root`] give, in one pass over the applicants.
    ///
    /// [`parse`]: Self::parse
    /// [`input_root`]: Self::input_root
    pub fn read(
        policy: &[u8],
        schools: &[u8],
        teachers: &[u8],
        applicants: &mut (dyn std::io::Read + Send),
    ) -> Result<(FrozenRound, (Digest, u64)), ReadRoundError> {
        let pol = Policy::parse(policy).map_err(RecordError::from)?;
        let sch = parse_schools(schools)?;
        let tea = parse_teachers(teachers, &sch)?;
        let mut parser = ApplicantsParser::new(&pol, &sch).with_input_root(
            pol.domain(),
            policy,
            schools,
            teachers,
        );
        crate::lines::read_lines_unhashed(applicants, crate::lines::PIECE, |piece| {
            parser.feed(piece);
            true
        })
        .map_err(ReadRoundError::Read)?;
        let (app, root) = parser.finish()?;
        let round = FrozenRound {
            policy_bytes: policy.to_vec(),
            policy: pol,
            schools: sch,
            teachers: tea,
            applicants: app,
        };
        // Always computed by a parser `with_input_root`; from the round otherwise.
        let root = root.unwrap_or_else(|| round.input_root());
        Ok((round, root))
    }

    /// Real or rehearsal.
    pub fn domain(&self) -> Domain {
        self.policy.domain()
    }

    /// SHA-256 of the policy bytes.
    pub fn policy_hash(&self) -> Digest {
        crate::encoding::sha256(&self.policy_bytes)
    }

    /// The input tree's leaf hashes: policy, schools, teachers, then one per applicant in id order.
    pub fn input_leaves(&self) -> Vec<Digest> {
        let d = self.domain();
        let mut leaves = file_leaves(
            d,
            &self.policy_bytes,
            write_schools(&self.schools).as_bytes(),
            write_teachers(&self.teachers).as_bytes(),
        );
        let enc = LeafEncoder::new(&d.tag("leaf/applicant"), &[]);
        let scratch = || (String::with_capacity(256), Vec::with_capacity(512));
        if self.applicants.len() >= 1 << 14 {
            use rayon::prelude::*;
            leaves.par_extend(self.applicants.par_iter().map_init(scratch, |s, a| {
                applicant_leaf_hash(&enc, a, &self.schools, s)
            }));
        } else {
            let mut s = scratch();
            leaves.extend(
                self.applicants
                    .iter()
                    .map(|a| applicant_leaf_hash(&enc, a, &self.schools, &mut s)),
            );
        }
        leaves
    }

    /// (input root, tree size).
    pub fn input_root(&self) -> (Digest, u64) {
        let leaves = self.input_leaves();
        (merkle::root_from_leaf_hashes(&leaves), leaves.len() as u64)
    }

    /// Leaf index of an applicant (3 + position in id order).
    pub fn applicant_leaf_index(&self, id: &str) -> Option<u64> {
        self.applicants
            .binary_search_id(id)
            .ok()
            .map(|i| i as u64 + INPUT_FILES.len() as u64)
    }
}

/// A fast, deterministic string hasher for id lookups (FxHash-style multiply-rotate). Only used
/// for lookups, never for iteration order, so nothing published depends on it.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w) ^ (rest.len() as u64) << 59)
                .wrapping_mul(K);
        }
    }
    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// School id → index, for the hot paths (parsing, the draw, the checkpoint): one hash lookup
/// instead of a binary search with string comparisons. Ids of at most 7 bytes are looked up as
/// one integer (their bytes and their length), longer ones as strings.
pub struct SchoolIds<'a> {
    /// Packed short ids: open addressing with linear probing over a power-of-two table kept less
    /// than two-thirds full, so a probe always ends at an empty slot. A slot is (packed id,
    /// index), the id [`EMPTY_SLOT`] when unused.
    short: Vec<(u64, u32)>,
    long: std::collections::HashMap<&'a str, u32, std::hash::BuildHasherDefault<IdHasher>>,
}

/// An unused slot of [`SchoolIds`]'s table: never a packed id (whose last byte, its length, is at
/// most 7).
const EMPTY_SLOT: u64 = u64::MAX;

/// The home slot of a packed id in a table of `mask + 1` slots: [`PackedHasher`]'s mix.
fn packed_slot(k: u64, mask: usize) -> usize {
    let p = u128::from(k) * 0x9e37_79b9_7f4a_7c15_u128;
    ((p as u64) ^ ((p >> 64) as u64)) as usize & mask
}

/// Hasher for packed ids: a folded 64×64→128-bit multiply, so every bit of the id reaches both
/// the low bits (the bucket) and the high bits (the tag). Lookups only.
#[derive(Default, Clone, Copy)]
pub struct PackedHasher(u64);

impl std::hash::Hasher for PackedHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        let p = u128::from(self.0 ^ x) * 0x9e37_79b9_7f4a_7c15_u128;
        self.0 = (p as u64) ^ ((p >> 64) as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// An id of at most 7 bytes as one integer: its bytes, then its length in the last byte (so
/// distinct ids give distinct integers).
fn pack_id(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.len() > 7 {
        return None;
    }
    // Byte by byte rather than through a buffer: a variable-length copy is a call to `memcpy`
    // and stalls the load that follows it (this is on the parser's and the draw's hot path).
    let mut k = (b.len() as u64) << 56;
    for (i, x) in b.iter().enumerate() {
        k |= u64::from(*x) << (8 * i);
    }
    Some(k)
}

impl<'a> SchoolIds<'a> {
    /// Indexes a school list.
    pub fn new(schools: &'a [School]) -> Self {
        let size = (schools.len() + schools.len() / 2 + 1).next_power_of_two();
        let mut ids = SchoolIds {
            short: vec![(EMPTY_SLOT, 0); size],
            long: std::collections::HashMap::default(),
        };
        let mask = size - 1;
        for (i, s) in schools.iter().enumerate() {
            // The first of equal ids wins, as a binary search over a sorted list would find one
            // of them; school lists are checked for duplicates when parsed.
            match pack_id(&s.id) {
                Some(k) => {
                    let mut j = packed_slot(k, mask);
                    while ids.short[j].0 != EMPTY_SLOT && ids.short[j].0 != k {
                        j = (j + 1) & mask;
                    }
                    if ids.short[j].0 == EMPTY_SLOT {
                        ids.short[j] = (k, i as u32);
                    }
                }
                None => {
                    ids.long.entry(s.id.as_str()).or_insert(i as u32);
                }
            }
        }
        ids
    }

    /// Index of a school id.
    pub fn get(&self, id: &str) -> Option<u32> {
        match pack_id(id) {
            Some(k) => self.get_packed(k),
            None => self.long.get(id).copied(),
        }
    }

    /// Index of a short id, packed by [`pack_id`].
    fn get_packed(&self, k: u64) -> Option<u32> {
        let mask = self.short.len() - 1;
        let mut j = packed_slot(k, mask);
        loop {
            let (key, index) = self.short[j];
            if key == k {
                return Some(index);
            }
            if key == EMPTY_SLOT {
                return None;
            }
            j = (j + 1) & mask;
        }
    }
}

/// [`SchoolIds`] with a per-thread cache of the ids looked up, for the parser: the shared table
/// (8,192 slots of 16 bytes at 5,000 schools) is evicted from the processor's caches by the file
/// streaming past, and its loads were a quarter of the parse. A direct-mapped cache of half its
/// size, filled by this thread only, holds the schools the rows at hand name (their catchments
/// and neighbours): the parse of a million 10-choice rows takes ≈ 6% less time (≈ 0.64 → 0.60 s,
/// one thread, fastest of 12 runs).
pub struct CachedIds<'a> {
    ids: &'a SchoolIds<'a>,
    /// (packed id, index), direct-mapped by the id's [`packed_slot`]; [`EMPTY_SLOT`] if unused.
    recent: Box<[(u64, u32); 4096]>,
}

impl<'a> CachedIds<'a> {
    /// An empty cache over `ids`.
    pub fn new(ids: &'a SchoolIds<'a>) -> Self {
        CachedIds {
            ids,
            recent: Box::new([(EMPTY_SLOT, 0); 4096]),
        }
    }

    /// Index of a school id (as [`SchoolIds::get`]).
    pub fn get(&mut self, id: &str) -> Option<u32> {
        let Some(k) = pack_id(id) else {
            return self.ids.get(id);
        };
        let slot = &mut self.recent[packed_slot(k, 4095)];
        if slot.0 == k {
            return Some(slot.1);
        }
        let i = self.ids.get_packed(k)?;
        *slot = (k, i);
        Some(i)
    }
}

/// The leaf hashes of the three whole-file inputs, in leaf order ([`INPUT_FILES`]).
fn file_leaves(domain: Domain, policy: &[u8], schools: &[u8], teachers: &[u8]) -> Vec<Digest> {
    INPUT_FILES
        .iter()
        .zip([policy, schools, teachers])
        .map(|(name, bytes)| merkle::leaf_hash(&file_leaf(domain, name, bytes)))
        .collect()
}

/// A school with only an id (one seat), for unit tests.
#[cfg(test)]
pub(crate) fn bare_school(id: &str) -> School {
    School {
        id: id.to_string(),
        name: String::new(),
        private: false,
        capacity: 1,
        reserved: Vec::new(),
        points_seats: 0,
        classes: 0,
        xy: None,
        graduates: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_like_str_split() {
        for s in ["", "a", "a;b", ";", "a;;b;", ";x", "中;文"] {
            let want: Vec<&str> = if s.is_empty() {
                Vec::new()
            } else {
                s.split(';').collect()
            };
            assert_eq!(items(s).collect::<Vec<_>>(), want, "{s:?}");
        }
    }

    const POLICY: &str = r#"
protocol = "fairdraw/v1"
tracks = ["local", "migrant"]
groups = ["migrant"]
manual_reasons = ["disability"]
families = "joint"
family_overflow = true

[round]
id = "parse-round"
title = "parse test"
grade = "primary"
mode = "real"
draw_date = "2026-07-01"
max_choices = 4

[[categories]]
code = "hukou_and_home"
label = "a"

[[points]]
name = "months"
weight = 1000
cap = 60000
threshold = 6

[[stages]]
name = "catchment"
mechanism = "deferred_acceptance"
schools = "public"
tracks = ["local", "migrant"]
priority = "category"

[classes]
balance = ["gender"]
families = "ignore"
teachers = true
"#;

    /// The serial parse the parallel one replaces: `split_csv`, then every row in order.
    fn serial(bytes: &[u8], policy: &Policy, schools: &[School]) -> Result<usize, RecordError> {
        let ids = SchoolIds::new(schools);
        let rows = split_csv("applicants.csv", bytes, APPLICANTS_HEADER)?;
        let mut prev: Option<&str> = None;
        let mut block = Block::default();
        for (line, f) in &rows {
            let f: [&str; 13] = std::array::from_fn(|k| f[k]);
            let mut cached = CachedIds::new(&ids);
            block.try_row(|b, m| {
                parse_applicant_row(*line, &f, prev, policy, schools, &mut cached, b, m)
            })?;
            prev = Some(f[0]);
        }
        Ok(rows.len())
    }

    /// Choices: unknown and repeated schools are refused with their messages, for short lists
    /// and for lists longer than the duplicate check's inline buffer.
    #[test]
    fn choice_lists_are_checked() {
        let policy = Policy::parse(
            POLICY
                .replace("max_choices = 4", "max_choices = 40")
                .as_bytes(),
        )
        .expect("policy");
        let schools: Vec<School> = (0..30)
            .map(|k| School {
                capacity: 10,
                ..bare_school(&format!("S{k:02}"))
            })
            .collect();
        let hash = "ab".repeat(32);
        let parse = |choices: &str| {
            let file = format!("{APPLICANTS_HEADER}\nA1,local,F,,{choices},,,,,,,,{hash}\n");
            parse_applicants(file.as_bytes(), &policy, &schools).map(|v| {
                v.choices(0)
                    .iter()
                    .map(|c| schools[*c as usize].id.to_string())
                    .collect::<Vec<_>>()
            })
        };
        let list = |ks: &[usize]| {
            ks.iter()
                .map(|k| format!("S{k:02}"))
                .collect::<Vec<_>>()
                .join(";")
        };
        let err = |reason: &str| {
            Err(RecordError::Field {
                file: "applicants.csv",
                line: 2,
                column: "choices",
                reason: reason.to_string(),
            })
        };
        for n in [3, 16, 17, 25] {
            let ks: Vec<usize> = (0..n).rev().collect();
            let ids: Vec<String> = ks.iter().map(|k| format!("S{k:02}")).collect();
            assert_eq!(parse(&list(&ks)), Ok(ids));
            let mut twice = ks.clone();
            twice.push(ks[n / 2]);
            let id = format!("S{:02}", ks[n / 2]);
            assert_eq!(
                parse(&list(&twice)),
                err(&format!("school {id:?} is listed twice"))
            );
            let unknown = format!("{};S99", list(&ks));
            assert_eq!(parse(&unknown), err("unknown school \"S99\""));
        }
        assert_eq!(parse("S01;;S02"), err("unknown school \"\""));
    }

    /// The parallel parse reports exactly the serial parse's first error (shape errors first,
    /// then field errors, each the first in file order), wherever the rows are.
    #[test]
    fn parallel_parse_reports_the_serial_first_error() {
        let policy = Policy::parse(POLICY.as_bytes()).expect("policy");
        let schools: Vec<School> = (0..3)
            .map(|k| School {
                capacity: 10,
                ..bare_school(&format!("S{k}"))
            })
            .collect();
        let n = 5000;
        let hash = "ab".repeat(32);
        let rows: Vec<String> = (0..n)
            .map(|i| format!("A{i:06},local,F,,S0;S2,S0:1,months=3,,,,1,-2,{hash}"))
            .collect();
        let file = |rows: &[String]| {
            let mut s = format!("{APPLICANTS_HEADER}\n");
            for r in rows {
                s.push_str(r);
                s.push('\n');
            }
            s.into_bytes()
        };
        let check = |rows: &[String]| {
            let bytes = file(rows);
            let parallel = parse_applicants(&bytes, &policy, &schools).map(|v| v.len());
            assert_eq!(parallel, serial(&bytes, &policy, &schools));
            parallel
        };
        assert_eq!(check(&rows), Ok(n));
        let with = |edits: &[(usize, &str)]| {
            let mut r = rows.clone();
            for (i, text) in edits {
                r[*i] = text.to_string();
            }
            r
        };
        let bad_field = format!("A{:06},local,X,,S0,,,,,,,,{hash}", 3000);
        let bad_field2 = format!("A{:06},local,F,,S9,,,,,,,,{hash}", 4100);
        let repeated = format!("A{:06},local,F,,S0,,,,,,,,{hash}", 2047);
        // In pieces: a row out of id order just after a piece's end (line 2,050 starts the
        // second piece of 2,049 lines), a shape error after a field error.
        for r in [
            rows.clone(),
            with(&[(2048, &repeated)]),
            with(&[(3000, &bad_field), (4500, "a,b")]),
        ] {
            assert_pieces_agree(&file(&r), &policy, &schools);
        }
        for r in [
            with(&[(3000, &bad_field), (4500, "a,b")]),
            with(&[(3000, &bad_field), (4100, &bad_field2)]),
            with(&[(4100, &bad_field2), (4101, "x\"y")]),
            with(&[(2048, &repeated)]),
            with(&[(0, "")]),
            with(&[(4999, "A,b\r")]),
        ] {
            assert!(check(&r).is_err());
        }
        // File-level errors: no final line break, bad header, invalid UTF-8 (rows' lines are
        // checked by the parallel parse: the first such line wins over any other error, in
        // whichever block it is, and after a wrong header too).
        let not_utf8 = |r: &[String]| -> Vec<u8> {
            let bytes = file(r).into_iter();
            bytes.map(|b| if b == 1 { 0xff } else { b }).collect()
        };
        let marked = |i: usize| format!("A{i:06},local,F,,S0,,,,,,,,{hash}\u{1}");
        let (m100, m4500) = (marked(100), marked(4500));
        for bytes in [
            b"x".to_vec(),
            Vec::new(),
            file(&rows)[..100].to_vec(),
            [file(&rows), vec![0xff, b'\n']].concat(),
            not_utf8(&with(&[(3000, "a,b"), (4500, &m4500)])),
            not_utf8(&with(&[(4500, &m4500), (100, &m100)])),
            [b"\xff".to_vec(), file(&rows)].concat(),
            [b"x\n".to_vec(), not_utf8(&with(&[(4500, &m4500)]))].concat(),
        ] {
            assert_eq!(
                parse_applicants(&bytes, &policy, &schools).map(|v| v.len()),
                serial(&bytes, &policy, &schools)
            );
            assert_pieces_agree(&bytes, &policy, &schools);
        }
        // Pieces of 1 to 5 bytes, cutting characters in two: the same result or error.
        let small = |edit: &str| {
            let mut r = rows[..20].to_vec();
            r[7] = edit.to_string();
            file(&r)
        };
        for bytes in [
            file(&rows[..20]),
            small(&format!("A000007é,local,F,,S0,,,,,,,,{hash}")),
            small("中文,b"),
            [file(&rows[..20]), "中".as_bytes().to_vec()].concat(),
            [file(&rows[..20]), vec![0xe4, 0xb8]].concat(),
        ] {
            let whole = parse_applicants(&bytes, &policy, &schools);
            for size in 1..=5 {
                let mut w = ApplicantsParser::new(&policy, &schools);
                for piece in bytes.chunks(size) {
                    w.feed(piece);
                }
                let got = w.finish().map(|(a, _)| a);
                match (&whole, &got) {
                    (Ok(a), Ok(b)) => assert!(a == b, "pieces of {size} bytes"),
                    (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err(), "pieces of {size}"),
                }
            }
        }
    }

    /// `bytes` cut after every `k`-th line break (the rest as the last piece).
    fn pieces(bytes: &[u8], k: usize) -> Vec<&[u8]> {
        let mut out = Vec::new();
        let (mut from, mut seen) = (0, 0);
        for at in memchr::memchr_iter(b'\n', bytes) {
            seen += 1;
            if seen % k == 0 {
                out.push(&bytes[from..=at]);
                from = at + 1;
            }
        }
        out.push(&bytes[from..]);
        out
    }

    /// Fed in pieces of 7, 2,049, 4,096 and 4,097 lines (the first piece, with the header, then
    /// ends one row short of a block, or at its end), or read through `lines::read_lines` in
    /// small pieces, the parser gives the whole file's result or error, and its input root is
    /// the parsed round's.
    fn assert_pieces_agree(bytes: &[u8], policy: &Policy, schools: &[School]) {
        let domain = policy.domain();
        let (p, s, t) = (b"policy", b"schools", b"teachers");
        // The tree only when the file parses (hashing is slow in a debug build).
        let parses = parse_applicants(bytes, policy, schools).is_ok();
        let parser = || match parses {
            true => ApplicantsParser::new(policy, schools).with_input_root(domain, p, s, t),
            false => ApplicantsParser::new(policy, schools),
        };
        let whole = {
            let mut w = parser();
            w.feed(bytes);
            w.finish()
        };
        if let Ok((applicants, root)) = &whole {
            let leaves: Vec<Digest> = file_leaves(domain, p, s, t)
                .into_iter()
                .chain(applicants.iter().map(|a| {
                    applicant_leaf_hash(
                        &LeafEncoder::new(&domain.tag("leaf/applicant"), &[]),
                        a,
                        schools,
                        &mut (String::new(), Vec::new()),
                    )
                }))
                .collect();
            let want = (merkle::root_from_leaf_hashes(&leaves), leaves.len() as u64);
            assert_eq!(*root, Some(want));
        }
        let same = |got: Result<(Applicants, Option<(Digest, u64)>), RecordError>, how: &str| match (
            &whole, got,
        ) {
            (Ok((a, r)), Ok((b, q))) => {
                assert!(a == &b, "{how}: other applicants");
                assert_eq!(r, &q, "{how}: other root");
            }
            (Err(a), Err(b)) => assert_eq!(a, &b, "{how}"),
            (a, b) => panic!("{how}: {:?} against {:?}", a.as_ref().err(), b.err()),
        };
        for k in [7, 2049, 4096, 4097] {
            let mut w = parser();
            for piece in pieces(bytes, k) {
                w.feed(piece);
            }
            same(w.finish(), &format!("pieces of {k} lines"));
        }
        for size in [1000, 4093] {
            let mut w = parser();
            for piece in bytes.chunks(size) {
                w.feed(piece);
            }
            same(w.finish(), &format!("pieces of {size} bytes"));
        }
        let mut w = parser();
        let read = crate::lines::read_lines(&mut &bytes[..], 20_000, |piece| {
            w.feed(piece);
            true
        });
        assert!(matches!(read, Ok(Some(_))));
        same(w.finish(), "read_lines");
    }

    /// Thousands of ids (the table's probe chains), with repeats: the first of equal ids wins, as
    /// a scan of the list would find it.
    #[test]
    fn school_ids_lookup_many() {
        let ids: Vec<String> = (0..5000)
            .map(|i| format!("S{:04}", (i * 7919) % 4000))
            .chain((0..300).map(|i| format!("LONG-SCHOOL-{i}")))
            .collect();
        let schools: Vec<School> = ids.iter().map(|id| bare_school(id)).collect();
        let map = SchoolIds::new(&schools);
        let absent: Vec<String> = (4000..4100).map(|i| format!("S{i:04}")).collect();
        for q in ids.iter().chain(&absent) {
            let expected = schools.iter().position(|s| s.id == *q).map(|i| i as u32);
            assert_eq!(map.get(q), expected, "{q:?}");
        }
    }

    /// Short and long ids, present and absent, look up as a scan of the list would.
    #[test]
    fn school_ids_lookup() {
        let ids = [
            "",
            "S1",
            "S1\0",
            "S10",
            "ABCDEFG",
            "ABCDEFGH",
            "ABCDEFGHIJ",
            "Z",
        ];
        let schools: Vec<School> = ids.iter().map(|id| bare_school(id)).collect();
        let map = SchoolIds::new(&schools);
        for q in ids
            .iter()
            .chain(&["S", "S2", "ABCDEFGHI", "ABCDEFG\0", "S1\0\0"])
        {
            let expected = schools.iter().position(|s| s.id == *q).map(|i| i as u32);
            assert_eq!(map.get(q), expected, "{q:?}");
        }
    }
}
