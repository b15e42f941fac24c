//! Reading a file in pieces of whole lines, hashing every byte as it is read.
//!
//! The verifier reads the large bundle files this way instead of holding them: on a machine
//! where fresh memory is slow to come by (a VM that hands freed pages back to its host), reading
//! 370 MB into buffers of their own cost more than the checks on them. The engine still does no
//! I/O: the caller hands over a [`std::io::Read`] (see [`crate::verify::Source::open`]).

use crate::digest::Digest;
use sha2::{Digest as _, Sha256};
use std::io::{ErrorKind, Read};

/// Bytes read at a time (the last piece, and a piece whose first line is longer, differ).
pub const PIECE: usize = 8 << 20;

/// Bytes read into the first piece; each next piece reads twice as many, up to the piece size
/// asked for. A small file so takes buffers of its own size, not two of 8 MiB (whose pages, on a
/// VM, cost more than verifying a small bundle does).
const FIRST_PIECE: usize = 64 << 10;

/// A file read whole: the SHA-256 of its bytes and their number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hashed {
    /// SHA-256 of every byte read.
    pub sha256: Digest,
    /// Bytes read.
    pub bytes: u64,
}

/// Reads `src` to its end in pieces of whole lines and calls `each` with every piece, in order.
/// The pieces grow from 64 KiB to about `piece` bytes (what `each` is given never depends on
/// their sizes beyond how the lines are grouped).
///
/// A piece ends just after a line break, except the last piece of a file that does not end
/// with one; a line longer than `piece` bytes comes whole in a larger piece. Empty pieces are not
/// passed. While `each` works on one piece the next is read and hashed (the two run in parallel
/// on the rayon pool). `each` returns `false` to stop: then the result is `Ok(None)` (the rest
/// of the file is not read); `Ok(Some(_))` when every byte was read and passed.
pub fn read_lines(
    src: &mut (dyn Read + Send),
    piece: usize,
    each: impl FnMut(&[u8]) -> bool + Send,
) -> std::io::Result<Option<Hashed>> {
    read(src, piece, true, each)
}

/// [`read_lines`] without the hash (its `sha256` is zero): only the number of bytes.
pub fn read_lines_unhashed(
    src: &mut (dyn Read + Send),
    piece: usize,
    each: impl FnMut(&[u8]) -> bool + Send,
) -> std::io::Result<Option<u64>> {
    Ok(read(src, piece, false, each)?.map(|h| h.bytes))
}

fn read(
    src: &mut (dyn Read + Send),
    piece: usize,
    hash: bool,
    mut each: impl FnMut(&[u8]) -> bool + Send,
) -> std::io::Result<Option<Hashed>> {
    let mut r = Reader {
        src,
        sha: hash.then(Sha256::new),
        bytes: 0,
        eof: false,
        piece: piece.clamp(1, FIRST_PIECE),
        max_piece: piece.max(1),
    };
    let (mut cur, mut next) = (Buf::default(), Buf::default());
    r.fill(&[], &mut cur)?;
    loop {
        let (lines, tail) = cur.data[..cur.filled].split_at(cur.lines);
        if r.eof && tail.is_empty() {
            if !lines.is_empty() && !each(lines) {
                return Ok(None);
            }
            break;
        }
        let (read, go_on) = rayon::join(
            || r.fill(tail, &mut next),
            || lines.is_empty() || each(lines),
        );
        read?;
        if !go_on {
            return Ok(None);
        }
        std::mem::swap(&mut cur, &mut next);
    }
    Ok(Some(Hashed {
        sha256: r
            .sha
            .map(|h| Digest(h.finalize().into()))
            .unwrap_or_default(),
        bytes: r.bytes,
    }))
}

/// One piece's buffer: `data[..lines]` whole lines, `data[lines..filled]` the start of the next.
#[derive(Default)]
struct Buf {
    data: Vec<u8>,
    lines: usize,
    filled: usize,
}

struct Reader<'r> {
    src: &'r mut (dyn Read + Send),
    sha: Option<Sha256>,
    bytes: u64,
    eof: bool,
    /// Bytes the next piece reads (doubling from [`FIRST_PIECE`] up to `max_piece`).
    piece: usize,
    max_piece: usize,
}

