//! What is wrong with a configuration: each error names the key and the problem.

use std::io;
use std::path::PathBuf;

/// A key whose value is out of range or inconsistent with another key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("\"{key}\": {problem}")]
pub struct SettingError {
    /// The key as the file writes it: `queues`, `listen[1].port`, `tcp.mss`.
    pub key: String,
    pub problem: String,
}

impl SettingError {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> SettingError {
        SettingError {
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// What is wrong with the text of a configuration file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("line {line}: {message}")]
    Syntax { line: usize, message: String },
    #[error("unknown key \"{key}\"")]
    UnknownKey { key: String },
    #[error("line {line}: \"{key}\": {message}")]
    BadValue {
        key: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Setting(#[from] SettingError),
}

/// Why a configuration file could not be used; one line, starting with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("configuration file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("configuration file {}: {problem}", path.display())]
    Invalid {
        path: PathBuf,
        problem: ConfigProblem,
    },
}
