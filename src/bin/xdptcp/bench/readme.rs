//! Rewriting the README's benchmark section.

use std::path::Path;

/// Replaces the text between the README's bench markers.
pub(super) fn update_readme(path: &Path, section: &str) -> Result<(), String> {
    const BEGIN: &str = "<!-- bench:begin -->";
    const END: &str = "<!-- bench:end -->";
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
        return Err(format!(
            "{} has no {BEGIN} ... {END} section",
            path.display()
        ));
    };
    if b < a {
        return Err(format!("{}: {END} comes before {BEGIN}", path.display()));
    }
    let updated = format!("{}{BEGIN}\n{section}{}", &text[..a], &text[b..]);
    std::fs::write(path, updated).map_err(|e| format!("{}: {e}", path.display()))
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
