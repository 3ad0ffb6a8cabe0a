//! The last events, in memory and in a file of the data directory, so a client that
//! reconnects (across a node restart too) gets what it missed.
//!
//! The file holds one event per line, `ID<TAB>KIND<TAB>JSON`, appended as events happen
//! (a write to the OS per event: a killed node loses nothing, a power cut may lose the
//! last lines). When it grows past twice the byte bound it is rewritten with the events
//! kept (a temporary file renamed over it). A torn last line is ignored at start.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;

/// One kept event, with its Server-Sent Events frame built once for every client.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) id: u64,
    pub(crate) frame: Bytes,
    /// Bytes it takes in the file.
    line_len: usize,
}

/// The frame a client receives for one event.
pub(crate) fn frame(id: u64, kind: &str, data: &str) -> Bytes {
    Bytes::from(format!("id: {id}\nevent: {kind}\ndata: {data}\n\n"))
}

/// What a client asking for the events after an id gets.
#[derive(Debug)]
pub(crate) enum Since {
    /// Every event after it, oldest first.
    Events(Vec<Stored>),
    /// Some are no longer kept (or the id was never given out): the oldest kept id and
    /// every kept event.
    Gap { oldest: u64, events: Vec<Stored> },
}

/// The window of kept events and its file.
pub(crate) struct Store {
    path: PathBuf,
    file: File,
    file_bytes: u64,
    events: VecDeque<Stored>,
    bytes: usize,
    max_events: usize,
    max_bytes: usize,
    next_id: u64,
}

impl Store {
    /// Opens the store in `dir` (created when missing), keeping at most `max_events`
    /// taking at most `max_bytes` of file.
    pub(crate) fn open(dir: &Path, max_events: usize, max_bytes: usize) -> std::io::Result<Store> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("events.log");
        let mut store = Store {
            file: OpenOptions::new().create(true).append(true).open(&path)?,
            path,
            file_bytes: 0,
            events: VecDeque::new(),
            bytes: 0,
            max_events: max_events.max(1),
            max_bytes,
            next_id: 1,
        };
        let reader = BufReader::new(File::open(&store.path)?);
        for line in reader.split(b'\n') {
            let line = line?;
            let Some((id, kind, data)) = parse_line(&line) else {
                continue;
            };
            if id < store.next_id {
                continue;
            }
            store.keep(id, kind, data, line.len() + 1);
            store.next_id = id + 1;
        }
        store.compact()?;
        Ok(store)
    }

    fn keep(&mut self, id: u64, kind: &str, data: &str, line_len: usize) {
        self.events.push_back(Stored {
            id,
            frame: frame(id, kind, data),
            line_len,
        });
        self.bytes += line_len;
        while self.events.len() > self.max_events
            || (self.bytes > self.max_bytes && self.events.len() > 1)
        {
            if let Some(old) = self.events.pop_front() {
                self.bytes -= old.line_len;
            }
        }
    }

    /// Records an event; returns it as kept.
    pub(crate) fn append(&mut self, kind: &str, data: &str) -> std::io::Result<Stored> {
        let id = self.next_id;
        self.next_id += 1;
        let line = format!("{id}\t{kind}\t{data}\n");
        self.file.write_all(line.as_bytes())?;
        self.file_bytes += line.len() as u64;
        self.keep(id, kind, data, line.len());
        if self.file_bytes > 2 * self.max_bytes as u64 + 4096 {
            self.compact()?;
        }
        Ok(self.events.back().cloned().expect("just kept"))
    }

    /// Rewrites the file with the kept events only.
    fn compact(&mut self) -> std::io::Result<()> {
        let temporary = self.path.with_extension("log.tmp");
        let mut out = std::io::BufWriter::new(File::create(&temporary)?);
        let mut written = 0u64;
        for event in &self.events {
            let (kind, data) = frame_parts(&event.frame);
            let line = format!("{}\t{kind}\t{data}\n", event.id);
            out.write_all(line.as_bytes())?;
            written += line.len() as u64;
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&temporary, &self.path)?;
        self.file = OpenOptions::new().append(true).open(&self.path)?;
        self.file_bytes = written;
        Ok(())
    }

    /// The events after `last` (a client's `Last-Event-ID`).
    pub(crate) fn since(&self, last: u64) -> Since {
        let oldest = self.events.front().map_or(self.next_id, |e| e.id);
        let newest = self.next_id - 1;
        if last > newest || last + 1 < oldest {
            return Since::Gap {
                oldest,
                events: self.events.iter().cloned().collect(),
            };
        }
        Since::Events(
            self.events
                .iter()
                .filter(|e| e.id > last)
                .cloned()
                .collect(),
        )
    }

    /// The id the last event got (0 before any).
    pub(crate) fn newest(&self) -> u64 {
        self.next_id - 1
    }

    /// The oldest kept id, and how many events and file bytes are kept.
    pub(crate) fn window(&self) -> (u64, usize, usize) {
        (
            self.events.front().map_or(self.next_id, |e| e.id),
            self.events.len(),
            self.bytes,
        )
    }
}

