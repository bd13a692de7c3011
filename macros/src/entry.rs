//! Parsing, checking and expansion of `#[runtime::main]` and `#[runtime::test]`.
//!
//! The steps:
//!
//! 1. The function is parsed cheaply ([`EntryFn`]): attributes, visibility and
//!    signature are parsed, the body stays an unparsed token stream, so a body
//!    that is still being typed does not stop the expansion.
//! 2. The options are read one `key = value` at a time into [`Options`], each
//!    key by its own `set_*` method, which rejects a second occurrence and a
//!    value of the wrong kind with a `syn::Error` on the offending token.
//! 3. [`Options::build`] checks the options against each other (and against
//!    the attribute's default flavor) and yields a [`Config`].
//! 4. [`expand`] writes the synchronous function that builds the runtime and
//!    `block_on`s the body.
//!
//! Errors are collected with `syn::Error::combine`, so one build reports every
//! mistake. On error the function is still expanded, with [`Config::fallback`],
//! and the errors follow it as `compile_error!`s: the item stays visible to
//! IDEs (completion, go-to-definition) while the build fails.

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{
    AttrStyle, Attribute, Error, Expr, ExprLit, Lit, LitStr, Meta, MetaNameValue, Path, Signature,
    Token, UnOp, Visibility, braced, token,
};

/// Which attribute is being expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Main,
    Test,
}

