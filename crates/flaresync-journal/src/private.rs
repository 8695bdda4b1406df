//! Owner-only permissions for what flaresync keeps on disk — directories 0700, files 0600 —
//! whatever the umask: the journal records every deployment, and the state directory holds the
//! lock and the clone of the config repository. Nobody else has anything to read there.

use std::fs::File;
use std::io;
use std::path::Path;

/// Mode of flaresync's directories (state directory, clone).
pub const DIR_MODE: u32 = 0o700;
/// Mode of flaresync's files (journal, lock).
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and its missing parents owner-only, and restricts `dir` itself to
/// [`DIR_MODE`] when it already existed with other permissions.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)?;
    restrict(dir, DIR_MODE)
}

/// Opens `file` for appending, creating it owner-only when missing, and restricts it to
/// [`FILE_MODE`] when it already existed with other permissions. Never truncates.
pub fn open_private_file(file: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(FILE_MODE);
    }
    let opened = options.open(file)?;
    restrict(file, FILE_MODE)?;
    Ok(opened)
}

/// Sets an existing `path` to `mode` unless it has it already (a no-op off Unix). The umask
/// does not apply to an explicit change of mode.
pub fn restrict(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if std::fs::metadata(path)?.permissions().mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    }

    #[test]
    fn new_directories_and_files_are_owner_only() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a/b");
        create_private_dir(&dir).expect("created");
        assert_eq!(mode(&root.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("journal.sqlite3");
        open_private_file(&file).expect("created");
        assert_eq!(mode(&file), 0o600);
    }

    #[test]
    fn existing_ones_are_tightened_and_kept() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("state");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let file = dir.join("journal.sqlite3");
        std::fs::write(&file, b"kept").expect("write");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).expect("chmod");
        create_private_dir(&dir).expect("tightened");
        open_private_file(&file).expect("tightened");
        assert_eq!((mode(&dir), mode(&file)), (0o700, 0o600));
        assert_eq!(std::fs::read(&file).expect("read"), b"kept");
    }
}
