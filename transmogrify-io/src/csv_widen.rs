//! Widening rows already written as CSV.
//!
//! A streamed CSV table writes its rows part by part in the layout known so far; a
//! run of rows written before the table gained columns is copied into the final
//! file with the new (empty) columns inserted. The rows were written by
//! [`CsvWriter`](crate::CsvWriter), so the copy works on their bytes: each field
//! stays as it was written (its quoting depends on its text alone) and only
//! delimiters are added, which gives byte for byte what the writer would have
//! written in the final layout. A row without quotes (nearly all) finds its line
//! end and its insertion point with `memchr`, never looking at its other fields:
//! the rows of a sparse table of tens of thousands of columns are mostly delimiters.

use std::io::{self, Read, Write};

use crate::csv_writer::push_field;

/// Bytes read and written at a time.
const BLOCK: usize = 1 << 20;

/// Why a run could not be widened.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Reading the run failed.
    Read(io::Error),
    /// Writing the widened rows failed.
    Write(io::Error),
    /// A row does not have the run's columns, or the last one has no line end.
    Row(String),
    /// A retyped cell could not be made.
    Other(crate::error::Error),
}

/// How the rows of a run are widened: `columns` columns as written, `added` empty
/// ones inserted before column `at` (after the last one when `at == columns`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Widening {
    pub(crate) delimiter: u8,
    pub(crate) columns: usize,
    pub(crate) at: usize,
    pub(crate) added: usize,
}

impl Widening {
    /// Copies the rows of `input` to `out`, widened; the bytes written.
    pub(crate) fn copy(&self, input: impl Read, out: &mut impl Write) -> Result<u64, Failure> {
        self.copy_in_blocks(input, out, BLOCK)
    }

    fn copy_in_blocks(
        &self,
        input: impl Read,
        out: &mut impl Write,
        block: usize,
    ) -> Result<u64, Failure> {
        copy_rows(input, out, block, |row, quoted, wide| {
            self.widen(row, quoted, wide)
        })
    }
    /// Appends `row` (without its line end; `quoted` if it holds a quote) to `out`,
    /// widened.
    fn widen(&self, row: &[u8], quoted: bool, out: &mut Vec<u8>) -> Result<(), Failure> {
        let d = self.delimiter;
        let fill = |out: &mut Vec<u8>, n: usize| out.resize(out.len() + n, d);
        // The writer writes a record with no text at all as `""`: no columns, or one
        // empty one.
        if self.columns == 0 || (self.columns == 1 && row == b"\"\"") {
            let total = self.columns + self.added;
            if total <= 1 {
                out.extend_from_slice(b"\"\"");
            } else {
                fill(out, total - 1);
            }
            return Ok(());
        }
        // The delimiter that ends column `at - 1`, or the row's start or end.
        let split = if quoted {
            split_quoted(row, d, self.at, self.columns).ok_or_else(|| self.wrong_row())?
        } else {
            if count(row, d) + 1 != self.columns {
                return Err(self.wrong_row());
            }
            if self.at == 0 {
                0
            } else {
                // From the end: the columns after the insertion point are few.
                let mut end = row.len();
                for _ in self.at..self.columns {
                    end = memchr::memrchr(d, row.get(..end).unwrap_or_default())
                        .ok_or_else(|| self.wrong_row())?;
                }
                end
            }
        };
        let (head, tail) = row.split_at(split);
        out.extend_from_slice(head);
        fill(out, self.added);
        out.extend_from_slice(tail);
        Ok(())
    }

    fn wrong_row(&self) -> Failure {
        Failure::Row(format!(
            "a row written with {} columns has another number of them",
            self.columns
        ))
    }
}

