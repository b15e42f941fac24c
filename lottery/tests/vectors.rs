//! Conformance vectors (`vectors/*.json`, PROTOCOL.md "Test vectors"): every vector is recomputed
//! with the lottery crate and compared; each assertion names the vector that broke.

use lottery::Digest;
use lottery::encoding::{Domain, encode_fields, hash_fields, sha256};
use lottery::merkle;
use lottery::round::{self, FrozenRound};
use lottery::seed::{self, Reveal, SeedInputs};
use lottery::stream::Stream;
use lottery::ticket;
use serde_json::Value;
use std::error::Error;
use std::path::PathBuf;

type R = Result<(), Box<dyn Error>>;

fn root_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn load(name: &str) -> Result<Value, Box<dyn Error>> {
    let path = root_dir().join("vectors").join(name);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

fn read(rel: &str) -> Result<Vec<u8>, Box<dyn Error>> {
    let path = root_dir().join(rel);
    Ok(std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
}

fn s<'a>(v: &'a Value, k: &str) -> Result<&'a str, String> {
    v.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("vector field {k:?} missing or not a string in {v}"))
}

fn u(v: &Value, k: &str) -> Result<u64, String> {
    v.get(k)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("vector field {k:?} missing or not an integer"))
}

fn arr<'a>(v: &'a Value, k: &str) -> Result<&'a Vec<Value>, String> {
    v.get(k)
        .and_then(Value::as_array)
        .ok_or_else(|| format!("vector field {k:?} missing or not an array"))
}

fn strs(v: &Value, k: &str) -> Result<Vec<String>, String> {
    arr(v, k)?
        .iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("{k}: not a string"))
        })
        .collect()
}

fn digest(h: &str) -> Result<Digest, String> {
    Digest::from_hex(h).map_err(|e| format!("bad digest {h:?}: {e}"))
}

fn digests(v: &Value, k: &str) -> Result<Vec<Digest>, String> {
    strs(v, k)?.iter().map(|h| digest(h)).collect()
}

fn bytes(h: &str) -> Result<Vec<u8>, String> {
    hex::decode(h).map_err(|e| format!("bad hex {h:?}: {e}"))
}

fn domain(v: &Value) -> Result<Domain, String> {
    Domain::parse(s(v, "domain")?).ok_or_else(|| "domain must be real or rehearsal".into())
}

fn hexes(ds: &[Digest]) -> Vec<String> {
    ds.iter().map(Digest::to_hex).collect()
}

#[test]
fn encoding_vectors() -> R {
    let v = load("encoding.json")?;
    for c in arr(&v, "cases")? {
        let name = s(c, "name")?;
        let fields: Vec<Vec<u8>> = strs(c, "fields_hex")?
            .iter()
            .map(|h| bytes(h))
            .collect::<Result<_, _>>()?;
        let refs: Vec<&[u8]> = fields.iter().map(Vec::as_slice).collect();
        let tag = s(c, "tag")?;
        assert_eq!(
            hex::encode(encode_fields(tag, &refs)),
            s(c, "encoding_hex")?,
            "encoding.json: {name}: encoding"
        );
        assert_eq!(
            hash_fields(tag, &refs).to_hex(),
            s(c, "hash")?,
            "encoding.json: {name}: hash"
        );
    }
    for c in arr(&v, "sha256")? {
        assert_eq!(
            sha256(&bytes(s(c, "bytes_hex")?)?).to_hex(),
            s(c, "sha256")?,
            "encoding.json: {}",
            s(c, "name")?
        );
    }
    Ok(())
}

#[test]
fn merkle_vectors() -> R {
    let v = load("merkle.json")?;
    for t in arr(&v, "trees")? {
        let name = s(t, "name")?;
        let leaves: Vec<Digest> = strs(t, "leaves_hex")?
            .iter()
            .map(|h| bytes(h).map(|b| merkle::leaf_hash(&b)))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            hexes(&leaves),
            strs(t, "leaf_hashes")?,
            "merkle.json: {name}: leaf hashes"
        );
        let root = digest(s(t, "root")?)?;
        assert_eq!(
            merkle::root_from_leaf_hashes(&leaves),
            root,
            "merkle.json: {name}: root"
        );
        let tree = merkle::Tree::new(leaves.clone());
        assert_eq!(tree.root(), root, "merkle.json: {name}: Tree::root");
        for p in arr(t, "proofs")? {
            let index = u(p, "index")?;
            let path = digests(p, "path")?;
            assert_eq!(
                tree.inclusion_proof(index),
                Some(path.clone()),
                "merkle.json: {name}: proof of leaf {index}"
            );
            assert_eq!(
                merkle::verify_inclusion(
                    &leaves[index as usize],
                    index,
                    leaves.len() as u64,
                    &path,
                    &root
                ),
                Ok(()),
                "merkle.json: {name}: proof of leaf {index} verifies"
            );
        }
    }
    for c in arr(&v, "invalid_proofs")? {
        let name = s(c, "name")?;
        let r = merkle::verify_inclusion(
            &digest(s(c, "leaf_hash")?)?,
            u(c, "index")?,
            u(c, "size")?,
            &digests(c, "path")?,
            &digest(s(c, "root")?)?,
        );
        let got = match r {
            Ok(()) => "ok",
            Err(merkle::ProofError::RootMismatch { .. }) => "RootMismatch",
            Err(merkle::ProofError::WrongLength) => "WrongLength",
            Err(merkle::ProofError::IndexOutOfRange { .. }) => "IndexOutOfRange",
        };
        assert_eq!(got, s(c, "want_err")?, "merkle.json: {name}");
    }
    Ok(())
}

