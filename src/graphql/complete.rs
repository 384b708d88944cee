//! Completes async-graphql's answer the way the GraphQL spec writes a response, on every path
//! (HTTP, batches, WebSocket, subscriptions):
//!
//! - **Selection order** ("Serialized Map Ordering"): every result map is written in the order
//!   of its selection set after field collection (CollectFields, fragments expanded, skipped
//!   fields left out). async-graphql 7.2.1 collects sibling fields with `FuturesUnordered`, so
//!   the keys come in completion order and change between runs.
//! - **Field errors** ("Handling Field Errors"): async-graphql drops the key of a field whose
//!   resolver failed. The spec writes `null` there, and when the field is non-null the null
//!   propagates to the nearest nullable parent (the whole `data` at worst).
//! - **Errors in document order**: sorted by where their path first meets the response, which
//!   the walk visits in selection order.
//!
//! Why after execution rather than a patched executor: it keeps async-graphql as it is released
//! and its per-field fast path untouched; the walk reads the document and the schema's own
//! registry once per object and rebuilds a map only when its keys are out of order or missing.
//! Objects of an abstract type (the `Node` interface) carry their runtime type in a marker
//! key ([`Typed`]) that the walk reads and removes, so fragments with type conditions collect
//! exactly as the executor collected them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

use async_graphql::parser::types::{
    Directive, ExecutableDocument, FragmentDefinition, OperationDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{
    ContextSelectionSet, Name, OutputType, PathSegment, Positioned, Response, ServerResult, Value, Variables,
};

/// The key an abstract-typed object's runtime type travels under from the executor to the
/// walk. Not a GraphQL name (those are `[_A-Za-z][_0-9A-Za-z]*`), so it never meets a field.
pub const TYPE_MARKER: &str = "#type";

/// An output value of an abstract type (interface or union) whose resolved object carries its
/// runtime type name under [`TYPE_MARKER`] for [`complete`]. Same GraphQL type as `T`.
pub struct Typed<T>(pub T);

impl<T: OutputType> OutputType for Typed<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<async_graphql::parser::types::Field>,
    ) -> ServerResult<Value> {
        let value = self.0.resolve(ctx, field).await?;
        let mut map = match value {
            Value::Object(map) => map,
            // async-graphql answers an object none of whose fields produced a value with null.
            _ => Default::default(),
        };
        map.insert(
            Name::new(TYPE_MARKER),
            Value::String(self.0.introspection_type_name().into_owned()),
        );
        Ok(Value::Object(map))
    }
}

/// Completes `response` (the answer to `document`'s operation `operation_name` with
/// `variables`) in place. A response without data (a request error) only has its errors
/// left as they are.
pub fn complete(
    response: &mut Response,
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) {
    if response.data == Value::Null && response.errors.iter().all(|err| err.path.is_empty()) {
        return;
    }
    let Some(operation) = operation(document, operation_name) else {
        return;
    };
    let root = match operation.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Subscription => registry.subscription_type.as_deref(),
        OperationType::Mutation => registry.mutation_type.as_deref(),
    };
    let Some(root) = root else {
        return;
    };
    let mut walk = Walk {
        registry,
        fragments: &document.fragments,
        operation,
        variables,
        errors: response
            .errors
            .iter()
            .map(|err| (err.path.clone(), usize::MAX))
            .collect(),
        path: Vec::new(),
        visited: 0,
        collected: Vec::new(),
    };
    let sets = [&operation.selection_set.node];
    if response.data == Value::Null {
        // Every root field failed: async-graphql answers null where the spec has an object.
        response.data = Value::Object(Default::default());
    }
    let ok = match registry.types.get_key_value(root) {
        Some((root, meta)) => walk.object(root.as_str(), meta, &sets, &mut response.data).is_ok(),
        None => true,
    };
    let order: Vec<usize> = walk.errors.iter().map(|(_, seq)| *seq).collect();
    if !ok {
        response.data = Value::Null;
    }
    if response.errors.len() > 1 {
        let mut indexed: Vec<(usize, async_graphql::ServerError)> =
            order.into_iter().zip(response.errors.drain(..)).collect();
        indexed.sort_by_key(|(seq, _)| *seq);
        response.errors = indexed.into_iter().map(|(_, err)| err).collect();
    }
}

