//! Helpers shared by the verifier's integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `<target>/<profile>/fairdraw`, built if missing.
pub fn fairdraw_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("current exe");
        let name = format!("fairdraw{}", std::env::consts::EXE_SUFFIX);
        let find = || {
            exe.ancestors()
                .skip(1)
                .take(3)
                .map(|d| d.join(&name))
                .find(|p| p.is_file())
        };
        if let Some(p) = find() {
            return p;
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "-p", "server", "--bin", "fairdraw"]);
        // Same profile as this test binary (target/<profile>/deps/<test>).
        if exe
            .ancestors()
            .nth(2)
            .and_then(Path::file_name)
            .is_some_and(|p| p == "release")
        {
            cmd.arg("--release");
        }
        let st = cmd.status().expect("run cargo build");
        assert!(st.success(), "cargo build -p server --bin fairdraw failed");
        find().expect("fairdraw binary after cargo build")
    })
    .clone()
}

/// A fresh scratch directory `<prefix>-<tag>-<n>` under `target/` (Cargo's directory for
/// integration tests' files): replaced when the test runs again, so nothing piles up in the
/// system's temporary directory.
pub fn temp_dir(prefix: &str, tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{prefix}-{tag}-{}",
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Copies every file of the directory `src` into the directory `dst`.
pub fn copy_files(src: &Path, dst: &Path) {
    for e in std::fs::read_dir(src).expect("read source directory") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
    }
}