fn e2e_round() -> Result<FrozenRound, Box<dyn Error>> {
    Ok(FrozenRound::parse(
        &read("vectors/e2e/policy.toml")?,
        &read("vectors/e2e/schools.csv")?,
        &read("vectors/e2e/teachers.csv")?,
        &read("vectors/e2e/applicants.csv")?,
    )?)
}

/// `FrozenRound::read` (applicants.csv streamed) gives `parse` and `input_root`, and the same
/// error for a broken file.
#[test]
fn round_read_streamed_is_parse_and_root() -> R {
    let f = |n: &str| read(&format!("vectors/e2e/{n}"));
    let (p, s, t, a) = (
        f("policy.toml")?,
        f("schools.csv")?,
        f("teachers.csv")?,
        f("applicants.csv")?,
    );
    let (round, root) = FrozenRound::read(&p, &s, &t, &mut a.as_slice())?;
    let parsed = e2e_round()?;
    assert_eq!(root, parsed.input_root());
    assert!(round.applicants == parsed.applicants);
    let mut broken = a.clone();
    let at = broken
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no line break")?
        + 1;
    broken.splice(at..at, b"X1,,F,,NOWHERE,,,,,,,,\n".iter().copied());
    let want = FrozenRound::parse(&p, &s, &t, &broken)
        .err()
        .ok_or("broken parses")?;
    match FrozenRound::read(&p, &s, &t, &mut broken.as_slice()) {
        Err(lottery::round::ReadRoundError::Record(e)) => assert_eq!(e, want),
        other => return Err(format!("expected {want}, got {:?}", other.map(|_| ())).into()),
    }
    Ok(())
}

#[test]
fn leaf_vectors() -> R {
    let v = load("leaves.json")?;
    let round = e2e_round()?;
    for c in arr(&v, "applicant_leaves")? {
        let name = s(c, "name")?;
        let d = domain(c)?;
        // From the row alone, as an independent implementation would: the 13 columns as fields.
        let row = s(c, "row")?;
        let fields: Vec<&[u8]> = row.split(',').map(str::as_bytes).collect();
        assert_eq!(fields.len(), 13, "leaves.json: {name}: 13 columns");
        let data = encode_fields(&d.tag("leaf/applicant"), &fields);
        assert_eq!(
            hex::encode(&data),
            s(c, "leaf_data_hex")?,
            "leaves.json: {name}: leaf data"
        );
        assert_eq!(
            merkle::leaf_hash(&data).to_hex(),
            s(c, "leaf_hash")?,
            "leaves.json: {name}: leaf hash"
        );
        // And through the engine's parsed record.
        let id = row.split(',').next().unwrap_or("");
        let a = round
            .applicants
            .iter()
            .find(|a| a.id == id)
            .ok_or_else(|| format!("leaves.json: {name}: {id} not in vectors/e2e"))?;
        assert_eq!(
            hex::encode(round::applicant_leaf(d, a, &round.schools)),
            s(c, "leaf_data_hex")?,
            "leaves.json: {name}: round::applicant_leaf"
        );
        if let Some(i) = c.get("leaf_index").and_then(Value::as_u64) {
            assert_eq!(
                round.applicant_leaf_index(id),
                Some(i),
                "leaves.json: {name}: leaf index"
            );
        }
    }
    for c in arr(&v, "file_leaves")? {
        let name = s(c, "name")?;
        let data = round::file_leaf(domain(c)?, s(c, "file")?, &bytes(s(c, "bytes_hex")?)?);
        assert_eq!(
            hex::encode(&data),
            s(c, "leaf_data_hex")?,
            "leaves.json: {name}: leaf data"
        );
        assert_eq!(
            merkle::leaf_hash(&data).to_hex(),
            s(c, "leaf_hash")?,
            "leaves.json: {name}: leaf hash"
        );
    }
    for c in arr(&v, "private_records")? {
        let id = s(c, "application_id")?;
        let salt: [u8; 16] = bytes(s(c, "salt")?)?
            .try_into()
            .map_err(|_| "salt must be 16 bytes")?;
        let h = round::private_hash(
            Domain::Real,
            &salt,
            &round::PrivateRecord {
                application_id: id,
                name: s(c, "name")?,
                id_card: s(c, "id_card")?,
                birth_date: s(c, "birth_date")?,
                phone: s(c, "phone")?,
                address: s(c, "address")?,
            },
        );
        assert_eq!(
            h.to_hex(),
            s(c, "private_hash")?,
            "leaves.json: private record {id}"
        );
        let a = round
            .applicants
            .iter()
            .find(|a| a.id == id)
            .ok_or("applicant missing")?;
        assert_eq!(
            *a.private_hash, h,
            "leaves.json: private record {id} matches applicants.csv"
        );
    }
    let t = v.get("input_tree").ok_or("input_tree missing")?;
    let leaves = round.input_leaves();
    assert_eq!(
        hexes(&leaves),
        strs(t, "leaf_hashes")?,
        "leaves.json: input tree leaves"
    );
    let (root, size) = round.input_root();
    assert_eq!(
        root.to_hex(),
        s(t, "input_root")?,
        "leaves.json: input root"
    );
    assert_eq!(size, u(t, "tree_size")?, "leaves.json: tree size");
    let p = t.get("proof").ok_or("proof missing")?;
    let index = u(p, "index")?;
    let path = digests(p, "path")?;
    assert_eq!(
        round.applicant_leaf_index(s(p, "application_id")?),
        Some(index),
        "leaves.json: proof index"
    );
    assert_eq!(
        merkle::Tree::new(leaves.clone()).inclusion_proof(index),
        Some(path.clone()),
        "leaves.json: inclusion proof"
    );
    assert_eq!(
        merkle::verify_inclusion(&leaves[index as usize], index, size, &path, &root),
        Ok(()),
        "leaves.json: inclusion proof verifies"
    );
    Ok(())
}