fn parse_line(line: &[u8]) -> Option<(u64, &str, &str)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.splitn(3, '\t');
    let id = parts.next()?.parse().ok()?;
    let kind = parts.next()?;
    let data = parts.next()?;
    // A torn line (the node died mid-write) is not whole JSON.
    serde_json::from_str::<serde_json::Value>(data).ok()?;
    Some((id, kind, data))
}

/// The kind and data of a frame built by [`frame`].
fn frame_parts(frame: &[u8]) -> (&str, &str) {
    let text = std::str::from_utf8(frame).unwrap_or_default();
    let mut kind = "";
    let mut data = "";
    for line in text.lines() {
        if let Some(k) = line.strip_prefix("event: ") {
            kind = k;
        } else if let Some(d) = line.strip_prefix("data: ") {
            data = d;
        }
    }
    (kind, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(events: &[Stored]) -> Vec<u64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn keeps_the_last_events_across_reopening_and_reports_gaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 3, 1 << 20).unwrap();
        for n in 0..5 {
            store.append("tick", &format!("{{\"n\":{n}}}")).unwrap();
        }
        assert!(matches!(store.since(3), Since::Events(e) if ids(&e) == [4, 5]));
        assert!(matches!(store.since(2), Since::Events(e) if ids(&e) == [3, 4, 5]));
        assert!(matches!(store.since(1), Since::Gap { oldest: 3, .. }));
        assert!(matches!(store.since(9), Since::Gap { oldest: 3, .. }));
        drop(store);

        let mut store = Store::open(dir.path(), 3, 1 << 20).unwrap();
        assert_eq!(store.newest(), 5);
        assert_eq!(store.append("tick", "{}").unwrap().id, 6);
        assert!(matches!(store.since(3), Since::Events(e) if ids(&e) == [4, 5, 6]));
        let frame = String::from_utf8(store.since(5).events()[0].frame.to_vec()).unwrap();
        assert_eq!(frame, "id: 6\nevent: tick\ndata: {}\n\n");
    }

    #[test]
    fn the_byte_bound_holds_and_the_file_stays_bounded_at_its_worst() {
        let dir = tempfile::tempdir().unwrap();
        let data = format!("{{\"pad\":\"{}\"}}", "x".repeat(100));
        let max_bytes = 10_000;
        let mut store = Store::open(dir.path(), 1_000_000, max_bytes).unwrap();
        for _ in 0..2_000 {
            store.append("pad", &data).unwrap();
            let (_, _, bytes) = store.window();
            assert!(bytes <= max_bytes);
            let on_disk = std::fs::metadata(dir.path().join("events.log"))
                .unwrap()
                .len();
            assert!(on_disk <= 2 * max_bytes as u64 + 4096 + data.len() as u64 + 32);
        }
        let (oldest, kept, _) = store.window();
        assert_eq!(oldest + kept as u64 - 1, 2_000);
        assert!(kept >= max_bytes / (data.len() + 16) - 1);
    }

    #[test]
    fn a_torn_last_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path(), 10, 1 << 20).unwrap();
        store.append("a", "{}").unwrap();
        drop(store);
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join("events.log"))
            .unwrap();
        file.write_all(b"2\tb\t{\"trunc").unwrap();
        let mut store = Store::open(dir.path(), 10, 1 << 20).unwrap();
        assert_eq!(store.newest(), 1);
        assert_eq!(store.append("b", "{}").unwrap().id, 2);
    }

    impl Since {
        fn events(self) -> Vec<Stored> {
            match self {
                Since::Events(e) | Since::Gap { events: e, .. } => e,
            }
        }
    }
}