/// Copies the rows of `input` (CSV as the writer writes it) to `out`, each row
/// (without its line end; whether it holds a quote) as `each` appends it to the
/// buffer it is given, followed by a line end; the bytes written.
fn copy_rows(
    mut input: impl Read,
    out: &mut impl Write,
    block: usize,
    mut each: impl FnMut(&[u8], bool, &mut Vec<u8>) -> Result<(), Failure>,
) -> Result<u64, Failure> {
    let mut buf: Vec<u8> = Vec::with_capacity(block);
    let mut wide: Vec<u8> = Vec::with_capacity(block + block / 2);
    let mut written = 0u64;
    // The row being looked at starts at `start`; its end is searched from `scan`
    // on, inside a quoted field or not, having seen a quote or not.
    let (mut start, mut scan) = (0usize, 0usize);
    let (mut in_quotes, mut quoted) = (false, false);
    let mut eof = false;
    loop {
        let found = buf
            .get(scan..)
            .and_then(|rest| line_end(rest, &mut in_quotes, &mut quoted));
        match found {
            Some(n) => {
                let end = scan + n;
                let row = buf.get(start..end).unwrap_or_default();
                each(row, quoted, &mut wide)?;
                wide.push(b'\n');
                if wide.len() >= block {
                    out.write_all(&wide).map_err(Failure::Write)?;
                    written += wide.len() as u64;
                    wide.clear();
                }
                start = end + 1;
                scan = start;
                quoted = false;
            }
            None if eof => {
                if start < buf.len() {
                    return Err(Failure::Row("the last row has no line end".into()));
                }
                break;
            }
            None => {
                scan = buf.len();
                buf.drain(..start);
                scan -= start;
                start = 0;
                let n = (&mut input)
                    .take(block as u64)
                    .read_to_end(&mut buf)
                    .map_err(Failure::Read)?;
                eof = n == 0;
            }
        }
    }
    out.write_all(&wide).map_err(Failure::Write)?;
    written += wide.len() as u64;
    Ok(written)
}

/// How the rows of a run are rewritten when some of their data columns were written
/// as another type than the table's final one (typed mode): widened as `widening`
/// says, with the cells of `columns` (data columns, in ascending order, before
/// `widening.at`) made again from the text they were written with.
pub(crate) struct Retyping<'c> {
    pub(crate) widening: Widening,
    pub(crate) columns: &'c [usize],
}

/// Makes a retyped cell: given the run's row number, the position of the column in
/// [`Retyping::columns`] and the cell's text as written (`None` when empty), appends
/// the cell's new text (nothing for a null).
pub(crate) type Render<'r> =
    dyn FnMut(u64, usize, Option<&[u8]>, &mut Vec<u8>) -> Result<(), Failure> + 'r;

impl Retyping<'_> {
    /// Copies the rows of `input` to `out`, widened and retyped; the bytes written.
    pub(crate) fn copy(
        &self,
        input: impl Read,
        out: &mut impl Write,
        render: &mut Render<'_>,
    ) -> Result<u64, Failure> {
        self.copy_in_blocks(input, out, BLOCK, render)
    }

    fn copy_in_blocks(
        &self,
        input: impl Read,
        out: &mut impl Write,
        block: usize,
        render: &mut Render<'_>,
    ) -> Result<u64, Failure> {
        let mut row_no = 0u64;
        let mut fields = Vec::new();
        let (mut text, mut cell) = (Vec::new(), Vec::new());
        copy_rows(input, out, block, |row, quoted, wide| {
            self.retype(
                row,
                quoted,
                row_no,
                (&mut fields, &mut text, &mut cell),
                wide,
                render,
            )?;
            row_no += 1;
            Ok(())
        })
    }

    /// Appends `row` (row `row_no` of the run, without its line end; `quoted` if it
    /// holds a quote) to `out`, widened and retyped.
    fn retype(
        &self,
        row: &[u8],
        quoted: bool,
        row_no: u64,
        (fields, text, cell): (&mut Vec<(usize, usize)>, &mut Vec<u8>, &mut Vec<u8>),
        out: &mut Vec<u8>,
        render: &mut Render<'_>,
    ) -> Result<(), Failure> {
        let Widening {
            delimiter,
            columns,
            at,
            added,
        } = self.widening;
        fields.clear();
        // A record with no text at all is written `""` (see `Widening::widen`).
        if columns == 1 && row == b"\"\"" {
            fields.push((0, 0));
        } else if !split_fields(row, delimiter, quoted, fields) || fields.len() != columns {
            return Err(self.widening.wrong_row());
        }
        let start = out.len();
        let mut retyped = self.columns.iter().enumerate().peekable();
        for k in 0..columns + added {
            if k > 0 {
                out.push(delimiter);
            }
            let i = match k.checked_sub(at) {
                None => k,
                Some(past) if past < added => continue,
                Some(_) => k - added,
            };
            let &(from, to) = fields.get(i).ok_or_else(|| self.widening.wrong_row())?;
            let raw = row.get(from..to).unwrap_or_default();
            match retyped.peek() {
                Some(&(p, &column)) if column == i => {
                    retyped.next();
                    let written = unquote(raw, text);
                    cell.clear();
                    render(row_no, p, (!written.is_empty()).then_some(written), cell)?;
                    push_field(out, cell, delimiter);
                }
                _ => out.extend_from_slice(raw),
            }
        }
        if columns + added == 1 && out.len() == start {
            out.extend_from_slice(b"\"\"");
        }
        Ok(())
    }
}