struct Ceremony {
    reveals: Vec<Reveal>,
    commitments: Vec<Digest>,
    beacon: Vec<u8>,
}

fn ceremony(c: &Value) -> Result<Ceremony, Box<dyn Error>> {
    let mut reveals = Vec::new();
    let mut commitments = Vec::new();
    for p in arr(c, "parties")? {
        reveals.push(Reveal {
            party: s(p, "party")?.to_string(),
            share: bytes(s(p, "share")?)?
                .try_into()
                .map_err(|_| "share must be 32 bytes")?,
        });
        commitments.push(digest(s(p, "commitment")?)?);
    }
    let beacon = bytes(s(c.get("beacon").ok_or("beacon missing")?, "value_hex")?)?;
    Ok(Ceremony {
        reveals,
        commitments,
        beacon,
    })
}

#[test]
fn seed_vectors() -> R {
    let v = load("seed.json")?;
    let c = v.get("ceremony").ok_or("ceremony missing")?;
    let d = domain(c)?;
    let rid = s(c, "round_id")?;
    let root = digest(s(c, "input_root")?)?;
    let ph = digest(s(c, "policy_hash")?)?;
    let size = u(c, "tree_size")?;
    let cer = ceremony(c)?;
    for (r, want) in cer.reveals.iter().zip(&cer.commitments) {
        assert_eq!(
            seed::commitment(d, rid, &root, &r.party, &r.share),
            *want,
            "seed.json: commitment of {}",
            r.party
        );
    }
    let inputs = |d| SeedInputs {
        domain: d,
        round_id: rid,
        policy_hash: &ph,
        input_root: &root,
        tree_size: size,
        beacon: &cer.beacon,
        reveals: &cer.reveals,
    };
    let seed_d = seed::master_seed(&inputs(d));
    assert_eq!(
        sha256(&bytes(s(c, "seed_encoding_hex")?)?),
        seed_d,
        "seed.json: seed = SHA-256(seed encoding)"
    );
    assert_eq!(seed_d.to_hex(), s(c, "seed")?, "seed.json: master seed");
    // Reveal order does not matter: parties are sorted bytewise.
    let mut reversed = cer.reveals.clone();
    reversed.reverse();
    assert_eq!(
        seed::master_seed(&SeedInputs {
            reveals: &reversed,
            ..inputs(d)
        }),
        seed_d,
        "seed.json: master seed with reveals in reverse order"
    );
    assert_eq!(
        seed::master_seed(&inputs(Domain::Rehearsal)).to_hex(),
        s(c, "rehearsal_seed")?,
        "seed.json: rehearsal seed"
    );
    for p in arr(c, "purposes")? {
        let label = s(p, "label")?;
        assert_eq!(
            seed::purpose_key(d, &seed_d, label).to_hex(),
            s(p, "key")?,
            "seed.json: purpose key {label}"
        );
    }
    for bad in arr(&v, "invalid_reveals")? {
        let name = s(bad, "name")?;
        let share: [u8; 32] = bytes(s(bad, "share")?)?
            .try_into()
            .map_err(|_| "share must be 32 bytes")?;
        let ok = seed::commitment(d, rid, &root, s(bad, "party")?, &share)
            == digest(s(bad, "commitment")?)?;
        assert_eq!(s(bad, "want_err")?, "mismatch", "seed.json: {name}");
        assert!(
            !ok,
            "seed.json: {name}: the reveal must not match its commitment"
        );
    }
    Ok(())
}

