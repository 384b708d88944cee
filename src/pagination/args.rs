//! Relay page arguments (`first`, `after`, `last`, `before`), validated once at the edge into a
//! [`PageWindow`] that cannot be wrong: a size within bounds and decoded cursors.

use crate::error::{Error, Result};

use super::cursor::{Cursor, CursorScope, SortKind};

/// Page size when neither `first` nor `last` is given (DESIGN.md).
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The raw arguments as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// Which end of the window a page is taken from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    /// `first` (or the default): the rows right after `after`.
    Start,
    /// `last`: the rows right before `before`.
    End,
}

/// Validated arguments: a bounded size, the end to take it from, and cursors that belong to
/// this connection, ordering and filter.
#[derive(Debug, Clone)]
pub struct PageWindow {
    pub size: u32,
    pub from: From,
    pub after: Option<Cursor>,
    pub before: Option<Cursor>,
}

impl PageArgs {
    /// Validates sizes against `max_page_size` and decodes cursors against `scope`.
    pub fn validate(&self, max_page_size: u32, scope: &CursorScope, sort: SortKind) -> Result<PageWindow> {
        let check = |name: &str, value: i32| -> Result<u32> {
            if value < 0 {
                return Err(Error::BadUserInput(format!(
                    "`{name}` must be between 0 and {max_page_size}, got {value}"
                )));
            }
            let value = value as u32;
            if value > max_page_size {
                return Err(Error::BadUserInput(format!(
                    "`{name}` must be between 0 and {max_page_size}, got {value}; page through larger results with cursors"
                )));
            }
            Ok(value)
        };
        let (size, from) = match (self.first, self.last) {
            (Some(_), Some(_)) => {
                return Err(Error::BadUserInput(
                    "pass either `first` (with `after`) or `last` (with `before`), not both".to_owned(),
                ));
            }
            (Some(first), None) => (check("first", first)?, From::Start),
            (None, Some(last)) => (check("last", last)?, From::End),
            (None, None) => (DEFAULT_PAGE_SIZE.min(max_page_size), From::Start),
        };
        let after = self
            .after
            .as_deref()
            .map(|raw| Cursor::decode(raw, "after", scope, sort))
            .transpose()?;
        let before = self
            .before
            .as_deref()
            .map(|raw| Cursor::decode(raw, "before", scope, sort))
            .transpose()?;
        Ok(PageWindow {
            size,
            from,
            after,
            before,
        })
    }
}
