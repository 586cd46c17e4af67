//! The rewrite of a marked test: its markers merged from every stacked xpar attribute, a
//! registration in the harness's link-time list (read by the marker query), and a lock
//! guard taken before the body runs.
//!
//! The guard is the first statement of the body rather than a wrapper around it, so that
//! `return`, `?`, `async` bodies and any return type keep working unchanged.

use proc_macro2::{Group, Span, TokenStream};
use quote::quote;

use crate::item::{split_inner_attrs, TestFn};
use crate::markers::{Kind, Markers, Serial, Slots};

/// The name of the registration static; also how a second expansion recognises a test
/// that another xpar attribute has already rewritten.
const REGISTRATION: &str = "__XPAR_MARKED_TEST";

/// The argument a stacked marker is left with once the first xpar attribute has taken
/// over its markers. The attribute stays (so that its import counts as used) and expands
/// to the item unchanged.
const MERGED: &str = "__xpar_merged";

pub fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_expand(kind, args, item) {
        Ok(tokens) => tokens,
        Err(e) => e.to_compile_error(),
    }
}

fn try_expand(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    if is_merged(&args) {
        return Ok(item);
    }
    let mut markers = Markers::default();
    markers.add(kind, args, Span::call_site())?;
    let mut test = TestFn::parse(item, kind.name())?;
    if already_marked(&test.body) {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "this test already carries xpar markers from another attribute; an xpar \
                 marker imported under another name is not recognised: write it as \
                 `#[{}]` or `#[xpar_harness::{}]`",
                kind.name(),
                kind.name()
            ),
        ));
    }
    // Take over the other xpar markers on the fn, so that one registration and one guard
    // carry them all.
    let mut kept = Vec::with_capacity(test.attrs.len());
    for attr in std::mem::take(&mut test.attrs) {
        match Kind::of(&attr) {
            Some(other) => {
                markers.add_attribute(other, &attr)?;
                let path = attr.path();
                let merged = proc_macro2::Ident::new(MERGED, Span::call_site());
                kept.push(syn::parse_quote!(#[#path(#merged)]));
            }
            None => kept.push(attr),
        }
    }
    markers.check()?;

    let TestFn {
        signature,
        name,
        body,
        ..
    } = test;
    let registration = proc_macro2::Ident::new(REGISTRATION, Span::call_site());
    // Mixed-site hygiene: the body cannot see (or shadow) the guard.
    let guard = proc_macro2::Ident::new("__xpar_guard", Span::mixed_site());
    let fn_name = name.to_string();
    let marked = marked_test(&markers, &fn_name);
    let (inner_attrs, stmts) = split_inner_attrs(&body);
    let mut new_body = Group::new(
        body.delimiter(),
        quote! {
            #inner_attrs
            #[::xpar_harness::__private::linkme::distributed_slice(
                ::xpar_harness::__private::MARKED_TESTS
            )]
            #[linkme(crate = ::xpar_harness::__private::linkme)]
            static #registration: ::xpar_harness::__private::MarkedTest = #marked;
            let #guard = ::xpar_harness::__private::enter(&#registration);
            #stmts
        },
    );
    new_body.set_span(body.span());
    Ok(quote! {
        #(#kept)*
        #signature #new_body
    })
}

/// The `MarkedTest` value recorded for the test.
fn marked_test(markers: &Markers, fn_name: &str) -> TokenStream {
    let serial = match markers.serial.as_ref().map(|(s, _)| s) {
        None => quote!(::xpar_harness::__private::SerialMarker::No),
        Some(Serial::All) => quote!(::xpar_harness::__private::SerialMarker::All),
        Some(Serial::Keys(keys)) => {
            quote!(::xpar_harness::__private::SerialMarker::Keys(&[#(#keys),*]))
        }
    };
    let parallel_safe = markers.parallel_safe.is_some();
    let resource_slots = match markers.resource_slots.map(|(s, _)| s) {
        None => quote!(::core::option::Option::None),
        Some(Slots::Default) => quote!(::core::option::Option::Some(
            ::xpar_harness::__private::DEFAULT_RESOURCE_SLOTS
        )),
        Some(Slots::Given(n)) => quote!(::core::option::Option::Some(#n)),
    };
    let group = match markers.group.as_ref().map(|(g, _)| g) {
        None => quote!(::core::option::Option::None),
        Some(g) => quote!(::core::option::Option::Some(#g)),
    };
    quote! {
        ::xpar_harness::__private::MarkedTest {
            module_path: ::core::module_path!(),
            fn_name: #fn_name,
            serial: #serial,
            parallel_safe: #parallel_safe,
            resource_slots: #resource_slots,
            group: #group,
        }
    }
}

fn is_merged(args: &TokenStream) -> bool {
    let mut tokens = args.clone().into_iter();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(proc_macro2::TokenTree::Ident(id)), None) if id == MERGED
    )
}

/// Whether the body already holds the registration of an earlier xpar expansion. A
/// second guard in the same body would wait on the first forever.
fn already_marked(body: &Group) -> bool {
    body.stream()
        .into_iter()
        .any(|tt| matches!(&tt, proc_macro2::TokenTree::Ident(id) if id == REGISTRATION))
}
