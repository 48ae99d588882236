//! API.md §7: flow templates — the public presets (from code, read-only) and an org's private
//! templates (draft → published, copies), with the node JSON of §7.
//!
//! `timeout.days` is a JSON number with at most one decimal: 2.5 is kept as 25 tenths of a
//! day and sent back as 2.5 (140 tenths as 14). `If-Match` names the template's stream
//! version; a copy's names the source's (the stream in the route; 0 for a public one).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::calendar::TimeoutUnit;
use domain::delivery::node::{
    AssignRule, Node, NodeTimeout, NodeType, Notification, NotifyTrigger, Recipient, Side,
    TimeoutAction, TIMEOUT_TENTHS_MAX,
};
use domain::delivery::presets::{preset, presets, PublicTemplate};
use domain::delivery::template::{
    template_stream, CopyTemplate, Template, TemplateBody, TemplateCommand, TemplateState,
    TemplateStatus,
};
use domain::ids::{is_valid_id, IdKind};
use domain::Role;
use serde::{Deserialize, Serialize, Serializer};
use utoipa::ToSchema;

use crate::access;
use crate::error::ApiError;
use crate::extract::{Body, Caller, CommandHeaders, MinPosition};
use crate::paging::{page, PageQuery};
use crate::respond;
use crate::routes::{Doc, Routes};
use crate::state::App;

/// Tenths in a day: `days` 2.5 ↔ 25 tenths.
const TENTHS_PER_DAY: u32 = 10;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeoutInput {
    /// Days with at most one decimal, 0.1..=365.
    #[schema(minimum = 0.1, maximum = 365)]
    pub days: f64,
    /// Default `working_days`.
    #[schema(schema_with = crate::schema::timeout_unit)]
    pub unit: Option<TimeoutUnit>,
    #[schema(schema_with = crate::schema::timeout_action)]
    pub action: TimeoutAction,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationJson {
    #[schema(schema_with = crate::schema::recipient)]
    pub recipient: Recipient,
    #[schema(schema_with = crate::schema::notify_trigger)]
    pub trigger: NotifyTrigger,
    /// Placeholders `{order_id}`, `{delivery_id}`, `{node_name}`, `{due_at}`.
    #[schema(min_length = 1, max_length = 500)]
    pub template: String,
}

/// The fields of a node in a request, shared by a top-level node and a container's child.
macro_rules! node_input {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// `[a-z0-9_]{1,40}`, unique in the template.
            #[schema(min_length = 1, max_length = 40)]
            pub id: String,
            #[serde(rename = "type")]
            #[schema(schema_with = crate::schema::node_type)]
            pub node_type: NodeType,
            #[schema(min_length = 1, max_length = 60)]
            pub name: String,
            /// `confirm` and `generic` only: `provider` (default) or `customer`; the other
            /// types have a fixed side, which may be repeated here.
            #[schema(schema_with = crate::schema::side_or_null)]
            pub side: Option<Side>,
            /// A preset staff role (`GET /v1/roles`).
            pub role: Option<String>,
            pub rejectable: Option<bool>,
            pub upload_required: Option<bool>,
            /// `assign_order` only.
            #[schema(schema_with = crate::schema::assign_rule_or_null)]
            pub assign_rule: Option<AssignRule>,
            /// Button labels, ≤ 4 of ≤ 20 characters.
            #[schema(max_items = 4)]
            pub labels: Option<Vec<String>>,
            pub timeout: Option<TimeoutInput>,
            /// The timeout is the product's warranty days (calendar days, advance); never
            /// with `timeout`.
            pub timeout_from_warranty: Option<bool>,
            #[schema(max_items = 5)]
            pub notifications: Option<Vec<NotificationJson>>,
            $($extra)*
        }
    };
}

node_input!(
    /// A container's child node (containers do not nest).
    ChildNodeInput {}
);

node_input!(
    /// A node of a template (API.md §7 "Node JSON").
    NodeInput {
        /// `container` only.
        pub children: Option<Vec<ChildNodeInput>>,
    }
);

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[schema(max_items = 50)]
    pub nodes: Vec<NodeInput>,
}