/// The engine refuses incomplete or mismatching ceremonies (PROTOCOL.md §4.2).
#[test]
fn seed_refuses_bad_reveals() -> R {
    use lottery::bundle::{self, Beacon, Commitment};
    let v = load("seed.json")?;
    let c = v.get("ceremony").ok_or("ceremony missing")?;
    let cer = ceremony(c)?;
    let round = e2e_round()?;
    let (root, size) = round.input_root();
    let make = |reveals: Vec<Reveal>| bundle::Ceremony {
        commitments: cer
            .reveals
            .iter()
            .zip(&cer.commitments)
            .map(|(r, c)| Commitment {
                party: r.party.clone(),
                commitment: *c,
            })
            .collect(),
        reveals,
        beacon: Beacon {
            kind: "hall_digits".into(),
            source: "hall".into(),
            value: cer.beacon.clone(),
        },
    };
    let good = bundle::seed_for(&round, &root, size, &make(cer.reveals.clone()))?;
    assert_eq!(good.to_hex(), s(c, "seed")?, "seed.json: seed_for");
    let missing = bundle::seed_for(&round, &root, size, &make(cer.reveals[..2].to_vec()));
    assert!(
        missing.is_err_and(|e| e.contains("did not reveal")),
        "seed.json: a missing reveal is refused"
    );
    let mut wrong = cer.reveals.clone();
    wrong[1].share[0] ^= 1;
    assert!(
        bundle::seed_for(&round, &root, size, &make(wrong))
            .is_err_and(|e| e.contains("does not match")),
        "seed.json: a mismatching reveal is refused"
    );
    let mut extra = cer.reveals.clone();
    extra.push(Reveal {
        party: "stranger".into(),
        share: [9; 32],
    });
    assert!(
        bundle::seed_for(&round, &root, size, &make(extra))
            .is_err_and(|e| e.contains("without a commitment")),
        "seed.json: a reveal without a commitment is refused"
    );
    Ok(())
}

#[test]
fn stream_vectors() -> R {
    let v = load("stream.json")?;
    for c in arr(&v, "streams")? {
        let name = s(c, "name")?;
        let key = digest(s(c, "key")?)?;
        let mut st = Stream::new(&key);
        let words: Vec<String> = (0..8).map(|_| format!("{:016x}", st.next_u64())).collect();
        assert_eq!(
            words,
            strs(c, "first_words")?,
            "stream.json: {name}: first words"
        );
        for b in arr(c, "below")? {
            let m: u64 = s(b, "m")?.parse()?;
            let mut st = Stream::new(&key);
            let vals: Vec<String> = (0..8).map(|_| st.below(m).to_string()).collect();
            assert_eq!(
                vals,
                strs(b, "values")?,
                "stream.json: {name}: below({m}) values"
            );
            // The next word after the 8 calls must be word number `words_used` of a fresh stream.
            let next = st.next_u64();
            let mut fresh = Stream::new(&key);
            for _ in 0..u(b, "words_used")? {
                fresh.next_u64();
            }
            assert_eq!(
                fresh.next_u64(),
                next,
                "stream.json: {name}: below({m}) words used"
            );
        }
        for p in arr(c, "permutations")? {
            let n = u(p, "n")? as usize;
            let want: Vec<u32> = arr(p, "permutation")?
                .iter()
                .map(|x| x.as_u64().map(|x| x as u32).ok_or("not an integer"))
                .collect::<Result<_, _>>()?;
            assert_eq!(
                Stream::new(&key).permutation(n),
                want,
                "stream.json: {name}: permutation({n})"
            );
        }
    }
    Ok(())
}