impl Reader<'_> {
    /// Fills `next` with `tail` (the unfinished line of the previous piece), then reads up to
    /// `piece` more bytes, more if there is no line break yet; at the end of the file every byte
    /// left counts as lines.
    fn fill(&mut self, tail: &[u8], next: &mut Buf) -> std::io::Result<()> {
        let want = tail.len() + self.piece;
        if next.data.len() < want {
            // A fresh buffer: what the old one held is not needed (growing it would copy it).
            next.data = vec![0; want];
        }
        next.data[..tail.len()].copy_from_slice(tail);
        let mut filled = tail.len();
        // The tail holds no line break (it is what follows the last one), and each round of a
        // long line searches only the bytes it read: a line of any length is searched once.
        let mut searched = tail.len();
        loop {
            while filled < next.data.len() && !self.eof {
                match self.src.read(&mut next.data[filled..]) {
                    Ok(0) => self.eof = true,
                    Ok(k) => {
                        if let Some(h) = &mut self.sha {
                            h.update(&next.data[filled..filled + k]);
                        }
                        self.bytes += k as u64;
                        filled += k;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            let lines = if self.eof {
                filled
            } else {
                memchr::memrchr(b'\n', &next.data[searched..filled]).map_or(0, |p| searched + p + 1)
            };
            searched = filled;
            if lines > 0 || self.eof {
                next.lines = lines;
                next.filled = filled;
                self.piece = (self.piece * 2).min(self.max_piece);
                return Ok(());
            }
            // No line break in the whole buffer: a long line, read on.
            let len = next.data.len();
            next.data.resize(len + self.piece, 0);
        }
    }
}

/// The lines of `piece` (each with its line break, the last perhaps without), hashed in
/// parallel in order: `hash(line, scratch)` per line, appended to `out`.
pub fn line_hashes(
    piece: &[u8],
    hash: impl Fn(&[u8], &mut Vec<u8>) -> Digest + Sync,
    out: &mut Vec<Digest>,
) {
    use rayon::prelude::*;
    let parts: Vec<Vec<Digest>> = crate::round::line_chunks(piece, PART)
        .par_iter()
        .map(|part| {
            let mut scratch = Vec::with_capacity(512);
            lines_inclusive(part)
                .map(|line| hash(line, &mut scratch))
                .collect()
        })
        .collect();
    for p in parts {
        out.extend(p);
    }
}

/// The lines of `bytes`, each with its line break (the last perhaps without one): what
/// `split_inclusive(|b| *b == b'\n')` gives, found with `memchr` rather than byte by byte.
pub(crate) fn lines_inclusive(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |p| p + 1);
        let (line, after) = rest.split_at(end);
        rest = after;
        Some(line)
    })
}

/// Chunks rendered at a time by [`write_chunks`]: while one window's chunks are passed on, the
/// next window is rendered (two windows of a million-row file's chunks in memory, not the file).
pub(crate) const WINDOW: usize = 4;

/// The writing side of [`read_lines`]: chunks `0..chunks` of a file rendered by `render(c)`
/// (each whole lines) and passed to `each` in order, without holding more than two windows of
/// [`WINDOW`] chunks. A window's chunks are rendered in parallel while the previous window's are
/// passed on, so `each` (hashing, writing) overlaps the rendering; the bytes passed never
/// depend on the thread count. Stops at `each`'s first error.
pub(crate) fn write_chunks<E: Send>(
    chunks: usize,
    render: impl Fn(usize) -> String + Sync,
    mut each: impl FnMut(&str) -> Result<(), E> + Send,
) -> Result<(), E> {
    use rayon::prelude::*;
    let window = |w: usize| -> Vec<String> {
        ((w * WINDOW).min(chunks)..chunks.min((w + 1) * WINDOW))
            .into_par_iter()
            .map(&render)
            .collect()
    };
    let mut cur = window(0);
    for w in 0..chunks.div_ceil(WINDOW) {
        let (next, done) = rayon::join(|| window(w + 1), || cur.iter().try_for_each(|c| each(c)));
        done?;
        cur = next;
    }
    Ok(())
}

