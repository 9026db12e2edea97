//! The editor's open documents laid over the disk: the loader reads a file's unsaved buffer when
//! the editor has it open, and the file on disk otherwise (through [`spec::TextSource`], the one
//! seam where the loader reads text).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diag::Diagnostic;
use crate::spec::{self, TextSource, MAX_FILE_BYTES};

/// Open documents by normalised absolute path.
#[derive(Debug, Default, Clone)]
pub struct Overlay {
    docs: BTreeMap<PathBuf, String>,
}

impl Overlay {
    pub fn set(&mut self, path: &Path, text: String) {
        self.docs.insert(normalize(path), text);
    }

    pub fn remove(&mut self, path: &Path) {
        self.docs.remove(&normalize(path));
    }

    pub fn get(&self, path: &Path) -> Option<&str> {
        self.docs.get(&normalize(path)).map(String::as_str)
    }

    /// Every open document's path.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.docs.keys()
    }
}

impl TextSource for Overlay {
    fn read(&self, path: &Path) -> Result<String, Diagnostic> {
        match self.get(path) {
            // The same limit as on disk: an editor buffer is not a way around it.
            Some(text) if text.len() as u64 > MAX_FILE_BYTES => {
                Err(spec::too_large(path, text.len() as u64))
            }
            Some(text) => Ok(text.to_string()),
            None => spec::read_text(path),
        }
    }

    fn is_file(&self, path: &Path) -> bool {
        self.get(path).is_some() || path.is_file()
    }
}

pub use crate::fsutil::normalize;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_open_buffer_wins_over_the_disk_under_any_spelling_of_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.jsonata");
        std::fs::write(&file, "disk").unwrap();
        let mut o = Overlay::default();
        assert_eq!(o.read(&file).unwrap(), "disk");
        o.set(&file, "buffer".into());
        let odd = dir.path().join("sub/../././t.jsonata");
        assert_eq!(o.read(&odd).unwrap(), "buffer");
        let unsaved = dir.path().join("new.jsonata");
        assert!(!o.is_file(&unsaved));
        o.set(&unsaved, "x".into());
        assert!(o.is_file(&unsaved));
        o.remove(&file);
        assert_eq!(o.read(&file).unwrap(), "disk");
        o.set(&file, "a".repeat(MAX_FILE_BYTES as usize + 1));
        assert_eq!(o.read(&file).unwrap_err().code, "E011");
    }
}