#[test]
fn ticket_vectors() -> R {
    let v = load("tickets.json")?;
    for c in arr(&v, "cases")? {
        let name = s(c, "name")?;
        let d = domain(c)?;
        let key = digest(s(c, "key")?)?;
        let names = strs(c, "names")?;
        let t = ticket::tickets(d, &key, &names);
        assert_eq!(
            hexes(&t),
            strs(c, "tickets")?,
            "tickets.json: {name}: tickets"
        );
        for (n, x) in names.iter().zip(&t) {
            assert_eq!(
                ticket::ticket(d, &key, n),
                *x,
                "tickets.json: {name}: ticket of {n}"
            );
        }
        let want: Vec<u32> = arr(c, "lottery_numbers")?
            .iter()
            .map(|x| x.as_u64().map(|x| x as u32).ok_or("not an integer"))
            .collect::<Result<_, _>>()?;
        assert_eq!(
            ticket::lottery_numbers(&t),
            want,
            "tickets.json: {name}: lottery numbers"
        );
    }
    Ok(())
}

#[test]
fn end_to_end_vector() -> R {
    let v = load("e2e.json")?;
    let seedv = load("seed.json")?;
    let want = v.get("expected").ok_or("expected missing")?;
    let round = e2e_round()?;
    assert_eq!(
        round.policy_hash().to_hex(),
        s(want, "policy_hash")?,
        "e2e.json: policy hash"
    );
    let (root, size) = round.input_root();
    assert_eq!(
        root.to_hex(),
        s(want, "input_root")?,
        "e2e.json: input root"
    );
    assert_eq!(size, u(want, "tree_size")?, "e2e.json: tree size");
    let cer = ceremony(seedv.get("ceremony").ok_or("ceremony missing")?)?;
    let ph = round.policy_hash();
    let seed_d = seed::master_seed(&SeedInputs {
        domain: round.domain(),
        round_id: &round.policy.round.id,
        policy_hash: &ph,
        input_root: &root,
        tree_size: size,
        beacon: &cer.beacon,
        reveals: &cer.reveals,
    });
    assert_eq!(seed_d.to_hex(), s(want, "seed")?, "e2e.json: seed");
    let outcome = lottery::draw::draw(&round, &seed_d)?;
    let files = lottery::results::render(&round, &outcome);
    for f in arr(want, "result_files")? {
        let name = s(f, "name")?;
        let expected = read(s(f, "path")?)?;
        let got = files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_bytes())
            .ok_or_else(|| format!("e2e.json: {name} not rendered"))?;
        if let Some(diff) = lottery::verify::first_line_difference(name, got, &expected) {
            panic!("e2e.json: {name} differs from the vector: {diff}");
        }
        assert_eq!(
            sha256(&expected).to_hex(),
            s(f, "sha256")?,
            "e2e.json: {name} sha256"
        );
    }
    let pairs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let (rr, rs) = lottery::results::results_root(round.domain(), &pairs);
    assert_eq!(
        rr.to_hex(),
        s(want, "results_root")?,
        "e2e.json: results root"
    );
    assert_eq!(rs, u(want, "results_size")?, "e2e.json: results size");
    Ok(())
}

fn bundle_files() -> Result<lottery::verify::Files, Box<dyn Error>> {
    let dir = root_dir().join("vectors/e2e/bundle");
    let mut files = lottery::verify::Files::new();
    for e in std::fs::read_dir(&dir)? {
        let e = e?;
        files.insert(
            e.file_name().to_string_lossy().into_owned(),
            std::fs::read(e.path())?,
        );
    }
    Ok(files)
}

fn failing(files: &lottery::verify::Files) -> Result<(u8, Vec<String>), Box<dyn Error>> {
    Ok(match lottery::verify::verify(files) {
        Err(_) => (2, Vec::new()),
        Ok(r) => {
            let fails: Vec<String> = r
                .checks
                .iter()
                .filter(|c| matches!(c.status, lottery::verify::Status::Fail(_)))
                .map(|c| c.id.to_string())
                .collect();
            (if fails.is_empty() { 0 } else { 1 }, fails)
        }
    })
}

#[test]
fn bundle_vectors() -> R {
    let base = bundle_files()?;
    assert_eq!(
        failing(&base)?,
        (0, Vec::new()),
        "vectors/e2e/bundle verifies"
    );
    let v = load("bundle_tamper.json")?;
    for c in arr(&v, "cases")? {
        let name = s(c, "name")?;
        let file = s(c, "file")?;
        let mut files = base.clone();
        if c.get("delete").and_then(Value::as_bool) == Some(true) {
            files.remove(file);
        } else {
            let text = String::from_utf8(files.get(file).cloned().ok_or("no such file")?)?;
            let find = s(c, "find")?;
            assert!(
                text.contains(find),
                "bundle_tamper.json: {name}: `find` not in {file}"
            );
            files.insert(
                file.to_string(),
                text.replacen(find, s(c, "replace")?, 1).into_bytes(),
            );
        }
        let (exit, fails) = failing(&files)?;
        assert_eq!(
            u64::from(exit),
            u(c, "want_exit")?,
            "bundle_tamper.json: {name}: exit"
        );
        assert_eq!(
            fails,
            strs(c, "want_fail")?,
            "bundle_tamper.json: {name}: failing checks"
        );
    }
    Ok(())
}

