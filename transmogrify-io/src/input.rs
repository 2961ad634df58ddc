//! Opening inputs: files, stdin, in-memory bytes; transparent gzip and zstd; format
//! detection.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Size of the read buffers, before and after decompression.
pub(crate) const BUFFER_SIZE: usize = 256 * 1024;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// The last three bytes of a zstd skippable frame's magic number (its first byte is
/// `0x50` to `0x5f`): a stream may start with one (`pzstd` writes one first).
const ZSTD_SKIPPABLE_MAGIC: &[u8] = &[0x2a, 0x4d, 0x18];
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// How an input is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// Not compressed.
    #[default]
    None,
    /// gzip (`.gz`), several members allowed.
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
}

/// `name` without the extension of its compression (`.gz`, `.gzip`, `.zst`, `.zstd`;
/// `name` in lowercase), if it has one.
pub(crate) fn without_compression(name: &str) -> &str {
    [".gz", ".gzip", ".zst", ".zstd"]
        .iter()
        .find_map(|ext| name.strip_suffix(ext))
        .unwrap_or(name)
}

impl Compression {
    /// The compression a file name's extension announces.
    pub fn from_extension(name: &str) -> Compression {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gz") || lower.ends_with(".gzip") {
            Compression::Gzip
        } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// The compression the first bytes of a stream show (gzip's or zstd's magic bytes),
    /// whatever its name says.
    ///
    /// ```
    /// use transmogrify_io::Compression;
    /// assert_eq!(Compression::from_magic(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
    /// assert_eq!(Compression::from_magic(b"[{}]"), Compression::None);
    /// // A zstd stream that starts with a skippable frame, as `pzstd` writes it.
    /// assert_eq!(Compression::from_magic(&[0x50, 0x2a, 0x4d, 0x18]), Compression::Zstd);
    /// ```
    pub fn from_magic(head: &[u8]) -> Compression {
        let skippable = head.first().is_some_and(|b| b & 0xf0 == 0x50)
            && head.get(1..4) == Some(ZSTD_SKIPPABLE_MAGIC);
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) || skippable {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

/// The format of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputFormat {
    /// A JSON text: a top-level array, one object, or concatenated objects.
    Json,
    /// One JSON object per line (JSONL / NDJSON).
    Jsonl,
    /// Comma- (or otherwise) separated values.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl InputFormat {
    /// Parses `json`, `jsonl` (or `ndjson`), `csv` (or `tsv`) and `parquet`.
    pub fn parse(name: &str) -> Option<InputFormat> {
        Some(match name.to_ascii_lowercase().as_str() {
            "json" => InputFormat::Json,
            "jsonl" | "ndjson" | "jsonlines" => InputFormat::Jsonl,
            "csv" | "tsv" => InputFormat::Csv,
            "parquet" | "pq" => InputFormat::Parquet,
            _ => return None,
        })
    }

    /// The format a file name's extension announces (after `.gz` / `.zst`).
    pub fn from_extension(name: &str) -> Option<InputFormat> {
        let lower = name.to_ascii_lowercase();
        let ext = Path::new(without_compression(&lower))
            .extension()?
            .to_str()?;
        InputFormat::parse(ext)
    }

    /// The format the first bytes of a (decompressed) input suggest: `PAR1` is
    /// Parquet, `[` JSON, `{` JSONL when the first line holds a whole object and the
    /// next line starts another, else JSON; anything else CSV.
    pub fn sniff(head: &[u8]) -> Option<InputFormat> {
        if head.is_empty() {
            return None;
        }
        if head.starts_with(PARQUET_MAGIC) {
            return Some(InputFormat::Parquet);
        }
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
        let rest = head.get(start..).unwrap_or_default();
        match rest.first() {
            Some(b'[') => Some(InputFormat::Json),
            Some(b'{') if transmogrify_core::looks_like_jsonl(rest) => Some(InputFormat::Jsonl),
            Some(b'{') => Some(InputFormat::Json),
            _ => Some(InputFormat::Csv),
        }
    }
}

/// Counts the bytes read from the underlying file, for progress reports.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// The decompressed bytes of a gzip stream of one or more members, as `gzip -d`
/// reads it: zero bytes after the last member (padding to a block size) are read
/// past; anything else after it is an error, whatever its length, rather than
/// the header of a member that is not there.
struct GzipMembers<R: BufRead> {
    /// The member being read (`None` once the stream has ended).
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> GzipMembers<R> {
    fn new(inner: R) -> Self {
        GzipMembers {
            member: Some(flate2::bufread::GzDecoder::new(inner)),
        }
    }
}

/// After a member's end: whether another member follows in `inner` (`false`: the
/// end of the stream, past any zero padding).
fn another_member(inner: &mut impl BufRead) -> io::Result<bool> {
    let mut padding = false;
    loop {
        let head = inner.fill_buf()?;
        if head.is_empty() {
            return Ok(false);
        }
        if !padding && head.starts_with(GZIP_MAGIC) {
            return Ok(true);
        }
        let zeros = head.iter().take_while(|&&b| b == 0).count();
        if zeros == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the end of the gzip stream that is neither another gzip \
                 member nor zero padding",
            ));
        }
        padding = true;
        inner.consume(zeros);
    }
}

