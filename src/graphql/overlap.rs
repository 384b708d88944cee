//! The GraphQL validation rule "Field Selection Merging" (OverlappingFieldsCanBeMerged), as the
//! spec states it: two fields with one response key must be mergeable wherever they sit — in the
//! selection set itself, in inline fragments or in spread fragments — and so must their
//! sub-selections, recursively. async-graphql's own rule keys fields by (type condition, response
//! key) and compares names and arguments only, so a field inside a fragment and one beside it, or
//! two fields whose sub-selections conflict, pass it and are then answered by whichever the
//! executor happens to keep.
//!
//! Spec: <https://spec.graphql.org/October2021/#sec-Field-Selection-Merging>. The shape of the
//! algorithm and the error messages follow graphql-js's `OverlappingFieldsCanBeMergedRule`, with
//! three changes that keep hostile documents cheap:
//! - fields with the same parent type, name and arguments are one *group* whose sub-selection is
//!   the union of theirs (they must merge with each other anyway), so ten thousand copies of a
//!   field cost one comparison, not fifty million;
//! - the checks are memoized per set of selection sets (not per pair of fragment names), and a
//!   check already in progress counts as done, so fragment cycles terminate;
//! - the search stops after 100 conflicts (`MAX_CONFLICTS`), so a refused document gets at most
//!   a hundred of its errors rather than all of its possibly millions.
//!
//! A conflict between two copies of the same group is found inside their merged sub-selection;
//! it is reported wrapped in the copies (`Fields "a" conflict because subfields "b" conflict
//! because …`) like graphql-js does, unless both fields come from one copy, in which case it is
//! reported once, flat, as the copy's own selection set would report it.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::rc::Rc;

use async_graphql::parser::types::{ExecutableDocument, Field, OperationType, Selection, SelectionSet};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Name, Pos, Positioned, ServerError};
use async_graphql_value::Value;

use crate::error::code;

/// Most conflicts built before the check stops looking: a document with thousands of fields
/// that differ only in an argument has millions of conflicting pairs, and a client needs a few.
const MAX_CONFLICTS: usize = 100;

/// Deepest merged selection examined. The server refuses documents nested deeper than
/// [`super::limits::MAX_SUPPORTED_DEPTH`] (fragments included) before this check runs; the
/// guard only keeps the recursion off the end of the stack if it is ever called without that.
const MAX_DEPTH: usize = 2 * super::limits::MAX_SUPPORTED_DEPTH;

/// Checks OverlappingFieldsCanBeMerged on every selection set of `document`.
///
/// Each conflicting pair is reported once, with graphql-js's message and the positions of the
/// fields involved (those of the first field's side, then the second's), in document order;
/// every error has `extensions.code` GRAPHQL_VALIDATION_FAILED.
pub fn check(document: &ExecutableDocument, registry: &Registry) -> Result<(), Vec<ServerError>> {
    let mut checker = Checker::new(document, registry);
    let mut roots = Vec::new();
    for (_, operation) in document.operations.iter() {
        let root = match operation.node.ty {
            OperationType::Query => Some(registry.query_type.as_str()),
            OperationType::Mutation => registry.mutation_type.as_deref(),
            OperationType::Subscription => registry.subscription_type.as_deref(),
        };
        roots.push(checker.register(&operation.node.selection_set.node, root));
    }
    // Sorted so the errors do not depend on the order of a HashMap.
    let mut fragments: Vec<_> = document.fragments.values().collect();
    fragments.sort_by_key(|fragment| fragment.pos);
    for fragment in fragments {
        let on = fragment.node.type_condition.node.on.node.as_str();
        roots.push(checker.register(&fragment.node.selection_set.node, Some(on)));
    }

    for root in roots {
        // Every conflict of a single selection set is final, so goes to `reported`.
        checker.within(&Rc::from([root]), 0);
    }

    // The same pair is found from every selection set it is in (an operation and the
    // fragments it spreads), possibly seen from the other side: report it once.
    let mut seen = HashSet::new();
    let mut errors: Vec<ServerError> = checker
        .reported
        .iter()
        .filter(|node| {
            let mut fields = node.locations();
            fields.sort_unstable();
            seen.insert(fields)
        })
        .map(|node| {
            let mut err = super::errors::coded(node.message(), code::GRAPHQL_VALIDATION_FAILED);
            err.locations = node.locations();
            err
        })
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    errors.sort_by(|a, b| a.locations.cmp(&b.locations));
    Err(errors)
}

/// Index of a selection set of the document in [`Checker::sets`].
type SetId = u32;