/// `verify_replaying` hands back the draw it replayed: the published inputs' round, the seed the
/// manifest states, and the outcome a fresh draw of them gives; none when the inputs do not
/// parse (nothing to replay).
#[test]
fn verification_hands_back_its_replay() -> R {
    let base = bundle_files()?;
    let (report, replay) = lottery::verify::verify_replaying(&base, &mut |_| {})?;
    assert!(report.first_failure().is_none());
    let replay = replay.ok_or("a verified bundle has a replay")?;
    let manifest: Value = serde_json::from_slice(base.get("manifest.json").ok_or("manifest")?)?;
    assert_eq!(replay.seed.to_hex(), s(&manifest["manifest"], "seed")?);
    assert!(replay.round.applicants == e2e_round()?.applicants);
    let fresh = lottery::draw::draw(&replay.round, &replay.seed)?;
    let render = |o| lottery::results::render(&replay.round, o);
    assert_eq!(
        render(&replay.outcome),
        render(&fresh),
        "the replay is the draw"
    );
    let mut broken = base.clone();
    broken.insert("applicants.csv".into(), b"not, a header\n".to_vec());
    let (report, replay) = lottery::verify::verify_replaying(&broken, &mut |_| {})?;
    assert!(report.first_failure().is_some());
    assert!(replay.is_none());
    Ok(())
}

fn u32s(v: &Value, k: &str) -> Result<Vec<u32>, String> {
    arr(v, k)?
        .iter()
        .map(|x| {
            x.as_u64()
                .map(|x| x as u32)
                .ok_or_else(|| format!("{k}: not an integer"))
        })
        .collect()
}

fn u64s(v: &Value, k: &str) -> Result<Vec<u64>, String> {
    arr(v, k)?
        .iter()
        .map(|x| x.as_u64().ok_or_else(|| format!("{k}: not an integer")))
        .collect()
}

/// Index or null (UNPLACED / NO_GROUP) lists.
fn opt_u32s(v: &Value, k: &str, none: u32) -> Result<Vec<u32>, String> {
    arr(v, k)?
        .iter()
        .map(|x| match x {
            Value::Null => Ok(none),
            x => x
                .as_u64()
                .map(|x| x as u32)
                .ok_or_else(|| format!("{k}: not an integer or null")),
        })
        .collect()
}