/// Splits `row` (holding a quote if `quoted`) into its fields, as byte ranges with
/// their quotes; `false` if a quoted field does not end where a field ends.
fn split_fields(row: &[u8], delimiter: u8, quoted: bool, fields: &mut Vec<(usize, usize)>) -> bool {
    let mut start = 0;
    if !quoted {
        // Every delimiter ends a field: one pass over the row.
        for end in memchr::memchr_iter(delimiter, row) {
            fields.push((start, end));
            start = end + 1;
        }
        fields.push((start, row.len()));
        return true;
    }
    loop {
        let rest = row.get(start..).unwrap_or_default();
        let end = if quoted && rest.first() == Some(&b'"') {
            // The closing quote is the first one not doubled.
            let mut at = 1;
            loop {
                let Some(q) = rest.get(at..).and_then(|r| memchr::memchr(b'"', r)) else {
                    return false;
                };
                at += q + 1;
                if rest.get(at) == Some(&b'"') {
                    at += 1;
                } else {
                    break;
                }
            }
            if at < rest.len() && rest.get(at) != Some(&delimiter) {
                return false;
            }
            start + at
        } else {
            memchr::memchr(delimiter, rest).map_or(row.len(), |n| start + n)
        };
        fields.push((start, end));
        if end >= row.len() {
            return true;
        }
        start = end + 1;
    }
}

/// The text of a field as written (`raw`, quoted or not), unquoted into `scratch`
/// when it is quoted.
fn unquote<'a>(raw: &'a [u8], scratch: &'a mut Vec<u8>) -> &'a [u8] {
    match raw {
        [b'"', inner @ .., b'"'] => {
            scratch.clear();
            let mut rest = inner;
            while let Some(q) = memchr::memchr(b'"', rest) {
                let (head, tail) = rest.split_at(q + 1);
                scratch.extend_from_slice(head);
                // A doubled quote stands for one.
                rest = tail.get(1..).unwrap_or_default();
            }
            scratch.extend_from_slice(rest);
            scratch
        }
        _ => raw,
    }
}

/// Where in `bytes` the row ends (its `\n` outside quotes), continuing in or out of
/// a quoted field as `in_quotes` says and leaving it as it is at the end of `bytes`
/// if the row does not end there; `quoted` is set once a quote is seen.
fn line_end(bytes: &[u8], in_quotes: &mut bool, quoted: &mut bool) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = bytes.get(at..)?;
        if *in_quotes {
            // A doubled quote inside a field closes and opens it again.
            at += memchr::memchr(b'"', rest)? + 1;
            *in_quotes = false;
            continue;
        }
        let nl = memchr::memchr(b'\n', rest);
        let quote = memchr::memchr(b'"', rest.get(..nl.unwrap_or(rest.len()))?);
        match (quote, nl) {
            (Some(q), _) => {
                *quoted = true;
                *in_quotes = true;
                at += q + 1;
            }
            (None, Some(n)) => return Some(at + n),
            (None, None) => return None,
        }
    }
}

/// The delimiters in `row` (one without quotes): a loop the compiler vectorises.
fn count(row: &[u8], delimiter: u8) -> usize {
    row.iter().filter(|&&b| b == delimiter).count()
}

