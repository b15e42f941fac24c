//! Result files and the results root (PROTOCOL.md §7).
//!
//! The draw's outcome is written as five restricted-CSV files; every data line of each, in file
//! order, is a leaf `enc(tag "leaf/result", file name, line)` of the results tree.

use crate::digest::Digest;
use crate::draw::{Detail, Outcome};
use crate::encoding::Domain;
use crate::lines::Hashed;
use crate::mechanism::UNPLACED;
use crate::merkle;
use crate::round::FrozenRound;

/// Result files, in results-tree order.
pub const RESULT_FILES: [&str; 5] = [
    "results.csv",
    "waitlists.csv",
    "classes.csv",
    "class_teachers.csv",
    "quota.csv",
];
/// Header of `results.csv`.
pub const RESULTS_HEADER: &str = "application_id,school_id,lottery_number,ticket,stage,detail,category,points,points_parts,class";
/// Header of `waitlists.csv`.
pub const WAITLISTS_HEADER: &str = "stage,school_id,position,application_id";
/// Header of `classes.csv`.
pub const CLASSES_HEADER: &str = "school_id,class,application_id";
/// Header of `class_teachers.csv`.
pub const CLASS_TEACHERS_HEADER: &str = "school_id,class,teacher_id";
/// Header of `quota.csv`.
pub const QUOTA_HEADER: &str = "high_school_id,school_id,graduates,seats";

/// Milli-points as a decimal with three places: `12345` → `12.345`.
pub fn fmt_milli(v: i64) -> String {
    let sign = if v < 0 { "-" } else { "" };
    let a = v.unsigned_abs();
    format!("{sign}{}.{:03}", a / 1000, a % 1000)
}

/// Appends the decimal form of `v`.
fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// Appends [`fmt_milli`]`(v)`.
fn push_milli(out: &mut String, v: i64) {
    if v < 0 {
        out.push('-');
    }
    let a = v.unsigned_abs();
    push_u64(out, a / 1000);
    out.push('.');
    let r = a % 1000;
    out.push(char::from(b'0' + (r / 100) as u8));
    out.push(char::from(b'0' + (r / 10 % 10) as u8));
    out.push(char::from(b'0' + (r % 10) as u8));
}

/// Appends the 64-digit lowercase hex of a digest.
fn push_hex(out: &mut String, d: &Digest) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 64];
    for (k, b) in d.0.iter().enumerate() {
        buf[2 * k] = HEX[usize::from(b >> 4)];
        buf[2 * k + 1] = HEX[usize::from(b & 15)];
    }
    out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
}

/// Applicants rendered per parallel chunk of `results.csv`.
const CHUNK: usize = 1 << 15;

/// One line of `results.csv`.
fn push_result_line(out: &mut String, round: &FrozenRound, o: &Outcome, i: usize) {
    let schools = &round.schools;
    let stages = &round.policy.stages;
    let s = o.school[i];
    out.push_str(round.applicants.id(i));
    out.push(',');
    if s != UNPLACED {
        out.push_str(&schools[s as usize].id);
    }
    out.push(',');
    push_u64(out, u64::from(o.numbers[i]));
    out.push(',');
    push_hex(out, &o.tickets[i]);
    out.push(',');
    match o.detail[i] {
        Some(Detail::Manual) => out.push_str("manual"),
        _ if o.stage[i] != u32::MAX => out.push_str(&stages[o.stage[i] as usize].name),
        _ => {}
    }
    out.push(',');
    match o.detail[i] {
        Some(Detail::Reserved(g)) => {
            out.push_str("reserved:");
            out.push_str(
                schools[s as usize]
                    .reserved
                    .get(g as usize)
                    .map_or("", |r| r.0.as_str()),
            );
        }
        Some(Detail::Manual) => {
            out.push_str("manual:");
            out.push_str(round.applicants.manual(i).map_or("", |m| m.1.as_str()));
        }
        Some(d) => out.push_str(d.code()),
        None => {}
    }
    out.push(',');
    if o.category[i] != 0 {
        push_u64(out, u64::from(o.category[i]));
    }
    out.push(',');
    if let Some(p) = &o.points[i] {
        push_milli(out, p.total);
        out.push(',');
        for (k, (r, v)) in round.policy.points.iter().zip(&p.parts).enumerate() {
            if k > 0 {
                out.push(';');
            }
            out.push_str(&r.name);
            out.push('=');
            push_milli(out, *v);
        }
    } else {
        out.push(',');
    }
    out.push(',');
    if let Some(&c) = o.class.get(i).filter(|c| **c != u32::MAX) {
        push_u64(out, u64::from(c) + 1);
    }
    out.push('\n');
}