/// The operation a request runs, chosen as async-graphql chooses it: the named one, or the only
/// one when no name is given (an anonymous operation has no name to ask for).
pub fn operation<'a>(document: &'a ExecutableDocument, name: Option<&str>) -> Option<&'a OperationDefinition> {
    use async_graphql::parser::types::DocumentOperations;
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some(&operation.node),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|op| &op.node)
        }
        _ => None,
    }
}

/// One field of a collected selection set: its response key, its name, every selection set
/// merged under it in document order, and its type (None for introspection fields, which the
/// registry does not hold: their values are left as they are).
struct Collected<'a, 'r> {
    key: &'a Name,
    name: &'a str,
    sets: Vec<&'a SelectionSet>,
    shape: Option<Shape<'r>>,
}

/// A type reference (`[Node]!`) as the walk needs it, resolved once per collected field
/// rather than per value: the walk visits every value of every row.
#[derive(Clone, Copy)]
struct Shape<'r> {
    non_null: bool,
    kind: Kind<'r>,
}

#[derive(Clone, Copy)]
enum Kind<'r> {
    /// A scalar or an enum (or a type the registry does not know).
    Leaf,
    /// An object, interface or union type.
    Composite(&'r str, &'r MetaType),
    /// A list of the item type reference.
    List(&'r str),
}