/// A set of selection sets merged into one (sorted, without duplicates): the sub-selections of
/// the fields of one group. The memoization key.
type SetList = Rc<[SetId]>;

/// A conflict between two fields: the response key they share, why, and where each is. For a
/// conflict of sub-fields, `reason` holds the conflicts one level down, and the message and the
/// locations are built from the whole chain (graphql-js's `subfieldConflicts`).
struct Node {
    key: String,
    reason: Reason,
    pos1: Pos,
    pos2: Pos,
}

enum Reason {
    Message(String),
    Subfields(Subfields),
}

/// The conflicts of two fields' sub-fields.
type Subfields = Vec<Rc<Node>>;

impl Node {
    fn message(&self) -> String {
        format!(
            "Fields \"{}\" conflict because {}. Use different aliases on the fields to fetch both if this was intentional.",
            self.key,
            self.reason.message()
        )
    }

    /// The first field's side of the chain, then the second's.
    fn locations(&self) -> Vec<Pos> {
        let mut locations = Vec::new();
        self.side(true, &mut locations);
        self.side(false, &mut locations);
        locations
    }

    fn side(&self, first: bool, out: &mut Vec<Pos>) {
        out.push(if first { self.pos1 } else { self.pos2 });
        if let Reason::Subfields(subs) = &self.reason {
            for sub in subs {
                sub.side(first, out);
            }
        }
    }
}

impl Reason {
    fn message(&self) -> String {
        match self {
            Reason::Message(message) => message.clone(),
            Reason::Subfields(subs) => subs
                .iter()
                .map(|sub| format!("subfields \"{}\" conflict because {}", sub.key, sub.reason.message()))
                .collect::<Vec<_>>()
                .join(" and "),
        }
    }
}

/// A conflict found in a merged set whose two fields were reached from two different selection
/// sets of it, i.e. from the sub-selections of two different fields of the caller's group: the
/// caller wraps it in those two fields. (One whose fields come from a single selection set is
/// that set's own and final, and goes straight to [`Checker::reported`].)
struct Conflict {
    node: Rc<Node>,
    origins: (SetId, SetId),
}

/// One field of a group, as collected.
struct Member {
    pos: Pos,
    /// The selection set of the merged set the field was reached from.
    origin: SetId,
    /// The field's own sub-selection.
    sub: Option<SetId>,
}

/// What makes fields one [`Group`]: response key, parent type, name and printed arguments.
type GroupKey<'a> = (&'a str, Option<&'a str>, &'a str, String);

/// Fields of a merged set with one response key, parent type, name and arguments.
struct Group<'a> {
    key: &'a str,
    parent: Option<&'a str>,
    name: &'a str,
    /// The arguments, sorted by name and printed with object fields sorted, so two groups have
    /// the same arguments exactly when these are equal (graphql-js's `sameArguments`).
    args: String,
    /// The field's type (`[Node]!`), when the parent type and the field are known.
    ty: Option<&'a str>,
    members: Vec<Member>,
    sub: SetList,
}

/// The fields of a merged set, fragments expanded, grouped by response key in the order the
/// keys first appear.
struct Collected<'a> {
    keys: Vec<(&'a str, Vec<Group<'a>>)>,
    index: HashMap<&'a str, usize>,
}

struct Checker<'a> {
    document: &'a ExecutableDocument,
    registry: &'a Registry,
    /// Every selection set met so far, with its enclosing type (a selection set of the
    /// document always has the same one, so it is part of the set's identity).
    sets: Vec<(&'a SelectionSet, Option<&'a str>)>,
    set_ids: HashMap<*const SelectionSet, SetId>,
    collected: HashMap<SetList, Rc<Collected<'a>>>,
    within: HashMap<SetList, Rc<Vec<Conflict>>>,
    /// Keyed by both merged sets and whether their parents are mutually exclusive.
    between: HashMap<(SetList, SetList, bool), Rc<Subfields>>,
    /// Conflicts that may still be built before the check stops (see [`MAX_CONFLICTS`]).
    budget: usize,
    /// Final conflicts, in the order found.
    reported: Vec<Rc<Node>>,
}

impl<'a> Checker<'a> {
    fn new(document: &'a ExecutableDocument, registry: &'a Registry) -> Self {
        Checker {
            document,
            registry,
            sets: Vec::new(),
            set_ids: HashMap::new(),
            collected: HashMap::new(),
            within: HashMap::new(),
            between: HashMap::new(),
            budget: MAX_CONFLICTS,
            reported: Vec::new(),
        }
    }

    fn register(&mut self, set: &'a SelectionSet, ty: Option<&'a str>) -> SetId {
        *self.set_ids.entry(set as *const SelectionSet).or_insert_with(|| {
            self.sets.push((set, ty));
            (self.sets.len() - 1) as SetId
        })
    }