impl<R: BufRead> Read for GzipMembers<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while let Some(member) = self.member.as_mut() {
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // The member has ended: its decoder leaves what follows it unread.
            if another_member(member.get_mut())? {
                self.member = self
                    .member
                    .take()
                    .map(|ended| flate2::bufread::GzDecoder::new(ended.into_inner()));
            } else {
                self.member = None;
            }
        }
        Ok(0)
    }
}

/// An opened input: its decompressed bytes plus what progress reports and error
/// messages need.
pub struct Input {
    pub(crate) name: Arc<str>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) reader: Box<dyn BufRead + Send>,
    pub(crate) compression: Compression,
    pub(crate) total_bytes: Option<u64>,
    pub(crate) raw_read: Arc<AtomicU64>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("compression", &self.compression)
            .field("total_bytes", &self.total_bytes)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Opens a file, or stdin for `-`. gzip and zstd are recognised by extension and
    /// by their magic bytes and decompressed on the fly.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let path = dir.path().join("a.jsonl");
    /// # std::fs::write(&path, "{\"a\":1}\n")?;
    /// use transmogrify_io::{Compression, Input};
    /// let input = Input::open(&path)?;
    /// assert_eq!(input.compression(), Compression::None);
    /// assert_eq!(input.total_bytes(), Some(8));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Input> {
        let path = path.as_ref();
        if path == Path::new("-") {
            return Input::from_reader("<stdin>", io::stdin(), None);
        }
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total = file.metadata().ok().map(|m| m.len());
        let name = path.display().to_string();
        let mut input = Input::build(&name, file, total, Compression::from_extension(&name))?;
        input.path = Some(path.to_path_buf());
        Ok(input)
    }

    /// An input over any byte stream (decompressed when its magic bytes say so).
    pub fn from_reader(
        name: &str,
        reader: impl Read + Send + 'static,
        total_bytes: Option<u64>,
    ) -> Result<Input> {
        Input::build(name, reader, total_bytes, Compression::None)
    }

    /// An input over bytes held in memory.
    pub fn from_bytes(name: &str, bytes: impl Into<Vec<u8>>) -> Result<Input> {
        let bytes = bytes.into();
        let len = bytes.len() as u64;
        Input::from_reader(name, io::Cursor::new(bytes), Some(len))
    }

    fn build(
        name: &str,
        reader: impl Read + Send + 'static,
        total_bytes: Option<u64>,
        by_extension: Compression,
    ) -> Result<Input> {
        let raw_read = Arc::new(AtomicU64::new(0));
        let counting = Counting {
            inner: reader,
            count: raw_read.clone(),
        };
        let mut buffered = BufReader::with_capacity(BUFFER_SIZE, counting);
        let head = buffered.fill_buf().map_err(|e| Error::Read {
            source_name: name.to_string(),
            byte_offset: 0,
            source: e,
        })?;
        // The first bytes decide; the name only when there are too few of them to
        // tell (a plain file named `.gz` is read as it is).
        let compression = match Compression::from_magic(head) {
            Compression::None if head.len() >= 4 => Compression::None,
            Compression::None => by_extension,
            found => found,
        };
        let reader: Box<dyn BufRead + Send> = match compression {
            Compression::None => Box::new(buffered),
            Compression::Gzip => Box::new(BufReader::with_capacity(
                BUFFER_SIZE,
                GzipMembers::new(buffered),
            )),
            Compression::Zstd => {
                let decoder = zstd::stream::read::Decoder::with_buffer(buffered).map_err(|e| {
                    Error::Decompress {
                        source_name: name.to_string(),
                        compression: "zstd",
                        byte_offset: 0,
                        source: e,
                    }
                })?;
                Box::new(BufReader::with_capacity(BUFFER_SIZE, decoder))
            }
        };
        Ok(Input {
            name: Arc::from(name),
            path: None,
            reader,
            compression,
            total_bytes,
            raw_read,
        })
    }

    /// The source's name in messages (the path, or `-`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the input is compressed.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The size of the file on disk, when known.
    pub fn total_bytes(&self) -> Option<u64> {
        self.total_bytes
    }

    /// Bytes read from the file on disk so far (compressed bytes for compressed files).
    pub fn bytes_read(&self) -> u64 {
        self.raw_read.load(Ordering::Relaxed)
    }

    /// The format: by extension of the file name, else by the first decompressed bytes.
    pub fn detect_format(&mut self) -> Result<InputFormat> {
        if let Some(f) = InputFormat::from_extension(&self.name) {
            return Ok(f);
        }
        let (name, compression) = (self.name.clone(), self.compression);
        let head = self
            .reader
            .fill_buf()
            .map_err(|e| read_error(&name, compression, e, 0))?;
        InputFormat::sniff(head).ok_or_else(|| Error::UnknownInputFormat {
            source_name: self.name.to_string(),
        })
    }

    /// Reads the rest of the input, keeping nothing, as `gzip -t` checks a file: how
    /// many (decompressed) bytes it held, or the error that stopped it
    /// ([`Error::Decompress`] for compressed data that is damaged or cut short).
    ///
    /// ```
    /// use transmogrify_io::Input;
    /// // `{}` and a line end, gzipped.
    /// let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 3, 0xab, 0xae, 0xe5, 2, 0];
    /// gz.extend([6, 0xb0, 0xa1, 0xdd, 3, 0, 0, 0]);
    /// assert_eq!(Input::from_bytes("a.jsonl.gz", gz.clone())?.check()?, 3);
    /// let cut = Input::from_bytes("a.jsonl.gz", gz[..12].to_vec())?;
    /// assert!(cut.check().is_err_and(|e| !e.is_corrupt_input()));
    /// gz[15] ^= 1; // the checksum
    /// let damaged = Input::from_bytes("a.jsonl.gz", gz)?;
    /// assert!(damaged.check().is_err_and(|e| e.is_corrupt_input()));
    /// # Ok::<(), transmogrify_io::Error>(())
    /// ```
    pub fn check(mut self) -> Result<u64> {
        let mut total = 0u64;
        loop {
            let n = match self.reader.fill_buf() {
                Ok(bytes) => bytes.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e, total)),
            };
            if n == 0 {
                return Ok(total);
            }
            self.reader.consume(n);
            total += n as u64;
        }
    }

    /// The error for a failed read after `offset` decompressed bytes.
    pub(crate) fn read_error(&self, source: io::Error, offset: u64) -> Error {
        read_error(&self.name, self.compression, source, offset)
    }
}

