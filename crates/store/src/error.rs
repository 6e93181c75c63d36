//! Errors callers act on; everything else is an opaque storage failure.

/// Why a reply's parent was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentProblem {
    Missing,
    OtherPage,
    TooDeep,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("not found")]
    NotFound,
    /// Already there (an import source seen before).
    #[error("already exists")]
    Conflict,
    #[error("parent comment refused: {0:?}")]
    Parent(ParentProblem),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failure: {0}")]
    Sled(#[from] sled::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