    fn node(&mut self, key: &str, reason: Reason, pos1: Pos, pos2: Pos) -> Rc<Node> {
        self.budget = self.budget.saturating_sub(1);
        Rc::new(Node {
            key: key.to_owned(),
            reason,
            pos1,
            pos2,
        })
    }

    /// FieldsInSetCanMerge on the merged set `list`: every pair of its fields with one
    /// response key, and, group by group, the merged sub-selections.
    fn within(&mut self, list: &SetList, depth: usize) -> Rc<Vec<Conflict>> {
        if let Some(done) = self.within.get(list) {
            return done.clone();
        }
        if depth > MAX_DEPTH || self.budget == 0 {
            return Rc::default();
        }
        // In progress: a fragment cycle that leads back here finds nothing new.
        self.within.insert(list.clone(), Rc::default());
        let collected = self.collect(list);
        let mut found = Vec::new();
        'keys: for (_, groups) in &collected.keys {
            for group in groups {
                if !group.sub.is_empty() {
                    let inner = self.within(&group.sub, depth + 1);
                    self.wrap(group, &inner, &mut found);
                }
            }
            for (i, first) in groups.iter().enumerate() {
                for second in &groups[i + 1..] {
                    if self.budget == 0 {
                        break 'keys;
                    }
                    if let Some(node) = self.find_conflict(first, second, false, depth) {
                        let origins = (first.members[0].origin, second.members[0].origin);
                        self.route(Conflict { node, origins }, &mut found);
                    }
                }
            }
        }
        let found = Rc::new(found);
        self.within.insert(list.clone(), found.clone());
        found
    }

    /// Lifts the conflicts of `group`'s merged sub-selection to the group's level: each was
    /// reached from the sub-selections of two different fields of the group, so is a conflict
    /// of those two fields (all of one pair in one message, as graphql-js words it).
    fn wrap(&mut self, group: &Group<'a>, inner: &[Conflict], found: &mut Vec<Conflict>) {
        // A selection set is the sub-selection of exactly one field.
        let member_of = |set: SetId| group.members.iter().position(|member| member.sub == Some(set));
        let mut pairs: Vec<((usize, usize), Subfields)> = Vec::new();
        for conflict in inner {
            let (Some(a), Some(b)) = (member_of(conflict.origins.0), member_of(conflict.origins.1)) else {
                continue;
            };
            match pairs.iter_mut().find(|(pair, _)| *pair == (a, b)) {
                Some((_, nodes)) => nodes.push(conflict.node.clone()),
                None => pairs.push(((a, b), vec![conflict.node.clone()])),
            }
        }
        for ((a, b), nodes) in pairs {
            let (first, second) = (&group.members[a], &group.members[b]);
            let node = self.node(group.key, Reason::Subfields(nodes), first.pos, second.pos);
            let origins = (first.origin, second.origin);
            self.route(Conflict { node, origins }, found);
        }
    }

    /// Keeps a conflict for the caller to wrap, or reports it when both of its fields come
    /// from one selection set: then it is that set's own, the same whoever spreads it, and
    /// reporting it at once (not passing it up through every memoized caller) keeps a
    /// fragment with a conflict spread in ten thousand places from being copied as often.
    fn route(&mut self, conflict: Conflict, found: &mut Vec<Conflict>) {
        if conflict.origins.0 == conflict.origins.1 {
            self.reported.push(conflict.node);
        } else {
            found.push(conflict);
        }
    }

    /// graphql-js's `findConflict` for two groups with one response key.
    fn find_conflict(
        &mut self,
        first: &Group<'a>,
        second: &Group<'a>,
        parents_exclusive: bool,
        depth: usize,
    ) -> Option<Rc<Node>> {
        // Fields of two different object types are never both in a response, so only their
        // shapes must agree.
        let exclusive = parents_exclusive
            || (first.parent != second.parent && self.is_object(first.parent) && self.is_object(second.parent));
        let (pos1, pos2) = (first.members[0].pos, second.members[0].pos);
        if !exclusive {
            if first.name != second.name {
                let reason = format!("\"{}\" and \"{}\" are different fields", first.name, second.name);
                return Some(self.node(first.key, Reason::Message(reason), pos1, pos2));
            }
            if first.args != second.args {
                let reason = "they have differing arguments".to_owned();
                return Some(self.node(first.key, Reason::Message(reason), pos1, pos2));
            }
        }
        if let (Some(ty1), Some(ty2)) = (first.ty, second.ty)
            && self.types_conflict(ty1, ty2)
        {
            let reason = format!("they return conflicting types \"{ty1}\" and \"{ty2}\"");
            return Some(self.node(first.key, Reason::Message(reason), pos1, pos2));
        }
        if first.sub.is_empty() || second.sub.is_empty() {
            return None;
        }
        let subs = self.between(&first.sub, &second.sub, exclusive, depth + 1);
        if subs.is_empty() {
            return None;
        }
        Some(self.node(first.key, Reason::Subfields(subs.to_vec()), pos1, pos2))
    }

    /// The conflicts between a field of `first` and one of `second` (graphql-js's
    /// `findConflictsBetweenSubSelectionSets`). Pairs inside `first` or inside `second` are
    /// [`within`](Self::within)'s, which has always run on both; so a selection set in both
    /// is left out of `second`.
    fn between(&mut self, first: &SetList, second: &SetList, exclusive: bool, depth: usize) -> Rc<Subfields> {
        let second: SetList = second
            .iter()
            .copied()
            .filter(|id| first.binary_search(id).is_err())
            .collect();
        if second.is_empty() {
            return Rc::default();
        }
        let memo = (first.clone(), second.clone(), exclusive);
        if let Some(done) = self.between.get(&memo) {
            return done.clone();
        }
        if depth > MAX_DEPTH || self.budget == 0 {
            return Rc::default();
        }
        self.between.insert(memo.clone(), Rc::default());
        let (fields1, fields2) = (self.collect(first), self.collect(&second));
        let mut found = Vec::new();
        'keys: for (key, groups1) in &fields1.keys {
            let Some(&at) = fields2.index.get(key) else {
                continue;
            };
            for group1 in groups1 {
                for group2 in &fields2.keys[at].1 {
                    if self.budget == 0 {
                        break 'keys;
                    }
                    found.extend(self.find_conflict(group1, group2, exclusive, depth));
                }
            }
        }
        let found = Rc::new(found);
        self.between.insert(memo, found.clone());
        found
    }

    /// The fields of the merged set `list`, with fragment spreads and inline fragments
    /// expanded whatever their type condition (the spec's CollectFields without directives:
    /// the rule is static, so `@skip`/`@include` do not matter). A fragment is expanded once
    /// per call, which also ends cycles; its fields are the same wherever it is spread.
    fn collect(&mut self, list: &SetList) -> Rc<Collected<'a>> {
        if let Some(done) = self.collected.get(list) {
            return done.clone();
        }
        let mut keys: Vec<(&'a str, Vec<Group<'a>>)> = Vec::new();
        let mut index: HashMap<&'a str, usize> = HashMap::new();
        let mut groups: HashMap<GroupKey<'a>, (usize, usize)> = HashMap::new();
        let mut subs: HashMap<(usize, usize), Vec<SetId>> = HashMap::new();
        let mut fragments: HashSet<&'a str> = HashSet::new();
        let document = self.document;

        for &origin in list.iter() {
            // graphql-js's order: a set's own fields (inline fragments included) first, then
            // those of the fragments it spreads, in the order they are spread, so a conflict
            // names the field beside a spread before the one inside it.
            let mut pending = VecDeque::from([self.sets[origin as usize]]);
            while let Some((set, ty)) = pending.pop_front() {
                // An explicit stack rather than recursion through inline fragments.
                let mut stack = vec![(set.items.iter(), ty)];
                while let Some((items, parent)) = stack.last_mut() {
                    let parent = *parent;
                    let Some(selection) = items.next() else {
                        stack.pop();
                        continue;
                    };
                    match &selection.node {
                        Selection::Field(field) => {
                            let field = &field.node;
                            let key = field.alias.as_ref().unwrap_or(&field.name).node.as_str();
                            let name = field.name.node.as_str();
                            let ty = self.field_type(parent, name);
                            let sub = (!field.selection_set.node.items.is_empty()).then(|| {
                                let named = ty.map(MetaTypeName::concrete_typename);
                                self.register(&field.selection_set.node, named)
                            });
                            let member = Member {
                                pos: selection.pos,
                                origin,
                                sub,
                            };
                            let at = *groups
                                .entry((key, parent, name, arguments(field)))
                                .or_insert_with_key(|group| {
                                    let k = *index.entry(key).or_insert_with(|| {
                                        keys.push((key, Vec::new()));
                                        keys.len() - 1
                                    });
                                    keys[k].1.push(Group {
                                        key,
                                        parent,
                                        name,
                                        args: group.3.clone(),
                                        ty,
                                        members: Vec::new(),
                                        sub: Rc::default(),
                                    });
                                    (k, keys[k].1.len() - 1)
                                });
                            keys[at.0].1[at.1].members.push(member);
                            subs.entry(at).or_default().extend(sub);
                        }
                        Selection::InlineFragment(inline) => {
                            let inline = &inline.node;
                            let on = inline
                                .type_condition
                                .as_ref()
                                .map(|condition| condition.node.on.node.as_str());
                            stack.push((inline.selection_set.node.items.iter(), on.or(parent)));
                        }
                        Selection::FragmentSpread(spread) => {
                            let name = spread.node.fragment_name.node.as_str();
                            if let Some(fragment) = document.fragments.get(name)
                                && fragments.insert(name)
                            {
                                let on = fragment.node.type_condition.node.on.node.as_str();
                                pending.push_back((&fragment.node.selection_set.node, Some(on)));
                            }
                        }
                    }
                }
            }
        }

        for ((k, g), mut ids) in subs {
            ids.sort_unstable();
            ids.dedup();
            keys[k].1[g].sub = ids.into();
        }
        let collected = Rc::new(Collected { keys, index });
        self.collected.insert(list.clone(), collected.clone());
        collected
    }

    fn meta(&self, name: Option<&str>) -> Option<&'a MetaType> {
        self.registry.types.get(name?)
    }

    fn is_object(&self, name: Option<&str>) -> bool {
        matches!(self.meta(name), Some(MetaType::Object { .. }))
    }

    /// The type of field `name` of `parent`; None when either is unknown (introspection's
    /// `__schema` and `__type` are not in the registry), so the shape is not compared.
    fn field_type(&self, parent: Option<&str>, name: &str) -> Option<&'a str> {
        let meta = self.meta(parent)?;
        if name == "__typename" {
            return meta.is_composite().then_some("String!");
        }
        meta.field_by_name(name).map(|field| field.ty.as_str())
    }

    /// graphql-js's `doTypesConflict`: the same list and non-null wrappers, and the same type
    /// where either is a leaf (SameResponseShape).
    fn types_conflict(&self, first: &str, second: &str) -> bool {
        match (MetaTypeName::create(first), MetaTypeName::create(second)) {
            (MetaTypeName::List(a), MetaTypeName::List(b)) => self.types_conflict(a, b),
            (MetaTypeName::List(_), _) | (_, MetaTypeName::List(_)) => true,
            (MetaTypeName::NonNull(a), MetaTypeName::NonNull(b)) => self.types_conflict(a, b),
            (MetaTypeName::NonNull(_), _) | (_, MetaTypeName::NonNull(_)) => true,
            (MetaTypeName::Named(a), MetaTypeName::Named(b)) => {
                let composite = |name| self.meta(Some(name)).is_some_and(MetaType::is_composite);
                a != b && !(composite(a) && composite(b))
            }
        }
    }
}