/// A day count in tenths, written as a JSON number: 25 → 2.5, 140 → 14.
#[derive(Debug, Clone, Copy)]
pub struct Days(u32);

impl Serialize for Days {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(TENTHS_PER_DAY) {
            s.serialize_u32(self.0 / TENTHS_PER_DAY)
        } else {
            s.serialize_f64(f64::from(self.0) / f64::from(TENTHS_PER_DAY))
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimeoutView {
    /// Days with at most one decimal.
    #[schema(value_type = f64, minimum = 0.1, maximum = 365)]
    pub days: Days,
    #[schema(schema_with = crate::schema::timeout_unit)]
    pub unit: TimeoutUnit,
    #[schema(schema_with = crate::schema::timeout_action)]
    pub action: TimeoutAction,
}

macro_rules! node_view {
    ($(#[$doc:meta])* $name:ident { $($extra:tt)* }) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            pub id: String,
            #[serde(rename = "type")]
            #[schema(schema_with = crate::schema::node_type)]
            pub node_type: NodeType,
            pub name: String,
            /// As given (null: the type's fixed side, or provider).
            #[schema(schema_with = crate::schema::side_or_null)]
            pub side: Option<Side>,
            pub role: Option<String>,
            pub rejectable: bool,
            pub upload_required: bool,
            #[schema(schema_with = crate::schema::assign_rule_or_null)]
            pub assign_rule: Option<AssignRule>,
            pub labels: Vec<String>,
            pub timeout: Option<TimeoutView>,
            pub timeout_from_warranty: bool,
            pub notifications: Vec<NotificationJson>,
            $($extra)*
        }
    };
}

node_view!(
    /// A container's child node.
    ChildNodeView {}
);

node_view!(
    /// A node of a template (API.md §7 "Node JSON").
    NodeView {
        /// A container's nodes; empty for the other types.
        pub children: Vec<ChildNodeView>,
    }
);

/// A flow template (API.md §7).
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateView {
    pub id: String,
    /// Public templates only: `basic`, `double_check`, `contract`, `step_by_step`,
    /// `standard_manual`.
    pub key: Option<String>,
    pub name: String,
    pub public: bool,
    #[schema(schema_with = crate::schema::template_status)]
    pub status: TemplateStatus,
    /// The owning org of a private template; null for a public one.
    pub org_id: Option<String>,
    /// The template this one was copied from.
    pub copied_from: Option<String>,
    pub nodes: Vec<NodeView>,
    /// The template stream's version (0 for a public template, which has none).
    pub version: u64,
    /// Command answers only: the log position of the command's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
}

crate::page!(
    /// One page of flow templates: the public ones, then private ones in creation order.
    TemplatePage,
    TemplateView
);

// ---------------------------------------------------------------------------------------
// JSON ↔ nodes

/// `days` as tenths of a day: a number with at most one decimal, 0.1..=365.
fn tenths(field: &str, days: f64) -> Result<u32, ApiError> {
    let scaled = days * f64::from(TENTHS_PER_DAY);
    let whole = scaled.round();
    if !scaled.is_finite() || (scaled - whole).abs() > 1e-6 {
        return Err(ApiError::validation(
            field,
            "one_decimal",
            format!("{field} has at most one decimal"),
        ));
    }
    if whole < 1.0 || whole > f64::from(TIMEOUT_TENTHS_MAX) {
        return Err(ApiError::validation(
            field,
            "range",
            format!(
                "{field} must be 0.1..={} days",
                TIMEOUT_TENTHS_MAX / TENTHS_PER_DAY
            ),
        ));
    }
    // In 1..=TIMEOUT_TENTHS_MAX, so the conversion is exact.
    Ok(whole as u32)
}

macro_rules! node_from_input {
    ($path:expr, $n:expr, $children:expr) => {{
        let n = $n;
        let path: &str = $path;
        let timeout = match n.timeout {
            Some(t) => Some(NodeTimeout {
                tenths: tenths(&format!("{path}.timeout.days"), t.days)?,
                unit: t.unit.unwrap_or_default(),
                action: t.action,
            }),
            None => None,
        };
        Node {
            id: n.id,
            node_type: n.node_type,
            name: n.name,
            side: n.side,
            role: n.role,
            rejectable: n.rejectable.unwrap_or(false),
            upload_required: n.upload_required.unwrap_or(false),
            assign_rule: n.assign_rule,
            labels: n.labels.unwrap_or_default(),
            timeout,
            timeout_from_warranty: n.timeout_from_warranty.unwrap_or(false),
            children: $children,
            notifications: n
                .notifications
                .unwrap_or_default()
                .into_iter()
                .map(|r| Notification {
                    recipient: r.recipient,
                    trigger: r.trigger,
                    template: r.template,
                })
                .collect(),
        }
    }};
}

fn nodes_from(input: Vec<NodeInput>) -> Result<Vec<Node>, ApiError> {
    let mut out = Vec::with_capacity(input.len());
    for (i, mut n) in input.into_iter().enumerate() {
        let path = format!("nodes[{i}]");
        let mut children = Vec::new();
        for (j, c) in n
            .children
            .take()
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            children.push(node_from_input!(
                &format!("{path}.children[{j}]"),
                c,
                Vec::new()
            ));
        }
        out.push(node_from_input!(&path, n, children));
    }
    Ok(out)
}

macro_rules! view_of {
    ($view:ident, $n:expr, $($children:tt)*) => {{
        let n: &Node = $n;
        $view {
            id: n.id.clone(),
            node_type: n.node_type,
            name: n.name.clone(),
            side: n.side,
            role: n.role.clone(),
            rejectable: n.rejectable,
            upload_required: n.upload_required,
            assign_rule: n.assign_rule,
            labels: n.labels.clone(),
            timeout: n.timeout.map(|t| TimeoutView {
                days: Days(t.tenths),
                unit: t.unit,
                action: t.action,
            }),
            timeout_from_warranty: n.timeout_from_warranty,
            notifications: n
                .notifications
                .iter()
                .map(|r| NotificationJson {
                    recipient: r.recipient,
                    trigger: r.trigger,
                    template: r.template.clone(),
                })
                .collect(),
            $($children)*
        }
    }};
}

fn node_views(nodes: &[Node]) -> Vec<NodeView> {
    nodes
        .iter()
        .map(|n| {
            view_of!(
                NodeView,
                n,
                children: n
                    .children
                    .iter()
                    .map(|c| view_of!(ChildNodeView, c,))
                    .collect(),
            )
        })
        .collect()
}

fn public_view(p: &PublicTemplate) -> TemplateView {
    TemplateView {
        id: p.id.clone(),
        key: Some(p.key.to_owned()),
        name: p.name.to_owned(),
        public: true,
        status: TemplateStatus::Published,
        org_id: None,
        copied_from: None,
        nodes: node_views(&p.nodes),
        version: 0,
        position: None,
    }
}

fn private_view(t: &TemplateBody, version: u64) -> TemplateView {
    TemplateView {
        id: t.template_id.clone(),
        key: None,
        name: t.name.clone(),
        public: false,
        status: t.status,
        org_id: Some(t.org_id.clone()),
        copied_from: t.copied_from.clone(),
        nodes: node_views(&t.nodes),
        version,
        position: None,
    }
}

/// A command's answer about a private template.
fn answer(
    status: StatusCode,
    done: &crate::runner::Executed<TemplateState>,
) -> Result<Response, ApiError> {
    let t =
        done.state.template.as_ref().ok_or_else(|| {
            ApiError::internal("template answer", "the template was never created")
        })?;
    let view = TemplateView {
        position: Some(done.position),
        ..private_view(t, done.version)
    };
    Ok(respond::command(status, &view, done.version))
}

/// A public template is read-only: every write answers 409 `invalid_state`.
fn read_only() -> ApiError {
    ApiError::from(domain::DomainError::invalid_state(
        TemplateStatus::Published.as_str(),
        "a public template is read-only; copy it to change it",
    ))
}

/// The private template `id` through the runner; 404 unless `rule` lets the caller reach it.
fn load_private(
    app: &App,
    caller: &Caller,
    rule: &access::Rule,
    id: &str,
) -> Result<crate::runner::Loaded<TemplateState>, ApiError> {
    if !is_valid_id(IdKind::Template, id) {
        return Err(ApiError::not_found("flow template"));
    }
    let loaded = app
        .runner
        .load::<Template>(&template_stream(id), u64::MAX)?;
    if !access::reaches_template(caller, rule, &loaded.state) {
        return Err(ApiError::not_found("flow template"));
    }
    Ok(loaded)
}

fn org_of(caller: &Caller) -> Result<String, ApiError> {
    caller
        .org_id
        .clone()
        .ok_or_else(|| ApiError::forbidden("isv_admin without an org"))
}

// ---------------------------------------------------------------------------------------
// Handlers

async fn create(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    body: Body,
) -> Result<Response, ApiError> {
    access::CREATE_TEMPLATE.check(&caller)?;
    let input: TemplateInput = body.json()?;
    let org_id = org_of(&caller)?;
    let nodes = nodes_from(input.nodes)?;
    let template_id = app.ids.new_id(IdKind::Template);
    let command = TemplateCommand::Create {
        template_id: template_id.clone(),
        org_id,
        name: input.name,
        nodes,
    };
    let meta = app.command_meta(&caller, &headers, &body, "CreateFlowTemplate")?;
    let done = app
        .runner
        .execute::<Template>(&meta, &template_stream(&template_id), &command)
        .await?;
    answer(StatusCode::CREATED, &done)
}

async fn edit(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::EDIT_TEMPLATE.check(&caller)?;
    if preset(&id).is_some() {
        let _: TemplateInput = body.json()?;
        return Err(read_only());
    }
    load_private(&app, &caller, &access::EDIT_TEMPLATE, &id)?;
    let input: TemplateInput = body.json()?;
    let command = TemplateCommand::Edit {
        name: input.name,
        nodes: nodes_from(input.nodes)?,
    };
    let meta = app.command_meta(&caller, &headers, &body, "EditFlowTemplate")?;
    let done = app
        .runner
        .execute::<Template>(&meta, &template_stream(&id), &command)
        .await?;
    answer(StatusCode::OK, &done)
}

async fn publish(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::PUBLISH_TEMPLATE.check(&caller)?;
    if preset(&id).is_some() {
        return Err(read_only());
    }
    load_private(&app, &caller, &access::PUBLISH_TEMPLATE, &id)?;
    let meta = app.command_meta(&caller, &headers, &body, "PublishFlowTemplate")?;
    let done = app
        .runner
        .execute::<Template>(&meta, &template_stream(&id), &TemplateCommand::Publish)
        .await?;
    answer(StatusCode::OK, &done)
}

async fn copy(
    State(app): State<App>,
    caller: Caller,
    headers: CommandHeaders,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    access::COPY_TEMPLATE.check(&caller)?;
    let source_version = match preset(&id) {
        Some(_) => 0,
        None => load_private(&app, &caller, &access::COPY_TEMPLATE, &id)?.version,
    };
    // If-Match names the source (the stream in the route), not the new draft. Only a
    // published template is copied, and it never changes again, so the version checked
    // here is the version copied.
    if headers.if_match.is_some_and(|v| v != source_version) {
        return Err(ApiError::version_conflict(source_version));
    }
    let decision = CopyTemplate {
        template_id: app.ids.new_id(IdKind::Template),
        org_id: org_of(&caller)?,
        source_id: id,
    };
    let mut meta = app.command_meta(&caller, &headers, &body, "CopyFlowTemplate")?;
    meta.if_match = None;
    let done = app.runner.decide::<Template>(&meta, &decision).await?;
    answer(StatusCode::CREATED, &done)
}

async fn detail(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    access::GET_TEMPLATE.check(&caller)?;
    app.wait_for(&app.templates, min).await?;
    if let Some(p) = preset(&id) {
        let position = app.templates.read(|_| ()).1;
        return Ok(respond::read(&public_view(p), None, position));
    }
    let (found, position) = app.templates.read(|s| {
        s.by_id
            .get(&id)
            .filter(|r| access::reaches_template(&caller, &access::GET_TEMPLATE, &r.state))
            .and_then(|r| Some(private_view(r.state.template.as_ref()?, r.version)))
    });
    let view = found.ok_or_else(|| ApiError::not_found("flow template"))?;
    Ok(respond::read(&view, Some(view.version), position))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

/// The list key of a public template (by its place in SPEC §8) and of a private one (by the
/// log position of its creation): public ones sort first.
fn public_key(index: usize) -> String {
    format!("0:{index:04}")
}

fn private_key(position: u64) -> String {
    format!("1:{position:020}")
}

async fn list(
    State(app): State<App>,
    caller: Caller,
    min: MinPosition,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    access::LIST_TEMPLATES.check(&caller)?;
    let q = crate::extract::query(q)?;
    let (limit, after) = PageQuery::bounds(q.limit, q.cursor.as_deref())?;
    app.wait_for(&app.templates, min).await?;
    let all = matches!(caller.role, Role::Platform | Role::Auditor);
    let ((items, next), position) = app.templates.read(|s| {
        let public = presets()
            .iter()
            .enumerate()
            .map(|(i, p)| (public_key(i), public_view(p)));
        let ids = if all {
            Some(&s.created)
        } else {
            caller.org_id.as_deref().and_then(|org| s.by_org.get(org))
        };
        let private = ids
            .into_iter()
            .flat_map(|m| m.iter())
            .filter_map(|(position, id)| {
                let r = s.by_id.get(id)?;
                Some((
                    private_key(*position),
                    private_view(r.state.template.as_ref()?, r.version),
                ))
            });
        page(public.chain(private), after.as_deref(), limit)
    });
    Ok(respond::list::<TemplatePage>(items, next, position))
}

pub fn routes(r: Routes) -> Routes {
    use axum::routing::{get, post, put};
    r.add(
        "GET",
        "/v1/flow-templates",
        get(list),
        Doc::new(
            "flow templates: the public ones, then the caller's org's private ones in creation order (every org's for platform and auditor)",
            "isv_admin, platform, auditor",
        )
        .query("limit", "1..=500")
        .query("cursor", "next_cursor")
        .answers::<TemplatePage>(200),
    )
    .add(
        "POST",
        "/v1/flow-templates",
        post(create),
        Doc::new(
            "create a private template of the caller's org (draft); field rules answer 422 `validation_failed` naming the path, e.g. `nodes[2].children[0].timeout.days`",
            "isv_admin",
        )
        .body::<TemplateInput>()
        .answers::<TemplateView>(201),
    )
    .add(
        "GET",
        "/v1/flow-templates/{id}",
        get(detail),
        Doc::new("one flow template (public, or the caller's org's)", "isv_admin (own), platform, auditor")
            .answers::<TemplateView>(200),
    )
    .add(
        "PUT",
        "/v1/flow-templates/{id}",
        put(edit),
        Doc::new(
            "replace a draft's name and nodes; a published or public template is immutable (409 `invalid_state`)",
            "isv_admin (own)",
        )
        .body::<TemplateInput>()
        .answers::<TemplateView>(200),
    )
    .add(
        "POST",
        "/v1/flow-templates/{id}/publish",
        post(publish),
        Doc::new(
            "publish a draft: every rule of SPEC §8 must hold, else 422 `template_invalid` with `details.node_id` and `details.rule` (`node_count`, `duplicate_node_id`, `container_child_type`, `first_not_assign_provider`, `assign_provider_not_first`, `last_not_complete_project`, `role_missing`, `role_not_assigned`, `after_assignment_rejectable`)",
            "isv_admin (own)",
        )
        .answers::<TemplateView>(200),
    )
    .add(
        "POST",
        "/v1/flow-templates/{id}/copy",
        post(copy),
        Doc::new(
            "copy a public template or a published one of the caller's org into a new draft (`copied_from` names the source); a draft cannot be copied (409)",
            "isv_admin (own)",
        )
        .answers::<TemplateView>(201),
    )
}
