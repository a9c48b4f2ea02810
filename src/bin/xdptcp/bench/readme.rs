//! Rewriting the README's benchmark section.

use std::path::{Path, PathBuf};

use crate::common::{file_error, FileError};

const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";

/// Why the README section could not be replaced.
#[derive(Debug, thiserror::Error)]
pub enum ReadmeError {
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{} has no {} ... {} section", .0.display(), BEGIN, END)]
    NoSection(PathBuf),
    #[error("{}: {} comes before {}", .0.display(), END, BEGIN)]
    EndBeforeBegin(PathBuf),
}

/// Replaces the text between the README's bench markers.
pub(super) fn update_readme(path: &Path, section: &str) -> Result<(), ReadmeError> {
    let text = std::fs::read_to_string(path).map_err(file_error(path))?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        return Err(ReadmeError::NoSection(path.into()));
    };
    if b < a {
        return Err(ReadmeError::EndBeforeBegin(path.into()));
    }
    let updated = format!("{}{BEGIN}\n{section}{}", &text[..a], &text[b..]);
    std::fs::write(path, updated).map_err(file_error(path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_section_is_replaced() {
        let dir = std::env::temp_dir().join(format!("xdptcp-readme-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("README.md");
        std::fs::write(
            &path,
            "a\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nb\n",
        )
        .unwrap();
        update_readme(&path, "new\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a\n<!-- bench:begin -->\nnew\n<!-- bench:end -->\nb\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