/// `field`'s arguments in a form that is equal exactly when the arguments are: sorted by
/// name, values printed with object fields sorted and variables by name.
fn arguments(field: &Field) -> String {
    let mut args: Vec<&(Positioned<Name>, Positioned<Value>)> = field.arguments.iter().collect();
    args.sort_by(|a, b| a.0.node.cmp(&b.0.node));
    let mut out = String::new();
    for (name, value) in args {
        out.push_str(&name.node);
        out.push(':');
        print_value(&value.node, &mut out);
        out.push(',');
    }
    out
}

fn print_value(value: &Value, out: &mut String) {
    match value {
        Value::Variable(name) => {
            out.push('$');
            out.push_str(name);
        }
        Value::Null => out.push_str("null"),
        Value::Number(number) => {
            let _ = write!(out, "{number}");
        }
        Value::String(text) => {
            let _ = write!(out, "{text:?}");
        }
        Value::Boolean(flag) => {
            let _ = write!(out, "{flag}");
        }
        Value::Binary(bytes) => {
            let _ = write!(out, "{bytes:?}");
        }
        Value::Enum(name) => out.push_str(name),
        Value::List(items) => {
            out.push('[');
            for item in items {
                print_value(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(fields) => {
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (name, value) in fields {
                out.push_str(name);
                out.push(':');
                print_value(value, out);
                out.push(',');
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use async_graphql::parser::parse_query;

    use super::*;

    type Found = Vec<(String, Vec<(usize, usize)>)>;

    /// The errors' messages and locations (as `(line, column)`), empty when the document passes,
    /// and how long the check alone took.
    fn timed(query: &str) -> (Found, Duration) {
        let registry = crate::graphql::schema_registry();
        let document = parse_query(query).expect("query parses");
        let started = Instant::now();
        let result = check(&document, &registry);
        let took = started.elapsed();
        let found = result
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|err| {
                (
                    err.message,
                    err.locations.iter().map(|pos| (pos.line, pos.column)).collect(),
                )
            })
            .collect();
        (found, took)
    }

    fn conflicts(query: &str) -> Found {
        timed(query).0
    }

    fn assert_passes(query: &str) {
        assert_eq!(conflicts(query), Found::new(), "{query}");
    }

    /// Where the `nth` (from 0) `needle` starts in the one-line `query`.
    fn at(query: &str, needle: &str, nth: usize) -> (usize, usize) {
        let column = query.match_indices(needle).nth(nth).expect("needle in query").0 + 1;
        (1, column)
    }

    fn message(key: &str, reason: &str) -> String {
        format!(
            "Fields \"{key}\" conflict because {reason}. Use different aliases on the fields to fetch both if this was intentional."
        )
    }

    #[test]
    fn a_field_in_an_inline_fragment_conflicts_with_one_beside_it() {
        // The report's example: async-graphql's own rule accepts it.
        let query = r#"{ campaignByDatabaseId(databaseId: "00000000-0000-0000-0000-000000000001") { ... on Campaign { generatedDomains(first: 2) { nodes { offsetIndex } } } generatedDomains(first: 1, orderBy: {direction: DESC}) { nodes { offsetIndex } totalCount } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("generatedDomains", "they have differing arguments"),
                vec![at(query, "generatedDomains", 0), at(query, "generatedDomains", 1)]
            )]
        );
    }

    #[test]
    fn differing_arguments_without_fragments_conflict() {
        let query = r#"{ campaignByDatabaseId(databaseId: "00000000-0000-0000-0000-000000000001") { generatedDomains(first: 2) { nodes { offsetIndex } } generatedDomains(first: 1, orderBy: {direction: DESC}) { nodes { offsetIndex } totalCount } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("generatedDomains", "they have differing arguments"),
                vec![at(query, "generatedDomains", 0), at(query, "generatedDomains", 1)]
            )]
        );
    }

    #[test]
    fn fields_in_a_fragment_conflict_with_fields_beside_the_spread() {
        let query = r#"{ campaign(id: "x") { ...Named name: description } } fragment Named on Campaign { name }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("name", "\"description\" and \"name\" are different fields"),
                vec![at(query, "name: description", 0), at(query, "name }", 0)]
            )]
        );
    }

    #[test]
    fn every_fragment_definition_is_checked_even_unused() {
        let query = r#"{ campaign(id: "x") { id } } fragment Unused on Campaign { name name: id }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("name", "\"name\" and \"id\" are different fields"),
                vec![at(query, "name", 0), at(query, "name: id", 0)]
            )]
        );
    }

    #[test]
    fn identical_fields_merge_through_fragments() {
        assert_passes(
            r#"
            query Q($first: Int) {
              campaign(id: "x") {
                name
                ...Named
                ... on Campaign { name generatedDomains(first: $first, orderBy: {field: OFFSET_INDEX, direction: ASC}) { totalCount } }
                ... { name }
                generatedDomains(orderBy: {direction: ASC, field: OFFSET_INDEX}, first: $first) { nodes { domainName } }
              }
            }
            fragment Named on Campaign {
              name
              generatedDomains(first: $first, orderBy: {direction: ASC, field: OFFSET_INDEX}) { pageInfo { hasNextPage } }
            }
            "#,
        );
    }

    #[test]
    fn aliases_disambiguate() {
        assert_passes(
            r#"{ campaign(id: "x") { first: generatedDomains(first: 1) { totalCount } last: generatedDomains(last: 1) { totalCount } generatedDomains { totalCount } } }"#,
        );
    }

    #[test]
    fn fields_of_different_object_types_need_only_the_same_shape() {
        assert_passes(r#"{ node(id: "x") { ... on Campaign { name } ... on GeneratedDomain { name: domainName } } }"#);
        // Exclusive all the way down: both sides are Campaigns, but never the same one.
        assert_passes(
            r#"{ node(id: "x") { ... on DnsValidationResult { campaign { n: totalItems } } ... on GeneratedDomain { campaign { n: processedItems } } } }"#,
        );
        let query =
            r#"{ node(id: "x") { ... on Campaign { x: totalItems } ... on GeneratedDomain { x: domainName } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("x", "they return conflicting types \"Int!\" and \"String!\""),
                vec![at(query, "x: totalItems", 0), at(query, "x: domainName", 0)]
            )]
        );
    }

    #[test]
    fn shapes_are_compared_in_sub_selections_of_different_object_types() {
        let query = r#"{ node(id: "x") { ... on DnsValidationResult { campaign { n: name } } ... on GeneratedDomain { campaign { n: description } } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message(
                    "campaign",
                    "subfields \"n\" conflict because they return conflicting types \"String!\" and \"String\""
                ),
                vec![
                    at(query, "campaign", 0),
                    at(query, "n: name", 0),
                    at(query, "campaign", 1),
                    at(query, "n: description", 0)
                ]
            )]
        );
        // Nullable `Campaign` against non-null `GeneratedDomainConnection!`.
        let found = conflicts(
            r#"{ node(id: "x") { ... on GeneratedDomain { c: campaign { id } } ... on Campaign { c: generatedDomains { totalCount } } } }"#,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .0
                .contains("conflicting types \"Campaign\" and \"GeneratedDomainConnection!\"")
        );
        // A list against a single object.
        let found = conflicts(
            r#"{ campaign(id: "x") { ... on Campaign { d: dnsStatusCounts { count } } d: sourceCampaign { totalItems } } }"#,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .0
                .contains("\"dnsStatusCounts\" and \"sourceCampaign\" are different fields")
        );
    }

    #[test]
    fn an_interface_parent_must_merge_with_every_type() {
        let query = r#"{ node(id: "x") { ... on Node { id } ... on Campaign { id: name } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("id", "\"id\" and \"name\" are different fields"),
                vec![at(query, "id }", 0), at(query, "id: name", 0)]
            )]
        );
        assert_passes(
            r#"{ node(id: "x") { id ... on Node { id } ... on Campaign { id } __typename ... on Campaign { __typename } } }"#,
        );
    }

    #[test]
    fn conflicting_sub_selections_are_refused() {
        let query = r#"{ campaign(id: "x") { a: generatedDomains { nodes { v: offsetIndex } } a: generatedDomains { nodes { v: domainName } } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message(
                    "a",
                    "subfields \"nodes\" conflict because subfields \"v\" conflict because \"offsetIndex\" and \"domainName\" are different fields"
                ),
                vec![
                    at(query, "a:", 0),
                    at(query, "nodes", 0),
                    at(query, "v:", 0),
                    at(query, "a:", 1),
                    at(query, "nodes", 1),
                    at(query, "v:", 1)
                ]
            )]
        );
        // The same through a fragment and an inline fragment.
        let found = conflicts(
            r#"{ campaign(id: "x") { ...G ... on Campaign { generatedDomains { nodes { v: domainName } } } } } fragment G on Campaign { generatedDomains { nodes { v: offsetIndex } } }"#,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .0
                .starts_with("Fields \"generatedDomains\" conflict because subfields \"nodes\"")
        );
    }

    #[test]
    fn a_conflict_inside_one_field_is_reported_once_and_flat() {
        // `t: totalCount` in one copy of generatedDomains against `t: pageInfo` in the other.
        let found = conflicts(
            r#"{ campaign(id: "x") { generatedDomains { totalCount t: totalCount } generatedDomains { t: pageInfo { hasNextPage } } } }"#,
        );
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .0
                .starts_with("Fields \"generatedDomains\" conflict because subfields \"t\" conflict")
        );
        // Both inside the first copy: that selection set's own conflict.
        let query = r#"{ campaign(id: "x") { generatedDomains { t: totalCount t: pageInfo { hasNextPage } } generatedDomains { totalCount } } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("t", "\"totalCount\" and \"pageInfo\" are different fields"),
                vec![at(query, "t: totalCount", 0), at(query, "t: pageInfo", 0)]
            )]
        );
    }

    #[test]
    fn skipped_and_included_fields_still_count() {
        let found = conflicts(
            r#"query Q($no: Boolean!) { campaign(id: "x") { name @skip(if: $no) name: id @include(if: $no) } }"#,
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, message("name", "\"name\" and \"id\" are different fields"));
    }

    #[test]
    fn variables_are_compared_by_name() {
        assert_passes(
            r#"query Q($n: Int) { campaign(id: "x") { generatedDomains(first: $n) { totalCount } generatedDomains(first: $n) { totalCount } } }"#,
        );
        let found = conflicts(
            r#"query Q($n: Int, $m: Int) { campaign(id: "x") { generatedDomains(first: $n) { totalCount } generatedDomains(first: $m) { totalCount } } }"#,
        );
        assert_eq!(found.len(), 1);
    }

    #[test]
    fn the_same_fragment_spread_twice_passes() {
        assert_passes(
            r#"{ campaign(id: "x") { ...C ...C generatedDomains(first: 1) { ...C2 } } } fragment C on Campaign { name generatedDomains(first: 1) { totalCount ...C2 } } fragment C2 on GeneratedDomainConnection { nodes { domainName } }"#,
        );
    }

    #[test]
    fn fragment_cycles_terminate() {
        assert_passes(
            r#"{ campaign(id: "x") { ...A } } fragment A on Campaign { name ...A sourceCampaign { ...A ...B } } fragment B on Campaign { ...A sourceCampaign { ...B } }"#,
        );
        let found = conflicts(
            r#"{ campaign(id: "x") { ...A } } fragment A on Campaign { name ...B sourceCampaign { ...A } } fragment B on Campaign { name: id ...A sourceCampaign { ...B } }"#,
        );
        assert!(!found.is_empty());
        assert!(
            found
                .iter()
                .all(|(message, _)| message.contains("\"name\" and \"id\" are different fields")),
            "{found:#?}"
        );
    }

    #[test]
    fn ten_thousand_copies_of_a_field_are_fast() {
        let copies = "name ".repeat(10_000);
        let (found, took) = timed(&format!(r#"{{ campaign(id: "x") {{ {copies} }} }}"#));
        assert!(
            found.is_empty() && took < Duration::from_millis(200),
            "{found:?} {took:?}"
        );

        let copies = r#"campaign(id: "x") { name generatedDomains { nodes { domainName } } } "#.repeat(10_000);
        let (found, took) = timed(&format!("{{ {copies} }}"));
        assert!(found.is_empty() && took < Duration::from_secs(1), "{found:?} {took:?}");
    }

    #[test]
    fn many_conflicting_copies_report_a_bounded_number_of_errors_quickly() {
        let copies: String = (0..10_000)
            .map(|i| format!("generatedDomains(first: {i}) {{ totalCount }} "))
            .collect();
        let (found, took) = timed(&format!(r#"{{ campaign(id: "x") {{ {copies} }} }}"#));
        assert!(took < Duration::from_secs(1), "{took:?}");
        assert!(!found.is_empty() && found.len() <= MAX_CONFLICTS, "{}", found.len());
    }

    #[test]
    fn a_conflicting_fragment_spread_in_many_places_is_reported_once() {
        let spreads: String = (0..10_000)
            .map(|i| format!("s{i}: sourceCampaign {{ ...F }} "))
            .collect();
        let query = format!(r#"{{ campaign(id: "x") {{ {spreads} }} }} fragment F on Campaign {{ a: name a: id }}"#);
        let (found, took) = timed(&query);
        assert!(took < Duration::from_millis(500), "{took:?}");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, message("a", "\"name\" and \"id\" are different fields"));
    }

    #[test]
    fn nested_fragments_that_expand_exponentially_are_fast() {
        // Each level compares Campaign.sourceCampaign with GeneratedDomain.campaign (exclusive,
        // so by shape) and spreads the next level on both sides: 2^30 pairs without memoization.
        let mut query = String::from(r#"{ node(id: "x") { ...F0 } }"#);
        for i in 0..30 {
            let next = i + 1;
            query.push_str(&format!(
                " fragment F{i} on Node {{ id ... on Campaign {{ s: sourceCampaign {{ ...F{next} }} }} ... on GeneratedDomain {{ s: campaign {{ ...F{next} }} }} }}"
            ));
        }
        query.push_str(" fragment F30 on Node { id }");
        let (found, took) = timed(&query);
        assert!(
            found.is_empty() && took < Duration::from_millis(500),
            "{found:?} {took:?}"
        );
    }

    #[test]
    fn introspection_and_unknown_fields_compare_names_and_arguments_only() {
        assert_passes(r#"{ __schema { queryType { name } } __schema { types { name } } __typename }"#);
        let query = r#"{ __type(name: "Campaign") { name } __type(name: "Node") { name } }"#;
        assert_eq!(
            conflicts(query),
            vec![(
                message("__type", "they have differing arguments"),
                vec![at(query, "__type", 0), at(query, "__type", 1)]
            )]
        );
    }

    #[test]
    fn errors_carry_the_validation_code_in_document_order() {
        let registry = crate::graphql::schema_registry();
        let document =
            parse_query(r#"{ campaign(id: "x") { name name: id } campaign(id: "y") { name } }"#).expect("parses");
        let errors = check(&document, &registry).expect_err("conflicts");
        assert_eq!(errors.len(), 2);
        let code = errors[0].extensions.as_ref().and_then(|ext| ext.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("GRAPHQL_VALIDATION_FAILED")));
        assert!(errors[0].message.starts_with("Fields \"campaign\""));
        assert!(errors[1].message.starts_with("Fields \"name\""));
    }
}