impl Entry {
    /// The attribute as users write it, for messages.
    fn attr(self) -> &'static str {
        match self {
            Entry::Main => "`#[runtime::main]`",
            Entry::Test => "`#[runtime::test]`",
        }
    }

    /// As in tokio: programs get all cores, tests one thread each.
    fn default_flavor(self) -> Flavor {
        match self {
            Entry::Main => Flavor::MultiThread,
            Entry::Test => Flavor::CurrentThread,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

impl Flavor {
    const NAMES: [&'static str; 2] = ["multi_thread", "current_thread"];

    fn from_name(name: &str) -> Option<Flavor> {
        match name {
            "multi_thread" => Some(Flavor::MultiThread),
            "current_thread" => Some(Flavor::CurrentThread),
            _ => None,
        }
    }
}

/// The option keys, in the order messages list them.
const KEYS: [&str; 3] = ["flavor", "worker_threads", "crate"];

// ===== Expansion entry point =====

/// Expands `#[runtime::main(args)]` or `#[runtime::test(args)]` on `item`.
pub(crate) fn entry(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    let input: EntryFn = match syn::parse2(item.clone()) {
        Ok(input) => input,
        Err(e) => {
            // Not a function at all: give the tokens back untouched.
            let msg = format!("{} applies to an `async fn`: {e}", entry.attr());
            let mut out = item;
            out.extend(Error::new(e.span(), msg).into_compile_error());
            return out;
        }
    };

    let mut errors = Errors::default();
    let config = match parse_options(entry, args) {
        Ok(config) => Some(config),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    for e in check_fn(entry, &input) {
        errors.push(e);
    }

    let config = config.unwrap_or_else(|| Config::fallback(entry));
    let mut out = expand(entry, &input, &config);
    if let Some(e) = errors.0 {
        out.extend(e.into_compile_error());
    }
    out
}

/// Errors gathered so far, reported together.
#[derive(Debug, Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, e: Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

// ===== The function =====

/// An `fn` item with its body left as tokens.
struct EntryFn {
    attrs: Vec<Attribute>,
    vis: Visibility,
    sig: Signature,
    brace: token::Brace,
    /// `#![...]` attributes at the top of the body.
    inner_attrs: Vec<Attribute>,
    body: TokenStream,
}

impl Parse for EntryFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let body = content.parse()?;
        Ok(EntryFn {
            attrs,
            vis,
            sig,
            brace,
            inner_attrs,
            body,
        })
    }
}

/// What the attribute needs of the function, independent of the options.
fn check_fn(entry: Entry, input: &EntryFn) -> Vec<Error> {
    let sig = &input.sig;
    let name = &sig.ident;
    let attr = entry.attr();
    let mut errors = Vec::new();
    if sig.asyncness.is_none() {
        errors.push(Error::new_spanned(
            sig.fn_token,
            format!("{attr} applies to an `async fn`, and `{name}` is not async: write `async fn {name}`"),
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(Error::new_spanned(
            &sig.generics,
            format!(
                "{attr} cannot call a generic function: remove the generic parameters of `{name}`"
            ),
        ));
    } else if let Some(clause) = &sig.generics.where_clause {
        errors.push(Error::new_spanned(
            clause,
            format!("{attr} cannot call a function with a `where` clause: remove it from `{name}`"),
        ));
    }
    if !sig.inputs.is_empty() {
        let n = sig.inputs.len();
        let (args, them) = if n == 1 {
            ("argument", "it")
        } else {
            ("arguments", "them")
        };
        errors.push(Error::new_spanned(
            &sig.inputs,
            format!("`{name}` takes {n} {args}, but {attr} calls it with none: remove {them}"),
        ));
    }
    if entry == Entry::Test {
        for a in input.attrs.iter().filter(|a| is_test_attr(a)) {
            errors.push(Error::new_spanned(
                a,
                format!(
                    "`{name}` already has a test attribute, `#[{}]`, and {attr} adds \
                     `#[test]` itself: remove this one",
                    render_path(a.path())
                ),
            ));
        }
    }
    errors
}

/// `#[test]`, `#[core::prelude::v1::test]` or another attribute named `test`
/// (a second `#[runtime::test]` included).
fn is_test_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "test")
}

/// Whether the attribute can call the function as it is: no arguments, no
/// generics. When it cannot, [`check_fn`] has reported why.
fn is_callable(sig: &Signature) -> bool {
    sig.inputs.is_empty() && sig.generics.params.is_empty() && sig.generics.where_clause.is_none()
}

// ===== Options =====

/// The checked options.
struct Config {
    flavor: Flavor,
    /// The count and the span of its literal.
    worker_threads: Option<(usize, Span)>,
    crate_path: Path,
}

impl Config {
    /// The options used to expand the function when the given ones are wrong.
    fn fallback(entry: Entry) -> Config {
        Config {
            flavor: entry.default_flavor(),
            worker_threads: None,
            crate_path: default_crate_path(),
        }
    }
}

fn default_crate_path() -> Path {
    syn::parse_quote!(::runtime)
}

/// Options as read so far, before they are checked against each other.
struct Options {
    entry: Entry,
    /// Keys already given, to reject repeats even when a value was invalid.
    seen: Vec<String>,
    flavor: Option<Flavor>,
    /// The count, and the whole `worker_threads = N` for messages about it.
    worker_threads: Option<(usize, Span, MetaNameValue)>,
    crate_path: Option<Path>,
}

fn parse_options(entry: Entry, args: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Options {
        entry,
        seen: Vec::new(),
        flavor: None,
        worker_threads: None,
        crate_path: None,
    };
    let mut errors = Errors::default();
    for meta in metas {
        if let Err(e) = options.set(meta) {
            errors.push(e);
        }
    }
    errors.finish()?;
    options.build()
}

impl Options {
    fn set(&mut self, meta: Meta) -> syn::Result<()> {
        let nv = match meta {
            Meta::NameValue(nv) => nv,
            Meta::Path(path) => return Err(bare_path(&path)),
            Meta::List(list) => {
                return Err(Error::new_spanned(
                    &list,
                    format!(
                        "options are written `key = value`, found `{}(...)`",
                        render_path(&list.path)
                    ),
                ));
            }
        };
        let key = render_path(&nv.path);
        if !KEYS.contains(&key.as_str()) {
            return Err(unknown_key(&nv.path, &key));
        }
        if self.seen.contains(&key) {
            return Err(Error::new_spanned(
                &nv.path,
                format!("`{key}` is set more than once: keep one"),
            ));
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "flavor" => self.set_flavor(&nv),
            "worker_threads" => self.set_worker_threads(nv),
            _ => self.set_crate(&nv),
        }
    }

    fn set_flavor(&mut self, nv: &MetaNameValue) -> syn::Result<()> {
        let lit = lit_str(
            nv,
            "`flavor = \"multi_thread\"` or `flavor = \"current_thread\"`",
        )?;
        let name = lit.value();
        let Some(flavor) = Flavor::from_name(&name) else {
            let hint = match closest(&name, &Flavor::NAMES) {
                Some(near) => format!(" (did you mean \"{near}\"?)"),
                None => String::new(),
            };
            return Err(Error::new(
                lit.span(),
                format!(
                    "unknown flavor \"{name}\"{hint}: expected \"multi_thread\" or \"current_thread\""
                ),
            ));
        };
        self.flavor = Some(flavor);
        Ok(())
    }

    fn set_worker_threads(&mut self, nv: MetaNameValue) -> syn::Result<()> {
        let expected = "expected a positive integer such as `worker_threads = 2`";
        let Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) = &nv.value
        else {
            return Err(Error::new_spanned(
                &nv.value,
                format!("`worker_threads = {}`: {expected}", describe(&nv.value)),
            ));
        };
        let n: usize = int.base10_parse().map_err(|_| {
            let what = if int.base10_digits().starts_with('-') {
                "is negative"
            } else {
                "is too large"
            };
            Error::new(
                int.span(),
                format!("`worker_threads = {int}` {what}: {expected}"),
            )
        })?;
        if n == 0 {
            return Err(Error::new(
                int.span(),
                format!(
                    "`worker_threads = {int}`: a runtime needs at least one worker thread; {expected}"
                ),
            ));
        }
        let span = int.span();
        self.worker_threads = Some((n, span, nv));
        Ok(())
    }

    fn set_crate(&mut self, nv: &MetaNameValue) -> syn::Result<()> {
        let lit = lit_str(
            nv,
            "the path of the runtime crate, such as `crate = \"::runtime\"`",
        )?;
        let path = lit.parse_with(Path::parse_mod_style).map_err(|e| {
            Error::new(
                lit.span(),
                format!(
                    "`crate = {}` is not a path ({e}): expected the path of the runtime crate, \
                     such as `crate = \"::runtime\"`",
                    lit.to_token_stream()
                ),
            )
        })?;
        self.crate_path = Some(path);
        Ok(())
    }

    /// Checks the options against each other.
    fn build(self) -> syn::Result<Config> {
        let flavor = self.flavor.unwrap_or(self.entry.default_flavor());
        if let (Some((_, _, nv)), Flavor::CurrentThread) = (&self.worker_threads, flavor) {
            let msg = match self.flavor {
                Some(_) => "`worker_threads` only applies to the multi-thread flavor, and \
                            `flavor = \"current_thread\"` runs everything on the calling thread: \
                            remove `worker_threads` or write `flavor = \"multi_thread\"`"
                    .to_owned(),
                None => format!(
                    "`worker_threads` only applies to the multi-thread flavor, and {} runs on \
                     `current_thread` by default: add `flavor = \"multi_thread\"`",
                    self.entry.attr()
                ),
            };
            return Err(Error::new_spanned(nv, msg));
        }
        Ok(Config {
            flavor,
            worker_threads: self.worker_threads.map(|(n, span, _)| (n, span)),
            crate_path: self.crate_path.unwrap_or_else(default_crate_path),
        })
    }
}

/// The string literal value of `nv`, or an error saying what was `expected`.
fn lit_str<'a>(nv: &'a MetaNameValue, expected: &str) -> syn::Result<&'a LitStr> {
    match &nv.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s),
        other => Err(Error::new_spanned(
            other,
            format!(
                "`{} = {}`: expected a string literal: {expected}",
                render_path(&nv.path),
                describe(other)
            ),
        )),
    }
}

