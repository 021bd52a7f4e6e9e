//! `$GENERATE` (BIND): one record per value of a range, with `$` in the
//! owner and data templates replaced by the value.

use super::lexer::{fail, lex_all, Res, Token};
use super::over_limit;
use super::parser::{parse_name, parse_number, read_prefix, FileState, Parser};
use super::quote::quote;
use super::text::{rdata_from_text, Cursor};
use crate::dns::types::type_name;

impl Parser<'_> {
    /// `$GENERATE range lhs [TTL] [class] type rhs` (BIND): one record per
    /// value of the range, with `$` in lhs and rhs replaced by the value.
    pub(super) fn generate(&mut self, args: &[Token], line: usize, st: &mut FileState) -> Res<()> {
        let mut cur = Cursor::new(args, line, "$GENERATE");
        let range = parse_range(cur.next("range")?, self.max_generate())?;
        let lhs = cur.next("owner template")?;
        let (ttl, t) = read_prefix(&mut cur)?;
        let rhs = cur.next("record data template")?;
        cur.finish()?;
        let what = format!("{} record", type_name(t));
        let (start, stop, step) = range;
        let mut value = u64::from(start);
        while value <= u64::from(stop) {
            let owner_text = substitute(&lhs.text, value, line)?;
            let rhs_text = substitute(&rhs.text, value, line)?;
            // Generated text counts like text read: a long template times
            // a long range must not escape the zone's byte budget.
            self.charge(
                owner_text.len() + rhs_text.len(),
                line,
                "the text $GENERATE produces passes the zone's byte budget",
            )?;
            let owner_tok = Token {
                text: owner_text,
                quoted: false,
                line,
            };
            let owner = parse_name(&owner_tok, &st.origin, "$GENERATE owner name")?;
            // As in BIND, the substituted right-hand side is read again as
            // text, so a quoted template can hold several fields.
            let tokens = lex_all(&rhs_text, line)?;
            let mut rd = Cursor::new(&tokens, line, &what);
            let rdata = rdata_from_text(t, &mut rd, &st.origin)?;
            self.push(owner, t, ttl, rdata, line, st)?;
            value += u64::from(step);
        }
        Ok(())
    }
}

/// `start-stop[/step]` of `$GENERATE`, giving at most `max` values.
fn parse_range(tok: &Token, max: u64) -> Res<(u32, u32, u32)> {
    let bad = |why: &str| fail(tok.line, format!("bad $GENERATE range '{}': {why}", tok.show()));
    let text = String::from_utf8_lossy(&tok.text).into_owned();
    let (span, step) = match text.split_once('/') {
        Some((span, step)) => (span, step),
        None => (text.as_str(), "1"),
    };
    let Some((start, stop)) = span.split_once('-') else {
        return bad("expected start-stop[/step]");
    };
    let num = |s: &str| {
        parse_number(
            &Token {
                text: s.as_bytes().to_vec(),
                quoted: false,
                line: tok.line,
            },
            u32::MAX,
        )
    };
    let (Some(start), Some(stop), Some(step)) = (num(start), num(stop), num(step)) else {
        return bad("expected start-stop[/step] with decimal numbers");
    };
    if start > stop {
        return bad("start is greater than stop");
    }
    if step == 0 {
        return bad("step must be at least 1");
    }
    let count = u64::from(stop - start) / u64::from(step) + 1;
    if count > max {
        let what = format!(
            "$GENERATE range '{}' gives {count} records, more than {max}",
            tok.show()
        );
        return fail(tok.line, over_limit("max_generate", max, &what));
    }
    Ok((start, stop, step))
}

/// Replaces `$` in a `$GENERATE` template. `$$` and `\$` give a literal
/// `$`; `${offset,width,base}` shifts, zero-pads and picks the base
/// (d, o, x, X, or n/N for reversed nibble labels).
pub(super) fn substitute(template: &[u8], value: u64, line: usize) -> Res<Vec<u8>> {
    let mut out = Vec::with_capacity(template.len() + 8);
    let mut i = 0;
    while let Some(&c) = template.get(i) {
        match (c, template.get(i + 1)) {
            (b'\\', next) => {
                out.push(c);
                out.extend(next);
                i += 2;
            }
            (b'$', Some(b'$')) => {
                out.push(b'$');
                i += 2;
            }
            (b'$', Some(b'{')) => {
                let rest = template.get(i + 2..).unwrap_or(&[]);
                let Some(close) = rest.iter().position(|&b| b == b'}') else {
                    return fail(line, "bad $GENERATE modifier: missing '}'");
                };
                let spec = rest.get(..close).unwrap_or(&[]);
                out.extend(format_generated(value, spec, line)?);
                i += 3 + close;
            }
            (b'$', _) => {
                out.extend(value.to_string().bytes());
                i += 1;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Formats `value` per a `${offset,width,base}` modifier.
fn format_generated(value: u64, spec_bytes: &[u8], line: usize) -> Res<Vec<u8>> {
    let bad = || {
        fail(
            line,
            format!(
                "bad $GENERATE modifier '${{{}}}': expected ${{offset[,width[,base]]}}",
                quote(spec_bytes)
            ),
        )
    };
    let spec = String::from_utf8_lossy(spec_bytes);
    let mut parts = spec.split(',');
    let offset: i64 = match parts.next().map(str::trim) {
        Some("") | None => 0,
        Some(s) => match s.parse() {
            Ok(v) if s.len() <= 11 => v,
            _ => return bad(),
        },
    };
    let width: usize = match parts.next().map(str::trim) {
        None => 0,
        Some(s) => match s.parse() {
            Ok(v) if v <= 255 => v,
            _ => return bad(),
        },
    };
    let base = parts.next().unwrap_or("d");
    if parts.next().is_some() {
        return bad();
    }
    let Some(v) = i64::try_from(value).ok().and_then(|v| v.checked_add(offset)) else {
        return bad();
    };
    let Ok(v) = u64::try_from(v) else {
        return fail(
            line,
            format!(
                "$GENERATE modifier '${{{}}}' gives a negative value for {value}",
                quote(spec_bytes)
            ),
        );
    };
    let text = match base {
        "d" => format!("{v:0width$}"),
        "o" => format!("{v:0width$o}"),
        "x" => format!("{v:0width$x}"),
        "X" => format!("{v:0width$X}"),
        "n" => nibbles(v, width, false),
        "N" => nibbles(v, width, true),
        _ => return bad(),
    };
    Ok(text.into_bytes())
}

/// BIND's nibble format: hex digits lowest first, one per label, with the
/// width counting the dots too (`${0,4,n}` of 10 is `a.0.`).
fn nibbles(mut value: u64, mut width: usize, upper: bool) -> String {
    let mut out = String::new();
    loop {
        let digit = char::from_digit((value & 0xf) as u32, 16).unwrap_or('0');
        out.push(if upper { digit.to_ascii_uppercase() } else { digit });
        value >>= 4;
        width = width.saturating_sub(1);
        if width > 0 || value != 0 {
            out.push('.');
            width = width.saturating_sub(1);
        }
        if value == 0 && width == 0 {
            return out;
        }
    }
}
