//! The published contract as a test oracle: every answer the shared client receives is checked
//! against the schema `/v1/openapi.json` gives for its operation and status (objects closed,
//! JSON Schema 2020-12, formats checked), so a field sent but not documented, a missing
//! required field, a value outside an enum or an undocumented status fails the test that
//! caused it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Value};

/// The served document and a validator per (operation, status), compiled on first use.
pub struct Contract {
    pub doc: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    pub fn new(doc: Value) -> Contract {
        Contract {
            doc,
            validators: Mutex::new(HashMap::new()),
        }
    }

    /// The path template of the document that serves `path` (literal segments win over
    /// `{parameters}`, as in the router).
    pub fn template(&self, path: &str) -> Option<String> {
        let segments: Vec<&str> = path.split('/').collect();
        let paths = self.doc["paths"].as_object()?;
        paths
            .keys()
            .filter_map(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                if ts.len() != segments.len() {
                    return None;
                }
                let mut literal = 0;
                for (a, b) in ts.iter().zip(&segments) {
                    if a.starts_with('{') && a.ends_with('}') && !b.is_empty() {
                        continue;
                    }
                    if a != b {
                        return None;
                    }
                    literal += 1;
                }
                Some((literal, t))
            })
            .max_by_key(|(literal, _)| *literal)
            .map(|(_, t)| t.clone())
    }

    /// What is wrong with this answer by the document, if anything.
    pub fn problems(
        &self,
        method: &Method,
        uri: &str,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Option<String> {
        let path = uri.split('?').next().unwrap_or(uri);
        let operation = self.template(path).and_then(|t| {
            Some((
                self.doc["paths"][&t].get(method.as_str().to_lowercase())?,
                t,
            ))
        });
        let Some((operation, template)) = operation else {
            // A route the document does not have (the fallback's 404, 405): still the
            // error JSON of API.md §1.
            if status.is_success() {
                return None;
            }
            return self.check(
                "unrouted",
                &json!({"$ref": "#/components/schemas/ErrorBody"}),
                body,
            );
        };
        let responses = &operation["responses"];
        let Some(answer) = responses
            .get(status.as_str())
            .or_else(|| responses.get("default"))
        else {
            return Some(format!(
                "{method} {template}: status {status} is not documented"
            ));
        };
        let content_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(content) = answer["content"].as_object() else {
            return (!body.is_empty())
                .then(|| format!("{method} {template} {status}: a body where none is documented"));
        };
        let Some(schema) = content.get("application/json").map(|c| &c["schema"]) else {
            let documented = content
                .keys()
                .any(|ct| ct == "*/*" || content_type.starts_with(ct.as_str()));
            return (!documented).then(|| {
                format!(
                    "{method} {template} {status}: content type {content_type:?} is not documented"
                )
            });
        };
        if !content_type.starts_with("application/json") {
            return Some(format!(
                "{method} {template} {status}: JSON documented, {content_type:?} sent"
            ));
        }
        let key = format!("{method} {template} {status}");
        self.check(&key, schema, body)
    }

    fn check(&self, key: &str, schema: &Value, body: &[u8]) -> Option<String> {
        let instance: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return Some(format!("{key}: body is not JSON ({e})")),
        };
        let validator = match self.validator(key, schema) {
            Ok(v) => v,
            Err(e) => return Some(format!("{key}: the published schema does not compile: {e}")),
        };
        let errors: Vec<String> = validator
            .iter_errors(&instance)
            .map(|e| format!("at {:?}: {e}", e.instance_path().to_string()))
            .collect();
        (!errors.is_empty()).then(|| format!("{key}: {}", errors.join("; ")))
    }

    fn validator(&self, key: &str, schema: &Value) -> Result<Arc<jsonschema::Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(key) {
            return Ok(Arc::clone(v));
        }
        // The operation's schema with the document's components beside it, so that its
        // `#/components/schemas/...` references resolve within one resource.
        let root = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "allOf": [schema],
            "components": self.doc["components"],
        });
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| e.to_string())?;
        let v = Arc::new(v);
        cache.insert(key.to_owned(), Arc::clone(&v));
        Ok(v)
    }
}
