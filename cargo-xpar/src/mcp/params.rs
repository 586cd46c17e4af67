//! The tools' arguments, read as rmcp's `Parameters` reads them but with the argument at
//! fault named in the error (`jobs: invalid type: string "many", expected u32`): serde
//! alone says what was wrong and not where, which leaves an agent guessing which of its
//! arguments to fix. rmcp's `#[tool]` finds the parameters by this type's name, and takes
//! its input schema from it.

use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::ErrorData;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

/// A tool's arguments, as `P`.
pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        P::json_schema(generator)
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<S>) -> Result<Self, ErrorData> {
        let arguments = context.arguments.take().unwrap_or_default();
        parse(serde_json::Value::Object(arguments)).map(Parameters)
    }
}

/// Reads `arguments` as `P`. The error starts as rmcp's own does, which is what makes
/// rmcp return it as a tool error (`isError`), which the model sees, rather than as a
/// protocol error.
fn parse<P: DeserializeOwned>(arguments: serde_json::Value) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let why = e.into_inner();
        let message = match path.as_str() {
            // The arguments as a whole: a missing one, which serde names.
            "." => format!("failed to deserialize parameters: {why}"),
            _ => format!("failed to deserialize parameters: {path}: {why}"),
        };
        ErrorData::invalid_params(message, None)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::schema::{RunTestsParams, TestOutputParams};
    use serde_json::json;

    fn error_of<P: DeserializeOwned>(arguments: serde_json::Value) -> String {
        match parse::<P>(arguments) {
            Ok(_) => panic!("should be refused"),
            Err(e) => e.message.into_owned(),
        }
    }

    #[test]
    fn the_argument_at_fault_is_named() {
        let table = [
            (
                json!({"jobs": "many"}),
                "failed to deserialize parameters: jobs: invalid type: string \"many\", expected u32",
            ),
            (
                json!({"filters": ["a", 3]}),
                "failed to deserialize parameters: filters[1]: invalid type: integer `3`, expected a string",
            ),
            (
                json!({"dist": "random"}),
                "failed to deserialize parameters: dist: unknown variant `random`",
            ),
            (
                json!({"filterz": []}),
                "failed to deserialize parameters: filterz: unknown field `filterz`, expected one of `filters`",
            ),
        ];
        for (arguments, want) in table {
            let got = error_of::<RunTestsParams>(arguments.clone());
            assert!(got.starts_with(want), "{arguments}: {got}");
        }
        assert!(parse::<RunTestsParams>(json!({})).is_ok());
        let missing = error_of::<TestOutputParams>(json!({}));
        assert_eq!(
            missing,
            "failed to deserialize parameters: missing field `test`"
        );
    }
}