/// An option written without a value.
fn bare_path(path: &Path) -> Error {
    let name = render_path(path);
    let msg = match name.as_str() {
        "multi_thread" | "current_thread" => {
            format!("write the flavor as `flavor = \"{name}\"`")
        }
        "flavor" => "`flavor` needs a value: `flavor = \"multi_thread\"` or \
                     `flavor = \"current_thread\"`"
            .to_owned(),
        "worker_threads" => {
            "`worker_threads` needs a value, such as `worker_threads = 2`".to_owned()
        }
        "crate" => "`crate` needs a value, such as `crate = \"::runtime\"`".to_owned(),
        _ => return unknown_key(path, &name),
    };
    Error::new_spanned(path, msg)
}

fn unknown_key(path: &Path, key: &str) -> Error {
    let msg = match closest(key, &KEYS) {
        Some(near) => format!("unknown option `{key}`: did you mean `{near}`?"),
        None => format!(
            "unknown option `{key}`: the options are `flavor`, `worker_threads` and `crate`"
        ),
    };
    Error::new_spanned(path, msg)
}

/// `a::b` for a path, without the spaces `TokenStream`'s display puts in.
fn render_path(path: &Path) -> String {
    let mut out = String::new();
    if path.leading_colon.is_some() {
        out.push_str("::");
    }
    for (i, segment) in path.segments.iter().enumerate() {
        if i > 0 {
            out.push_str("::");
        }
        out.push_str(&segment.ident.to_string());
    }
    out
}

/// A short rendering of an option's value for messages.
fn describe(expr: &Expr) -> String {
    match expr {
        Expr::Path(p) if p.qself.is_none() => render_path(&p.path),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => format!("-{}", describe(&u.expr)),
        other => other.to_token_stream().to_string(),
    }
}