#[test]
fn mechanism_vectors() -> R {
    use lottery::mechanism as mech;
    let v = load("mechanisms.json")?;
    for c in arr(&v, "cases")? {
        let name = s(c, "name")?;
        if let Some(rules) = c.get("rules") {
            let rules: Vec<mech::PointsRule> = rules
                .as_array()
                .ok_or("rules")?
                .iter()
                .map(|r| {
                    Ok(mech::PointsRule {
                        name: s(r, "name")?.to_string(),
                        weight: r.get("weight").and_then(Value::as_i64).ok_or("weight")?,
                        cap: r.get("cap").and_then(Value::as_i64).ok_or("cap")?,
                        threshold: r
                            .get("threshold")
                            .and_then(Value::as_i64)
                            .ok_or("threshold")?,
                    })
                })
                .collect::<Result<_, Box<dyn Error>>>()?;
            for a in arr(c, "applicants")? {
                let values: Vec<i64> = u64s(a, "values")?.iter().map(|&x| x as i64).collect();
                let sc = mech::score(&values, &rules)?;
                let parts: Vec<i64> = u64s(a, "parts")?.iter().map(|&x| x as i64).collect();
                assert_eq!(
                    sc.parts, parts,
                    "mechanisms.json: {name}: parts of {values:?}"
                );
                assert_eq!(
                    sc.total_milli as u64,
                    u(a, "total_milli")?,
                    "mechanisms.json: {name}: total of {values:?}"
                );
                assert_eq!(
                    Some(sc.eligible),
                    a.get("eligible").and_then(Value::as_bool),
                    "mechanisms.json: {name}: eligibility of {values:?}"
                );
            }
            continue;
        }
        let iv = c.get("instance").ok_or("instance")?;
        let inst = mech::Instance {
            capacity: u32s(iv, "capacity")?,
            pref_start: u32s(iv, "pref_start")?,
            pref_school: u32s(iv, "pref_school")?,
            pref_key: u64s(iv, "pref_key")?,
        };
        let valid = inst.validate()?;
        let lists = |w: &mech::Waitlists| -> Vec<Vec<u32>> {
            (0..w.num_schools())
                .map(|s| w.applicants()[w.of(s)].to_vec())
                .collect()
        };
        let want_lists = |c: &Value| -> Result<Vec<Vec<u32>>, String> {
            arr(c, "waitlists")?
                .iter()
                .map(|l| {
                    l.as_array()
                        .ok_or("waitlist")?
                        .iter()
                        .map(|x| x.as_u64().map(|x| x as u32).ok_or("index"))
                        .collect::<Result<Vec<u32>, _>>()
                        .map_err(str::to_string)
                })
                .collect()
        };
        if c.get("declined").is_some() {
            let assignment = opt_u32s(c, "assignment", mech::UNPLACED)?;
            let wl = mech::waitlists(valid, &assignment)?;
            let r = mech::refill(valid, &wl, &assignment, &u32s(c, "declined")?)?;
            assert_eq!(
                r.assignment,
                opt_u32s(c, "after", mech::UNPLACED)?,
                "mechanisms.json: {name}: assignment after refill"
            );
            let events: Vec<(u32, u32, u32)> = arr(c, "events")?
                .iter()
                .map(|e| {
                    Ok((
                        u(e, "school")? as u32,
                        u(e, "applicant")? as u32,
                        e.get("vacated")
                            .and_then(Value::as_u64)
                            .map_or(mech::UNPLACED, |x| x as u32),
                    ))
                })
                .collect::<Result<_, String>>()?;
            let got: Vec<(u32, u32, u32)> = r
                .events
                .iter()
                .map(|e| (e.school, e.applicant, e.vacated))
                .collect();
            assert_eq!(got, events, "mechanisms.json: {name}: refill events");
            assert_eq!(
                r.vacant,
                u32s(c, "vacant")?,
                "mechanisms.json: {name}: vacant"
            );
            continue;
        }
        if c.get("spare").is_some() {
            let pt = |x: &Value| -> Option<mech::Point> {
                let a = x.as_array()?;
                Some(mech::Point {
                    x: a.first()?.as_i64()?,
                    y: a.get(1)?.as_i64()?,
                })
            };
            let schools: Vec<mech::Point> = arr(c, "school_xy")?
                .iter()
                .map(|x| pt(x).ok_or("school_xy"))
                .collect::<Result<_, _>>()?;
            let apps: Vec<Option<mech::Point>> = arr(c, "applicant_xy")?.iter().map(pt).collect();
            let placed = mech::reallocate(
                valid,
                &u32s(c, "spare")?,
                &u32s(c, "order")?,
                Some(mech::Coordinates {
                    applicant: &apps,
                    school: &schools,
                }),
                &u32s(c, "bureau_order")?,
            )?;
            let got: Vec<(u32, u32, String)> = placed
                .iter()
                .map(|p| (p.applicant, p.school, format!("{:?}", p.reason)))
                .collect();
            let want: Vec<(u32, u32, String)> = arr(c, "placements")?
                .iter()
                .map(|p| {
                    Ok((
                        u(p, "applicant")? as u32,
                        p.get("school")
                            .and_then(Value::as_u64)
                            .map_or(mech::UNPLACED, |x| x as u32),
                        s(p, "reason")?.to_string(),
                    ))
                })
                .collect::<Result<_, String>>()?;
            assert_eq!(got, want, "mechanisms.json: {name}: placements");
            continue;
        }
        let mechanism = s(c, "mechanism")?;
        let want = opt_u32s(c, "assignment", mech::UNPLACED)?;
        if c.get("reserves").is_some() {
            let reserves: Vec<mech::ReservedSeats> = arr(c, "reserves")?
                .iter()
                .map(|r| {
                    Ok(mech::ReservedSeats {
                        school: u(r, "school")? as u32,
                        group: u(r, "group")? as u32,
                        seats: u(r, "seats")? as u32,
                    })
                })
                .collect::<Result<_, String>>()?;
            let eg = opt_u32s(c, "entry_group", mech::NO_GROUP)?;
            let rk = match c.get("reserve_key") {
                Some(Value::Null) | None => None,
                Some(_) => Some(u64s(c, "reserve_key")?),
            };
            let order = match s(c, "reserve_order")? {
                "open_first" => mech::ReserveOrder::OpenFirst,
                _ => mech::ReserveOrder::ReservedFirst,
            };
            let m = match mechanism {
                "deferred_acceptance" => mech::Mechanism::DeferredAcceptance,
                _ => mech::Mechanism::FirstChoiceFirst {
                    batch: None,
                    max_rounds: None,
                },
            };
            let spec = mech::ReserveSpec {
                reserves: &reserves,
                entry_group: &eg,
                reserve_key: rk.as_deref(),
                order,
            };
            let o = mech::with_reserves(valid, &spec, m)?;
            assert_eq!(o.school, want, "mechanisms.json: {name}: assignment");
            let reserved: Vec<bool> = arr(c, "reserved")?
                .iter()
                .map(|x| x.as_bool().unwrap_or(false))
                .collect();
            assert_eq!(
                o.reserved, reserved,
                "mechanisms.json: {name}: reserved seats"
            );
            assert_eq!(
                u64::from(o.runs),
                u(c, "runs")?,
                "mechanisms.json: {name}: runs"
            );
            continue;
        }
        let got = match mechanism {
            "deferred_acceptance" => mech::deferred_acceptance(valid),
            "first_choice_first" => mech::first_choice_first(
                valid,
                None,
                c.get("choice_rounds")
                    .and_then(Value::as_u64)
                    .map(|x| x as u32),
            )?,
            "serial_dictatorship" => mech::serial_dictatorship(valid, &u32s(c, "order")?)?,
            other => {
                return Err(format!("mechanisms.json: {name}: unknown mechanism {other}").into());
            }
        };
        assert_eq!(got, want, "mechanisms.json: {name}: assignment");
        assert_eq!(
            lists(&mech::waitlists(valid, &got)?),
            want_lists(c)?,
            "mechanisms.json: {name}: waitlists"
        );
    }
    Ok(())
}

