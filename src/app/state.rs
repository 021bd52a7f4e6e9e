//! The state directory (`[server] state_dir`): what must survive a
//! restart, in one small JSON file, `state.json`:
//! - per primary zone, the serial last served and the fingerprints of the
//!   served data and of the zone file (see [`super::serials`]), so a
//!   restart never serves a serial a secondary has seen with other data;
//! - the drained checks, since when and why.
//!
//! [`StateDir::open`] checks at start-up, without writing anything, that
//! the directory can be written (or created) and reads the last state.
//! Writes come only once the server stands (every listener bound), each
//! one atomic: a temporary file renamed over `state.json`, then fsync of
//! the file and of the directory, so a crash leaves the old state or the
//! new, never half.
//!
//! While vigia runs, the file also reserves each primary zone's next
//! serial (`ahead`), so that a failover can be served first and written
//! after (see `App::swap_in`): a start that finds reservations (the last
//! run did not stop cleanly) cannot know whether they were served, and
//! serves above them. A clean stop writes the file without them.
//! The IXFR history is not kept: after a restart, a secondary's IXFR is
//! answered with the whole zone.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::serials::Served;
use crate::dns::serial::serial_gt;
use crate::health::Drain;

const FILE: &str = "state.json";
const TEMP: &str = "state.json.tmp";
/// A state file larger than this is not vigia's: refuse to read it.
const MAX_FILE: u64 = 16 << 20;

/// The contents of `state.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    /// Per primary zone (origin, lower case, final dot).
    #[serde(default)]
    pub zones: BTreeMap<String, Served>,
    /// Per drained check.
    #[serde(default)]
    pub drains: BTreeMap<String, SavedDrain>,
    /// Per primary zone, the serial vigia may serve next without writing
    /// this file first; only while it runs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ahead: BTreeMap<String, u32>,
}

/// A drain as kept on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedDrain {
    /// Milliseconds since 1970 (UTC).
    pub since_ms: u64,
    pub reason: String,
}

impl SavedDrain {
    pub fn from_drain(d: &Drain) -> SavedDrain {
        let ms = d.since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        SavedDrain {
            since_ms: u64::try_from(ms.as_millis()).unwrap_or(u64::MAX),
            reason: d.reason.clone(),
        }
    }

    pub fn to_drain(&self) -> Drain {
        Drain {
            since: SystemTime::UNIX_EPOCH + Duration::from_millis(self.since_ms),
            reason: self.reason.clone(),
        }
    }
}

/// A state directory that was found usable at start-up.
#[derive(Debug)]
pub struct StateDir {
    dir: PathBuf,
    /// What is on disk now (a write of the same is skipped).
    written: Option<Vec<u8>>,
    /// The serials reserved on disk now (`Saved::ahead`).
    reserved: BTreeMap<String, u32>,
}

impl StateDir {
    /// Checks that `dir` can hold the state (it exists and is a writable
    /// directory, or it can be created in its nearest existing ancestor)
    /// and reads the state a previous run left. Writes nothing. Errors
    /// name the path and what to do.
    pub fn open(dir: &Path) -> Result<(StateDir, Saved), String> {
        let hint = "set [server] state_dir to a directory vigia may write (the systemd unit's StateDirectory= and the image's /var/lib/vigia volume provide one)";
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => writable(dir).map_err(|e| {
                format!(
                    "state directory {}: cannot write there: {e}; {hint}",
                    dir.display()
                )
            })?,
            Ok(_) => {
                return Err(format!(
                    "state directory {}: exists and is not a directory; {hint}",
                    dir.display()
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
                let parent = existing_ancestor(dir).ok_or_else(|| {
                    format!(
                        "state directory {}: no part of the path exists; {hint}",
                        dir.display()
                    )
                })?;
                if !parent.is_dir() {
                    return Err(format!(
                        "state directory {}: {} is not a directory; {hint}",
                        dir.display(),
                        parent.display()
                    ));
                }
                writable(&parent).map_err(|e| {
                    format!(
                        "state directory {}: does not exist and cannot be created in {}: {e}; {hint}",
                        dir.display(),
                        parent.display()
                    )
                })?;
            }
            Err(e) => return Err(format!("state directory {}: {e}; {hint}", dir.display())),
        }
        let (saved, written) = read(&dir.join(FILE))?;
        Ok((
            StateDir {
                dir: dir.to_path_buf(),
                written,
                reserved: saved.ahead.clone(),
            },
            saved,
        ))
    }

    /// Whether `zone` may serve `serial` before it is written: a start
    /// after a crash would go above it (it is at most the reserved one).
    pub fn reserves(&self, zone: &str, serial: u32) -> bool {
        self.reserved
            .get(zone)
            .is_some_and(|&r| r == serial || serial_gt(r, serial))
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes `saved` atomically (creating the directory if needed) and
    /// durably. A state equal to the one on disk is not written again.
    #[cfg(test)]
    pub fn save(&mut self, saved: &Saved) -> std::io::Result<()> {
        if self.write(saved)? {
            self.sync()?;
        }
        Ok(())
    }

    /// Puts `saved` in place of `state.json` (a temporary file renamed
    /// over it), without waiting for the disk: from here on a crash of
    /// vigia keeps the new state, and [`Self::sync`] makes it survive a
    /// crash of the machine too. False if it equals the state on disk.
    pub fn write(&mut self, saved: &Saved) -> std::io::Result<bool> {
        let mut text = serde_json::to_vec_pretty(saved).map_err(std::io::Error::other)?;
        text.push(b'\n');
        if self.written.as_ref() == Some(&text) {
            return Ok(false);
        }
        std::fs::create_dir_all(&self.dir)?;
        let temp = self.dir.join(TEMP);
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(&text)?;
        drop(f);
        std::fs::rename(&temp, self.dir.join(FILE))?;
        self.written = Some(text);
        self.reserved = saved.ahead.clone();
        Ok(true)
    }

    /// Waits for the disk to hold what [`Self::write`] wrote: the file,
    /// then the directory (the rename is durable once the directory is).
    pub fn sync(&self) -> std::io::Result<()> {
        std::fs::File::open(self.dir.join(FILE))?.sync_all()?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

/// Reads `state.json`: the default state when there is none; an error for
/// one that cannot be read or understood (starting without it could serve
/// serials a secondary has already seen with other data).
fn read(path: &Path) -> Result<(Saved, Option<Vec<u8>>), String> {
    let fix = "fix or remove it (without it, serials restart from the zone files' and drains are forgotten)";
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Saved::default(), None)),
        Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
    };
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{}: {} bytes is not a vigia state file; {fix}",
            path.display(),
            meta.len()
        ));
    }
    let text = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let saved = serde_json::from_slice(&text).map_err(|e| format!("{}: {e}; {fix}", path.display()))?;
    Ok((saved, Some(text)))
}