/// Renders the five result files.
pub fn render(round: &FrozenRound, out: &Outcome) -> Vec<(&'static str, String)> {
    // The three large files are rendered at the same time (each in file order, so the bytes do
    // not depend on the thread count).
    let (results, (waitlists, classes)) = rayon::join(
        || render_results(round, out),
        || {
            rayon::join(
                || render_waitlists(round, out),
                || render_classes(round, out),
            )
        },
    );
    vec![
        (RESULT_FILES[0], results),
        (RESULT_FILES[1], waitlists),
        (RESULT_FILES[2], classes),
        (RESULT_FILES[3], render_class_teachers(round, out)),
        (RESULT_FILES[4], render_quota(round, out)),
    ]
}

/// The five published result files, in [`RESULT_FILES`] order, to be read in pieces
/// ([`crate::lines::read_lines`]).
pub type Readers<'a> = [&'a mut (dyn std::io::Read + Send); 5];

/// A result file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {source}")]
pub struct ReadError {
    /// The file.
    pub file: &'static str,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// A reading's error, naming the file.
fn of_file<T>(file: &'static str, r: std::io::Result<T>) -> Result<T, ReadError> {
    r.map_err(|source| ReadError { file, source })
}

/// What reading the published result files tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Each file's SHA-256 and length, in [`RESULT_FILES`] order.
    pub files: [Hashed; 5],
    /// The results root over the five and its tree size (`None` when one is not UTF-8: its
    /// leaves are not defined then).
    pub root: Option<(Digest, u64)>,
}

/// The published result files read in pieces, without holding them: each file's SHA-256 and
/// length, and the results root over the five (`None` when one is not UTF-8; its leaves are
/// not defined then).
pub fn read_published(domain: Domain, files: Readers<'_>) -> Result<Published, ReadError> {
    read_published_in(domain, files, crate::lines::PIECE)
}

/// [`read_published`] in pieces of `piece` bytes (any size gives the same answer; public for
/// the tests, which use small files).
#[doc(hidden)]
pub fn read_published_in(
    domain: Domain,
    files: Readers<'_>,
    piece: usize,
) -> Result<Published, ReadError> {
    let tag = domain.tag("leaf/result");
    let mut tree = merkle::Streamed::default();
    let mut utf8 = true;
    let mut leaves = Vec::new();
    let mut hashed = [Hashed::default(); 5];
    for ((name, src), h) in RESULT_FILES.into_iter().zip(files).zip(&mut hashed) {
        let enc = crate::encoding::LeafEncoder::new(&tag, &[name.as_bytes()]);
        let mut header = true;
        let read = of_file(
            name,
            crate::lines::read_lines(src, piece, |p| {
                // A piece ends just after a line break, which is never inside a UTF-8 character: the
                // file is UTF-8 when every piece is.
                utf8 = utf8 && std::str::from_utf8(p).is_ok();
                if utf8 {
                    // The first piece holds the whole header line, which is not a leaf.
                    let body = if std::mem::take(&mut header) {
                        memchr::memchr(b'\n', p).map_or(&[][..], |k| &p[k + 1..])
                    } else {
                        p
                    };
                    push_lines(&mut tree, &mut leaves, &enc, body);
                }
                true
            }),
        )?;
        *h = read.unwrap_or_default();
    }
    Ok(Published {
        files: hashed,
        root: utf8.then(|| tree.finish()),
    })
}

