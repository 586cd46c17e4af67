//! The function a marker is placed on, split just enough to rewrite it: its outer
//! attributes, its signature (kept as written), its name and its body.
//!
//! This reads tokens rather than using syn's full `ItemFn` so that the workspace does not
//! need syn's `full` feature (every other proc macro in the build does without it).

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Ident};

pub struct TestFn {
    pub attrs: Vec<Attribute>,
    /// Visibility, qualifiers, `fn`, name, generics, parameters, return type.
    pub signature: TokenStream,
    pub name: Ident,
    pub body: Group,
}

/// The outer attributes and the tokens after them, before they are checked to be a fn.
struct RawItem {
    attrs: Vec<Attribute>,
    rest: Vec<TokenTree>,
}

impl Parse for RawItem {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let rest: TokenStream = input.parse()?;
        Ok(RawItem {
            attrs,
            rest: rest.into_iter().collect(),
        })
    }
}

const QUALIFIERS: [&str; 5] = ["const", "async", "unsafe", "safe", "default"];

impl TestFn {
    /// Splits `item`; `marker` names the attribute, for the error when it is misplaced.
    pub fn parse(item: TokenStream, marker: &str) -> syn::Result<TestFn> {
        let RawItem { attrs, rest } = syn::parse2(item)?;
        let mut i = 0;
        if is_ident(rest.first(), "pub") {
            i += 1;
            if matches!(rest.get(i), Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis)
            {
                i += 1;
            }
        }
        let kind_at = i;
        loop {
            match rest.get(i) {
                Some(TokenTree::Ident(id)) if QUALIFIERS.iter().any(|q| id == q) => i += 1,
                Some(TokenTree::Ident(id)) if id == "extern" => {
                    i += 1;
                    if matches!(rest.get(i), Some(TokenTree::Literal(_))) {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        let misplaced = || {
            let (what, span) = match rest.get(kind_at) {
                Some(tt) => (format!(", not on `{tt}`"), tt.span()),
                None => (String::new(), Span::call_site()),
            };
            syn::Error::new(span, format!("`#[{marker}]` goes on a test function{what}"))
        };
        if !is_ident(rest.get(i), "fn") {
            return Err(misplaced());
        }
        let name = match rest.get(i + 1) {
            Some(TokenTree::Ident(name)) => name.clone(),
            _ => return Err(misplaced()),
        };
        let body = match rest.last() {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => g.clone(),
            other => {
                let span = other.map_or(name.span(), TokenTree::span);
                return Err(syn::Error::new(
                    span,
                    format!("`#[{marker}]` needs a function with a body"),
                ));
            }
        };
        let signature = rest[..rest.len() - 1].iter().cloned().collect();
        Ok(TestFn {
            attrs,
            signature,
            name,
            body,
        })
    }
}

fn is_ident(tt: Option<&TokenTree>, word: &str) -> bool {
    matches!(tt, Some(TokenTree::Ident(id)) if id == word)
}

/// Splits a body into its leading inner attributes (`#![allow(..)]`), which must stay
/// first, and the rest.
pub fn split_inner_attrs(body: &Group) -> (TokenStream, TokenStream) {
    let tokens: Vec<TokenTree> = body.stream().into_iter().collect();
    let mut i = 0;
    while let (
        Some(TokenTree::Punct(pound)),
        Some(TokenTree::Punct(bang)),
        Some(TokenTree::Group(g)),
    ) = (tokens.get(i), tokens.get(i + 1), tokens.get(i + 2))
    {
        if pound.as_char() == '#' && bang.as_char() == '!' && g.delimiter() == Delimiter::Bracket {
            i += 3;
        } else {
            break;
        }
    }
    (
        tokens[..i].iter().cloned().collect(),
        tokens[i..].iter().cloned().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    #[test]
    fn splits_a_test_fn() {
        let f = TestFn::parse(
            quote!(
                #[test]
                pub(crate) async unsafe extern "C" fn t() -> Result<(), E> {
                    #![allow(x)]
                    body()
                }
            ),
            "serial",
        )
        .unwrap();
        assert_eq!(f.name, "t");
        assert_eq!(f.attrs.len(), 1);
        assert_eq!(
            f.signature.to_string(),
            quote!(pub(crate) async unsafe extern "C" fn t() -> Result<(), E>).to_string()
        );
        let (inner, rest) = split_inner_attrs(&f.body);
        assert_eq!(inner.to_string(), quote!(#![allow(x)]).to_string());
        assert_eq!(rest.to_string(), quote!(body()).to_string());
    }

    #[test]
    fn refuses_other_items() {
        for (item, want) in [
            (
                quote!(
                    struct S;
                ),
                "not on `struct`",
            ),
            (
                quote!(
                    pub const X: u32 = 1;
                ),
                "not on `const`",
            ),
            (
                quote!(
                    static F: fn() = f;
                ),
                "not on `static`",
            ),
            (
                quote!(
                    fn f();
                ),
                "needs a function with a body",
            ),
        ] {
            let err = TestFn::parse(item.clone(), "serial")
                .err()
                .map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(want)),
                "{item}: {err:?}"
            );
        }
    }
}
