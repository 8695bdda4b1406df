//! Runs the bash fixture scripts (tests/fixtures/make_*.sh) into a temporary directory with a
//! clean, fixed environment so commit ids are stable.

use std::path::{Path, PathBuf};
use std::process::Command;

use flaresync_git::{GitSource, HeadUpdateKind, Oid};

pub struct Fixture {
    dir: tempfile::TempDir,
    script: String,
}

fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

impl Fixture {
    /// Runs `tests/fixtures/<script>` (with optional arguments) in a fresh temp dir.
    pub fn run(script: &str, args: &[&str]) -> Fixture {
        let fixture = Fixture {
            dir: tempfile::tempdir().expect("tempdir"),
            script: script.to_owned(),
        };
        fixture.step(args);
        fixture
    }

    /// Runs the same script again (a later step) in the same directory.
    pub fn step(&self, args: &[&str]) {
        let home = self.dir.path().join(".home");
        std::fs::create_dir_all(&home).expect("home");
        let output = Command::new("bash")
            .arg(scripts_dir().join(&self.script))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("bash runs");
        assert!(
            output.status.success(),
            "{} {args:?} failed:\n{}\n{}",
            self.script,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Resolves a revision (`c1`, `main~2`) in the repository at `repo`.
    pub fn rev(&self, repo: &str, revision: &str) -> Oid {
        let repo = git2::Repository::open(self.path(repo)).expect("open fixture repo");
        repo.revparse_single(revision)
            .and_then(|object| object.peel_to_commit())
            .map(|commit| commit.id())
            .unwrap_or_else(|e| panic!("{revision}: {e}"))
    }
}

/// Fetches and checks what kind of head update the fetch saw.
pub fn assert_fetch(source: &mut GitSource, kind: HeadUpdateKind) {
    assert_eq!(source.fetch().expect("fetch").kind, kind);
}
