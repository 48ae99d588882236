//! Every route is registered through [`Routes::add`], which also records its OpenAPI entry,
//! so `/v1/openapi.json` is generated from the same table that serves requests and cannot
//! miss a route.

pub mod aftersale;
pub mod coupons;
pub mod deliveries;
pub mod files;
pub mod held;
pub mod instances;
pub mod log;
pub mod ops;
pub mod orders;
pub mod platform;
pub mod products;
pub mod promotions;
pub mod queues;
pub mod refunds;
pub mod staff;
pub mod templates;
pub mod trade;
pub mod workbench;

use axum::routing::MethodRouter;
use axum::Router;
use serde_json::{json, Map, Value};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

use crate::state::App;

type Schemas = Vec<(String, RefOr<Schema>)>;
type SchemaFn = fn(&mut Schemas) -> String;

fn schema_of<T: ToSchema>(out: &mut Schemas) -> String {
    let name = T::name().into_owned();
    out.push((name.clone(), T::schema()));
    T::schemas(out);
    name
}

/// The documentation of one route.
#[derive(Clone)]
pub struct Doc {
    summary: &'static str,
    roles: &'static str,
    request: Option<SchemaFn>,
    response: Option<(u16, SchemaFn)>,
    raw_request: Option<&'static str>,
    raw_response: Option<(u16, &'static str)>,
    query: Vec<(&'static str, &'static str)>,
}

impl Doc {
    pub fn new(summary: &'static str, roles: &'static str) -> Doc {
        Doc {
            summary,
            roles,
            request: None,
            response: None,
            raw_request: None,
            raw_response: None,
            query: Vec::new(),
        }
    }

    pub fn body<T: ToSchema>(mut self) -> Doc {
        self.request = Some(schema_of::<T>);
        self
    }

    pub fn answers<T: ToSchema>(mut self, status: u16) -> Doc {
        self.response = Some((status, schema_of::<T>));
        self
    }

    /// A non-JSON request body (content type).
    pub fn raw_body(mut self, content_type: &'static str) -> Doc {
        self.raw_request = Some(content_type);
        self
    }

    /// A non-JSON answer (status, content type).
    pub fn raw_answer(mut self, status: u16, content_type: &'static str) -> Doc {
        self.raw_response = Some((status, content_type));
        self
    }

    pub fn query(mut self, name: &'static str, description: &'static str) -> Doc {
        self.query.push((name, description));
        self
    }
}

/// The router under construction plus its documentation.
pub struct Routes {
    router: Router<App>,
    docs: Vec<(&'static str, &'static str, Doc)>,
}

impl Default for Routes {
    fn default() -> Self {
        Routes {
            router: Router::new(),
            docs: Vec::new(),
        }
    }
}

impl Routes {
    pub fn add(
        mut self,
        method: &'static str,
        path: &'static str,
        handler: MethodRouter<App>,
        doc: Doc,
    ) -> Routes {
        self.router = self.router.route(path, handler);
        self.docs.push((method, path, doc));
        self
    }

