//! A Parquet file's footer kept row group by row group, outside the `parquet`
//! crate's file writer.
//!
//! The crate's file writer keeps every row group's metadata (about 420 bytes per
//! column chunk) until the file closes, which for a table of tens of thousands of
//! columns grows by tens of megabytes per row group. [`Footer`] keeps each row
//! group's metadata as its encoded bytes instead (about 70 bytes per column chunk
//! of a sparse column), in memory up to [`FOOTER_MEMORY_BYTES`] and in a temporary file beyond,
//! and writes the footer from them when the file closes.
//!
//! The crate encodes the metadata: each row group's bytes are cut from the footer
//! it writes for a file of that row group alone, and the file's footer is the one
//! it writes for a file without row groups, with its row count and row groups set.
//! Both are Thrift compact-protocol structures, walked here only to find where a
//! field starts and ends; the bytes are those the crate's file writer would write.

use std::fs::File;
use std::io::{Seek, Write};
use std::ops::Range;
use std::path::PathBuf;

use parquet::file::metadata::{
    FileMetaData, KeyValue, ParquetMetaData, ParquetMetaDataWriter, RowGroupMetaData,
};
use parquet::file::properties::WriterPropertiesPtr;
use parquet::schema::types::SchemaDescPtr;

use crate::error::{Error, Result};

/// Encoded row-group metadata a [`Footer`] keeps in memory before it moves it to a
/// temporary file.
pub(crate) const FOOTER_MEMORY_BYTES: usize = 8 << 20;

/// The field of Thrift's `FileMetaData` holding the file's row count.
const NUM_ROWS_FIELD: i16 = 3;
/// The field of Thrift's `FileMetaData` holding the list of row groups.
const ROW_GROUPS_FIELD: i16 = 4;
/// Thrift compact-protocol types used here.
const TYPE_I64: u8 = 6;
const TYPE_LIST: u8 = 9;
const TYPE_STRUCT: u8 = 12;

/// The footer of a Parquet file written one row group at a time.
pub(crate) struct Footer {
    schema: SchemaDescPtr,
    /// The file's writer properties: its writer, format version and key-value
    /// metadata.
    props: WriterPropertiesPtr,
    /// Row groups added so far.
    row_groups: usize,
    rows: i64,
    /// The latest row groups' encoded metadata.
    memory: Vec<u8>,
    /// Bytes of `memory` beyond which they move to `spill`.
    memory_limit: usize,
    /// The earlier ones'.
    spill: Option<File>,
    spill_dir: Option<PathBuf>,
}

impl Footer {
    /// The footer of a file of `schema` written with `props` (which name the
    /// writer, its format version and the key-value metadata), keeping what does
    /// not fit in `memory_limit` bytes in a file in `spill_dir` (the system's
    /// temporary directory if `None`).
    pub(crate) fn new(
        schema: SchemaDescPtr,
        props: &WriterPropertiesPtr,
        memory_limit: usize,
        spill_dir: Option<PathBuf>,
    ) -> Self {
        Footer {
            schema,
            props: props.clone(),
            row_groups: 0,
            rows: 0,
            memory: Vec::new(),
            memory_limit,
            spill: None,
            spill_dir,
        }
    }

    /// Row groups added so far.
    pub(crate) fn row_groups(&self) -> usize {
        self.row_groups
    }

    /// Adds the metadata of the file's next row group.
    pub(crate) fn add(&mut self, group: RowGroupMetaData) -> Result<()> {
        let rows = group.num_rows();
        // The row group's bytes do not depend on the key-value metadata (the Arrow
        // schema, megabytes for such a table), which is left out.
        let encoded = self.encoded(vec![group], None)?;
        let list = field(&encoded, ROW_GROUPS_FIELD)?;
        // A list of one structure: its header, then the structure.
        let struct_bytes = encoded
            .get(list.value.start + 1..list.value.end)
            .filter(|_| encoded.get(list.value.start) == Some(&(0x10 | TYPE_STRUCT)))
            .ok_or_else(|| malformed("a row group's list"))?;
        self.memory.extend_from_slice(struct_bytes);
        self.row_groups += 1;
        self.rows += rows;
        if self.memory.len() > self.memory_limit {
            self.move_to_disk()?;
        }
        Ok(())
    }

