//! Java `.properties` files, as `java.util.Properties.load` reads them: `key=value`,
//! `key: value` or `key value`; `#` and `!` comment lines; a trailing `\` continues the
//! line (leading blanks of the next line dropped); escapes `\t \n \r \f \uXXXX` and `\`
//! before any other character (`\=`, `\:`, `\ `, `\\`) for the character itself.

use std::collections::BTreeMap;
use std::path::Path;

use thiserror::Error;

use crate::topology::yaml::limits;

/// A properties file that could not be read.
#[derive(Debug, Error)]
pub enum PropertiesError {
    /// The file could not be read.
    #[error("{path}: cannot read the properties file: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A malformed `\uXXXX` escape.
    #[error("{path}:{line}: malformed \\uXXXX escape in a properties file")]
    BadEscape {
        /// The file.
        path: String,
        /// 1-based line where the entry starts.
        line: usize,
    },
}

/// One property: its value and the line it was defined on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property {
    /// The value, escapes decoded.
    pub value: String,
    /// 1-based line of the definition.
    pub line: usize,
}

/// The properties of one file (a later definition of a key wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    /// The file, for messages.
    pub file: Option<std::path::PathBuf>,
    /// Key -> value.
    pub entries: BTreeMap<String, Property>,
}

impl Properties {
    /// Read and parse a properties file.
    pub fn load(path: &Path) -> Result<Properties, PropertiesError> {
        let text = limits::read_capped(path, limits::MAX_TOPOLOGY_BYTES).map_err(|source| {
            PropertiesError::Io {
                path: path.display().to_string(),
                source,
            }
        })?;
        let mut p = Properties::parse(&text).map_err(|line| PropertiesError::BadEscape {
            path: path.display().to_string(),
            line,
        })?;
        p.file = Some(path.to_path_buf());
        Ok(p)
    }

    /// Parse properties text; `Err(line)` for a malformed `\uXXXX` escape.
    pub fn parse(text: &str) -> Result<Properties, usize> {
        let mut entries = BTreeMap::new();
        let lines: Vec<&str> = text.split('\n').collect();
        let mut i = 0;
        while i < lines.len() {
            let start = i + 1;
            let first = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
            i += 1;
            let trimmed = first.trim_start_matches([' ', '\t', '\x0c']);
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with('!') {
                continue;
            }
            // Join continuation lines: an odd number of trailing backslashes.
            let mut logical = String::from(trimmed);
            while ends_with_odd_backslashes(&logical) && i < lines.len() {
                logical.pop();
                let next = lines[i].strip_suffix('\r').unwrap_or(lines[i]);
                i += 1;
                logical.push_str(next.trim_start_matches([' ', '\t', '\x0c']));
            }
            if ends_with_odd_backslashes(&logical) {
                logical.pop();
            }
            let (key, value) = split_entry(&logical);
            let key = unescape(key).ok_or(start)?;
            let value = unescape(value).ok_or(start)?;
            entries.insert(key, Property { value, line: start });
        }
        Ok(Properties {
            file: None,
            entries,
        })
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Property> {
        self.entries.get(key)
    }
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|b| *b == b'\\').count() % 2 == 1
}

/// Split a logical line into its (still escaped) key and value.
fn split_entry(line: &str) -> (&str, &str) {
    let mut escaped = false;
    let mut key_end = line.len();
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '=' | ':' | ' ' | '\t' | '\x0c' => {
                key_end = i;
                break;
            }
            _ => {}
        }
    }
    let key = &line[..key_end];
    let mut rest = line[key_end..].trim_start_matches([' ', '\t', '\x0c']);
    if let Some(r) = rest.strip_prefix(['=', ':']) {
        rest = r.trim_start_matches([' ', '\t', '\x0c']);
    }
    (key, rest)
}

/// Decode escapes; `None` for a malformed `\uXXXX`.
fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            None => {}
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\x0c'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                if hex.len() != 4 {
                    return None;
                }
                let code = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn value(p: &Properties, k: &str) -> String {
        p.get(k)
            .unwrap_or_else(|| panic!("no {k} in {p:?}"))
            .value
            .clone()
    }

    #[test]
    fn separators_comments_and_blanks() {
        let p = Properties::parse(
            "# comment\n! also a comment\n\n  a=1\nb: two words \nc three\nd\ne =  spaced\n",
        )
        .unwrap();
        assert_eq!(value(&p, "a"), "1");
        assert_eq!(value(&p, "b"), "two words ");
        assert_eq!(value(&p, "c"), "three");
        assert_eq!(value(&p, "d"), "");
        assert_eq!(value(&p, "e"), "spaced");
        assert_eq!(p.get("a").unwrap().line, 4);
        assert_eq!(p.entries.len(), 5);
    }

    #[test]
    fn escapes_and_continuations() {
        let p = Properties::parse(
            "key\\ with\\=odd\\:chars = v\\tx\\u0041\\\\\nlong = one, \\\n    two, \\\n  three\nlist: [\"a\",\"b\"]\r\n",
        )
        .unwrap();
        assert_eq!(value(&p, "key with=odd:chars"), "v\txA\\");
        assert_eq!(value(&p, "long"), "one, two, three");
        assert_eq!(value(&p, "list"), "[\"a\",\"b\"]");
        assert_eq!(p.get("list").unwrap().line, 5);
    }

    #[test]
    fn later_definition_wins_and_bad_unicode_is_an_error() {
        let p = Properties::parse("a=1\na=2\n").unwrap();
        assert_eq!(value(&p, "a"), "2");
        assert_eq!(Properties::parse("ok=1\nbad=\\u12").unwrap_err(), 2);
        assert_eq!(Properties::parse("bad=\\uzzzz").unwrap_err(), 1);
    }

    #[test]
    fn load_names_the_file() {
        let e = Properties::load(Path::new("/nonexistent/x.properties")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/x.properties: cannot read")
        );
    }
}
