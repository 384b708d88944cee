//! The GraphQL validation rule "All Variable Usages Are Allowed" (VariablesInAllowedPosition), as
//! the spec states it: a variable may only be used where a value of its type fits, so a nullable
//! variable never reaches a non-null argument unless a default stands in for the null.
//! async-graphql 7.2.1 has the rule but it never runs: its visitor combinator (`VisitorCons`)
//! does not forward `enter_input_value`, the one hook the rule collects usages in, so
//! `query Q($c: UUID) { campaignByDatabaseId(databaseId: $c) { name } }` — and even `$c: String`
//! there — passes validation and fails later, during execution. Its rule also lacks the spec's
//! exception for a location with a default value, and treats `$v: T = null` as non-null.
//!
//! Spec: <https://spec.graphql.org/October2021/#sec-All-Variable-Usages-Are-Allowed>. Messages
//! follow graphql-js's `VariablesInAllowedPositionRule`.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_graphql::parser::types::{
    Directive, ExecutableDocument, OperationDefinition, OperationType, Selection, SelectionSet, VariableDefinition,
};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Pos, Positioned, ServerError};
use async_graphql_value::{ConstValue, Value};

use crate::error::code;

/// Type of the `if` argument of the built-in `@skip` and `@include`, which the registry the
/// server's checks use does not list (the schema builder adds them).
const BUILTIN_CONDITION: &str = "Boolean!";

/// Type of `__type(name:)`: introspection fields are not in the registry either, and this is
/// the only one of them with a non-null argument.
const TYPE_NAME_ARGUMENT: &str = "String!";

/// Checks that every variable usage is allowed where it is used (spec 5.8.5).
///
/// Every operation is walked with the fragments it spreads (each once, so cycles end); each
/// variable usage in a field or directive argument, in a list literal or an input object
/// literal, is compared with the type its location expects. A refused usage is reported once,
/// with graphql-js's message, located at the variable's definition and at the usage, with
/// `extensions.code` GRAPHQL_VALIDATION_FAILED; the errors are in the document order of the
/// usages. Unknown types, fields, arguments and undefined variables are left to other rules.
///
/// A usage inside a list or input object literal is located at the start of the argument's
/// value: the parser keeps no positions inside literals.
pub fn check(document: &ExecutableDocument, registry: &Registry) -> Result<(), Vec<ServerError>> {
    // (usage, definition, message): sorted, and without duplicates (one usage reached twice
    // in one literal, e.g. `[$a, $a]`, is one error).
    let mut refused = BTreeSet::new();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        if operation.variable_definitions.is_empty() {
            continue;
        }
        let definitions: HashMap<&str, &Positioned<VariableDefinition>> = operation
            .variable_definitions
            .iter()
            .map(|definition| (definition.node.name.node.as_str(), definition))
            .collect();
        for usage in usages(document, registry, operation) {
            let Some(definition) = definitions.get(usage.name) else {
                continue;
            };
            let variable_type = definition.node.var_type.node.to_string();
            let default_non_null = definition
                .node
                .default_value
                .as_ref()
                .is_some_and(|default| default.node != ConstValue::Null);
            if !is_usage_allowed(&variable_type, default_non_null, usage.location, usage.location_default) {
                let message = format!(
                    "Variable \"${}\" of type \"{variable_type}\" used in position expecting type \"{}\".",
                    usage.name, usage.location
                );
                refused.insert((usage.pos, definition.pos, message));
            }
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(refused
        .into_iter()
        .map(|(usage, definition, message)| {
            let mut err = super::errors::coded(message, code::GRAPHQL_VALIDATION_FAILED);
            err.locations = vec![definition, usage];
            err
        })
        .collect())
}

/// One use of a variable, and what its location expects.
struct Usage<'a> {
    name: &'a str,
    pos: Pos,
    /// The location's type (`[ID!]!`).
    location: &'a str,
    /// Whether the argument or input field the variable is the value of has a default value.
    location_default: bool,
}