/// The candidate within a small edit distance of `word`, if any: a typo
/// rather than a different word.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|&(d, c)| d > 0 && d <= (c.len() / 3).max(1))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

/// Levenshtein distance (insertions, deletions, substitutions), by chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = Vec::with_capacity(b.len() + 1);
        row.push(i + 1);
        for (j, &cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != cb);
            row.push(substitute.min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

// ===== Expansion =====

/// The synchronous function: build the runtime, `block_on` the body.
fn expand(entry: Entry, input: &EntryFn, config: &Config) -> TokenStream {
    let EntryFn {
        attrs,
        vis,
        sig,
        brace,
        inner_attrs,
        body,
    } = input;
    let mut sig = sig.clone();
    sig.asyncness = None;
    // `#![...]` at the top of the body now applies to the generated fn.
    let inner_attrs = inner_attrs.iter().map(|a| {
        let mut a = a.clone();
        a.style = AttrStyle::Outer;
        a
    });
    let test_attr = (entry == Entry::Test).then(|| quote!(#[::core::prelude::v1::test]));
    // A `#[test]` of the user's is reported by `check_fn`; leaving it out
    // spares a second complaint about the duplicated attribute.
    let attrs = attrs
        .iter()
        .filter(|a| entry == Entry::Main || !is_test_attr(a));

    let krate = &config.crate_path;
    let builder = match config.flavor {
        Flavor::CurrentThread => quote!(#krate::Builder::new_current_thread()),
        Flavor::MultiThread => {
            let threads = config.worker_threads.map(|(n, span)| {
                // Unsuffixed, so `2u8` still passes a `usize`.
                let mut lit = Literal::usize_unsuffixed(n);
                lit.set_span(span);
                quote!(.worker_threads(#lit))
            });
            quote!(#krate::Builder::new_multi_thread() #threads)
        }
    };

    // The body keeps its own braces, so its tokens keep their spans.
    let mut block = TokenStream::new();
    brace.surround(&mut block, |tokens| tokens.extend(body.clone()));
    // The `block_on` call carries the span of the body's end, so an error
    // about the returned value points into the user's function.
    let tail_span = body
        .clone()
        .into_iter()
        .last()
        .map_or(brace.span.close(), |t: TokenTree| t.span());
    let run = quote_spanned! {tail_span=>
        #[allow(clippy::expect_used)]
        let rt = #builder
            .enable_all()
            .build()
            .expect("failed to build the runtime");
        rt.block_on(body)
    };

    let body = quote! {
        {
            let body = async #block;
            #run
        }
    };

    if is_callable(&sig) {
        return quote! {
            #test_attr
            #(#attrs)*
            #(#inner_attrs)*
            #vis #sig #body
        };
    }
    // Only reached on error. The function as written is kept, nested, so its
    // body still type-checks and IDEs still see the arguments; the outer one
    // has the shape `main` and tests need, so rustc adds no error of its own.
    let name = &sig.ident;
    quote! {
        #test_attr
        #(#attrs)*
        #vis fn #name() {
            #[allow(dead_code)]
            #(#inner_attrs)*
            #sig #body
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("flavor", "flavor"), 0);
        assert_eq!(edit_distance("flavour", "flavor"), 1);
        assert_eq!(edit_distance("worker_thread", "worker_threads"), 1);
        assert_eq!(edit_distance("", "crate"), 5);
        assert_eq!(edit_distance("krate", "crate"), 1);
    }

    #[test]
    fn closest_suggests_typos_only() {
        assert_eq!(closest("flavour", &KEYS), Some("flavor"));
        assert_eq!(closest("workers_threads", &KEYS), Some("worker_threads"));
        assert_eq!(closest("threads", &KEYS), None);
        assert_eq!(
            closest("multi-thread", &Flavor::NAMES),
            Some("multi_thread")
        );
        assert_eq!(closest("current", &Flavor::NAMES), None);
    }

    #[test]
    fn errors_are_combined() {
        let out = entry(
            Entry::Main,
            quote!(flavour = "x", worker_threads = 0),
            quote!(
                fn main() {}
            ),
        )
        .to_string();
        assert!(out.contains("did you mean `flavor`"), "{out}");
        assert!(out.contains("at least one worker thread"), "{out}");
        assert!(out.contains("is not async"), "{out}");
        // The function is still there.
        assert!(out.contains("fn main"), "{out}");
    }
}