/// The error for a failed read of `name` after `offset` decompressed bytes, inside
/// a record: where compressed data is cut short (its decoder meets the end too
/// soon), the record so far, from `position` (its first bytes `partial`), is a bad
/// record the input stops at ([`Error::Stopped`]), so that skip mode's errors table
/// keeps its bytes (the first [`OVERSIZE_PREFIX`](crate::reader::OVERSIZE_PREFIX) of
/// them); otherwise, and where only whitespace was read of it, the read error.
pub(crate) fn cut_short(
    name: &Arc<str>,
    compression: Compression,
    source: io::Error,
    offset: u64,
    position: transmogrify_core::Position,
    partial: &[u8],
) -> Error {
    let blank = partial
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
    if compression == Compression::None || source.kind() != io::ErrorKind::UnexpectedEof || blank {
        return read_error(name, compression, source, offset);
    }
    let message = format!(
        "truncated {} data: the input ends inside this record, after byte {offset} of \
         the decompressed stream ({source})",
        compression.name()
    );
    Error::Stopped {
        error: Box::new(transmogrify_core::RecordError {
            source_name: name.clone(),
            position,
            kind: transmogrify_core::RecordErrorKind::Input(message),
            // Where the data ends, if that is in the bytes at hand.
            excerpt: if position.byte_offset + partial.len() as u64 >= offset {
                transmogrify_core::excerpt(partial, partial.len())
            } else {
                transmogrify_core::excerpt(partial, 0)
            },
        }),
        raw: partial
            .get(..crate::reader::OVERSIZE_PREFIX)
            .unwrap_or(partial)
            .to_vec(),
    }
}

