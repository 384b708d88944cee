//! Query limits, enforced before any SQL runs: query length, depth, complexity (a connection
//! costs its page size × what it selects), aliases, root fields and directives. Each refusal
//! is LIMIT_EXCEEDED with `extensions.limit` and `extensions.max`.
//!
//! async-graphql enforces depth and complexity itself during validation, but its parser and
//! its own checks walk fragment spreads recursively and without memoization, so a few lines of
//! nested fragments (`...A ...A` inside `A1`, `...A2 ...A2` inside `A2`, …) would expand to
//! billions of fields, and a fragment cycle would recurse until its depth limit at every
//! branch. The [executor](super::execute) therefore measures every document first, in time linear in its
//! text: it bounds bracket nesting before parsing (the parser recurses per bracket), then
//! refuses fragment cycles and documents whose fragment-expanded size already exceeds the
//! limits, so async-graphql's walks only ever see documents of bounded size.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult};

use crate::error::{Error, code, limit};
use crate::pagination::args::DEFAULT_PAGE_SIZE;

/// Deepest `GRAPHQL_MAX_DEPTH` accepted: async-graphql's parser refuses selection sets nested
/// deeper than 64 however it is configured, and nothing real comes close to this.
pub const MAX_SUPPORTED_DEPTH: usize = 32;

/// Most directives one field may carry (`@skip`/`@include` are the only ones we know, so
/// more than a handful is abuse).
pub const MAX_DIRECTIVES_PER_FIELD: usize = 8;

/// Complexity of a connection before its rows: it is one database query.
pub const CONNECTION_COST: usize = 10;

/// Ceiling of any one field's computed cost, far above every limit: async-graphql adds field
/// costs with plain `+=`, and a saturated cost per field must not overflow that sum.
const COST_CAP: usize = 1 << 40;

/// What one GraphQL request may ask for. See [`crate::config::Settings::query_limits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    /// Deepest nesting of fields.
    pub max_depth: usize,
    /// Highest estimated cost: each field costs 1, each connection
    /// [`CONNECTION_COST`] + page size × the cost of its selection.
    pub max_complexity: usize,
    /// Most aliased fields in one document (fragments counted where they are spread).
    pub max_aliases: usize,
    /// Most fields at the root of one operation.
    pub max_root_fields: usize,
    /// Most operations in one batched HTTP request.
    pub max_batch_size: usize,
    /// Longest query text, in bytes.
    pub max_query_length: usize,
}

impl QueryLimits {
    /// How deep selection sets plus fragment spreads may nest. Deeper than the field depth
    /// because fragments and inline fragments add nesting without adding fields.
    pub fn max_nesting(&self) -> usize {
        self.max_depth + 8
    }

    /// How deep brackets (`{`, `[`, `(`) may nest in the query text: selection sets plus the
    /// arguments, lists and input objects inside them, generously.
    fn max_bracket_nesting(&self) -> usize {
        2 * self.max_depth + 16
    }
}

/// Complexity of a connection field (`#[graphql(complexity = …)]`): one database query plus
/// the page size (first, last, or the default of 50) times the cost of what each row selects.
/// So `first: 1000` nested inside `first: 1000` costs over a million and is refused during
/// validation, before any SQL runs. Out-of-range sizes count as they are (a negative one as 0);
/// the resolver refuses them with BAD_USER_INPUT if the cost alone did not.
pub fn connection_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = match (first, last) {
        (None, None) => DEFAULT_PAGE_SIZE as usize,
        (first, last) => usize::try_from(first.unwrap_or(0).max(last.unwrap_or(0))).unwrap_or(0),
    };
    list_cost(size, child_complexity)
}

/// Complexity of a field returning a list of `len` objects fetched in one query (`nodes(ids:)`).
pub fn list_cost(len: usize, child_complexity: usize) -> usize {
    CONNECTION_COST
        .saturating_add(len.saturating_mul(child_complexity))
        .min(COST_CAP)
}

/// A LIMIT_EXCEEDED error for `name` with its maximum.
pub fn exceeded(name: &str, max: usize) -> ServerError {
    Error::LimitExceeded {
        limit: name.to_owned(),
        max: max as u64,
    }
    .into_server_error()
}

/// Maps one of async-graphql's own limit errors to the limit it enforces, by its message
/// (async-graphql has no error kinds for them).
pub(super) fn builtin_limit(message: &str) -> Option<&'static str> {
    if message == "Query is too complex." {
        Some(limit::COMPLEXITY)
    } else if message == "Query is nested too deep."
        || message.starts_with("The recursion depth of the query cannot be greater than")
        || message.starts_with("recursion limit exceeded")
    {
        Some(limit::DEPTH)
    } else if message.starts_with("The number of directives on the field") {
        Some(limit::DIRECTIVES)
    } else {
        None
    }
}