/// Bytes per part of a piece whose lines one thread hashes.
#[cfg(not(test))]
const PART: usize = 1 << 16;
/// Small in unit tests, so that their short pieces come in several parts.
#[cfg(test)]
const PART: usize = 5;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn write_chunks_passes_every_chunk_in_order_and_stops_at_an_error() {
        for chunks in [0, 1, WINDOW - 1, WINDOW, WINDOW + 1, 3 * WINDOW + 2] {
            let mut seen = Vec::new();
            let r: Result<(), ()> = write_chunks(
                chunks,
                |c| format!("{c}\n"),
                |t| {
                    seen.push(t.to_string());
                    Ok(())
                },
            );
            assert_eq!(r, Ok(()));
            let want: Vec<String> = (0..chunks).map(|c| format!("{c}\n")).collect();
            assert_eq!(seen, want, "{chunks} chunks");
        }
        let mut seen = 0;
        let r = write_chunks(
            3 * WINDOW,
            |c| c.to_string(),
            |t| {
                seen += 1;
                if t == "5" { Err(5) } else { Ok(()) }
            },
        );
        assert_eq!((r, seen), (Err(5), 6));
    }

    /// A reader that hands out at most `step` bytes per call, with an interruption now and then.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
        calls: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(ErrorKind::Interrupted.into());
            }
            let k = self.step.min(buf.len()).min(self.data.len());
            buf[..k].copy_from_slice(&self.data[..k]);
            self.data = &self.data[k..];
            Ok(k)
        }
    }

    fn pieces(data: &[u8], piece: usize, step: usize) -> (Vec<Vec<u8>>, Option<Hashed>) {
        let mut got = Vec::new();
        let mut src = Trickle {
            data,
            step,
            calls: 0,
        };
        let h = read_lines(&mut src, piece, |p| {
            got.push(p.to_vec());
            true
        });
        (got, h.ok().flatten())
    }

    proptest! {
        #[test]
        fn pieces_are_whole_lines_that_join_to_the_file(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a'), Just(b'b')], 0..200),
            piece in 1usize..20,
            step in 1usize..30,
        ) {
            let (got, h) = pieces(&data, piece, step);
            prop_assert_eq!(got.concat(), data.clone());
            let n = got.len();
            for (k, p) in got.iter().enumerate() {
                prop_assert!(!p.is_empty());
                prop_assert!(k + 1 == n || p.ends_with(b"\n"), "piece {} of {}: {:?}", k, n, p);
            }
            let h = h.expect("read whole");
            prop_assert_eq!(h.bytes, data.len() as u64);
            prop_assert_eq!(h.sha256, crate::encoding::sha256(&data));
        }

        #[test]
        fn lines_inclusive_is_split_inclusive(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..300),
        ) {
            let got: Vec<&[u8]> = lines_inclusive(&data).collect();
            let want: Vec<&[u8]> = data.split_inclusive(|b| *b == b'\n').collect();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn line_hashes_are_per_line_in_order(
            data in proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'x')], 0..300),
        ) {
            let mut got = Vec::new();
            line_hashes(&data, |l, _| crate::encoding::sha256(l), &mut got);
            let want: Vec<Digest> = data
                .split_inclusive(|b| *b == b'\n')
                .map(crate::encoding::sha256)
                .collect();
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn pieces_grow_from_small_to_the_size_asked_for() {
        let data = b"0123456789abcde\n".repeat(1 << 16); // 1 MiB of 16-byte lines
        let (got, h) = pieces(&data, 256 << 10, usize::MAX);
        let sizes: Vec<usize> = got.iter().map(Vec::len).collect();
        assert_eq!(got.concat(), data);
        assert_eq!(h.map(|h| h.bytes), Some(data.len() as u64));
        // 64 KiB, 128 KiB, then 256 KiB at a time; none larger.
        assert_eq!(sizes[..3], [64 << 10, 128 << 10, 256 << 10]);
        assert!(sizes.iter().all(|&s| s <= 256 << 10));
    }

    #[test]
    fn stopping_early_reads_no_further() {
        let data = b"a\nb\nc\nd\n".repeat(100);
        let mut src = &data[..];
        let mut seen = 0;
        let r = read_lines(&mut src, 8, |_| {
            seen += 1;
            seen < 3
        });
        assert!(matches!(r, Ok(None)));
        assert_eq!(seen, 3);
    }

    #[test]
    fn a_read_error_is_returned() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let r = read_lines(&mut Broken, 8, |_| true);
        assert!(r.is_err_and(|e| e.to_string().contains("disk on fire")));
    }
}
