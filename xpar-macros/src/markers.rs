//! The markers of one test: parsing each attribute's arguments, and merging the markers
//! stacked on one function into one set, refusing duplicates and contradictions.

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitInt, LitStr, Meta, Token};

/// Which xpar marker an attribute is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Serial,
    ParallelSafe,
    ResourceIntensive,
    Group,
}

impl Kind {
    const ALL: [Kind; 4] = [
        Kind::Serial,
        Kind::ParallelSafe,
        Kind::ResourceIntensive,
        Kind::Group,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Serial => "serial",
            Kind::ParallelSafe => "parallel_safe",
            Kind::ResourceIntensive => "resource_intensive",
            Kind::Group => "group",
        }
    }

    /// The marker an attribute names: `serial` or `xpar_harness::serial` (with or without
    /// a leading `::`). A marker imported under another name is not recognised; the
    /// expansion then reports the clash (see `expand::already_marked`).
    pub fn of(attr: &Attribute) -> Option<Kind> {
        let path = attr.path();
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let last = match segments.as_slice() {
            [last] if path.leading_colon.is_none() => last,
            [krate, last] if krate == "xpar_harness" => last,
            _ => return None,
        };
        Kind::ALL.into_iter().find(|k| k.name() == last)
    }
}

/// What `#[serial]` asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Serial {
    All,
    /// Sorted and without duplicates, so that every test takes its locks in one order.
    Keys(Vec<String>),
}

/// How many slots `#[resource_intensive]` asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slots {
    /// No `slots = N`: the harness's default.
    Default,
    Given(u32),
}

/// The merged markers of one test; `None` where the marker is absent. Each present marker
/// keeps the span of its attribute, for errors about combinations.
#[derive(Clone, Debug, Default)]
pub struct Markers {
    pub serial: Option<(Serial, Span)>,
    pub parallel_safe: Option<Span>,
    pub resource_slots: Option<(Slots, Span)>,
    pub group: Option<(String, Span)>,
}

impl Markers {
    /// Adds one marker, parsed from its attribute arguments. `span` points at the
    /// attribute, for errors that concern the whole of it.
    pub fn add(&mut self, kind: Kind, args: TokenStream, span: Span) -> syn::Result<()> {
        let duplicate = match kind {
            Kind::Serial => self.serial.is_some(),
            Kind::ParallelSafe => self.parallel_safe.is_some(),
            Kind::ResourceIntensive => self.resource_slots.is_some(),
            Kind::Group => self.group.is_some(),
        };
        if duplicate {
            let hint = match kind {
                Kind::Serial => "; give all keys in one attribute: `#[serial(a, b)]`",
                _ => "",
            };
            return Err(syn::Error::new(
                span,
                format!("`#[{}]` is given twice on this test{hint}", kind.name()),
            ));
        }
        match kind {
            Kind::Serial => self.serial = Some((parse_serial.parse2(args)?, span)),
            Kind::ParallelSafe => {
                if !args.is_empty() {
                    return Err(syn::Error::new_spanned(
                        args,
                        "`#[parallel_safe]` takes no arguments",
                    ));
                }
                self.parallel_safe = Some(span);
            }
            Kind::ResourceIntensive => {
                self.resource_slots = Some((parse_slots.parse2(args)?, span));
            }
            Kind::Group => {
                if args.is_empty() {
                    return Err(syn::Error::new(
                        span,
                        "`#[group]` needs a group name: `#[group(\"name\")]`",
                    ));
                }
                self.group = Some((parse_group.parse2(args)?, span));
            }
        }
        Ok(())
    }

    /// Adds the marker written as a stacked attribute (`#[group("g")]` below the one
    /// being expanded).
    pub fn add_attribute(&mut self, kind: Kind, attr: &Attribute) -> syn::Result<()> {
        // The marker's name: the most telling part of the attribute to point at.
        let span = attr
            .meta
            .path()
            .segments
            .last()
            .map_or(attr.pound_token.span, |s| s.ident.span());
        let args = match &attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(nv) => {
                return Err(syn::Error::new(
                    nv.eq_token.span,
                    format!(
                        "xpar markers take their arguments in parentheses: `#[{}(...)]`",
                        kind.name()
                    ),
                ))
            }
        };
        self.add(kind, args, span)
    }

    /// Refuses markers that contradict one another.
    pub fn check(&self) -> syn::Result<()> {
        if let (Some((serial, _)), Some(span)) = (&self.serial, self.parallel_safe) {
            let what = match serial {
                Serial::All => "`#[serial]`",
                Serial::Keys(_) => "`#[serial(..)]`",
            };
            return Err(syn::Error::new(
                span,
                format!("`#[parallel_safe]` contradicts {what} on the same test; keep one"),
            ));
        }
        Ok(())
    }
}

