//! The control channel's Unix socket: who may connect is who may open it.
//! It is bound under a temporary name, given its mode (0660 by default)
//! and group, and only then renamed into place, so it is never reachable
//! with wider permissions. A stale socket left by a vigia that died is
//! replaced; one a running vigia still answers on is not. The socket is
//! removed when the [`SocketFile`] is dropped.

use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The socket on disk; removed when dropped (if it is still ours).
pub struct SocketFile {
    path: PathBuf,
    inode: u64,
    /// The folder made for the socket (the state directory, before the
    /// first start), removed again if it is left empty: a failed start
    /// leaves nothing behind.
    made: Option<PathBuf>,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.ino() == self.inode) {
            let _ = std::fs::remove_file(&self.path);
        }
        if let Some(d) = &self.made {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// The gid of a group name (or a number).
pub fn group_id(name: &str) -> Result<libc::gid_t, String> {
    if let Ok(n) = name.parse::<libc::gid_t>() {
        return Ok(n);
    }
    let c = CString::new(name).map_err(|_| format!("group '{name}': not a name"))?;
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; buf outlives the use of
    // grp (only gr_gid, a plain integer, is read).
    let rc = unsafe { libc::getgrnam_r(c.as_ptr(), &mut grp, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() {
        return Err(format!("group '{name}' does not exist"));
    }
    Ok(grp.gr_gid)
}

/// The name of a group id, for messages.
pub fn group_name(gid: u32) -> Option<String> {
    let mut grp: libc::group = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    let mut out: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in group_id; gr_name points into buf, read before it goes.
    let rc = unsafe { libc::getgrgid_r(gid, &mut grp, buf.as_mut_ptr(), buf.len(), &mut out) };
    if rc != 0 || out.is_null() || grp.gr_name.is_null() {
        return None;
    }
    // SAFETY: gr_name is a NUL-terminated string inside buf.
    Some(
        unsafe { std::ffi::CStr::from_ptr(grp.gr_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Binds the control socket at `path` with `mode` and, if given, `group`.
pub fn bind(
    path: &Path,
    mode: u32,
    group: Option<&str>,
) -> Result<(std::os::unix::net::UnixListener, SocketFile), String> {
    let name = path.display();
    let gid = group
        .map(group_id)
        .transpose()
        .map_err(|e| format!("[control] group: {e}"))?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "{name}: another vigia is serving its control socket here; stop it or set another [control] socket"
                ));
            }
            std::fs::remove_file(path)
                .map_err(|e| format!("{name}: cannot remove the stale control socket: {e}"))?;
            tracing::info!(socket = %name, "replaced a stale control socket");
        }
        Ok(_) => {
            return Err(format!(
                "{name}: exists and is not a socket; remove it or set another [control] socket"
            ))
        }
        Err(_) => {}
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // The default folder is the state directory, which may not exist yet.
    let made = (!dir.exists()).then(|| dir.to_path_buf());
    if made.is_some() {
        std::fs::create_dir_all(dir).map_err(|e| {
            format!(
                "cannot create {} for the control socket: {e} (set [control] socket)",
                dir.display()
            )
        })?;
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file}.{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let cannot = |e: std::io::Error| {
        format!(
            "cannot create the control socket {name}: {e} (set [control] socket to a path in a folder vigia may write, \
             e.g. /run/vigia/control.sock with RuntimeDirectory=vigia)"
        )
    };
    let listener = match std::os::unix::net::UnixListener::bind(&tmp) {
        Ok(l) => l,
        Err(e) => {
            if let Some(d) = &made {
                let _ = std::fs::remove_dir(d);
            }
            return Err(cannot(e));
        }
    };
    let placed = (|| {
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        if let Some(gid) = gid {
            let c = CString::new(tmp.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
            // SAFETY: a valid NUL-terminated path; uid -1 keeps the owner.
            if unsafe { libc::chown(c.as_ptr(), u32::MAX, gid) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        std::fs::rename(&tmp, path)?;
        listener.set_nonblocking(true)?;
        std::fs::symlink_metadata(path)
    })();
    match placed {
        Ok(meta) => Ok((
            listener,
            SocketFile {
                path: path.to_path_buf(),
                inode: meta.ino(),
                made,
            },
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            if let Some(d) = &made {
                let _ = std::fs::remove_dir(d);
            }
            Err(format!(
                "cannot set up the control socket {name} (mode {mode:04o}{}): {e}",
                group.map(|g| format!(", group {g}")).unwrap_or_default()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_with_mode_replaces_stale_and_removes_on_drop() {
        let dir = std::env::temp_dir().join(format!("vigia-sock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("control.sock");
        // A stale socket (nobody listens on it).
        drop(std::os::unix::net::UnixListener::bind(&p).unwrap());
        let gid = std::fs::metadata(&dir).unwrap().gid();
        let (l, f) = bind(&p, 0o660, Some(&gid.to_string())).unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_socket());
        assert_eq!(m.permissions().mode() & 0o777, 0o660);
        assert_eq!(m.gid(), gid);
        // A live one is not taken over.
        let err = bind(&p, 0o600, None).err().unwrap();
        assert!(err.contains("another vigia"), "{err}");
        drop((l, f));
        assert!(!p.exists());
        std::fs::write(&p, "x").unwrap();
        assert!(bind(&p, 0o600, None).err().unwrap().contains("not a socket"));
        assert!(bind(&dir.join("s"), 0o600, Some("no-such-group-vigia")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
