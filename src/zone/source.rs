//! Reading a zone file or an `$INCLUDE`d one: regular files only, through
//! the zone's byte budget.
//!
//! The file is opened non-blocking (so opening a FIFO with no writer
//! returns at once) and checked with `fstat` on the open descriptor before
//! a byte is read: devices (`/dev/zero`), FIFOs, sockets and directories
//! are refused. `/proc` files are regular but report size 0, so the read
//! itself stops one byte past the budget, whatever the size says.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// Not a regular file: what it is instead ("a FIFO", ...).
    NotRegular(&'static str),
    /// Reading it would pass the budget (bytes left when it was opened).
    OverBudget { left: u64 },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::NotRegular(what) => {
                write!(f, "it is {what}, not a regular file: refused without reading")
            }
            ReadError::OverBudget { left } => {
                write!(f, "it is larger than the {left} bytes left of the zone's budget")
            }
        }
    }
}

/// Reads the regular file at `path`, at most `budget` bytes.
pub fn read_regular(path: &Path, budget: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    let ft = meta.file_type();
    if !ft.is_file() {
        return Err(ReadError::NotRegular(kind(&ft)));
    }
    if meta.len() > budget {
        return Err(ReadError::OverBudget { left: budget });
    }
    read_within(file, meta.len(), budget)
}

/// Reads `file` whole, failing once more than `budget` bytes came; the
/// buffer starts at the size `fstat` gave and grows with what arrives.
fn read_within(file: File, size_hint: u64, budget: u64) -> Result<Vec<u8>, ReadError> {
    let start = usize::try_from(size_hint.min(budget)).unwrap_or(0);
    let mut buf = Vec::with_capacity(start.saturating_add(1));
    file.take(budget.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(ReadError::Io)?;
    if buf.len() as u64 > budget {
        return Err(ReadError::OverBudget { left: budget });
    }
    Ok(buf)
}

fn kind(ft: &std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("vigia-source-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn devices_fifos_and_directories_are_refused_unread() {
        let e = read_regular(Path::new("/dev/zero"), 1 << 30).unwrap_err();
        assert!(matches!(e, ReadError::NotRegular("a character device")), "{e}");
        let d = tmp("fifo");
        let fifo = d.join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer: a blocking open would hang here.
        let e = read_regular(&fifo, 1 << 30).unwrap_err();
        assert!(matches!(e, ReadError::NotRegular("a FIFO")), "{e}");
        let e = read_regular(&d, 1 << 30).unwrap_err();
        assert!(matches!(e, ReadError::NotRegular("a directory")), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn the_budget_stops_sized_and_unsized_files() {
        let d = tmp("budget");
        let f = d.join("f");
        std::fs::write(&f, vec![b'x'; 100]).unwrap();
        assert_eq!(read_regular(&f, 100).unwrap().len(), 100);
        assert!(matches!(
            read_regular(&f, 99),
            Err(ReadError::OverBudget { left: 99 })
        ));
        // /proc files say size 0 whatever they hold.
        let e = read_regular(Path::new("/proc/self/maps"), 10).unwrap_err();
        assert!(matches!(e, ReadError::OverBudget { left: 10 }), "{e}");
        assert!(!read_regular(Path::new("/proc/self/maps"), 1 << 30)
            .unwrap()
            .is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }
}
