//! "Did you mean": the known argument nearest to an unknown one.

use proc_macro2::Ident;
use syn::Error;
use syn::ext::IdentExt;

use super::ARGS;

pub(super) fn expected_one_of(prefix: &str) -> String {
    let names: Vec<String> = ARGS.iter().map(|spec| format!("`{}`", spec.name)).collect();
    format!("{prefix} one of {}", names.join(", "))
}

/// The error for an unknown key, with the nearest known one.
pub(super) fn unknown_argument(ident: &Ident) -> Error {
    let given = ident.unraw().to_string();
    let message = match nearest(&given) {
        Some(known) => format!("unknown argument `{given}`; did you mean `{known}`?"),
        None => expected_one_of(&format!("unknown argument `{given}`; expected")),
    };
    Error::new(ident.span(), message)
}

/// The known name closest to `given`, if any is close enough to be a typo of it.
pub(super) fn nearest(given: &str) -> Option<&'static str> {
    let lower = given.to_ascii_lowercase();
    ARGS.iter()
        .map(|spec| (edit_distance(&lower, spec.name), spec.name))
        .filter(|&(distance, known)| {
            distance <= (known.len() / 3).max(1)
                || (known.len() > 2 && (lower.contains(known) || known.contains(lower.as_str())))
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, on bytes (argument names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_name() {
        assert_eq!(nearest("attemps"), Some("attempts"));
        assert_eq!(nearest("timeout_mod"), Some("timeout_mode"));
        assert_eq!(nearest("max_attempts"), Some("attempts"));
        assert_eq!(nearest("wait_exp"), Some("wait_exp_base"));
        assert_eq!(nearest("timout"), Some("timeout"));
        assert_eq!(nearest("wait_min"), Some("wait_max"));
        assert_eq!(nearest("Timeout"), Some("timeout"));
        assert_eq!(nearest("polcy"), Some("policy"));
        assert_eq!(nearest("onok"), Some("on_ok"));
        assert_eq!(nearest("on_okay"), Some("on_ok"));
        assert_eq!(nearest("flavor"), None);
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", "on"), 2);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
