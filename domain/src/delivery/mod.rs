//! The delivery center (SPEC §8): flow templates, delivery projects, assignment, capacity,
//! queues. A paid order of a `manual` product starts a delivery project that walks the nodes
//! of the product's flow template; every node transition is an event.
//!
//! - [`node`] — the node model shared by templates and projects: node types, sides, roles,
//!   timeouts (tenths of a day, working or calendar days, an action), notification rules.
//!   Invariant: a project walks a *copy* of its template's nodes taken when it starts, so a
//!   project's history never depends on a template's later life.
//! - [`project`] — the project aggregate `Delivery` (stream `delivery-dlv_…`): node
//!   entries, completions, rejections, timeouts, pause/resume, provider and operator
//!   changes, cancellation, messages, notes, files; the order-level stage.
//! - [`assign`] — the pure choosers of assignment: provider by weight, staff by load, or the
//!   queue reason.
//! - [`flow`] — the project's cross-stream decisions: [`flow::Act`] (every project
//!   command, with the staff and provider capacity it takes and gives back in the same
//!   append; the automatic assignment and the queue) and [`flow::StartDelivery`].
//! - [`staff`] — staff members (`staff-stf_…`: roles, department, tags, capacity,
//!   accepting, leave, the deliveries held; [`staff::StaffState::can_take`] and
//!   [`staff::StaffState::load_ratio`] for assignment), the org's staff index
//!   (`orgstaff-org_…`) and [`staff::CreateStaff`] (member, principal and index in one
//!   append).
//! - [`capacity`] — provider capacity per product (`provload-prd_…`): the deliveries each
//!   provider org holds, capped per link.
//! - [`template`] — the flow template aggregate (`template-tpl_…`): private templates of an
//!   org, draft → published (immutable), copies; field rules and publish validation.
//!   Invariant: a published template never changes, so what reads one need not guard it.
//! - [`presets`] — the five public templates of SPEC §8, built in code, published and
//!   read-only, each passing publish validation.

pub mod assign;
pub mod capacity;
pub mod flow;
pub mod node;
pub mod presets;
pub mod project;
pub mod staff;
pub mod template;

/// The preset staff roles (SPEC §8): what a node's `role` and a staff member's roles name.
pub const STAFF_ROLES: &[&str] = &[
    "customer_manager",
    "designer",
    "delivery_specialist",
    "developer",
    "tester",
    "provider_admin",
];

/// File types an upload-required node accepts (SPEC §8 `contract`), by extension.
pub const UPLOAD_TYPES: &[&str] = &[
    "doc", "docx", "xlsx", "ppt", "pptx", "pdf", "png", "zip", "7z",
];

/// Largest uploaded file (SPEC §8: ≤ 5 MiB).
pub const FILE_BYTES_MAX: u64 = 5 * 1024 * 1024;