    /// Writes the file's metadata, its length and the closing magic to `out`.
    pub(crate) fn write_to(mut self, out: &mut impl Write) -> Result<()> {
        let key_value = self.props.key_value_metadata().cloned();
        let empty = self.encoded(Vec::new(), key_value)?;
        // The metadata before the row groups' structures, and after them.
        let (mut head, mut tail) = (Vec::new(), Vec::new());
        let mut list_seen = false;
        for f in fields(&empty)? {
            let part = if list_seen { &mut tail } else { &mut head };
            let header = empty
                .get(f.header.clone())
                .ok_or_else(|| malformed("a field"))?;
            match (f.id, f.kind) {
                (NUM_ROWS_FIELD, TYPE_I64) => {
                    part.extend_from_slice(header);
                    put_varint(part, zigzag(self.rows));
                }
                (ROW_GROUPS_FIELD, TYPE_LIST) => {
                    part.extend_from_slice(header);
                    let count = self.row_groups as u64;
                    if count < 15 {
                        part.push(((count as u8) << 4) | TYPE_STRUCT);
                    } else {
                        part.push(0xF0 | TYPE_STRUCT);
                        put_varint(part, count);
                    }
                    list_seen = true;
                }
                _ => {
                    let bytes = empty
                        .get(f.header.start..f.value.end)
                        .ok_or_else(|| malformed("a field"))?;
                    part.extend_from_slice(bytes);
                }
            }
        }
        if !list_seen {
            return Err(malformed("no row group list"));
        }
        // The structure's end.
        tail.push(0);
        let mut spill = self.spill.take();
        let spilled = match spill.as_mut() {
            Some(file) => {
                file.rewind().map_err(spill_err)?;
                file.metadata().map_err(spill_err)?.len()
            }
            None => 0,
        };
        let length = (head.len() + self.memory.len() + tail.len()) as u64 + spilled;
        let length = u32::try_from(length).map_err(|_| {
            Error::Internal("a Parquet footer of 4 GiB or more cannot be written".into())
        })?;
        out.write_all(&head).map_err(out_err)?;
        if let Some(file) = spill.as_mut() {
            let copied = std::io::copy(file, out).map_err(out_err)?;
            if copied != spilled {
                return Err(spill_err(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
        out.write_all(&self.memory).map_err(out_err)?;
        out.write_all(&tail).map_err(out_err)?;
        out.write_all(&length.to_le_bytes()).map_err(out_err)?;
        out.write_all(b"PAR1").map_err(out_err)
    }

    /// The file metadata the crate writes for a file of `row_groups` with
    /// `key_value` metadata, without its length and magic.
    fn encoded(
        &self,
        row_groups: Vec<RowGroupMetaData>,
        key_value: Option<Vec<KeyValue>>,
    ) -> Result<Vec<u8>> {
        let rows = row_groups.iter().map(RowGroupMetaData::num_rows).sum();
        let file = FileMetaData::new(
            self.props.writer_version().as_num(),
            rows,
            Some(self.props.created_by().to_string()),
            key_value,
            self.schema.clone(),
            None,
        );
        let metadata = ParquetMetaData::new(file, row_groups);
        let mut bytes = Vec::new();
        ParquetMetaDataWriter::new(&mut bytes, &metadata)
            .with_write_path_in_schema(self.props.write_path_in_schema())
            .with_preserve_page_index_locations(false)
            .finish()
            .map_err(|e| Error::Internal(format!("encoding Parquet metadata: {e}")))?;
        bytes.truncate(bytes.len().saturating_sub(8));
        Ok(bytes)
    }

    /// Moves the row groups' bytes held in memory to the temporary file.
    fn move_to_disk(&mut self) -> Result<()> {
        let file = match self.spill.as_mut() {
            Some(file) => file,
            None => {
                let file = match &self.spill_dir {
                    Some(dir) => tempfile::tempfile_in(dir),
                    None => tempfile::tempfile(),
                }
                .map_err(spill_err)?;
                self.spill.insert(file)
            }
        };
        file.write_all(&self.memory).map_err(spill_err)?;
        self.memory.clear();
        Ok(())
    }
}

fn out_err(e: std::io::Error) -> Error {
    Error::io("<parquet output>", e)
}

fn spill_err(e: std::io::Error) -> Error {
    Error::io("<parquet footer spill file>", e)
}

fn malformed(what: &str) -> Error {
    Error::Internal(format!("unexpected Parquet metadata encoding: {what}"))
}

/// A field of a Thrift compact-protocol structure.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    id: i16,
    /// Its compact-protocol type.
    kind: u8,
    /// Where its header is.
    header: Range<usize>,
    /// Where its value is.
    value: Range<usize>,
}

/// The field `id` of the structure `bytes` starts with.
fn field(bytes: &[u8], id: i16) -> Result<Field> {
    fields(bytes)?
        .into_iter()
        .find(|f| f.id == id)
        .ok_or_else(|| malformed("a missing field"))
}

/// The fields of the Thrift compact-protocol structure `bytes` starts with.
fn fields(bytes: &[u8]) -> Result<Vec<Field>> {
    let mut reader = Reader { bytes, pos: 0 };
    let mut fields = Vec::new();
    let mut last = 0i16;
    loop {
        let start = reader.pos;
        let byte = reader.byte()?;
        if byte == 0 {
            return Ok(fields);
        }
        let (delta, kind) = (byte >> 4, byte & 0x0F);
        let id = if delta == 0 {
            i16::try_from(unzigzag(reader.varint()?)).map_err(|_| malformed("a field id"))?
        } else {
            last + i16::from(delta)
        };
        last = id;
        let value_start = reader.pos;
        reader.skip(kind, 0)?;
        fields.push(Field {
            id,
            kind,
            header: start..value_start,
            value: value_start..reader.pos,
        });
    }
}

/// A cursor over compact-protocol bytes.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8> {
        let byte = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| malformed("truncated"))?;
        self.pos += 1;
        Ok(byte)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("a varint"))
    }

    fn advance(&mut self, n: u64) -> Result<()> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.pos.checked_add(n))
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed("truncated"))?;
        self.pos = end;
        Ok(())
    }

    /// Skips a value of compact-protocol type `kind`.
    fn skip(&mut self, kind: u8, depth: usize) -> Result<()> {
        if depth > 64 {
            return Err(malformed("nested too deeply"));
        }
        match kind {
            // Booleans as fields carry their value in the type.
            1 | 2 => Ok(()),
            3 => self.advance(1),
            4..=6 => self.varint().map(drop),
            7 => self.advance(8),
            8 => {
                let len = self.varint()?;
                self.advance(len)
            }
            9 | 10 => {
                let header = self.byte()?;
                let count = match header >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let element = header & 0x0F;
                for _ in 0..count {
                    match element {
                        // Booleans in lists take a byte each.
                        1 | 2 => self.advance(1)?,
                        _ => self.skip(element, depth + 1)?,
                    }
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                for _ in 0..count {
                    self.skip(types >> 4, depth + 1)?;
                    self.skip(types & 0x0F, depth + 1)?;
                }
                Ok(())
            }
            12 => {
                loop {
                    let byte = self.byte()?;
                    if byte == 0 {
                        return Ok(());
                    }
                    if byte >> 4 == 0 {
                        // A field id too far from the last one to be a delta.
                        self.varint()?;
                    }
                    self.skip(byte & 0x0F, depth + 1)?;
                }
            }
            _ => Err(malformed("an unknown type")),
        }
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

#[cfg(test)]
mod tests {
    use super::{Field, fields};

    #[test]
    fn fields_are_found_by_their_compact_protocol_headers() -> crate::error::Result<()> {
        let mut bytes = vec![
            0x15, 0x04, // field 1, i32 2
            0x06, 0x28, 0x02, // field 20 (given in full), i64 1
            0x19, 0xF5, 20, // field 21, a list of 20 i32s
        ];
        bytes.extend([0x02; 20]);
        bytes.extend([0x1C, 0x18, 0x01, b'x', 0x00, 0x00]); // field 22, a struct
        let found = fields(&bytes)?;
        let expected = [
            Field {
                id: 1,
                kind: 5,
                header: 0..1,
                value: 1..2,
            },
            Field {
                id: 20,
                kind: 6,
                header: 2..4,
                value: 4..5,
            },
            Field {
                id: 21,
                kind: 9,
                header: 5..6,
                value: 6..28,
            },
            Field {
                id: 22,
                kind: 12,
                header: 28..29,
                value: 29..33,
            },
        ];
        assert_eq!(found, expected);
        Ok(())
    }

    #[test]
    fn truncated_or_unknown_encodings_are_errors() {
        for bytes in [
            &[0x15][..],
            &[0x18, 0x05, b'a'],
            &[0x19, 0x35, 0x02],
            &[0x1E, 0x00],
            &[],
        ] {
            let Err(err) = fields(bytes) else {
                panic!("{bytes:?} read as well-formed");
            };
            assert!(
                err.to_string()
                    .contains("unexpected Parquet metadata encoding"),
                "{err}"
            );
        }
    }
}