/// The longest prefix of `p` that exists.
fn existing_ancestor(p: &Path) -> Option<PathBuf> {
    p.ancestors()
        .skip(1)
        .map(|a| {
            if a.as_os_str().is_empty() {
                Path::new(".")
            } else {
                a
            }
        })
        .find(|a| a.exists())
        .map(Path::to_path_buf)
}

/// Whether this process may create files in `dir`, asked of the kernel
/// (access(2) with the effective ids) rather than tried.
fn writable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "path contains a NUL byte"))?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            c.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("vigia-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn sample() -> Saved {
        let mut s = Saved::default();
        s.zones.insert(
            "e.test.".into(),
            Served {
                serial: 11,
                data: 7,
                file_serial: 2,
                file: 5,
            },
        );
        s.drains.insert(
            "master".into(),
            SavedDrain {
                since_ms: 1_700_000_000_123,
                reason: "moving to host2".into(),
            },
        );
        s
    }

    #[test]
    fn a_missing_directory_is_created_on_the_first_write_only() {
        let base = temp("create");
        std::fs::create_dir_all(&base).unwrap();
        let dir = base.join("a/b");
        let (mut sd, saved) = StateDir::open(&dir).unwrap();
        assert_eq!(saved, Saved::default());
        assert!(!dir.exists(), "open writes nothing");
        sd.save(&sample()).unwrap();
        assert!(!dir.join(TEMP).exists());
        let (_, again) = StateDir::open(&dir).unwrap();
        assert_eq!(again, sample());
        let d = again.drains["master"].to_drain();
        assert_eq!(SavedDrain::from_drain(&d), again.drains["master"]);
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn unusable_directories_and_files_are_named() {
        let base = temp("bad");
        std::fs::create_dir_all(&base).unwrap();
        let file = base.join("file");
        std::fs::write(&file, "x").unwrap();
        let e = StateDir::open(&file).unwrap_err();
        assert!(
            e.contains(&file.display().to_string()) && e.contains("not a directory"),
            "{e}"
        );
        let e = StateDir::open(&file.join("below")).unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
        std::fs::write(base.join(FILE), "{not json").unwrap();
        let e = StateDir::open(&base).unwrap_err();
        assert!(e.contains("state.json") && e.contains("fix or remove it"), "{e}");
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn reservations_are_kept_until_a_write_without_them() {
        let dir = temp("ahead");
        let (mut sd, _) = StateDir::open(&dir).unwrap();
        assert!(!sd.reserves("e.test.", 11), "nothing on disk yet");
        let mut running = sample();
        running.ahead.insert("e.test.".into(), 12);
        sd.save(&running).unwrap();
        assert!(sd.reserves("e.test.", 12) && sd.reserves("e.test.", 11));
        assert!(!sd.reserves("e.test.", 13) && !sd.reserves("other.test.", 1));
        let (reopened, saved) = StateDir::open(&dir).unwrap();
        assert_eq!(saved.ahead["e.test."], 12, "what a crashed run left");
        assert!(reopened.reserves("e.test.", 12));
        // A clean stop writes none, and the file says nothing of them.
        sd.save(&sample()).unwrap();
        assert!(!sd.reserves("e.test.", 12));
        let text = std::fs::read_to_string(dir.join(FILE)).unwrap();
        assert!(!text.contains("ahead"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_same_state_is_not_written_twice() {
        let dir = temp("same");
        let (mut sd, _) = StateDir::open(&dir).unwrap();
        sd.save(&sample()).unwrap();
        let before = std::fs::metadata(dir.join(FILE)).unwrap().modified().unwrap();
        std::fs::remove_file(dir.join(FILE)).unwrap();
        sd.save(&sample()).unwrap();
        assert!(!dir.join(FILE).exists(), "unchanged: skipped");
        let mut other = sample();
        other.drains.clear();
        sd.save(&other).unwrap();
        assert!(std::fs::metadata(dir.join(FILE)).unwrap().modified().unwrap() >= before);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