    /// The router and the OpenAPI document of every route added.
    pub fn finish(self) -> (Router<App>, Value) {
        let doc = openapi(&self.docs);
        (self.router, doc)
    }
}

fn openapi(docs: &[(&'static str, &'static str, Doc)]) -> Value {
    let mut schemas: Schemas = Vec::new();
    let mut paths: Map<String, Value> = Map::new();
    for (method, path, doc) in docs {
        let mut op = Map::new();
        op.insert("summary".into(), json!(doc.summary));
        op.insert(
            "description".into(),
            json!(format!("Roles: {}.", doc.roles)),
        );
        let tag = path
            .trim_start_matches("/v1/")
            .split('/')
            .next()
            .unwrap_or("ops");
        op.insert("tags".into(), json!([tag]));
        op.insert(
            "operationId".into(),
            json!(format!(
                "{}_{}",
                method.to_lowercase(),
                path.replace(['/', '{', '}', '.', '-'], "_")
            )),
        );
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        for (name, description) in &doc.query {
            params.push(json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}}));
        }
        if *method != "GET" {
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "minLength": 1, "maxLength": 128}}));
            params.push(json!({"name": "If-Match", "in": "header", "required": false, "schema": {"type": "string"}}));
        } else {
            params.push(json!({"name": "X-Min-Position", "in": "header", "required": false, "schema": {"type": "integer", "minimum": 0}}));
        }
        op.insert("parameters".into(), Value::Array(params));
        if let Some(f) = doc.request {
            let name = f(&mut schemas);
            op.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}}));
        } else if let Some(ct) = doc.raw_request {
            op.insert("requestBody".into(), json!({"required": true, "content": {ct: {"schema": {"type": "string", "format": "binary"}}}}));
        }
        let mut responses = Map::new();
        if let Some((status, f)) = doc.response {
            let name = f(&mut schemas);
            responses.insert(status.to_string(), json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}}));
        } else if let Some((status, ct)) = doc.raw_response {
            // A JSON document that is not one of ours (this OpenAPI document) is an object.
            let schema = if ct == "application/json" {
                json!({"type": "object"})
            } else {
                json!({"type": "string"})
            };
            responses.insert(
                status.to_string(),
                json!({"description": "success", "content": {ct: {"schema": schema}}}),
            );
        }
        for (status, why) in error_statuses(method, path, doc) {
            responses.insert(status.to_string(), error_response(why));
        }
        responses.insert("default".into(), error_response("any other error"));
        op.insert("responses".into(), Value::Object(responses));
        if doc.roles != "none" {
            op.insert("security".into(), json!([{"bearer": []}]));
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        if let Value::Object(m) = entry {
            m.insert(method.to_lowercase(), Value::Object(op));
        }
    }
    schema_of::<crate::error::ErrorBody>(&mut schemas);
    let mut components: Map<String, Value> = Map::new();
    for (name, schema) in schemas {
        let mut schema = serde_json::to_value(schema).unwrap_or(Value::Null);
        close_objects(&mut schema);
        components.insert(name, schema);
    }
    json!({
        // utoipa 5 writes JSON Schema 2020-12 (type lists for nullable fields), the schema
        // dialect of OpenAPI 3.1; 3.0 would need `nullable` instead.
        "openapi": "3.1.0",
        "info": {"title": "Marketlog", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Event-sourced back office of a cloud marketplace. Conventions (auth, errors, idempotency, If-Match, X-Min-Position, paging) are those of API.md §1."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}

/// The component name of the error JSON of API.md §1 ([`crate::error::ErrorBody`]).
const ERROR_SCHEMA: &str = "ErrorBody";

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{ERROR_SCHEMA}")}}}})
}

/// The error statuses an operation answers by the conventions of API.md §1, from what the
/// route takes: a token, a path id, a body, a query, a write or a read.
fn error_statuses(method: &str, path: &str, doc: &Doc) -> Vec<(u16, &'static str)> {
    let mut out = Vec::new();
    let takes_input = doc.request.is_some()
        || doc.raw_request.is_some()
        || !doc.query.is_empty()
        || method != "GET";
    if takes_input {
        out.push((400, "bad_request: unparsable or wrongly shaped input"));
    }
    if doc.roles != "none" {
        out.push((401, "unauthenticated"));
        out.push((403, "forbidden: the role may never do this"));
    }
    if path.contains('{') {
        out.push((404, "not_found: unknown, or another tenant's"));
    }
    if method != "GET" {
        out.push((
            409,
            "invalid_state, or version_conflict (only when If-Match was sent)",
        ));
    }
    if doc.request.is_some() || doc.raw_request.is_some() {
        out.push((413, "payload_too_large"));
    }
    if takes_input {
        out.push((
            422,
            "validation_failed, idempotency_key_reused or a domain rule",
        ));
    }
    out.push((
        503,
        if method == "GET" {
            "unavailable or projection_lagging"
        } else {
            "unavailable, store_fenced, projection_lagging, or busy (a stream the command reads kept changing: retry)"
        },
    ));
    out
}

/// Closes every object schema that lists its properties (`additionalProperties: false`), so
/// a field sent but not documented is a validation error, not an unnoticed extra. Schemas
/// that say what their extra properties are (maps) keep their word.
fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            if m.contains_key("properties") && !m.contains_key("additionalProperties") {
                m.insert("additionalProperties".into(), Value::Bool(false));
            }
            m.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
