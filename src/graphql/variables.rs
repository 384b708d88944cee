//! CoerceVariableValues (GraphQL spec 6.1.2), before execution: every variable the operation
//! declares is checked against its declared type with the schema's registry, so a variable
//! of the wrong JSON type, an unknown enum value or input field, a missing required variable
//! or an overflowing number is a request error with code BAD_USER_INPUT — refused before
//! execution (no `data`, 400 under `application/graphql-response+json`) instead of surfacing
//! as a field error, or as INTERNAL, from deep inside async-graphql's argument parsing.
//!
//! Scalars are checked with the very parsers the executor uses (`InputType::parse` of the Rust
//! type behind each scalar), so this can never accept a value the executor then refuses.

use async_graphql::parser::types::{BaseType, OperationDefinition, Type};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{InputType, Pos, ServerError, Value, Variables};

use crate::error::code;

/// Parsers of the schema's scalars, by name: the Rust types the resolvers take them as.
/// `tests`/the unit test below fails when the schema gains a scalar that is not listed here.
const SCALARS: &[(&str, ScalarCheck)] = &[
    ("Int", parses::<i32>),
    ("Float", parses::<f64>),
    ("String", parses::<String>),
    ("Boolean", parses::<bool>),
    ("ID", parses::<async_graphql::ID>),
    ("UUID", parses::<uuid::Uuid>),
    ("DateTime", parses::<chrono::DateTime<chrono::Utc>>),
    ("JSON", parses::<async_graphql::Json<serde_json::Value>>),
];

/// Checks a value against one scalar: why it is not one, when it is not.
type ScalarCheck = fn(&Value) -> Result<(), String>;

fn parses<T: InputType>(value: &Value) -> Result<(), String> {
    T::parse(Some(value.clone()))
        .map(|_| ())
        .map_err(|err| err.into_server_error(Pos::default()).message)
}