/// Adds the lines of `body` (whole lines) of one result file to the results tree: each line's
/// leaf hashed by `enc` (tag `leaf/result` and the file's name), in parallel, through the scratch
/// list `leaves`.
fn push_lines(
    tree: &mut merkle::Streamed,
    leaves: &mut Vec<Digest>,
    enc: &crate::encoding::LeafEncoder,
    body: &[u8],
) {
    leaves.clear();
    crate::lines::line_hashes(body, |l, buf| enc.hash(buf, [line_text(l)]), leaves);
    tree.push(leaves);
}

/// Writes the five result files of the draw `out` through `emit(file, piece)` — the files in
/// [`RESULT_FILES`] order, each in pieces of whole lines, header first — and returns the results
/// root and tree size: the bytes and the root of [`render`] and [`results_root`], without holding
/// `results.csv` (its lines are rendered a window of chunks at a time, the next window while
/// the last is emitted and its lines hashed). Stops at `emit`'s first error.
pub fn write(
    round: &FrozenRound,
    out: &Outcome,
    emit: &mut (dyn FnMut(&'static str, &[u8]) -> std::io::Result<()> + Send),
) -> std::io::Result<(Digest, u64)> {
    let tag = round.domain().tag("leaf/result");
    let mut tree = merkle::Streamed::default();
    let mut leaves = Vec::new();
    // Each piece of data lines is emitted while its lines are hashed; a header (`None`) is not a
    // leaf.
    let mut feed =
        |name: &'static str, enc: Option<&crate::encoding::LeafEncoder>, piece: &[u8]| {
            let Some(enc) = enc else {
                return emit(name, piece);
            };
            let (written, ()) = rayon::join(
                || emit(name, piece),
                || push_lines(&mut tree, &mut leaves, enc, piece),
            );
            written
        };
    let [f0, f1, f2, f3, f4] = RESULT_FILES;
    let encoder = |name: &str| crate::encoding::LeafEncoder::new(&tag, &[name.as_bytes()]);
    let header = |h: &str| format!("{h}\n");

    let enc = encoder(f0);
    feed(f0, None, header(RESULTS_HEADER).as_bytes())?;
    let n = round.applicants.len();
    crate::lines::write_chunks(
        n.div_ceil(CHUNK),
        |c| chunk_of_lines(c, n, 140, |s, i| push_result_line(s, round, out, i)),
        |chunk| feed(f0, Some(&enc), chunk.as_bytes()),
    )?;
    for (name, h, lines) in [
        (f1, WAITLISTS_HEADER, waitlists_lines(round, out)),
        (f2, CLASSES_HEADER, classes_lines(round, out)),
    ] {
        let enc = encoder(name);
        feed(name, None, header(h).as_bytes())?;
        for chunk in &lines {
            feed(name, Some(&enc), chunk.as_bytes())?;
        }
    }
    for (name, text) in [
        (f3, render_class_teachers(round, out)),
        (f4, render_quota(round, out)),
    ] {
        let enc = encoder(name);
        let (h, body) = text.split_at(text.find('\n').map_or(text.len(), |k| k + 1));
        feed(name, None, h.as_bytes())?;
        feed(name, Some(&enc), body.as_bytes())?;
    }
    Ok(tree.finish())
}

/// Whether the published result files are exactly the replay's ([`render`]), read in pieces
/// without holding them or the rendered `results.csv` (rendered and compared in parallel chunks
/// of lines; the smaller files are rendered whole; each file is read only up to its first
/// difference). This is what the verifier asks of a bundle that checks; where it says no, the
/// files are rendered to find the difference.
pub fn reproduces(
    round: &FrozenRound,
    out: &Outcome,
    published: Readers<'_>,
) -> Result<bool, ReadError> {
    reproduces_in(round, out, published, crate::lines::PIECE, CHUNK)
}

/// [`reproduces`] reading pieces of `piece` bytes and comparing `results.csv` in chunks of
/// `chunk` applicants (any sizes give the same answer; public for the tests, which use small
/// rounds).
#[doc(hidden)]
pub fn reproduces_in(
    round: &FrozenRound,
    out: &Outcome,
    published: Readers<'_>,
    piece: usize,
    chunk: usize,
) -> Result<bool, ReadError> {
    let [results, waitlists, classes, teachers, quota] = published;
    let [_, f1, f2, f3, f4] = RESULT_FILES;
    let (a, (b, c)) = rayon::join(
        || results_reproduce(round, out, results, piece, chunk),
        || {
            rayon::join(
                || {
                    let lines = waitlists_lines(round, out);
                    chunks_reproduce(f1, WAITLISTS_HEADER, &lines, waitlists, piece)
                },
                || {
                    let lines = classes_lines(round, out);
                    chunks_reproduce(f2, CLASSES_HEADER, &lines, classes, piece)
                },
            )
        },
    );
    let d = text_reproduces(f3, &render_class_teachers(round, out), teachers, piece)?;
    let e = text_reproduces(f4, &render_quota(round, out), quota, piece)?;
    Ok(a? && b? && c? && d && e)
}

/// Whether `src` holds exactly `text`.
fn text_reproduces(
    file: &'static str,
    text: &str,
    src: &mut (dyn std::io::Read + Send),
    piece: usize,
) -> Result<bool, ReadError> {
    parts_reproduce(file, &[text.as_bytes()], src, piece)
}

/// Whether `src` holds exactly the file of `header` and the chunks of lines `lines`.
fn chunks_reproduce(
    file: &'static str,
    header: &str,
    lines: &[String],
    src: &mut (dyn std::io::Read + Send),
    piece: usize,
) -> Result<bool, ReadError> {
    let parts: Vec<&[u8]> = [header, "\n"]
        .into_iter()
        .chain(lines.iter().map(String::as_str))
        .map(str::as_bytes)
        .collect();
    parts_reproduce(file, &parts, src, piece)
}

/// Whether `src` holds exactly the bytes of `parts`, one after the other.
fn parts_reproduce(
    file: &'static str,
    parts: &[&[u8]],
    src: &mut (dyn std::io::Read + Send),
    piece: usize,
) -> Result<bool, ReadError> {
    // Not yet compared: `parts[k][at..]`, then the parts after it.
    let (mut k, mut at) = (0, 0);
    let read = of_file(
        file,
        crate::lines::read_lines_unhashed(src, piece, |mut p| {
            while !p.is_empty() {
                let Some(part) = parts.get(k) else {
                    return false;
                };
                let n = (part.len() - at).min(p.len());
                if part[at..at + n] != p[..n] {
                    return false;
                }
                (at, p) = (at + n, &p[n..]);
                if at == part.len() {
                    (k, at) = (k + 1, 0);
                }
            }
            true
        }),
    )?;
    let rest = parts.get(k).map_or(0, |p| p.len() - at)
        + parts.iter().skip(k + 1).map(|p| p.len()).sum::<usize>();
    Ok(read.is_some() && rest == 0)
}

/// [`reproduces`] for `results.csv`: the header line, then one line per applicant, every line
/// ending with `\n`.
fn results_reproduce(
    round: &FrozenRound,
    out: &Outcome,
    src: &mut (dyn std::io::Read + Send),
    piece: usize,
    chunk: usize,
) -> Result<bool, ReadError> {
    let mut next = 0;
    let mut header = true;
    let read = of_file(
        RESULT_FILES[0],
        crate::lines::read_lines_unhashed(src, piece, |p| {
            let body = if std::mem::take(&mut header) {
                match p
                    .strip_prefix(RESULTS_HEADER.as_bytes())
                    .and_then(|b| b.strip_prefix(b"\n"))
                {
                    Some(b) => b,
                    None => return false,
                }
            } else {
                p
            };
            match lines_reproduce(round, out, body, next, chunk) {
                Some(k) => {
                    next += k;
                    true
                }
                None => false,
            }
        }),
    )?;
    Ok(read.is_some() && !header && next == round.applicants.len())
}

/// Whether `body`, whole lines each ending with `\n`, is the replay's `results.csv` lines of
/// applicants `first`, `first + 1`, …: their number when it is. Chunk `c` of `chunk` lines is
/// rendered and compared with the bytes from the start of its first line to the start of the
/// next chunk's (or the end of `body`), the chunks in parallel.
fn lines_reproduce(
    round: &FrozenRound,
    out: &Outcome,
    body: &[u8],
    first: usize,
    chunk: usize,
) -> Option<usize> {
    use rayon::prelude::*;
    let (lines, starts) = line_starts_every(body, chunk)?;
    let end = first + lines;
    if end > round.applicants.len() {
        return None;
    }
    starts
        .par_windows(2)
        .enumerate()
        .all(|(c, w)| {
            let mut s = String::with_capacity(w[1] - w[0]);
            for i in first + c * chunk..(first + (c + 1) * chunk).min(end) {
                push_result_line(&mut s, round, out, i);
            }
            s.as_bytes() == &body[w[0]..w[1]]
        })
        .then_some(lines)
}

/// The number of lines of `body` and the offsets of lines 0, `every`, 2·`every`, … and then
/// `body.len()`, when every line of `body` ends with `\n`; `None` otherwise.
fn line_starts_every(body: &[u8], every: usize) -> Option<(usize, Vec<usize>)> {
    if every == 0 || !(body.is_empty() || body.ends_with(b"\n")) {
        return None;
    }
    let (lines, inner) = crate::round::line_starts(body, every, every, CHUNK_BYTES);
    let mut starts = Vec::with_capacity(inner.len() + 2);
    if lines > 0 {
        starts.push(0);
    }
    starts.extend(inner);
    starts.push(body.len());
    Some((lines, starts))
}

/// A result line's text as `str::lines` gives it: without its line break and a `\r` before it.
fn line_text(line: &[u8]) -> &[u8] {
    match line.strip_suffix(b"\n") {
        Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
        None => line,
    }
}

/// Bytes per chunk of `results.csv` whose line breaks are counted in parallel.
#[cfg(not(test))]
const CHUNK_BYTES: usize = 1 << 20;
/// Small in unit tests, so that their short files span several chunks.
#[cfg(test)]
const CHUNK_BYTES: usize = 7;

/// `results.csv`: chunks rendered in parallel and joined in order (the same bytes at any thread
/// count).
fn render_results(round: &FrozenRound, out: &Outcome) -> String {
    let chunks = chunks_of_lines(round.applicants.len(), 140, |s, i| {
        push_result_line(s, round, out, i)
    });
    crate::round::file_of_chunks(RESULTS_HEADER, &chunks)
}

/// Appends the line `a,n,b`: a school and a class or position number, then an application or
/// teacher id.
fn push_id_number_id(out: &mut String, a: &str, n: u64, b: &str) {
    out.push_str(a);
    out.push(',');
    push_u64(out, n);
    out.push(',');
    out.push_str(b);
    out.push('\n');
}

/// The `places` lines of a result file, rendered in parallel chunks of [`CHUNK`] lines
/// (`line(s, p)` appends line `p`, of about `bytes` bytes), in order: the same bytes at any
/// thread count.
fn chunks_of_lines(
    places: usize,
    bytes: usize,
    line: impl Fn(&mut String, usize) + Sync,
) -> Vec<String> {
    use rayon::prelude::*;
    (0..places.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| chunk_of_lines(c, places, bytes, &line))
        .collect()
}

/// Chunk `c` of [`chunks_of_lines`]: lines `c·CHUNK` up to the next chunk's or `places`.
fn chunk_of_lines(
    c: usize,
    places: usize,
    bytes: usize,
    line: impl Fn(&mut String, usize),
) -> String {
    let mut s = String::with_capacity(CHUNK.min(places) * bytes);
    for p in c * CHUNK..((c + 1) * CHUNK).min(places) {
        line(&mut s, p);
    }
    s
}

/// `waitlists.csv`: by stage, school, position.
fn render_waitlists(round: &FrozenRound, out: &Outcome) -> String {
    crate::round::file_of_chunks(WAITLISTS_HEADER, &waitlists_lines(round, out))
}

/// `waitlists.csv`'s lines, in chunks.
fn waitlists_lines(round: &FrozenRound, out: &Outcome) -> Vec<String> {
    let schools = &round.schools;
    let stages = &round.policy.stages;
    // Per line: its waitlist, and where that waitlist's lines start.
    let mut list = Vec::new();
    let mut start = Vec::with_capacity(out.waitlists.len());
    let mut order = Vec::new();
    for (k, w) in out.waitlists.iter().enumerate() {
        start.push(order.len());
        order.extend_from_slice(&w.applicants);
        list.resize(order.len(), k as u32);
    }
    let ids = round.applicants.ids_of(&order);
    chunks_of_lines(order.len(), 40, |s, p| {
        let k = list[p] as usize;
        let w = &out.waitlists[k];
        s.push_str(&stages[w.stage as usize].name);
        s.push(',');
        push_id_number_id(
            s,
            &schools[w.school as usize].id,
            (p - start[k] + 1) as u64,
            ids.get(p),
        );
    })
}

/// `classes.csv`: by school, class, application id.
fn render_classes(round: &FrozenRound, out: &Outcome) -> String {
    crate::round::file_of_chunks(CLASSES_HEADER, &classes_lines(round, out))
}

/// `classes.csv`'s lines, in chunks.
fn classes_lines(round: &FrozenRound, out: &Outcome) -> Vec<String> {
    use rayon::prelude::*;
    let schools = &round.schools;
    let n = round.applicants.len();
    let mut per_school: Vec<Vec<(u32, u32)>> = vec![Vec::new(); schools.len()];
    for i in 0..n {
        if out.school[i] != UNPLACED && out.class.get(i).is_some_and(|c| *c != u32::MAX) {
            per_school[out.school[i] as usize].push((out.class[i], i as u32));
        }
    }
    per_school.par_iter_mut().for_each(|l| l.sort_unstable());
    // Per line: (school, class), and the applicant.
    let mut place = Vec::with_capacity(per_school.iter().map(Vec::len).sum());
    let mut order = Vec::with_capacity(place.capacity());
    for (s, list) in per_school.iter().enumerate() {
        for &(c, i) in list {
            place.push((s as u32, c));
            order.push(i);
        }
    }
    drop(per_school);
    let ids = round.applicants.ids_of(&order);
    chunks_of_lines(order.len(), 40, |s, p| {
        let (school, c) = place[p];
        push_id_number_id(
            s,
            &schools[school as usize].id,
            u64::from(c) + 1,
            ids.get(p),
        );
    })
}

/// `class_teachers.csv`: by school and class.
fn render_class_teachers(round: &FrozenRound, out: &Outcome) -> String {
    let schools = &round.schools;
    let mut teachers = String::new();
    teachers.push_str(CLASS_TEACHERS_HEADER);
    teachers.push('\n');
    for (s, list) in out.class_teachers.iter().enumerate() {
        for (c, &t) in list.iter().enumerate() {
            push_id_number_id(
                &mut teachers,
                &schools[s].id,
                c as u64 + 1,
                &round.teachers[t as usize].id,
            );
        }
    }
    teachers
}

/// `quota.csv`: by high school, then school.
fn render_quota(round: &FrozenRound, out: &Outcome) -> String {
    let schools = &round.schools;
    let mut quota = String::new();
    quota.push_str(QUOTA_HEADER);
    quota.push('\n');
    if let Some(q) = &round.policy.quota {
        for (h, alloc) in q.high_schools.iter().zip(&out.quota) {
            for (s, seats) in alloc.iter().enumerate() {
                if schools[s].graduates > 0 {
                    quota.push_str(&h.id);
                    quota.push(',');
                    quota.push_str(&schools[s].id);
                    quota.push(',');
                    push_u64(&mut quota, schools[s].graduates);
                    quota.push(',');
                    push_u64(&mut quota, *seats);
                    quota.push('\n');
                }
            }
        }
    }
    quota
}

/// (results root, number of leaves). The leaves are each data line (header excluded, as
/// `str::lines` gives it: without its `\n`, nor a `\r` before that) of each result file, in
/// [`RESULT_FILES`] order, hashed as `0x00 ‖ enc(tag "leaf/result", file name, line)`; they
/// are hashed block by block without being held ([`merkle::root_of_lines`]).
pub fn results_root(domain: Domain, files: &[(&str, &str)]) -> (Digest, u64) {
    let tag = domain.tag("leaf/result");
    let encoders: Vec<crate::encoding::LeafEncoder> = files
        .iter()
        .map(|(name, _)| crate::encoding::LeafEncoder::new(&tag, &[name.as_bytes()]))
        .collect();
    let bodies: Vec<&[u8]> = files
        .iter()
        .map(|(_, text)| {
            text.split_once('\n')
                .map_or(&b""[..], |(_, rest)| rest.as_bytes())
        })
        .collect();
    merkle::root_of_lines(&[], &bodies, |k, line, buf| {
        encoders[k].hash(buf, [line_text(line)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::round::{Applicant, Gender, School, push_applicant_row};
    use proptest::prelude::*;

    /// Schools S1 and S2 (indices 0 and 1).
    fn schools() -> Vec<School> {
        ["S1", "S2"]
            .into_iter()
            .map(crate::round::bare_school)
            .collect()
    }

    fn applicant(full: bool, xy: Option<(i64, i64)>) -> Applicant {
        let s = crate::CompactString::new;
        Applicant {
            id: s("A-1"),
            track: s("local"),
            gender: if full { Gender::F } else { Gender::M },
            groups: if full { vec![s("a"), s("b")] } else { vec![] }.into(),
            choices: if full { vec![0, 1] } else { vec![] }.into(),
            categories: if full { vec![(0, 1), (1, 3)] } else { vec![] }.into(),
            indicators: if full {
                vec![(s("h"), 0), (s("y"), 12)]
            } else {
                vec![]
            }
            .into(),
            family: full.then(|| s("F1")),
            priority: if full {
                vec![(s("S1"), s("staff"))]
            } else {
                vec![]
            }
            .into(),
            manual: full.then(|| Box::new((s("S2"), s("disability")))),
            xy,
            private_hash: Digest([0xab; 32]),
        }
    }

    /// The fast row writer and leaf hashing give exactly the bytes of the reference forms.
    #[test]
    fn applicant_rows_and_leaves_match_the_reference() {
        let schools = schools();
        for full in [false, true] {
            for xy in [None, Some((0, 0)), Some((-1500, 123_456))] {
                let a = applicant(full, xy);
                let mut row = String::new();
                push_applicant_row(&mut row, a.view(), &schools);
                assert_eq!(row, a.view().fields(&schools).join(","));
                if full {
                    assert!(row.contains(",S1;S2,S1:1;S2:3,"), "{row}");
                }
            }
        }
        let round_leaf = |a: &Applicant| {
            crate::merkle::leaf_hash(&crate::round::applicant_leaf(
                Domain::Real,
                a.view(),
                &schools,
            ))
        };
        let apps = [applicant(true, None), applicant(false, Some((7, -8)))];
        for a in &apps {
            let mut row = String::new();
            push_applicant_row(&mut row, a.view(), &schools);
            let fields: Vec<&[u8]> = row.split(',').map(str::as_bytes).collect();
            let enc = crate::encoding::encode_fields(&Domain::Real.tag("leaf/applicant"), &fields);
            assert_eq!(crate::merkle::leaf_hash(&enc), round_leaf(a));
        }
    }

    /// The results root is the root over the lines `str::lines` gives, each encoded with its
    /// file name.
    #[test]
    fn results_root_is_over_str_lines() {
        for (domain, name, text) in [
            (Domain::Rehearsal, "results.csv", "h\nx,1,,2\n\nlast\n"),
            (Domain::Real, "f.csv", "h"),
            (Domain::Real, "f.csv", "h\n"),
            (Domain::Real, "f.csv", "h\n\n\n"),
            (Domain::Real, "f.csv", "h\nx"),
            (Domain::Real, "f.csv", "h\na\r\nb\r"),
            (
                Domain::Real,
                "f.csv",
                "h\nlonger line one\n\nr\r\r\nlast line without a break",
            ),
        ] {
            let tag = domain.tag("leaf/result");
            let body = text.split_once('\n').map_or("", |(_, r)| r);
            let want: Vec<Digest> = body
                .lines()
                .map(|l| {
                    crate::merkle::leaf_hash(&crate::encoding::encode_fields(
                        &tag,
                        &[name.as_bytes(), l.as_bytes()],
                    ))
                })
                .collect();
            let root = (merkle::root_from_leaf_hashes(&want), want.len() as u64);
            assert_eq!(results_root(domain, &[(name, text)]), root, "{text:?}");
            // Two files: the second's leaves follow the first's.
            assert_eq!(
                results_root(domain, &[(name, text), (name, text)]),
                {
                    let mut two = want.clone();
                    two.extend_from_slice(&want);
                    (merkle::root_from_leaf_hashes(&two), two.len() as u64)
                },
                "{text:?} twice"
            );
        }
    }

    /// The offsets of every `every`-th line start, against a plain scan, for files whose lines
    /// cross the 7-byte test chunks in every way.
    #[test]
    fn line_starts_every_matches_a_scan() {
        for text in [
            "",
            "a\n",
            "ab\ncd\n\nefghijklmnop\nq\n",
            "\n\n\n\n\n\n\n\n\n",
        ] {
            let body = text.as_bytes();
            let starts: Vec<usize> = std::iter::once(0)
                .chain(
                    body.iter()
                        .enumerate()
                        .filter(|(_, b)| **b == b'\n')
                        .map(|(p, _)| p + 1),
                )
                .collect();
            let lines = starts.len() - 1;
            for every in 1..=lines + 1 {
                let mut want: Vec<usize> = starts[..lines].iter().copied().step_by(every).collect();
                want.push(body.len());
                assert_eq!(
                    line_starts_every(body, every),
                    Some((lines, want)),
                    "{text:?} every {every}"
                );
            }
        }
        assert_eq!(line_starts_every(b"a\nb", 1), None, "no final line break");
        assert_eq!(line_starts_every(b"a\n", 0), None);
    }

    proptest! {
        #[test]
        fn number_writers_match_format(v in any::<i64>(), u in any::<u64>()) {
            let mut s = String::new();
            push_milli(&mut s, v);
            prop_assert_eq!(s, fmt_milli(v));
            let mut s = String::new();
            push_u64(&mut s, u);
            prop_assert_eq!(s, u.to_string());
            let d = Digest([(u % 251) as u8; 32]);
            let mut s = String::new();
            push_hex(&mut s, &d);
            prop_assert_eq!(s, d.to_hex());
        }
    }
}