impl QueryLimits {
    /// The configured maximum of the limit `name`.
    pub(super) fn max_of(&self, name: &str) -> usize {
        match name {
            limit::DEPTH => self.max_depth,
            limit::COMPLEXITY => self.max_complexity,
            limit::ALIASES => self.max_aliases,
            limit::ROOT_FIELDS => self.max_root_fields,
            limit::DIRECTIVES => MAX_DIRECTIVES_PER_FIELD,
            limit::BATCH_SIZE => self.max_batch_size,
            limit::QUERY_LENGTH => self.max_query_length,
            _ => 0,
        }
    }
}

/// Checks the query text before it is parsed: its length, and how deep its brackets nest
/// (the parser recurses per bracket).
pub fn check_text(query: &str, limits: &QueryLimits) -> ServerResult<()> {
    if query.len() > limits.max_query_length {
        return Err(exceeded(limit::QUERY_LENGTH, limits.max_query_length));
    }
    if max_bracket_nesting(query) > limits.max_bracket_nesting() {
        return Err(exceeded(limit::DEPTH, limits.max_depth));
    }
    Ok(())
}

/// Checks a parsed document against the limits, in time linear in its size.
pub fn check_document(document: &ExecutableDocument, limits: &QueryLimits, introspection: bool) -> ServerResult<()> {
    let mut walker = Walker {
        document,
        max_depth: limits.max_depth,
        max_nesting: limits.max_nesting(),
        shapes: HashMap::new(),
        roots: HashMap::new(),
        visiting: HashSet::new(),
    };
    let mut aliases = 0usize;
    for (_, operation) in document.operations.iter() {
        let set = &operation.node.selection_set.node;
        let shape = walker.selection_set(set, 0)?;
        if shape.depth > limits.max_depth {
            return Err(exceeded(limit::DEPTH, limits.max_depth));
        }
        // Every field costs at least 1, so more fields than the complexity limit can never pass.
        if shape.fields > limits.max_complexity {
            return Err(exceeded(limit::COMPLEXITY, limits.max_complexity));
        }
        aliases = aliases.saturating_add(shape.aliases);
        let root = walker.root(set)?;
        if root.fields > limits.max_root_fields {
            return Err(exceeded(limit::ROOT_FIELDS, limits.max_root_fields));
        }
        if root.introspection && !introspection {
            return Err(super::errors::coded(
                "introspection is disabled on this server: `__schema` and `__type` are not answered".to_owned(),
                code::GRAPHQL_VALIDATION_FAILED,
            ));
        }
    }
    if aliases > limits.max_aliases {
        return Err(exceeded(limit::ALIASES, limits.max_aliases));
    }
    Ok(())
}

/// Size of a selection set with every fragment spread expanded (saturating).
#[derive(Debug, Clone, Copy, Default)]
struct Shape {
    fields: usize,
    aliases: usize,
    depth: usize,
}

impl Shape {
    /// Adds a sibling selection (a field's shape, or what a fragment contributes).
    fn add(&mut self, other: Shape) {
        self.fields = self.fields.saturating_add(other.fields);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.depth = self.depth.max(other.depth);
    }
}

/// The root fields of an operation, fragments expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Root {
    fields: usize,
    introspection: bool,
}

/// Walks selection sets, expanding each fragment once (memoized) and refusing cycles and
/// nesting past the limit — so its own recursion is bounded too.
struct Walker<'a> {
    document: &'a ExecutableDocument,
    max_depth: usize,
    max_nesting: usize,
    shapes: HashMap<&'a str, Shape>,
    roots: HashMap<&'a str, Root>,
    visiting: HashSet<&'a str>,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, nesting: usize) -> ServerResult<Shape> {
        if nesting > self.max_nesting {
            return Err(exceeded(limit::DEPTH, self.max_depth));
        }
        let mut shape = Shape::default();
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.selection_set(&field.selection_set.node, nesting + 1)?;
                    shape.add(Shape {
                        fields: inner.fields.saturating_add(1),
                        aliases: inner.aliases.saturating_add(usize::from(field.alias.is_some())),
                        depth: inner.depth + 1,
                    });
                }
                Selection::InlineFragment(fragment) => {
                    shape.add(self.selection_set(&fragment.node.selection_set.node, nesting + 1)?);
                }
                Selection::FragmentSpread(spread) => {
                    shape.add(self.fragment(spread.node.fragment_name.node.as_str(), nesting + 1)?);
                }
            }
        }
        Ok(shape)
    }

    fn fragment(&mut self, name: &'a str, nesting: usize) -> ServerResult<Shape> {
        if let Some(shape) = self.shapes.get(name) {
            return Ok(*shape);
        }
        // An unknown fragment is reported by validation; it adds nothing here.
        let Some((key, fragment)) = self.document.fragments.get_key_value(name) else {
            return Ok(Shape::default());
        };
        if !self.visiting.insert(key.as_str()) {
            return Err(super::errors::coded(
                format!("fragment `{name}` spreads itself (directly or through other fragments)"),
                code::GRAPHQL_VALIDATION_FAILED,
            ));
        }
        let shape = self.selection_set(&fragment.node.selection_set.node, nesting)?;
        self.visiting.remove(key.as_str());
        self.shapes.insert(key.as_str(), shape);
        Ok(shape)
    }

    /// The root fields of `set`, through fragments (already checked for cycles by
    /// [`Walker::selection_set`]).
    fn root(&mut self, set: &'a SelectionSet) -> ServerResult<Root> {
        let mut root = Root::default();
        for selection in &set.items {
            let inner = match &selection.node {
                Selection::Field(field) => {
                    let name = field.node.name.node.as_str();
                    Root {
                        fields: 1,
                        introspection: name == "__schema" || name == "__type",
                    }
                }
                Selection::InlineFragment(fragment) => self.root(&fragment.node.selection_set.node)?,
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    match self.roots.get(name) {
                        Some(root) => *root,
                        None => match self.document.fragments.get_key_value(name) {
                            Some((key, fragment)) => {
                                let inner = self.root(&fragment.node.selection_set.node)?;
                                self.roots.insert(key.as_str(), inner);
                                inner
                            }
                            None => Root::default(),
                        },
                    }
                }
            };
            root.fields = root.fields.saturating_add(inner.fields);
            root.introspection |= inner.introspection;
        }
        Ok(root)
    }
}