/// The variable usages of `operation` and of the fragments it spreads, transitively, each
/// fragment once (graphql-js's `getRecursiveVariableUsages`), wherever a location type is known.
fn usages<'a>(
    document: &'a ExecutableDocument,
    registry: &'a Registry,
    operation: &'a OperationDefinition,
) -> Vec<Usage<'a>> {
    let root = match operation.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    };
    let mut walker = Walker {
        registry,
        usages: Vec::new(),
    };
    walker.directives(&operation.directives);
    let mut spread = HashSet::new();
    // An explicit stack rather than recursion: selection sets nest as deep as the document does.
    let mut pending: Vec<(&'a SelectionSet, Option<&'a str>)> = vec![(&operation.selection_set.node, root)];
    while let Some((set, parent)) = pending.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    let meta = parent
                        .and_then(|parent| registry.types.get(parent))
                        .and_then(|ty| ty.field_by_name(name));
                    for (argument, value) in &field.arguments {
                        let argument = argument.node.as_str();
                        let location = match meta.and_then(|meta| meta.args.get(argument)) {
                            Some(arg) => Some((arg.ty.as_str(), arg.default_value.is_some())),
                            None if name == "__type"
                                && argument == "name"
                                && parent == Some(registry.query_type.as_str()) =>
                            {
                                Some((TYPE_NAME_ARGUMENT, false))
                            }
                            None => None,
                        };
                        if let Some((ty, has_default)) = location {
                            walker.value(value, ty, has_default);
                        }
                    }
                    walker.directives(&field.directives);
                    let child = meta.map(|meta| MetaTypeName::concrete_typename(&meta.ty));
                    pending.push((&field.selection_set.node, child));
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    walker.directives(&inline.directives);
                    let on = inline
                        .type_condition
                        .as_ref()
                        .map(|condition| condition.node.on.node.as_str());
                    pending.push((&inline.selection_set.node, on.or(parent)));
                }
                Selection::FragmentSpread(spread_node) => {
                    let spread_node = &spread_node.node;
                    walker.directives(&spread_node.directives);
                    let name = spread_node.fragment_name.node.as_str();
                    if let Some(fragment) = document.fragments.get(name)
                        && spread.insert(name)
                    {
                        let fragment = &fragment.node;
                        walker.directives(&fragment.directives);
                        let on = fragment.type_condition.node.on.node.as_str();
                        pending.push((&fragment.selection_set.node, Some(on)));
                    }
                }
            }
        }
    }
    walker.usages
}

struct Walker<'a> {
    registry: &'a Registry,
    usages: Vec<Usage<'a>>,
}

impl<'a> Walker<'a> {
    fn directives(&mut self, directives: &'a [Positioned<Directive>]) {
        for directive in directives {
            let directive = &directive.node;
            let name = directive.name.node.as_str();
            let meta = self.registry.directives.get(name);
            for (argument, value) in &directive.arguments {
                let argument = argument.node.as_str();
                let location = match meta.and_then(|meta| meta.args.get(argument)) {
                    Some(arg) => Some((arg.ty.as_str(), arg.default_value.is_some())),
                    None if matches!(name, "skip" | "include") && argument == "if" => Some((BUILTIN_CONDITION, false)),
                    None => None,
                };
                if let Some((ty, has_default)) = location {
                    self.value(value, ty, has_default);
                }
            }
        }
    }

