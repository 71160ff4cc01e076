//! Chooses the engine of a generated `pattern` check. A pattern that the
//! `regex` crate can compile with its ECMA 262 meaning gets that crate,
//! whose matching time is linear in the input. Any other gets regress, the
//! backtracking ECMA 262 engine that typify's types use.

use proc_macro2::TokenStream;
use quote::quote;

/// The characters that ECMA 262 `\s` matches (WhiteSpace and
/// LineTerminator), as the inside of a `regex` character class.
const ECMA_WHITESPACE: &str =
    r"\t\n\x0B\x0C\r \xA0\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}\x{FEFF}";

/// The ECMA 262 `\w` class, which is ASCII only.
const ECMA_WORD: &str = "0-9A-Za-z_";

/// Emits a `bool` expression that is true when the `&str`
/// expression `text` matches `pattern`, which regress compiles. The
/// compiled pattern is a static, built on first use.
pub fn is_match(pattern: &str, text: &TokenStream) -> TokenStream {
    match linear_pattern(pattern) {
        Some(translated) => quote! {{
            static PATTERN: ::std::sync::LazyLock<::regex::Regex> =
                ::std::sync::LazyLock::new(|| {
                    ::regex::Regex::new(#translated).expect("the spec's pattern is a valid regex")
                });
            PATTERN.is_match(#text)
        }},
        // NOTE: regress backtracks, so a pattern such as `^(a+)+$` takes
        // time exponential in the input here.
        None => quote! {{
            static PATTERN: ::std::sync::LazyLock<::regress::Regex> =
                ::std::sync::LazyLock::new(|| {
                    ::regress::Regex::new(#pattern).expect("the spec's pattern is a valid regex")
                });
            PATTERN.find(#text).is_some()
        }},
    }
}

/// Rewrites each `pattern` check in typify's `tokens` whose pattern
/// [`linear_pattern`] translates, so that the type's `FromStr` uses the
/// `regex` crate too. Both crates' `find` return an `Option`, so the code
/// around the static compiles either way. A check in another shape is left
/// as it is.
pub fn linear_type_checks(tokens: TokenStream) -> TokenStream {
    let text = tokens.to_string();
    let statics = regex::Regex::new(
        r#"static PATTERN : :: std :: sync :: LazyLock < :: regress :: Regex > = :: std :: sync :: LazyLock :: new \(\|\| (?:\{ )?:: regress :: Regex :: new \(("(?:[^"\\]|\\.)*")\) \. unwrap \(\)(?: \})?\) ;"#,
    )
    .expect("the pattern of typify's checks compiles");
    let rewritten = statics.replace_all(&text, |captures: &regex::Captures| {
        let original = captures[0].to_string();
        let Ok(literal) = syn::parse_str::<syn::LitStr>(&captures[1]) else {
            return original;
        };
        match linear_pattern(&literal.value()) {
            Some(translated) => quote! {
                static PATTERN: ::std::sync::LazyLock<::regex::Regex> =
                    ::std::sync::LazyLock::new(|| ::regex::Regex::new(#translated).unwrap());
            }
            .to_string(),
            None => original,
        }
    });
    rewritten.parse().unwrap_or(tokens)
}

/// Returns `pattern` in the syntax of the `regex` crate with its ECMA 262
/// meaning. Returns `None` for a construct that the translation does not
/// cover or the crate cannot compile, such as backreferences, lookaround,
/// word boundaries, control escapes or a class such as `[\D]`.
pub fn linear_pattern(pattern: &str) -> Option<String> {
    let translated = translate(pattern)?;
    regex::Regex::new(&translated).ok()?;
    Some(translated)
}

fn translate(pattern: &str) -> Option<String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::new();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        index += 1;
        match c {
            '\\' => {
                let escaped = *chars.get(index)?;
                index += 1;
                out.push_str(&escape(escaped, &chars, &mut index, false)?);
            }
            '[' => index = class(&chars, index, &mut out)?,
            '.' => out.push_str(r"[^\n\r\x{2028}\x{2029}]"),
            '{' => index = quantifier(&chars, index, &mut out)?,
            ']' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '(' if chars.get(index) == Some(&'?') => {
                // `(?:` and `(?<name>` read the same in both; lookaround
                // is not supported by `regex`.
                let next = chars.get(index + 1)?;
                let lookbehind = *next == '<' && matches!(chars.get(index + 2), Some('=' | '!'));
                if !(*next == ':' || *next == '<') || lookbehind {
                    return None;
                }
                out.push('(');
            }
            _ => out.push(c),
        }
    }
    Some(out)
}

/// Translates the escape `\escaped`, reading any hex digits after it from
/// `chars` at `index`.
fn escape(escaped: char, chars: &[char], index: &mut usize, in_class: bool) -> Option<String> {
    let text = match escaped {
        'd' if in_class => "0-9".to_string(),
        'w' if in_class => ECMA_WORD.to_string(),
        's' if in_class => ECMA_WHITESPACE.to_string(),
        'D' | 'W' | 'S' if in_class => return None,
        'b' if in_class => r"\x08".to_string(),
        'd' => "[0-9]".to_string(),
        'D' => "[^0-9]".to_string(),
        'w' => format!("[{ECMA_WORD}]"),
        'W' => format!("[^{ECMA_WORD}]"),
        's' => format!("[{ECMA_WHITESPACE}]"),
        'S' => format!("[^{ECMA_WHITESPACE}]"),
        't' | 'n' | 'v' | 'f' | 'r' => format!("\\{escaped}"),
        'x' | 'u' => {
            let digits = if escaped == 'x' { 2 } else { 4 };
            let hex: String = chars.get(*index..*index + digits)?.iter().collect();
            if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            *index += digits;
            format!("\\x{{{hex}}}")
        }
        c if c.is_ascii_alphanumeric() => return None,
        c => regex::escape(&c.to_string()),
    };
    Some(text)
}

/// Translates the character class that starts after the `[` at
/// `index - 1`, and returns the index after its `]`.
fn class(chars: &[char], mut index: usize, out: &mut String) -> Option<usize> {
    out.push('[');
    if chars.get(index) == Some(&'^') {
        out.push('^');
        index += 1;
    }
    // ECMA 262 reads `[]` as the empty class, `regex` as a literal `]`.
    if chars.get(index) == Some(&']') {
        return None;
    }
    loop {
        let c = *chars.get(index)?;
        index += 1;
        match c {
            ']' => break,
            '\\' => {
                let escaped = *chars.get(index)?;
                index += 1;
                out.push_str(&escape(escaped, chars, &mut index, true)?);
            }
            // Literal in ECMA 262, but nested classes and set operations
            // such as `&&` and `--` in `regex`.
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '-' if chars.get(index) == Some(&'-') => return None,
            _ => out.push(c),
        }
    }
    out.push(']');
    Some(index)
}

/// Copies the quantifier `{n}`, `{n,}` or `{n,m}` that starts after the
/// `{` at `index - 1` and returns the index after it. ECMA 262 reads any
/// other `{` as a literal, which `regex` does not, so those are left to
/// regress.
fn quantifier(chars: &[char], index: usize, out: &mut String) -> Option<usize> {
    let end = index + chars[index..].iter().position(|&c| c == '}')?;
    let body: String = chars[index..end].iter().collect();
    let (minimum, maximum) = match body.split_once(',') {
        Some((minimum, maximum)) => (minimum, Some(maximum)),
        None => (body.as_str(), None),
    };
    let is_number = |text: &str| !text.is_empty() && text.chars().all(|c| c.is_ascii_digit());
    let valid = is_number(minimum)
        && maximum.is_none_or(|maximum| maximum.is_empty() || is_number(maximum));
    if !valid {
        return None;
    }
    out.push('{');
    out.push_str(&body);
    out.push('}');
    Some(end + 1)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::linear_pattern;

    #[test]
    fn translation_keeps_ecma_meaning() {
        let cases = [
            (r"^\d+$", r"^[0-9]+$"),
            (r"^\w[\w.-]*$", r"^[0-9A-Za-z_][0-9A-Za-z_.-]*$"),
            (r"^a.b$", r"^a[^\n\r\x{2028}\x{2029}]b$"),
            (r"^[a&&b]$", r"^[a\&\&b]$"),
            (r"^x{2,3}$", r"^x{2,3}$"),
            (r"^\u00e9\x41$", r"^\x{00e9}\x{41}$"),
            (r"^(?<year>[0-9]{4})$", r"^(?<year>[0-9]{4})$"),
            (r"^\/\<$", r"^/<$"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(
                linear_pattern(pattern).as_deref(),
                Some(expected),
                "{pattern}"
            );
        }
    }

    #[test]
    fn unsupported_constructs_fall_back() {
        let patterns = [
            r"^(a)\1$",
            r"^(?=a)a$",
            r"^(?<!a)b$",
            r"\bword\b",
            r"^[\D]$",
            r"^[]a]$",
            r"^a{,3}$",
            r"^a{$",
            r"^\cJ$",
            r"^[a--b]$",
            r"^\p{L}$",
        ];
        for pattern in patterns {
            assert_eq!(linear_pattern(pattern), None, "{pattern}");
        }
    }

    /// Checks that both engines agree on sample inputs.
    #[test]
    fn engines_agree_on_samples() {
        let patterns = [
            r"^\d{3}-\d{4}$",
            r"^[A-Za-z0-9._-]+$",
            r"^\s*\S+\s*$",
            r"^([a-z0-9]+-?)+[a-z0-9]$",
            r"^a.c$",
            r"^[^\w]+$",
            r"é+",
        ];
        let inputs = [
            "",
            "123-4567",
            "12-34567",
            "١٢٣-٤٥٦٧",
            "a-b",
            "a--b",
            "abc",
            "a\nc",
            "a\u{2028}c",
            "aéc",
            " x ",
            "\u{feff}x",
            "x y",
            "!!",
            "__",
            "éé",
        ];
        for pattern in patterns {
            let linear = regex::Regex::new(&linear_pattern(pattern).expect(pattern)).unwrap();
            let ecma = regress::Regex::new(pattern).unwrap();
            for input in inputs {
                assert_eq!(
                    linear.is_match(input),
                    ecma.find(input).is_some(),
                    "{pattern} on {input:?}"
                );
            }
        }
    }

    #[test]
    fn nested_quantifier_is_linear() {
        let pattern = linear_pattern("^([a-z0-9]+-?)+[a-z0-9]$").expect("translates");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let regex = regex::Regex::new(&pattern).expect("compiles");
            let input = format!("{}_", "a".repeat(10_000));
            sender.send(regex.is_match(&input)).ok();
        });
        let matched = receiver.recv_timeout(Duration::from_secs(10));
        assert_eq!(matched, Ok(false), "a linear check ends at once");
    }
}
