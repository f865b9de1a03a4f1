//! Where audit lines are appended. Without `fsync` a call writes its own
//! line at once (one unbuffered `write` under a lock: stored in the kernel
//! before the call replies, a few microseconds). With `fsync` one thread
//! takes whatever lines are queued, writes them in one `write`, syncs, then
//! tells each waiting call that its line is stored (group commit: one sync
//! for many lines is what makes batching pay).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::config::AuditSink;
use crate::metrics as m;

/// Most lines written in one batch.
const MAX_BATCH: usize = 512;

/// One line waiting to be written, and who waits for it.
pub struct Pending {
    /// The JSON line, without its newline.
    pub line: Vec<u8>,
    /// Told the result once the line is stored (`None`: nobody waits).
    pub ack: Option<oneshot::Sender<Result<(), String>>>,
}

/// The open destination.
pub(super) enum Output {
    Stdout,
    File { path: PathBuf, file: File },
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Output {
    pub(super) fn open(sink: &AuditSink) -> io::Result<Self> {
        Ok(match sink {
            AuditSink::Stdout => Output::Stdout,
            AuditSink::File(path) => Output::File {
                file: open_append(path)?,
                path: path.clone(),
            },
        })
    }

    /// Reopens the file when it was moved away or replaced (log rotation).
    #[cfg(unix)]
    pub(super) fn follow_rotation(&mut self) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        if let Output::File { path, file } = self {
            let current = file.metadata()?;
            let rotated = match std::fs::metadata(&*path) {
                Ok(on_disk) => on_disk.ino() != current.ino() || on_disk.dev() != current.dev(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => true,
                Err(e) => return Err(e),
            };
            if rotated {
                *file = open_append(path)?;
                tracing::info!(path = %path.display(), "audit log reopened after rotation");
            }
        }
        Ok(())
    }

    #[cfg(not(unix))]
    pub(super) fn follow_rotation(&mut self) -> io::Result<()> {
        Ok(())
    }

    pub(super) fn write_batch(&mut self, buf: &[u8], fsync: bool) -> io::Result<()> {
        match self {
            Output::Stdout => {
                let mut out = io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
            Output::File { file, .. } => {
                // Unbuffered: once `write_all` returns, the lines are in the
                // kernel and survive a crash of this process.
                file.write_all(buf)?;
                if fsync {
                    file.sync_data()?;
                }
                Ok(())
            }
        }
    }
}

/// Starts the writer thread; returns its queue. `failing` holds the last
/// write error until a later write succeeds.
pub fn start(
    sink: &AuditSink,
    fsync: bool,
    capacity: usize,
    failing: Arc<Mutex<Option<String>>>,
) -> io::Result<mpsc::Sender<Pending>> {
    let mut output = Output::open(sink)?;
    let (tx, mut rx) = mpsc::channel::<Pending>(capacity);
    std::thread::Builder::new()
        .name("cloudgate-audit".into())
        .spawn(move || {
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                buf.clear();
                for p in &batch {
                    buf.extend_from_slice(&p.line);
                    buf.push(b'\n');
                }
                let result = output
                    .follow_rotation()
                    .and_then(|()| output.write_batch(&buf, fsync))
                    .map_err(|e| e.to_string());
                record(&result, batch.len(), &failing);
                for p in batch {
                    if let Some(ack) = p.ack {
                        let _ = ack.send(result.clone());
                    }
                }
            }
        })?;
    Ok(tx)
}

/// Writes one line at once, under the output's lock (no fsync).
pub(super) fn write_inline(
    output: &Mutex<Output>,
    line: &[u8],
    failing: &Mutex<Option<String>>,
) -> Result<(), String> {
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line);
    buf.push(b'\n');
    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
    let result = out
        .follow_rotation()
        .and_then(|()| out.write_batch(&buf, false))
        .map_err(|e| e.to_string());
    drop(out);
    record(&result, 1, failing);
    result
}

fn record(result: &Result<(), String>, lines: usize, failing: &Mutex<Option<String>>) {
    let mut state = failing.lock().unwrap_or_else(|e| e.into_inner());
    match result {
        Ok(()) => {
            metrics::counter!(m::AUDIT_LINES).increment(lines as u64);
            if state.take().is_some() {
                tracing::info!("audit log writable again");
            }
        }
        Err(e) => {
            metrics::counter!(m::AUDIT_FAILURES).increment(lines as u64);
            if state.is_none() {
                tracing::error!(error = %e, lines, "audit log write failed; refusing mutating calls until it works again");
            }
            *state = Some(e.clone());
        }
    }
}