/// Checks the variables of `operation` (declared types, defaults) against `variables`.
/// Errors are request errors: no path, code BAD_USER_INPUT, located at the definition.
pub fn coerce(
    operation: &OperationDefinition,
    variables: &Variables,
    registry: &Registry,
) -> Result<(), Vec<ServerError>> {
    let mut errors = Vec::new();
    for definition in &operation.variable_definitions {
        let pos = definition.pos;
        let definition = &definition.node;
        let name = &definition.name.node;
        let ty = &definition.var_type.node;
        let message = match variables.get(name) {
            None if definition.default_value.is_none() && !ty.nullable => Some(format!(
                "Variable \"${name}\" of required type \"{ty}\" was not provided."
            )),
            None => None,
            Some(value) => check(registry, ty, value)
                .err()
                .map(|reason| format!("Variable \"${name}\" got invalid value {}; {reason}", shown(value))),
        };
        if let Some(message) = message {
            let mut err = ServerError::new(message, Some(pos));
            err.extensions
                .get_or_insert_with(Default::default)
                .set("code", code::BAD_USER_INPUT);
            errors.push(err);
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Gives every variable the operation declares with a default, and the request does not
/// give, its default value.
pub fn apply_defaults(operation: &OperationDefinition, variables: &mut Variables) {
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value
            && !variables.contains_key(&definition.name.node)
        {
            variables.insert(definition.name.node.clone(), default.node.clone());
        }
    }
}

/// A value as it is quoted in a message: JSON, cut short when long.
fn shown(value: &Value) -> String {
    let text = value
        .clone()
        .into_json()
        .map(|json| json.to_string())
        .unwrap_or_default();
    const SHOWN: usize = 80;
    match text.char_indices().nth(SHOWN) {
        None => text,
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// Input coercion of `value` to the variable type `ty` (spec 3.x "Input Coercion").
fn check(registry: &Registry, ty: &Type, value: &Value) -> Result<(), String> {
    if *value == Value::Null {
        return if ty.nullable {
            Ok(())
        } else {
            Err(format!("Expected non-nullable type \"{ty}\" not to be null."))
        };
    }
    match &ty.base {
        BaseType::List(item) => match value {
            Value::List(items) => items.iter().enumerate().try_for_each(|(i, value)| {
                check(registry, item, value).map_err(|reason| format!("at index {i}: {reason}"))
            }),
            // A single value where a list is expected is a list of one.
            single => check(registry, item, single),
        },
        BaseType::Named(name) => check_named(registry, name, value),
    }
}

fn check_named(registry: &Registry, name: &str, value: &Value) -> Result<(), String> {
    match registry.types.get(name) {
        Some(MetaType::Scalar { .. }) | None => match SCALARS.iter().find(|(scalar, _)| *scalar == name) {
            Some((_, parse)) => parse(value),
            None => Err(format!("Unknown type \"{name}\".")),
        },
        Some(MetaType::Enum { enum_values, .. }) => match value {
            Value::String(text) if enum_values.contains_key(text.as_str()) => Ok(()),
            Value::Enum(text) if enum_values.contains_key(text.as_str()) => Ok(()),
            _ => Err(format!(
                "Value {} does not exist in \"{name}\" enum (one of {}).",
                shown(value),
                enum_values.keys().cloned().collect::<Vec<_>>().join(", ")
            )),
        },
        Some(MetaType::InputObject {
            input_fields, oneof, ..
        }) => {
            let Value::Object(object) = value else {
                return Err(format!("Expected type \"{name}\" to be an object."));
            };
            if let Some(unknown) = object.keys().find(|key| !input_fields.contains_key(key.as_str())) {
                return Err(format!("Field \"{unknown}\" is not defined by type \"{name}\"."));
            }
            if *oneof && object.len() != 1 {
                return Err(format!("Exactly one key must be specified for OneOf type \"{name}\"."));
            }
            for (field_name, field) in input_fields {
                let field_type = field.ty.as_str();
                match object.get(field_name.as_str()) {
                    None => {
                        if matches!(MetaTypeName::create(field_type), MetaTypeName::NonNull(_))
                            && field.default_value.is_none()
                        {
                            return Err(format!(
                                "Field \"{name}.{field_name}\" of required type \"{field_type}\" was not provided."
                            ));
                        }
                    }
                    Some(value) => {
                        let parsed = Type::new(field_type).ok_or_else(|| format!("Unknown type \"{field_type}\"."))?;
                        check(registry, &parsed, value)
                            .map_err(|reason| format!("at \"{name}.{field_name}\": {reason}"))?;
                    }
                }
            }
            Ok(())
        }
        Some(_) => Err(format!("\"{name}\" is not an input type.")),
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;
    use serde_json::json;

    use super::*;

    #[test]
    fn every_scalar_of_the_schema_has_its_parser() {
        let registry = crate::graphql::schema_registry();
        for (name, meta) in &registry.types {
            if matches!(meta, MetaType::Scalar { .. }) {
                assert!(
                    SCALARS.iter().any(|(scalar, _)| scalar == name),
                    "scalar {name} has no parser in SCALARS"
                );
            }
        }
    }

    fn coerced(query: &str, variables: serde_json::Value) -> Result<(), Vec<String>> {
        let registry = crate::graphql::schema_registry();
        let document = parse_query(query).expect("parses");
        let DocumentOperations::Single(operation) = &document.operations else {
            panic!("one operation");
        };
        coerce(&operation.node, &Variables::from_json(variables), &registry)
            .map_err(|errors| errors.into_iter().map(|err| err.message).collect())
    }

    #[test]
    fn wrong_values_are_refused_with_a_reason() {
        let q = "query($c: UUID!, $f: Int, $o: GeneratedDomainOrder, $d: DnsValidationResultFilter, $ids: [ID!]!) { __typename }";
        let good = json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": []});
        assert_eq!(coerced(q, good.clone()), Ok(()));
        let cases = [
            json!({"c": 12, "ids": []}),
            json!({"c": "not-a-uuid", "ids": []}),
            json!({"ids": []}),
            json!({"c": null, "ids": []}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "f": 2_147_483_648u64}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "f": 1.5}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "f": "3"}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "o": "OFFSET_INDEX"}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "o": {"field": "NOPE"}}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "o": {"field": "OFFSET_INDEX", "extra": 1}}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [], "d": {"validationStatus": 3}}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [null]}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": [true]}),
            json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b"}),
        ];
        for case in cases {
            let errors = coerced(q, case.clone()).expect_err(&case.to_string());
            assert!(errors[0].starts_with("Variable \"$"), "{errors:?}");
        }
        // A single value for a list, enums given as strings, null for a nullable input field.
        let fine = json!({"c": "6baba471-cbd8-5211-82b6-5263da5a5b4b", "ids": "x",
            "o": {"field": "DOMAIN_NAME", "direction": "DESC"}, "d": {"businessStatus": null}});
        assert_eq!(coerced(q, fine), Ok(()));
    }
}