fn parse_serial(input: ParseStream) -> syn::Result<Serial> {
    if input.is_empty() {
        return Ok(Serial::All);
    }
    let keys = Punctuated::<KeyArg, Token![,]>::parse_terminated(input)?;
    let mut names: Vec<String> = Vec::new();
    for key in keys {
        let name = key.0.unraw().to_string();
        if names.contains(&name) {
            return Err(syn::Error::new(
                key.0.span(),
                format!("serial key `{name}` is given twice"),
            ));
        }
        names.push(name);
    }
    names.sort();
    Ok(Serial::Keys(names))
}

/// One `#[serial(..)]` key: an identifier, with an error that says so for anything else.
struct KeyArg(Ident);

impl syn::parse::Parse for KeyArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(Ident::peek_any) {
            return Ok(KeyArg(input.call(Ident::parse_any)?));
        }
        Err(input.error("expected a serial key name, e.g. `#[serial(db)]` or `#[serial(db, fs)]`"))
    }
}

fn parse_slots(input: ParseStream) -> syn::Result<Slots> {
    if input.is_empty() {
        return Ok(Slots::Default);
    }
    let name: Ident = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), "expected `slots = N`"))?;
    if name != "slots" {
        return Err(syn::Error::new(
            name.span(),
            format!("unknown argument `{name}`; expected `slots = N`"),
        ));
    }
    input.parse::<Token![=]>()?;
    let lit: LitInt = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a whole number of slots, e.g. `slots = 2`",
        )
    })?;
    let slots: u32 = lit.base10_parse().map_err(|_| {
        syn::Error::new(
            lit.span(),
            "expected a whole number of slots, e.g. `slots = 2`",
        )
    })?;
    if slots == 0 {
        return Err(syn::Error::new(lit.span(), "`slots` must be at least 1"));
    }
    if !input.is_empty() {
        return Err(input.error("unexpected argument after `slots = N`"));
    }
    Ok(Slots::Given(slots))
}

fn parse_group(input: ParseStream) -> syn::Result<String> {
    let lit: LitStr = input.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            "expected a group name in quotes: `#[group(\"name\")]`",
        )
    })?;
    if !input.is_empty() {
        return Err(input.error("`#[group]` takes one name: `#[group(\"name\")]`"));
    }
    let name = lit.value();
    if name.is_empty() {
        return Err(syn::Error::new(lit.span(), "the group name is empty"));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn markers(list: &[(Kind, TokenStream)]) -> syn::Result<Markers> {
        let mut m = Markers::default();
        for (kind, args) in list {
            m.add(*kind, args.clone(), Span::call_site())?;
        }
        m.check()?;
        Ok(m)
    }

    fn error(list: &[(Kind, TokenStream)]) -> String {
        match markers(list) {
            Ok(m) => panic!("expected an error, got {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn serial_keys_are_sorted_and_unrawed() {
        let m = markers(&[(Kind::Serial, quote!(r#type, db,))]).unwrap();
        assert_eq!(
            m.serial.unwrap().0,
            Serial::Keys(vec!["db".into(), "type".into()])
        );
        let m = markers(&[(Kind::Serial, quote!())]).unwrap();
        assert_eq!(m.serial.unwrap().0, Serial::All);
    }

    #[test]
    fn stacked_markers_merge() {
        let m = markers(&[
            (Kind::Group, quote!("g1")),
            (Kind::Serial, quote!(db)),
            (Kind::ResourceIntensive, quote!(slots = 3)),
        ])
        .unwrap();
        assert_eq!(m.group.unwrap().0, "g1");
        assert_eq!(m.resource_slots.unwrap().0, Slots::Given(3));
        assert_eq!(m.serial.unwrap().0, Serial::Keys(vec!["db".into()]));
        let m = markers(&[(Kind::ResourceIntensive, quote!())]).unwrap();
        assert_eq!(m.resource_slots.unwrap().0, Slots::Default);
    }

    #[test]
    fn bad_combinations_and_arguments_are_refused() {
        let cases = [
            (
                vec![(Kind::Serial, quote!(a)), (Kind::Serial, quote!(b))],
                "given twice",
            ),
            (
                vec![(Kind::Serial, quote!()), (Kind::ParallelSafe, quote!())],
                "contradicts",
            ),
            (vec![(Kind::Serial, quote!(a, a))], "`a` is given twice"),
            (vec![(Kind::Serial, quote!("a"))], "expected a serial key"),
            (vec![(Kind::ParallelSafe, quote!(x))], "takes no arguments"),
            (
                vec![(Kind::ResourceIntensive, quote!(slots = 0))],
                "at least 1",
            ),
            (
                vec![(Kind::ResourceIntensive, quote!(threads = 2))],
                "unknown argument",
            ),
            (
                vec![(Kind::ResourceIntensive, quote!(slots = -1))],
                "whole number",
            ),
            (vec![(Kind::Group, quote!())], "needs a group name"),
            (vec![(Kind::Group, quote!(g))], "in quotes"),
            (vec![(Kind::Group, quote!(""))], "empty"),
            (vec![(Kind::Group, quote!("a", "b"))], "takes one name"),
        ];
        for (list, want) in cases {
            let got = error(&list);
            assert!(got.contains(want), "{list:?}: {got:?} lacks {want:?}");
        }
    }
}