/// The error for a failed read of `name` after `offset` decompressed bytes.
pub(crate) fn read_error(
    name: &str,
    compression: Compression,
    source: io::Error,
    offset: u64,
) -> Error {
    match compression {
        Compression::None => Error::Read {
            source_name: name.to_string(),
            byte_offset: offset,
            source,
        },
        c => Error::Decompress {
            source_name: name.to_string(),
            compression: c.name(),
            byte_offset: offset,
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension_and_content() {
        assert_eq!(
            InputFormat::from_extension("a/b.JSONL.gz"),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            InputFormat::from_extension("x.parquet"),
            Some(InputFormat::Parquet)
        );
        assert_eq!(InputFormat::from_extension("x.zst"), None);
        assert_eq!(InputFormat::sniff(b" [{\"a\":1}]"), Some(InputFormat::Json));
        assert_eq!(
            InputFormat::sniff(b"{\"a\":1}\n{\"a\":2}\n"),
            Some(InputFormat::Jsonl)
        );
        assert_eq!(
            InputFormat::sniff(b"{\n \"a\": 1\n}"),
            Some(InputFormat::Json)
        );
        assert_eq!(InputFormat::sniff(b"a,b\n1,2\n"), Some(InputFormat::Csv));
        assert_eq!(InputFormat::sniff(b"PAR1...."), Some(InputFormat::Parquet));
        assert_eq!(InputFormat::sniff(b""), None);
    }

    #[test]
    fn magic_bytes_win_over_a_missing_extension() -> Result<()> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut enc, b"{\"a\":1}\n").map_err(|e| Error::io("mem", e))?;
        let gz = enc.finish().map_err(|e| Error::io("mem", e))?;
        let mut input = Input::from_bytes("noext", gz)?;
        assert_eq!(input.compression(), Compression::Gzip);
        assert_eq!(input.detect_format()?, InputFormat::Jsonl);
        let mut text = String::new();
        input
            .reader
            .read_to_string(&mut text)
            .map_err(|e| Error::io("mem", e))?;
        assert_eq!(text, "{\"a\":1}\n");
        Ok(())
    }
}