/// Deepest nesting of `{`, `[` and `(` in a query text, ignoring strings and comments. Cheap
/// enough to run on every request before the parser, whose recursion follows the brackets.
pub fn max_bracket_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut i, mut depth, mut max) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // Block string: ends at the next `"""` not escaped as `\"""`.
                i += 3;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\n' | b'\r' => break,
                        _ => i += 1,
                    }
                }
                continue;
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: QueryLimits = QueryLimits {
        max_depth: 5,
        max_complexity: 100,
        max_aliases: 3,
        max_root_fields: 4,
        max_batch_size: 2,
        max_query_length: 1000,
    };

    fn check(query: &str) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        check_document(&document, &LIMITS, false).map_err(|e| {
            let ext = e.extensions.as_ref();
            let get = |k: &str| ext.and_then(|x| x.get(k)).map(ToString::to_string).unwrap_or_default();
            format!("{} {} {}", get("code"), get("limit"), get("max"))
        })
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        assert_eq!(max_bracket_nesting(r#"{ a(x: "{{{[[[((") { b { c } } }"#), 3);
        assert_eq!(max_bracket_nesting("{ a # {{{{{{\n { b } }"), 2);
        assert_eq!(max_bracket_nesting(r#"{ a(x: """ {{{ \""" {{{ """) }"#), 2);
        assert_eq!(max_bracket_nesting(r#"{ a(x: "\"{{{") }"#), 2);
        assert_eq!(max_bracket_nesting("}}}{{"), 2);
    }

    #[test]
    fn fragments_are_expanded_without_blowing_up() {
        assert_eq!(check("{ a { b } c: d }"), Ok(()));
        // 2^40 fields from a few lines: refused by size, in linear time.
        let mut bomb = String::from("{ ...F0 }");
        for i in 0..40 {
            bomb.push_str(&format!(" fragment F{i} on Query {{ ...F{n} ...F{n} }}", n = i + 1));
        }
        bomb.push_str(" fragment F40 on Query { x }");
        assert!(
            check(&bomb).is_err_and(|e| e.contains("LIMIT_EXCEEDED")),
            "{:?}",
            check(&bomb)
        );
        let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { x ...A }";
        assert!(check(cycle).is_err_and(|e| e.contains("GRAPHQL_VALIDATION_FAILED")));
    }

    #[test]
    fn each_limit_is_named() {
        for (query, limit, max) in [
            ("{ a { b { c { d { e { f } } } } } }", "depth", 5),
            ("{ a b c d e }", "rootFields", 4),
            ("{ a { x: b y: c z: d w: e } }", "aliases", 3),
            ("{ ...F } fragment F on Query { a b c d e }", "rootFields", 4),
        ] {
            assert_eq!(
                check(query),
                Err(format!("\"LIMIT_EXCEEDED\" \"{limit}\" {max}")),
                "{query}"
            );
        }
        assert!(check("{ __schema { types { name } } }").is_err_and(|e| e.contains("GRAPHQL_VALIDATION_FAILED")));
        assert_eq!(check("{ __typename }"), Ok(()));
    }

    #[test]
    fn connection_cost_scales_with_the_page() {
        assert_eq!(connection_cost(None, None, 2), 10 + 50 * 2);
        assert_eq!(connection_cost(Some(1000), None, 1000 * 3 + 10), 10 + 1000 * 3010);
        assert_eq!(connection_cost(None, Some(-5), 7), 10);
        assert_eq!(connection_cost(Some(i32::MAX), None, usize::MAX), COST_CAP);
    }
}