/// Fields collected for an object type and the selection sets merged for it.
type Memo<'a, 'r> = (&'r str, Vec<*const SelectionSet>, Rc<[Collected<'a, 'r>]>);

/// A segment of the path being walked.
#[derive(Clone, Copy)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// A non-null position holds null: its parent becomes null.
struct Propagate;

struct Walk<'a, 'r> {
    registry: &'r Registry,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    operation: &'a OperationDefinition,
    variables: &'r Variables,
    /// Each error's path and the visit number where the walk first reached it.
    errors: Vec<(Vec<PathSegment>, usize)>,
    /// The current path (kept only while there are errors to place).
    path: Vec<Segment<'a>>,
    visited: usize,
    /// Collected fields by (object type, merged selection sets): list items share them.
    collected: Vec<Memo<'a, 'r>>,
}

impl<'a, 'r> Walk<'a, 'r> {
    /// The shape of the type reference `ty`.
    fn shape(&self, ty: &'r str) -> Shape<'r> {
        let (non_null, ty) = match MetaTypeName::create(ty) {
            MetaTypeName::NonNull(inner) => (true, inner),
            _ => (false, ty),
        };
        let kind = match MetaTypeName::create(ty) {
            MetaTypeName::List(item) => Kind::List(item),
            _ => match self.registry.types.get_key_value(ty) {
                Some((name, meta)) if meta.is_composite() => Kind::Composite(name.as_str(), meta),
                _ => Kind::Leaf,
            },
        };
        Shape { non_null, kind }
    }

    /// Completes `value` of type `shape` selected with `sets`.
    fn value(&mut self, shape: Shape<'r>, sets: &[&'a SelectionSet], value: &mut Value) -> Result<(), Propagate> {
        let non_null = shape.non_null;
        if matches!(value, Value::Null) {
            if matches!(shape.kind, Kind::Composite(..)) && self.errors_below() {
                // An object all of whose fields failed: async-graphql answers null, the spec
                // an object whose fields are null (or null itself, through propagation).
                *value = Value::Object(Default::default());
            } else {
                let explained = self.place_errors();
                if non_null && !explained {
                    // The executor left out a non-null field without saying why: a
                    // disagreement between it and this walk, worth knowing about.
                    tracing::warn!("a non-null field without a value and without an error");
                }
                return if non_null { Err(Propagate) } else { Ok(()) };
            }
        }
        let outcome = match shape.kind {
            Kind::List(item) => self.list(self.shape(item), sets, value),
            Kind::Composite(name, meta) => self.object(name, meta, sets, value),
            Kind::Leaf => Ok(()),
        };
        if outcome.is_err() {
            *value = Value::Null;
            if non_null {
                return Err(Propagate);
            }
        }
        Ok(())
    }

    fn list(&mut self, item: Shape<'r>, sets: &[&'a SelectionSet], value: &mut Value) -> Result<(), Propagate> {
        let Value::List(items) = value else {
            return Ok(());
        };
        // Items of one object type share their collected fields: collected once for all.
        let shared = match item.kind {
            Kind::Composite(name, meta) if !meta.is_abstract() => Some(self.collect(name, sets)),
            _ => None,
        };
        let mut outcome = Ok(());
        for (i, item_value) in items.iter_mut().enumerate() {
            self.enter(Segment::Index(i));
            let result = match (&shared, &mut *item_value) {
                (Some(fields), Value::Object(map)) => self.fields(fields, map),
                _ => self.value(item, sets, item_value),
            };
            if result.is_err() {
                *item_value = Value::Null;
                if item.non_null {
                    outcome = Err(Propagate);
                }
            }
            self.leave();
        }
        outcome
    }

    /// Completes an object whose static type is `ty` (when it is abstract, the runtime type
    /// comes from the marker).
    fn object(
        &mut self,
        ty: &'r str,
        meta: &'r MetaType,
        sets: &[&'a SelectionSet],
        value: &mut Value,
    ) -> Result<(), Propagate> {
        let Value::Object(map) = value else {
            return Ok(());
        };
        let mut ty = ty;
        if meta.is_abstract()
            && let Some(Value::String(name)) = map.swap_remove(TYPE_MARKER)
            && let Some((name, _)) = self.registry.types.get_key_value(name.as_str())
        {
            ty = name.as_str();
        }
        let fields = self.collect(ty, sets);
        self.fields(&fields, map)
    }

    /// Completes the map of an object whose collected fields are `fields`.
    fn fields(
        &mut self,
        fields: &[Collected<'a, 'r>],
        map: &mut async_graphql::indexmap::IndexMap<Name, Value>,
    ) -> Result<(), Propagate> {
        // Keys the executor took from (a copy of) the same document share their text with
        // the collected ones: a pointer comparison settles most.
        let same = |key: &Name, field: &Collected<'a, 'r>| {
            let (a, b) = (key.as_str(), field.key.as_str());
            (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
        };
        let in_order = map.len() == fields.len() && map.keys().zip(fields.iter()).all(|(key, field)| same(key, field));
        if !in_order {
            let mut old = std::mem::take(map);
            map.reserve(fields.len());
            for field in fields.iter() {
                let value = old.swap_remove(field.key).unwrap_or(Value::Null);
                map.insert(field.key.clone(), value);
            }
        }
        let mut outcome = Ok(());
        for (field, value) in fields.iter().zip(map.values_mut()) {
            let Some(shape) = field.shape else {
                continue;
            };
            self.enter(Segment::Key(field.key.as_str()));
            if self.value(shape, &field.sets, value).is_err() {
                outcome = Err(Propagate);
            }
            self.leave();
        }
        outcome
    }

    fn enter(&mut self, segment: Segment<'a>) {
        self.visited += 1;
        if !self.errors.is_empty() {
            self.path.push(segment);
        }
    }

    fn leave(&mut self) {
        if !self.errors.is_empty() {
            self.path.pop();
        }
    }

    /// True when an error's path lies strictly below the current one.
    fn errors_below(&self) -> bool {
        self.errors
            .iter()
            .any(|(path, _)| path.len() > self.path.len() && self.starts(path))
    }

    /// Gives the errors at or below the current path, not placed yet, this visit's number;
    /// true when an error lies there.
    fn place_errors(&mut self) -> bool {
        let visited = self.visited;
        let path = &self.path;
        let mut found = false;
        for (error_path, seq) in &mut self.errors {
            if starts(path, error_path) {
                found = true;
                if *seq == usize::MAX {
                    *seq = visited;
                }
            }
        }
        found
    }

    fn starts(&self, path: &[PathSegment]) -> bool {
        starts(&self.path, path)
    }

    /// CollectFields (spec 6.3.2) for an object of type `ty`, memoized per request.
    fn collect(&mut self, ty: &'r str, sets: &[&'a SelectionSet]) -> Rc<[Collected<'a, 'r>]> {
        let pointers = || sets.iter().map(|set| *set as *const SelectionSet);
        if let Some((_, _, fields)) = self
            .collected
            .iter()
            .find(|(name, known, _)| *name == ty && known.iter().copied().eq(pointers()))
        {
            return fields.clone();
        }
        let pointers: Vec<*const SelectionSet> = pointers().collect();
        let mut fields: Vec<Collected<'a, 'r>> = Vec::new();
        let mut visiting = Vec::new();
        for set in sets {
            self.collect_set(ty, set, &mut fields, &mut visiting);
        }
        let meta = self.registry.types.get(ty);
        for field in &mut fields {
            let field_type = if field.name == "__typename" {
                Some("String!")
            } else {
                meta.and_then(|meta| meta.field_by_name(field.name))
                    .map(|f| f.ty.as_str())
            };
            field.shape = field_type.map(|ty| self.shape(ty));
        }
        let fields: Rc<[Collected<'a, 'r>]> = fields.into();
        self.collected.push((ty, pointers, fields.clone()));
        fields
    }

    fn collect_set(
        &self,
        ty: &str,
        set: &'a SelectionSet,
        fields: &mut Vec<Collected<'a, 'r>>,
        visiting: &mut Vec<&'a str>,
    ) {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let key = field.alias.as_ref().unwrap_or(&field.name);
                    let sub = &field.selection_set.node;
                    match fields.iter_mut().find(|collected| collected.key == &key.node) {
                        Some(collected) => collected.sets.push(sub),
                        None => fields.push(Collected {
                            key: &key.node,
                            name: field.name.node.as_str(),
                            sets: vec![sub],
                            shape: None,
                        }),
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    let applies = fragment
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| self.applies(ty, &condition.node.on.node));
                    if applies && self.included(&fragment.directives) {
                        self.collect_set(ty, &fragment.selection_set.node, fields, visiting);
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    let name = spread.fragment_name.node.as_str();
                    if !self.included(&spread.directives) || visiting.contains(&name) {
                        continue;
                    }
                    let Some(fragment) = self.fragments.get(name) else {
                        continue;
                    };
                    if self.applies(ty, &fragment.node.type_condition.node.on.node) {
                        visiting.push(name);
                        self.collect_set(ty, &fragment.node.selection_set.node, fields, visiting);
                        visiting.pop();
                    }
                }
            }
        }
    }

    /// DoesFragmentTypeApply: `condition` is the object type, an interface it implements or
    /// a union it belongs to.
    fn applies(&self, ty: &str, condition: &str) -> bool {
        ty == condition
            || self
                .registry
                .implements
                .get(ty)
                .is_some_and(|set| set.contains(condition))
            || self
                .registry
                .types
                .get(condition)
                .is_some_and(|meta| meta.is_abstract() && meta.is_possible_type(ty))
    }

    /// `@skip(if:)` and `@include(if:)` with the request's variables (defaults applied).
    fn included(&self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().all(|directive| {
            let directive = &directive.node;
            let value = directive.get_argument("if").map(|value| self.boolean(&value.node));
            match directive.name.node.as_str() {
                "skip" => value != Some(true),
                "include" => value != Some(false),
                _ => true,
            }
        })
    }

    fn boolean(&self, value: &async_graphql_value::Value) -> bool {
        match value {
            async_graphql_value::Value::Boolean(b) => *b,
            async_graphql_value::Value::Variable(name) => match self.variables.get(name) {
                Some(Value::Boolean(b)) => *b,
                Some(_) => false,
                None => self
                    .operation
                    .variable_definitions
                    .iter()
                    .find(|definition| definition.node.name.node == *name)
                    .and_then(|definition| definition.node.default_value.as_ref())
                    .is_some_and(|default| matches!(default.node, Value::Boolean(true))),
            },
            _ => false,
        }
    }
}

/// True when `path` (the walk's) is a prefix of an error's `error_path`.
fn starts(path: &[Segment<'_>], error_path: &[PathSegment]) -> bool {
    path.len() <= error_path.len()
        && path.iter().zip(error_path).all(|(ours, theirs)| match (ours, theirs) {
            (Segment::Key(key), PathSegment::Field(field)) => key == field,
            (Segment::Index(i), PathSegment::Index(j)) => i == j,
            _ => false,
        })
}