#[test]
fn class_and_quota_vectors() -> R {
    use lottery::classes::{self, ClassPolicy, FamilyRule, Gender, Student};
    let v = load("classes.json")?;
    for c in arr(&v, "class_assignment")? {
        let name = s(c, "name")?;
        let key = digest(s(c, "key")?)?;
        let students: Vec<Student> = arr(c, "students")?
            .iter()
            .map(|x| {
                Ok(Student {
                    gender: if s(x, "gender")? == "F" {
                        Gender::F
                    } else {
                        Gender::M
                    },
                    groups: u(x, "groups")? as u32,
                    family: x.get("family").and_then(Value::as_u64).map(|f| f as u32),
                })
            })
            .collect::<Result<_, String>>()?;
        if let Some(keys) = c.get("stratum_keys") {
            let got: Vec<String> = students
                .iter()
                .map(|x| format!("{:#x}", classes::stratum_key(x)))
                .collect();
            let want: Vec<String> = keys
                .as_array()
                .ok_or("stratum_keys")?
                .iter()
                .map(|k| k.as_str().unwrap_or("").to_string())
                .collect();
            assert_eq!(got, want, "classes.json: {name}: stratum keys");
        }
        let policy = ClassPolicy {
            classes: c.get("classes").and_then(Value::as_u64).map(|k| k as u32),
            max_size: u(c, "max_size")? as u32,
            families: match s(c, "families")? {
                "apart" => FamilyRule::Apart,
                "ignore" => FamilyRule::Ignore,
                _ => FamilyRule::Together,
            },
        };
        let got = classes::assign_classes(&students, &policy, &mut Stream::new(&key));
        match c.get("want_err").and_then(Value::as_str) {
            Some(_) => assert_eq!(
                got.map_err(|e| e.to_string()).err().as_deref(),
                Some(s(c, "message")?),
                "classes.json: {name}: error"
            ),
            None => {
                let a = got.map_err(|e| format!("classes.json: {name}: {e}"))?;
                let want = c.get("expected").ok_or("expected")?;
                assert_eq!(
                    u64::from(a.classes),
                    u(want, "k")?,
                    "classes.json: {name}: k"
                );
                assert_eq!(
                    a.class_of,
                    u32s(want, "class_of")?,
                    "classes.json: {name}: classes"
                );
                assert_eq!(
                    u64::from(a.relaxed_swaps),
                    u(want, "relaxed_swaps")?,
                    "classes.json: {name}: relaxed swaps"
                );
            }
        }
    }
    for c in arr(&v, "teacher_draw")? {
        let name = s(c, "name")?;
        let key = digest(s(c, "key")?)?;
        let got = classes::draw_teachers(
            u(c, "classes")? as u32,
            u(c, "teachers")? as u32,
            &mut Stream::new(&key),
        );
        match c.get("want_err") {
            Some(_) => assert_eq!(
                got.map_err(|e| e.to_string()).err().as_deref(),
                Some(s(c, "message")?),
                "classes.json: {name}"
            ),
            None => assert_eq!(got?, u32s(c, "expected")?, "classes.json: {name}"),
        }
    }
    for c in arr(&v, "quota")? {
        let name = s(c, "name")?;
        let key = digest(s(c, "key")?)?;
        let got =
            lottery::quota::allocate(u(c, "seats")?, &u64s(c, "cohorts")?, &mut Stream::new(&key))?;
        assert_eq!(got, u64s(c, "expected")?, "classes.json: {name}");
    }
    Ok(())
}