    /// The usages in an argument's value, whose location type is `ty`.
    fn value(&mut self, value: &'a Positioned<Value>, ty: &'a str, has_default: bool) {
        let pos = value.pos;
        // Explicit stack: literals nest as deep as the parser lets them.
        let mut pending = vec![(&value.node, ty, has_default)];
        while let Some((value, location, location_default)) = pending.pop() {
            match value {
                Value::Variable(name) => self.usages.push(Usage {
                    name: name.as_str(),
                    pos,
                    location,
                    location_default,
                }),
                Value::List(items) => {
                    // An item of a list literal has no default of its own.
                    if let MetaTypeName::List(item) = MetaTypeName::create(location).unwrap_non_null() {
                        pending.extend(items.iter().map(|value| (value, item, false)));
                    }
                }
                Value::Object(fields) => {
                    let named = MetaTypeName::concrete_typename(location);
                    if let Some(MetaType::InputObject { input_fields, .. }) = self.registry.types.get(named) {
                        for (name, value) in fields {
                            if let Some(field) = input_fields.get(name.as_str()) {
                                pending.push((value, field.ty.as_str(), field.default_value.is_some()));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The spec's IsVariableUsageAllowed: a nullable variable fits a non-null location only when
/// a non-null default (the variable's or the location's) stands in for a missing value.
fn is_usage_allowed(variable: &str, default_non_null: bool, location: &str, location_default: bool) -> bool {
    if let MetaTypeName::NonNull(nullable_location) = MetaTypeName::create(location)
        && !matches!(MetaTypeName::create(variable), MetaTypeName::NonNull(_))
    {
        return (default_non_null || location_default) && are_types_compatible(variable, nullable_location);
    }
    are_types_compatible(variable, location)
}

/// The spec's AreTypesCompatible. Every step but one unwraps the location type (from the
/// registry, so shallow) and that one cannot repeat (no `!!`), so the recursion is short
/// however deep the variable's type is.
fn are_types_compatible(variable: &str, location: &str) -> bool {
    match (MetaTypeName::create(variable), MetaTypeName::create(location)) {
        (MetaTypeName::NonNull(variable), MetaTypeName::NonNull(location)) => are_types_compatible(variable, location),
        (_, MetaTypeName::NonNull(_)) => false,
        (MetaTypeName::NonNull(variable), _) => are_types_compatible(variable, location),
        (MetaTypeName::List(variable), MetaTypeName::List(location)) => are_types_compatible(variable, location),
        (MetaTypeName::List(_), _) | (_, MetaTypeName::List(_)) => false,
        (MetaTypeName::Named(variable), MetaTypeName::Named(location)) => variable == location,
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    type Found = Vec<(String, Vec<(usize, usize)>)>;

    /// The errors' messages and locations (as `(line, column)`), empty when the document passes.
    fn refused(query: &str) -> Found {
        let registry = crate::graphql::schema_registry();
        let document = parse_query(query).expect("query parses");
        check(&document, &registry)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|err| {
                (
                    err.message,
                    err.locations.iter().map(|pos| (pos.line, pos.column)).collect(),
                )
            })
            .collect()
    }

    fn assert_passes(query: &str) {
        assert_eq!(refused(query), Found::new(), "{query}");
    }

    /// Where the `nth` (from 0) `needle` starts in the one-line `query`.
    fn at(query: &str, needle: &str, nth: usize) -> (usize, usize) {
        let column = query.match_indices(needle).nth(nth).expect("needle in query").0 + 1;
        (1, column)
    }

    fn message(variable: &str, ty: &str, expected: &str) -> String {
        format!("Variable \"${variable}\" of type \"{ty}\" used in position expecting type \"{expected}\".")
    }

    #[test]
    fn a_nullable_variable_in_a_non_null_argument_is_refused() {
        // The report's example: async-graphql's own rule accepts it.
        let query = "query Q($c: UUID) { campaignByDatabaseId(databaseId: $c) { name } }";
        assert_eq!(
            refused(query),
            vec![(
                message("c", "UUID", "UUID!"),
                vec![at(query, "$c", 0), at(query, "$c", 1)]
            )]
        );
    }

    #[test]
    fn a_default_on_the_variable_makes_it_fit() {
        assert_passes(
            r#"query Q($c: UUID = "00000000-0000-0000-0000-000000000001") { campaignByDatabaseId(databaseId: $c) { name } }"#,
        );
        assert_passes(r#"query Q($i: ID = "x") { campaign(id: $i) { name } }"#);
        // A null default stands in for nothing.
        let query = "query Q($i: ID = null) { campaign(id: $i) { name } }";
        assert_eq!(
            refused(query),
            vec![(message("i", "ID", "ID!"), vec![at(query, "$i", 0), at(query, "$i", 1)])]
        );
    }

    #[test]
    fn a_default_on_the_argument_makes_it_fit() {
        // `metricsUpdated(intervalSeconds: Int! = 2)`, on the subscription root.
        assert_passes("subscription S($s: Int) { metricsUpdated(intervalSeconds: $s) { __typename } }");
        assert_passes("subscription S($s: Int!) { metricsUpdated(intervalSeconds: $s) { __typename } }");
        let query = "subscription S($s: String) { metricsUpdated(intervalSeconds: $s) { __typename } }";
        assert_eq!(
            refused(query),
            vec![(
                message("s", "String", "Int!"),
                vec![at(query, "$s", 0), at(query, "$s", 1)]
            )]
        );
    }

    #[test]
    fn non_null_variables_fit_nullable_and_non_null_arguments() {
        assert_passes(
            "query Q($n: Int!, $a: String!, $c: UUID!, $i: ID!) { campaigns(first: $n, after: $a) { totalCount } campaignByDatabaseId(databaseId: $c) { name } campaign(id: $i) { name } }",
        );
        assert_passes("query Q($n: Int, $a: String) { campaigns(first: $n, after: $a) { totalCount } }");
    }

    #[test]
    fn list_variables_must_match_the_item_nullability() {
        let query = "query Q($a: [ID]) { nodes(ids: $a) { id } }";
        assert_eq!(
            refused(query),
            vec![(
                message("a", "[ID]", "[ID!]!"),
                vec![at(query, "$a", 0), at(query, "$a", 1)]
            )]
        );
        let query = "query Q($a: [ID]!) { nodes(ids: $a) { id } }";
        assert_eq!(refused(query)[0].0, message("a", "[ID]!", "[ID!]!"));
        let query = "query Q($a: [ID!]) { nodes(ids: $a) { id } }";
        assert_eq!(refused(query)[0].0, message("a", "[ID!]", "[ID!]!"));
        // A single ID is coerced to a list when given as a value, but not as a variable.
        let query = "query Q($a: ID!) { nodes(ids: $a) { id } }";
        assert_eq!(refused(query)[0].0, message("a", "ID!", "[ID!]!"));
        assert_passes("query Q($a: [ID!]!) { nodes(ids: $a) { id } }");
        assert_passes(r#"query Q($a: [ID!] = ["x"]) { nodes(ids: $a) { id } }"#);
    }

    #[test]
    fn variables_in_a_list_literal_are_checked_against_the_item_type() {
        let query = r#"query Q($a: ID, $b: ID!) { nodes(ids: ["x", $a, $b, $a]) { id } }"#;
        // Located at the list: the parser keeps no positions inside literals.
        assert_eq!(
            refused(query),
            vec![(message("a", "ID", "ID!"), vec![at(query, "$a", 0), at(query, "[", 0)])]
        );
        assert_passes("query Q($a: ID!) { nodes(ids: [$a]) { id } }");
    }

    #[test]
    fn variables_in_an_input_object_literal_are_checked_against_the_field_type() {
        // `field: GeneratedDomainOrderField! = OFFSET_INDEX`: the field's default makes it fit.
        assert_passes(
            r#"query Q($f: GeneratedDomainOrderField) { campaign(id: "x") { generatedDomains(orderBy: {field: $f}) { totalCount } } }"#,
        );
        assert_passes(
            r#"query Q($f: GeneratedDomainOrderField!, $d: Direction) { campaign(id: "x") { generatedDomains(orderBy: {field: $f, direction: $d}) { totalCount } } }"#,
        );
        let query = r#"query Q($f: CampaignOrderField) { campaign(id: "x") { generatedDomains(orderBy: {field: $f}) { totalCount } } }"#;
        assert_eq!(
            refused(query),
            vec![(
                message("f", "CampaignOrderField", "GeneratedDomainOrderField!"),
                vec![at(query, "$f", 0), at(query, "{field", 0)]
            )]
        );
        // Nullable input fields, at the root.
        assert_passes("query Q($t: CampaignType) { campaigns(filter: {campaignType: $t}) { totalCount } }");
        // A whole input object as a variable.
        assert_passes(
            "query Q($o: GeneratedDomainOrder!) { campaign(id: \"x\") { generatedDomains(orderBy: $o) { totalCount } } }",
        );
        let query =
            "query Q($o: CampaignOrder) { campaign(id: \"x\") { generatedDomains(orderBy: $o) { totalCount } } }";
        assert_eq!(
            refused(query)[0].0,
            message("o", "CampaignOrder", "GeneratedDomainOrder")
        );
    }

    #[test]
    fn usages_in_fragments_are_located_in_the_fragment() {
        let query = "query Q($c: UUID) { ...F } fragment F on Query { campaignByDatabaseId(databaseId: $c) { name } }";
        assert_eq!(
            refused(query),
            vec![(
                message("c", "UUID", "UUID!"),
                vec![at(query, "$c", 0), at(query, "$c", 1)]
            )]
        );
        // Through an inline fragment, a nested fragment and a fragment on an interface.
        let query = r#"query Q($i: ID) { ... on Query { ...A } } fragment A on Query { campaign(id: "x") { ...B } } fragment B on Node { ... on Campaign { sourceCampaign { ...C } } } fragment C on Campaign { generatedDomains { nodes { campaign { id } } } } fragment Unused on Query { node(id: $i) { id } }"#;
        assert_passes(query);
        let query = r#"query Q($i: ID, $d: String) { ... on Query { ...A } } fragment A on Query { campaign(id: "x") { ...B } } fragment B on Node { ... on Campaign { sourceCampaign { ...C } } } fragment C on Campaign { findDnsValidationResult(domainName: $d) { cursor } } fragment Unused on Query { node(id: $i) { id } }"#;
        assert_eq!(
            refused(query),
            vec![(
                message("d", "String", "String!"),
                vec![at(query, "$d", 0), at(query, "$d", 1)]
            )]
        );
    }

    #[test]
    fn a_fragment_spread_twice_or_by_two_operations_is_reported_once_per_operation() {
        let query = "query A($c: UUID) { ...F ...F x: __typename ...F } query B($c: UUID) { ...F } fragment F on Query { campaignByDatabaseId(databaseId: $c) { name } }";
        let usage = at(query, "$c", 2);
        assert_eq!(
            refused(query),
            vec![
                (message("c", "UUID", "UUID!"), vec![at(query, "$c", 0), usage]),
                (message("c", "UUID", "UUID!"), vec![at(query, "$c", 1), usage]),
            ]
        );
    }

    #[test]
    fn directive_conditions_need_a_non_null_boolean() {
        let query = r#"query Q($b: Boolean) { campaign(id: "x") { name @include(if: $b) } }"#;
        assert_eq!(
            refused(query),
            vec![(
                message("b", "Boolean", "Boolean!"),
                vec![at(query, "$b", 0), at(query, "$b", 1)]
            )]
        );
        assert_passes(r#"query Q($b: Boolean!) { campaign(id: "x") { name @include(if: $b) } }"#);
        assert_passes(r#"query Q($b: Boolean = true) { campaign(id: "x") { name @include(if: $b) } }"#);
        // On inline fragments, spreads and fragment definitions too.
        let query = r#"query Q($b: Boolean, $c: Boolean, $d: Boolean) { ... @skip(if: $b) { __typename } ...F @skip(if: $c) } fragment F on Query @include(if: $d) { __typename }"#;
        let found: Vec<String> = refused(query).into_iter().map(|(message, _)| message).collect();
        assert_eq!(
            found,
            vec![
                message("b", "Boolean", "Boolean!"),
                message("c", "Boolean", "Boolean!"),
                message("d", "Boolean", "Boolean!"),
            ]
        );
    }

    #[test]
    fn a_wrong_named_type_is_refused() {
        let query = "query Q($c: String) { campaignByDatabaseId(databaseId: $c) { name } }";
        assert_eq!(
            refused(query),
            vec![(
                message("c", "String", "UUID!"),
                vec![at(query, "$c", 0), at(query, "$c", 1)]
            )]
        );
        let query = "query Q($c: String!) { campaignByDatabaseId(databaseId: $c) { name } }";
        assert_eq!(refused(query)[0].0, message("c", "String!", "UUID!"));
        let query = r#"query Q($b: String!) { campaign(id: "x") { name @skip(if: $b) } }"#;
        assert_eq!(refused(query)[0].0, message("b", "String!", "Boolean!"));
        let query = r#"query Q($n: String) { __type(name: $n) { name } }"#;
        assert_eq!(refused(query)[0].0, message("n", "String", "String!"));
    }

    #[test]
    fn errors_follow_the_usages_in_document_order() {
        let query = r#"query Q($b: Boolean, $c: UUID) { campaignByDatabaseId(databaseId: $c) { name @skip(if: $b) } }"#;
        assert_eq!(
            refused(query),
            vec![
                (
                    message("c", "UUID", "UUID!"),
                    vec![at(query, "$c", 0), at(query, "$c", 1)]
                ),
                (
                    message("b", "Boolean", "Boolean!"),
                    vec![at(query, "$b", 0), at(query, "$b", 1)]
                ),
            ]
        );
    }

    #[test]
    fn fragment_cycles_terminate() {
        assert_passes(
            r#"query Q($i: ID!) { campaign(id: $i) { ...A } } fragment A on Campaign { name ...B sourceCampaign { ...A } } fragment B on Campaign { ...A sourceCampaign { ...B } }"#,
        );
        let query = r#"query Q($d: String) { campaign(id: "x") { ...A } } fragment A on Campaign { ...B } fragment B on Campaign { ...A sourceCampaign { ...A ...B } ...C } fragment C on Campaign { ...A findDnsValidationResult(domainName: $d) { cursor } }"#;
        assert_eq!(
            refused(query),
            vec![(
                message("d", "String", "String!"),
                vec![at(query, "$d", 0), at(query, "$d", 1)]
            )]
        );
    }

    #[test]
    fn unknown_fields_arguments_types_and_variables_are_left_to_other_rules() {
        assert_passes(
            "query Q($x: Int) { nope(a: $x) { b(c: $x) } campaign(id: $undefined) { name(x: $x) } campaigns(filter: {nope: $x}) { totalCount } }",
        );
        // Below an unknown field, directives still have a known type.
        let query = r#"query Q($b: Boolean) { nope { b @include(if: $b) } }"#;
        assert_eq!(refused(query).len(), 1);
    }

    #[test]
    fn errors_carry_the_validation_code() {
        let registry = crate::graphql::schema_registry();
        let document =
            parse_query("query Q($c: UUID) { campaignByDatabaseId(databaseId: $c) { name } }").expect("parses");
        let errors = check(&document, &registry).expect_err("refused");
        let code = errors[0].extensions.as_ref().and_then(|ext| ext.get("code")).cloned();
        assert_eq!(code, Some(async_graphql::Value::from("GRAPHQL_VALIDATION_FAILED")));
    }
}
