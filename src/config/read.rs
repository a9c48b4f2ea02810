//! From the text of a configuration file to a [`ServeFile`]: TOML syntax, unknown keys and
//! values of the wrong type are refused here, each with the key (and, where TOML knows it,
//! the line) named.

use std::path::Path;

use super::{ConfigFileError, ConfigProblem, ServeFile};

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A key path as the file writes it: tables joined by dots, array entries by index
/// (`listen[1].port`).
fn key_of_ignored(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_of_ignored(parent)),
        P::Map { parent, key } => join(key_of_ignored(parent), key),
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_of_ignored(parent)
        }
    }
}

fn key_of_error(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .fold(String::new(), |key, segment| match segment {
            Segment::Seq { index } => format!("{key}[{index}]"),
            Segment::Map { key: name } => join(key, name),
            Segment::Enum { variant } => join(key, variant),
            Segment::Unknown => join(key, "?"),
        })
}

fn join(parent: String, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl ServeFile {
    /// Parses the text of a configuration file.
    pub fn parse(text: &str) -> Result<ServeFile, ConfigProblem> {
        let document = toml::Deserializer::parse(text).map_err(|e| ConfigProblem::Syntax {
            line: e.span().map_or(1, |span| line_of(text, span.start)),
            message: e.message().to_string(),
        })?;
        let mut unknown = Vec::new();
        let mut note_unknown = |path: serde_ignored::Path<'_>| unknown.push(key_of_ignored(&path));
        let ignoring = serde_ignored::Deserializer::new(document, &mut note_unknown);
        let file = serde_path_to_error::deserialize(ignoring).map_err(|e| {
            let key = key_of_error(e.path());
            let inner = e.into_inner();
            ConfigProblem::BadValue {
                key,
                line: inner.span().map_or(1, |span| line_of(text, span.start)),
                message: inner.message().to_string(),
            }
        });
        // An unknown key is the likelier cause of a later error (a misspelt required key).
        if let Some(key) = unknown.into_iter().next() {
            return Err(ConfigProblem::UnknownKey { key });
        }
        file
    }
}

/// Reads and parses the configuration file at `path`.
pub fn read(path: &Path) -> Result<ServeFile, ConfigFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    ServeFile::parse(&text).map_err(|problem| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        problem,
    })
}