/// In `row` (one with quotes) of `columns` columns, where the delimiter that ends
/// column `at - 1` is (the row's start if `at == 0`, its end if `at == columns`);
/// `None` if the row has another number of columns.
fn split_quoted(row: &[u8], delimiter: u8, at: usize, columns: usize) -> Option<usize> {
    let mut in_quotes = false;
    let mut seen = 0;
    let mut split = if at == 0 { 0 } else { row.len() };
    for (i, &b) in row.iter().enumerate() {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if b == delimiter && !in_quotes {
            seen += 1;
            if seen == at {
                split = i;
            }
        }
    }
    (seen + 1 == columns).then_some(split)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::csv_writer::CsvWriter;
    use crate::test_rng::XorShift;

    /// Rows of `columns` cells, as the CSV writer writes them in a layout of
    /// `columns + added` columns with the empty ones inserted before `at`.
    type TestResult = Result<(), Box<dyn std::error::Error>>;

    fn written(
        rows: &[Vec<Vec<u8>>],
        delimiter: u8,
        at: usize,
        added: usize,
    ) -> crate::error::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut writer = CsvWriter::rows_into(&mut out, delimiter, Vec::new());
        for row in rows {
            let columns = row.len() + added;
            let cells = row
                .iter()
                .enumerate()
                .map(|(k, text)| (if k < at { k } else { k + added }, text.as_slice()));
            writer.write_cells(columns, cells)?;
        }
        writer.end_rows()?;
        Ok(out)
    }

    fn cell(rng: &mut XorShift, delimiter: u8) -> Vec<u8> {
        const PIECES: [&[u8]; 9] = [b"", b"", b"x", b"abc", b"\"", b"\n", b"\r", b"\"\"", b" "];
        let n = rng.next_u64() % 4;
        let mut text = Vec::new();
        for _ in 0..n {
            let i = (rng.next_u64() % (PIECES.len() as u64 + 1)) as usize;
            match PIECES.get(i) {
                Some(piece) => text.extend_from_slice(piece),
                None => text.push(delimiter),
            }
        }
        text
    }

    #[test]
    fn widened_rows_are_the_rows_written_in_the_wider_layout() -> TestResult {
        let mut rng = XorShift::new(7);
        for delimiter in [b',', b';', b'\t'] {
            for columns in 0..5 {
                for at in 0..=columns {
                    for added in 1..4 {
                        let rows: Vec<Vec<Vec<u8>>> = (0..40)
                            .map(|_| (0..columns).map(|_| cell(&mut rng, delimiter)).collect())
                            .collect();
                        let narrow = written(&rows, delimiter, columns, 0)?;
                        let expected = written(&rows, delimiter, at, added)?;
                        let widening = Widening {
                            delimiter,
                            columns,
                            at,
                            added,
                        };
                        for block in [1, 2, 3, 7, 64, BLOCK] {
                            let mut out = Vec::new();
                            let n = widening
                                .copy_in_blocks(narrow.as_slice(), &mut out, block)
                                .map_err(|e| format!("{e:?}"))?;
                            assert_eq!(
                                String::from_utf8_lossy(&out),
                                String::from_utf8_lossy(&expected),
                                "delimiter {delimiter} columns {columns} at {at} added {added} \
                                 block {block}"
                            );
                            assert_eq!(n, out.len() as u64);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn a_sparse_wide_row_gets_its_columns_before_the_last_ones() -> TestResult {
        // 6 data columns then an id; 3 data columns added.
        let widening = Widening {
            delimiter: b',',
            columns: 7,
            at: 6,
            added: 3,
        };
        let mut out = Vec::new();
        widening
            .copy(&b",x,,,\"a,\"\"b\"\"\",,id-1\n,,,,,,id-2\n"[..], &mut out)
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(
            String::from_utf8(out)?,
            ",x,,,\"a,\"\"b\"\"\",,,,,id-1\n,,,,,,,,,id-2\n"
        );
        Ok(())
    }

    #[test]
    fn rows_of_another_width_or_cut_short_are_errors() {
        let widening = Widening {
            delimiter: b',',
            columns: 3,
            at: 2,
            added: 1,
        };
        for bad in [
            &b"a,b\n"[..],
            b"a\n",
            b"a,b,c",
            b"\"a,b,c\n",
            b"\"a\",\"b,c\"\n",
        ] {
            let result = widening.copy(bad, &mut Vec::new());
            assert!(
                matches!(result, Err(Failure::Row(_))),
                "{bad:?}: {result:?}"
            );
        }
        for at in [0, 3] {
            let other = Widening { at, ..widening };
            let result = other.copy(&b"a,b\n"[..], &mut Vec::new());
            assert!(matches!(result, Err(Failure::Row(_))), "{at}: {result:?}");
        }
    }

    #[test]
    fn retyped_rows_are_the_rows_written_with_the_new_cells() -> TestResult {
        let mut rng = XorShift::new(11);
        for delimiter in [b',', b';', b'\t', b'.'] {
            for columns in 1..5 {
                for at in 1..=columns {
                    for added in 0..3 {
                        // Every subset of the data columns, retyped.
                        for mask in 1..(1u32 << at) {
                            let retyped: Vec<usize> =
                                (0..at).filter(|&i| mask & (1 << i) != 0).collect();
                            let rows: Vec<Vec<Vec<u8>>> = (0..12)
                                .map(|_| (0..columns).map(|_| cell(&mut rng, delimiter)).collect())
                                .collect();
                            // The new text tells the row, the column and the old text,
                            // and holds the delimiter (so it is quoted).
                            let new_cell = |row: u64, p: usize, old: &[u8]| {
                                let mut text = format!("[{row}:{p}:").into_bytes();
                                text.extend_from_slice(old);
                                text.push(b']');
                                text.push(delimiter);
                                text
                            };
                            let wanted: Vec<Vec<Vec<u8>>> = rows
                                .iter()
                                .enumerate()
                                .map(|(r, row)| {
                                    row.iter()
                                        .enumerate()
                                        .map(|(i, old)| {
                                            match retyped.iter().position(|&c| c == i) {
                                                Some(p) if !old.is_empty() => {
                                                    new_cell(r as u64, p, old)
                                                }
                                                _ => old.clone(),
                                            }
                                        })
                                        .collect()
                                })
                                .collect();
                            let narrow = written(&rows, delimiter, columns, 0)?;
                            let expected = written(&wanted, delimiter, at, added)?;
                            let retyping = Retyping {
                                widening: Widening {
                                    delimiter,
                                    columns,
                                    at,
                                    added,
                                },
                                columns: &retyped,
                            };
                            for block in [1, 5, BLOCK] {
                                let mut render =
                                    |row: u64, p: usize, old: Option<&[u8]>, out: &mut Vec<u8>| {
                                        if let Some(old) = old {
                                            out.extend_from_slice(&new_cell(row, p, old));
                                        }
                                        Ok(())
                                    };
                                let mut out = Vec::new();
                                let n = retyping
                                    .copy_in_blocks(narrow.as_slice(), &mut out, block, &mut render)
                                    .map_err(|e| format!("{e:?}"))?;
                                assert_eq!(
                                    String::from_utf8_lossy(&out),
                                    String::from_utf8_lossy(&expected),
                                    "delimiter {delimiter} columns {columns} at {at} added {added} \
                                     retyped {retyped:?} block {block}"
                                );
                                assert_eq!(n, out.len() as u64);
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    #[test]
    fn retyping_rows_of_another_width_or_a_failing_cell_is_an_error() {
        let retyping = Retyping {
            widening: Widening {
                delimiter: b',',
                columns: 3,
                at: 2,
                added: 1,
            },
            columns: &[1],
        };
        let mut render = |_: u64, _: usize, _: Option<&[u8]>, _: &mut Vec<u8>| Ok(());
        for bad in [&b"a,b\n"[..], b"a,b,c,d\n", b"\"a\"x,b,c\n", b"a,b,c"] {
            let result = retyping.copy(bad, &mut Vec::new(), &mut render);
            assert!(
                matches!(result, Err(Failure::Row(_))),
                "{bad:?}: {result:?}"
            );
        }
        let mut failing = |_: u64, _: usize, _: Option<&[u8]>, _: &mut Vec<u8>| {
            Err(Failure::Other(crate::error::Error::Core(
                transmogrify_core::Error::Internal("no".into()),
            )))
        };
        let result = retyping.copy(&b"a,1,c\n"[..], &mut Vec::new(), &mut failing);
        assert!(matches!(result, Err(Failure::Other(_))), "{result:?}");
    }
}
