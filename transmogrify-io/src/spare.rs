//! Processors an output's table jobs leave idle, and writing on them.
//!
//! A threaded output writes its tables on a few threads, largest first. Once fewer
//! tables are left than threads, the writers still at work may borrow the idle
//! processors: the Parquet writer encodes a slice's columns in parts, each part on
//! a helper thread of its own. (CSV formatting is too cheap for this to pay: it
//! was measured slower than one thread writing through its block buffer.)

use arrow_array::{Array, ArrayRef};

use crate::error::{Error, Result};

/// Slices with less data than this are written on one thread (a helper thread
/// costs more than it saves).
pub(crate) const PARALLEL_MIN_BYTES: usize = 256 * 1024;

/// Processors not in use by the table jobs of an output (nor by helpers already
/// borrowed): once fewer tables are left than threads, the writers still at work
/// may use the rest.
#[derive(Debug)]
pub(crate) struct Spare(std::sync::atomic::AtomicIsize);

impl Spare {
    /// `threads` processors, all free.
    pub(crate) fn new(threads: usize) -> Self {
        Spare(std::sync::atomic::AtomicIsize::new(
            isize::try_from(threads).unwrap_or(isize::MAX),
        ))
    }

    /// One more processor in use (a table job starts; it never waits).
    pub(crate) fn occupy(&self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// A processor freed (a table job or a helper ends).
    pub(crate) fn vacate(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Takes a free processor, if any.
    pub(crate) fn try_take(&self) -> bool {
        self.0
            .fetch_update(
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
                |free| (free > 0).then(|| free - 1),
            )
            .is_ok()
    }
}

/// Text bytes (or eight bytes a value) of a column: how much work encoding it is.
pub(crate) fn weight(column: &ArrayRef) -> usize {
    let values = match column.as_any().downcast_ref::<arrow_array::StringArray>() {
        Some(text) => {
            let offsets = text.value_offsets();
            let first = offsets.first().copied().unwrap_or(0);
            let last = offsets.last().copied().unwrap_or(0);
            usize::try_from(last - first).unwrap_or(0)
        }
        None => column.len() * 8,
    };
    values + column.len() * 4 + 1
}

/// Splits `0..weights.len()` into at most `parts` contiguous ranges of about equal
/// weight; returns the ends of all but the last.
pub(crate) fn split_points(weights: &[usize], parts: usize) -> Vec<usize> {
    let total: usize = weights.iter().sum();
    let mut ends = Vec::with_capacity(parts.saturating_sub(1));
    let mut sum = 0;
    for (i, w) in weights.iter().enumerate() {
        sum += w;
        let next = ends.len() + 1;
        if next < parts && sum * parts >= total * next && i + 1 < weights.len() {
            ends.push(i + 1);
        }
    }
    ends
}

/// Borrows as many spare processors as are free, at most `most`.
pub(crate) fn borrow(spare: Option<&Spare>, most: usize) -> usize {
    let Some(spare) = spare else { return 0 };
    let mut taken = 0;
    while taken < most && spare.try_take() {
        taken += 1;
    }
    taken
}

/// Runs `work` over contiguous parts of `items` (cut at `ends`; `work` gets each
/// part's start), the first part on this thread and each other on a helper thread
/// of its own.
pub(crate) fn in_parts<T: Send>(
    items: &mut [T],
    ends: &[usize],
    work: &(dyn Fn(usize, &mut [T]) -> Result<()> + Sync),
) -> Result<()> {
    std::thread::scope(|scope| {
        let mut rest = items;
        let mut start = 0;
        let mut helpers = Vec::with_capacity(ends.len());
        let mut first = None;
        for &end in ends.iter().chain(std::iter::once(&usize::MAX)) {
            let len = end.clamp(start, start + rest.len()) - start;
            let (part, tail) = rest.split_at_mut(len);
            rest = tail;
            match first {
                None => first = Some((start, part)),
                Some(_) => helpers.push(scope.spawn(move || work(start, part))),
            }
            start += len;
        }
        let mine = match first {
            Some((start, part)) => work(start, part),
            None => Ok(()),
        };
        helpers
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(Error::Internal("a writer's helper thread panicked".into()))
                })
            })
            .fold(mine, Result::and)
    })
}

#[cfg(test)]
mod tests {
    use super::{Result, Spare, borrow, in_parts, split_points};

    #[test]
    fn columns_are_split_into_parts_of_about_equal_weight() -> Result<()> {
        assert_eq!(split_points(&[1, 1, 1, 1], 2), vec![2]);
        assert_eq!(
            split_points(&[10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2),
            vec![1]
        );
        assert_eq!(split_points(&[1, 1, 1, 1, 1, 1], 3), vec![2, 4]);
        assert_eq!(split_points(&[5], 4), Vec::<usize>::new());
        assert_eq!(split_points(&[1, 1], 4), vec![1]);
        // Each part runs once, on its own thread, with its own start.
        let mut cells: Vec<(usize, Option<std::thread::ThreadId>)> =
            (0..7).map(|i| (i, None)).collect();
        in_parts(&mut cells, &[2, 5], &|start, part| {
            for (i, (index, thread)) in part.iter_mut().enumerate() {
                assert_eq!(*index, start + i);
                *thread = Some(std::thread::current().id());
            }
            Ok(())
        })?;
        let threads: Vec<_> = cells.iter().map(|(_, t)| *t).collect();
        assert_eq!(threads[0], Some(std::thread::current().id()));
        assert_eq!(threads[0], threads[1]);
        assert!(threads[2].is_some() && threads[2] == threads[4] && threads[2] != threads[0]);
        assert!(threads[5].is_some() && threads[5] == threads[6] && threads[5] != threads[2]);
        Ok(())
    }

    #[test]
    fn a_borrowed_processor_is_only_one_that_is_free() {
        let spare = Spare::new(2);
        spare.occupy();
        assert_eq!(borrow(Some(&spare), 5), 1);
        assert_eq!(borrow(Some(&spare), 5), 0);
        spare.vacate();
        spare.vacate();
        assert_eq!(borrow(Some(&spare), 1), 1);
        assert_eq!(borrow(None, 5), 0);
    }
}
